-- The last scoring run's customers counted per RFM segment and cell (SPEC UI-2), so the
-- dashboard reads its segment summary, RFM grid and high-churn count from a few hundred rows
-- instead of scanning every customer's scores on each request. At 10 M interactions (85,000
-- scored customers) those three scans took about 110 ms of a 90 ms-p50 request's database
-- time; they grow with customers, not with days.
--
-- Kept by statement-level triggers on `customer_scores`, in the transaction that writes the
-- scores, so the cells always equal a count of the stored scores: a scoring run, a customer's
-- erasure and the demo's reset all go through them.
create table score_cells (
    org_id uuid not null references organizations (id) on delete cascade,
    segment text not null,
    r_score smallint not null,
    f_score smallint not null,
    customers bigint not null,
    -- Sums of `customer_scores.monetary`, as numeric so that adding and removing a customer
    -- cancels exactly.
    monetary numeric not null,
    high_churn bigint not null,
    -- When the cell's newest scores were written: the dashboard's "scored at".
    scored_at timestamptz not null,
    primary key (org_id, segment, r_score, f_score)
);

-- Adds the statement's new scores to their cells and takes its old ones out of theirs (except
-- with their organization, whose cells go with it), netted per cell in one upsert; a cell that
-- gets new scores is touched even when its figures net to nothing, so its time moves on; a cell
-- left with no customers is removed. The transition tables are read by dynamic SQL, which sees
-- them as the trigger's own statements do, so the three events share one upsert.
create function count_score_cells() returns trigger
language plpgsql as $$
declare
    added constant text := 'select org_id, segment, r_score, f_score, 1, monetary::numeric,
            (churn_band = ''high'')::int, computed_at
        from new_rows';
    removed constant text := 'select org_id, segment, r_score, f_score, -1, -monetary::numeric,
            -(churn_band = ''high'')::int, null::timestamptz
        from old_rows o where exists (select 1 from organizations g where g.id = o.org_id)';
    emptied uuid[];
begin
    execute format(
        'with changes (org_id, segment, r_score, f_score, customers, monetary, high_churn, computed_at)
             as (%s),
         counted as (
             insert into score_cells as c
                 (org_id, segment, r_score, f_score, customers, monetary, high_churn, scored_at)
             select org_id, segment, r_score, f_score, sum(customers), sum(monetary), sum(high_churn),
                    coalesce(max(computed_at), ''-infinity'')
             from changes
             group by 1, 2, 3, 4
             having sum(customers) <> 0 or sum(monetary) <> 0 or sum(high_churn) <> 0
                 or max(computed_at) is not null
             -- One order for every writer, so two of them never wait on each other crosswise.
             order by 1, 2, 3, 4
             on conflict (org_id, segment, r_score, f_score) do update set
                 customers = c.customers + excluded.customers,
                 monetary = c.monetary + excluded.monetary,
                 high_churn = c.high_churn + excluded.high_churn,
                 scored_at = greatest(c.scored_at, excluded.scored_at)
             returning c.org_id, c.customers
         )
         select array_agg(distinct org_id) from counted where customers = 0',
        case tg_op
            when 'INSERT' then added
            when 'UPDATE' then added || ' union all ' || removed
            else removed
        end)
    into emptied;
    if emptied is not null then
        delete from score_cells where org_id = any (emptied) and customers = 0;
    end if;
    return null;
end
$$;

create trigger customer_scores_cells_inserted after insert on customer_scores
    referencing new table as new_rows for each statement execute function count_score_cells();
create trigger customer_scores_cells_updated after update on customer_scores
    referencing old table as old_rows new table as new_rows for each statement execute function count_score_cells();
create trigger customer_scores_cells_deleted after delete on customer_scores
    referencing old table as old_rows for each statement execute function count_score_cells();

alter table score_cells enable row level security;
create policy score_cells_tenant_isolation on score_cells
    using (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    with check (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

-- The scores already stored (migrations run as the owner, which row-level security would
-- scope to one organization; the scores are read past it here, before the cells are forced).
alter table customer_scores no force row level security;
insert into score_cells (org_id, segment, r_score, f_score, customers, monetary, high_churn, scored_at)
select org_id, segment, r_score, f_score, count(*), sum(monetary::numeric), count(*) filter (where churn_band = 'high'),
       max(computed_at)
from customer_scores
group by 1, 2, 3, 4;
alter table customer_scores force row level security;
alter table score_cells force row level security;
