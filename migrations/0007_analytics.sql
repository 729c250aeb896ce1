-- Stored analytics (SPEC ANA-2..6): what the scoring job computes per organization — one row
-- of scores per customer with the reasons behind them, organization-wide results (fitted
-- models, segment summaries, basket rules) and per-product demand forecasts. Written by the
-- `score` job in one transaction, so a reader sees one complete run or the one before it.
-- Reports over a chosen range (cohorts, funnels, revenue) are computed when asked and not
-- stored here.

-- ---------------------------------------------------------------- customer scores
create table customer_scores (
    org_id uuid not null,
    customer_id uuid not null,
    computed_at timestamptz not null,
    -- Which scoring code and models produced the row (e.g. 'scores/1 churn:model').
    model_version text not null,
    -- RFM: quintile scores 1..5 and the named segment (rfm.rs), and the segment of the run
    -- before, for movement between runs.
    recency_days integer not null,
    frequency integer not null,
    monetary double precision not null,
    r_score smallint not null check (r_score between 1 and 5),
    f_score smallint not null check (f_score between 1 and 5),
    m_score smallint not null check (m_score between 1 and 5),
    segment text not null,
    previous_segment text,
    -- BG/NBD and Gamma-Gamma (clv/): over `horizon_days`, with 90 % intervals.
    horizon_days integer not null,
    p_alive double precision not null check (p_alive between 0 and 1),
    expected_purchases double precision not null,
    expected_purchases_low double precision not null,
    expected_purchases_high double precision not null,
    clv double precision,
    clv_low double precision,
    clv_high double precision,
    -- Churn risk: probability, band and up to three reasons in words (churn.rs); `churn_method`
    -- says whether a trained model or the 1 − P(alive) fallback produced it.
    churn_probability double precision not null check (churn_probability between 0 and 1),
    churn_band text not null check (churn_band in ('low', 'medium', 'high')),
    churn_method text not null check (churn_method in ('model', 'p_alive')),
    churn_reasons jsonb not null default '[]'::jsonb,
    primary key (org_id, customer_id),
    foreign key (org_id, customer_id) references customers (org_id, id) on delete cascade
);

-- Serves the RFM segment summary and the customers list filtered by segment.
create index customer_scores_segment_idx on customer_scores (org_id, segment);
-- Serves "customers at high churn risk" (dashboard tile, list filter).
create index customer_scores_churn_idx on customer_scores (org_id, churn_band);

-- ---------------------------------------------------------------- organization results
-- One row per kind of result: 'clv' (fitted BG/NBD and Gamma-Gamma), 'churn' (model weights
-- or why there is none), 'rfm' (as-of date and sample) and 'basket' (itemsets and rules).
-- `result` is `{status, result}` as the endpoints answer: a summary of the library's result
-- or its insufficient-data answer.
create table analytics_results (
    org_id uuid not null references organizations (id) on delete cascade,
    kind text not null check (kind in ('clv', 'churn', 'rfm', 'basket')),
    computed_at timestamptz not null,
    model_version text not null,
    result jsonb not null,
    primary key (org_id, kind)
);

-- ---------------------------------------------------------------- product forecasts
-- Daily units sold, forecast 90 days ahead from `first_day` (shorter horizons are its
-- prefix), or the reason there is no forecast.
create table product_forecasts (
    org_id uuid not null,
    product_id uuid not null,
    computed_at timestamptz not null,
    model_version text not null,
    first_day date not null,
    result jsonb not null,
    primary key (org_id, product_id),
    foreign key (org_id, product_id) references products (org_id, id) on delete cascade
);

-- ---------------------------------------------------------------- the scoring job
alter table jobs drop constraint jobs_kind_check;
alter table jobs add constraint jobs_kind_check check (kind in ('import', 'score'));

-- Queues a `score` job for every organization whose scores are missing, older than
-- `max_age`, or older than `min_age` with data imported since; never a second pending one.
-- Runs as the owner, because the scheduler looks across organizations; it writes only jobs.
create function enqueue_due_scoring(max_age interval, min_age interval) returns integer
    language sql security definer set search_path = public, pg_temp as $$
    with due as (
        select o.id as org_id
          from organizations o
         where exists (select 1 from orders x where x.org_id = o.id)
           and not exists (select 1 from jobs j
                            where j.org_id = o.id and j.kind = 'score'
                              and (j.locked_until is null or j.locked_until < now()))
           and coalesce((
                select r.computed_at < now() - max_age
                       or (r.computed_at < now() - min_age
                           and exists (select 1 from import_batches b
                                        where b.org_id = o.id and b.created_at > r.computed_at
                                          and b.entity in ('customers', 'orders', 'interactions')))
                  from analytics_results r where r.org_id = o.id and r.kind = 'rfm'), true)
    ), queued as (
        insert into jobs (org_id, kind) select org_id, 'score' from due returning 1
    )
    select count(*)::integer from queued
$$;

-- The scheduler's reads run as the owner and must see every organization's rows.
create policy orders_owner_scheduling on orders for select to sightline_owner using (true);
create policy analytics_results_owner_scheduling on analytics_results for select to sightline_owner using (true);
create policy import_batches_owner_scheduling on import_batches for select to sightline_owner using (true);

revoke all on function enqueue_due_scoring(interval, interval) from public;
grant execute on function enqueue_due_scoring(interval, interval) to sightline_app;

-- ---------------------------------------------------------------- tenant isolation
do $$
declare
    t text;
begin
    foreach t in array array['customer_scores', 'analytics_results', 'product_forecasts'] loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy %I on %I
                using (org_id = nullif(current_setting(''app.org_id'', true), '''')::uuid)
                with check (org_id = nullif(current_setting(''app.org_id'', true), '''')::uuid)',
            t || '_tenant_isolation', t);
    end loop;
end
$$;
