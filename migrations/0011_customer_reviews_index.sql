-- Serves a customer's reviews on their page, newest first (SPEC UI-4).
create index reviews_customer_idx on reviews (org_id, customer_id, reviewed_at desc);
