-- Customer aggregates (SPEC ING-8) change in nearly every write transaction. Keep those
-- updates HOT — the new row version on the same page, no index touched — by indexing none of
-- the aggregate columns and leaving room on each page. The list orders customers by when they
-- were created; an index for "recently active" belongs with the rollups the dashboard reads.
drop index customers_last_seen_idx;
alter table customers set (fillfactor = 80);
