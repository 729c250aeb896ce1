-- Writers log their rollup deltas; the folder applies them after commit (SPEC ING-5).
--
-- Since 0009 every write statement added its deltas to `daily_rollups` and `customer_days`
-- itself: per 1,000 interactions about 700 rollup rows and 2,000 customer days upserted, some
-- 80 µs per event against 25–50 µs for the event row itself, so the rollups cost most of every
-- ingest path. Now a write statement only appends its changes to `rollup_deltas` — a heap
-- append without index, key or lock — and the folder (background every few hundred
-- milliseconds, and the dashboard before it reads, as for the active-customer gaps since 0016)
-- drains them: one upsert per (day, channel) and per customer day for everything committed
-- since the last fold, however many statements wrote it. The figures the dashboard shows are
-- still exact for everything committed before the request.

-- Changes to the rollups not yet applied, in `rollup_changes`' columns. Append-only for
-- writers, so concurrent writers never meet on it; the folder deletes what it applied. Short-
-- lived rows, hence no foreign key and no index.
create table rollup_deltas (
    org_id uuid not null,
    day date not null,
    channel text not null,
    customer_id uuid,
    interactions bigint not null,
    orders bigint not null,
    revenue numeric not null,
    texts bigint not null,
    polarity_sum double precision not null,
    polarity_squares double precision not null,
    negative_texts bigint not null,
    events bigint not null
);

alter table rollup_deltas enable row level security;
alter table rollup_deltas force row level security;
create policy rollup_deltas_tenant_isolation on rollup_deltas
    using (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    with check (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
-- The background folder asks which organizations have work (`orgs_with_unfolded_rollups`).
create policy rollup_deltas_owner_lists on rollup_deltas for select to sightline_owner using (true);

-- The statement that logs `changes` (a query in `rollup_changes`' columns).
create function log_rollup_changes_sql(changes text) returns text
language sql immutable as $$
    select format(
        'insert into rollup_deltas (org_id, day, channel, customer_id, interactions, orders, revenue, texts,
                                    polarity_sum, polarity_squares, negative_texts, events)
         select org_id, day, channel, customer_id, interactions, orders, revenue, texts, polarity_sum,
                polarity_squares, negative_texts, events
         from (%s) as c', changes)
$$;

-- As in 0016, logging the changes instead of applying them. An update that moves nothing the
-- rollups count nets to no rows and logs nothing.
create or replace function apply_rollups() returns trigger
language plpgsql as $$
declare
    added text := rollup_changes(TG_TABLE_NAME, 'new_rows', 1);
    removed text := rollup_changes(TG_TABLE_NAME, 'old_rows', -1);
    changes text := case TG_OP when 'INSERT' then added when 'DELETE' then removed else
        format('select org_id, day, channel, customer_id, sum(interactions) as interactions, sum(orders) as orders,
                       sum(revenue) as revenue, sum(texts) as texts, sum(polarity_sum) as polarity_sum,
                       sum(polarity_squares) as polarity_squares, sum(negative_texts) as negative_texts,
                       sum(events) as events
                from (%s union all %s) as both_versions
                group by org_id, day, channel, customer_id
                having sum(interactions) <> 0 or sum(orders) <> 0 or sum(revenue) <> 0 or sum(texts) <> 0
                    or sum(polarity_sum) <> 0 or sum(polarity_squares) <> 0 or sum(negative_texts) <> 0
                    or sum(events) <> 0', added, removed) end;
begin
    execute log_rollup_changes_sql(changes);
    return null;
end
$$;

-- Brings the organization's rollups up to date with every change committed before it runs;
-- answers how many (channel, customer) pairs' active-customer gaps it moved. First the logged
-- deltas, netted per (day, channel) and per customer day, are added to `daily_rollups` and
-- `customer_days` (each change counts for its channel and for all channels, '*'); a customer
-- day whose events cross zero notes its customer, and one left with no event and no text is
-- removed. Then, as in 0016, each noted customer's gaps between its counted days are taken away
-- and the gaps between its active days now are added. One folder per organization at a time,
-- under an advisory lock held to commit, so each delta is applied exactly once: a change
-- committed while it runs is either in what it drains or still logged for the next fold.
create function fold_rollups(org uuid) returns bigint
language plpgsql as $$
declare
    folded bigint;
    emptied_channels text[];
    emptied_customers uuid[];
    emptied_days date[];
begin
    if not exists (select 1 from rollup_deltas where org_id = org)
       and not exists (select 1 from unfolded_customers where org_id = org) then
        return 0;
    end if;
    perform pg_advisory_xact_lock(hashtextextended('fold_rollups:' || org::text, 0));
    -- A new statement, so a new snapshot: it sees what the previous folder committed.
    with changed as (
        delete from rollup_deltas where org_id = org
        returning day, channel, customer_id, interactions, orders, revenue, texts, polarity_sum, polarity_squares,
                  negative_texts, events
    ),
    rolled as (
        insert into daily_rollups as r
            (org_id, day, channel, shard, interactions, orders, revenue, texts, polarity_sum, polarity_squares,
             negative_texts)
        select org, day, channel, 0, sum(interactions), sum(orders), sum(revenue), sum(texts), sum(polarity_sum),
               sum(polarity_squares), sum(negative_texts)
        from changed
        group by day, channel
        having sum(interactions) <> 0 or sum(orders) <> 0 or sum(revenue) <> 0 or sum(texts) <> 0
            or sum(polarity_sum) <> 0 or sum(negative_texts) <> 0
        on conflict (org_id, day, channel, shard) do update set
            interactions = r.interactions + excluded.interactions,
            orders = r.orders + excluded.orders,
            revenue = r.revenue + excluded.revenue,
            texts = r.texts + excluded.texts,
            polarity_sum = r.polarity_sum + excluded.polarity_sum,
            polarity_squares = r.polarity_squares + excluded.polarity_squares,
            negative_texts = r.negative_texts + excluded.negative_texts
        returning 1
    ),
    delta as (
        select day, v.channel, customer_id, sum(events) as events, sum(interactions) as interactions,
               sum(orders) as orders, sum(revenue) as revenue, sum(texts) as texts,
               sum(polarity_sum) as polarity_sum, sum(polarity_squares) as polarity_squares
        from changed cross join lateral (values (changed.channel), ('*')) as v (channel)
        where customer_id is not null
        group by day, v.channel, customer_id
        having sum(events) <> 0 or sum(interactions) <> 0 or sum(orders) <> 0 or sum(revenue) <> 0
            or sum(texts) <> 0 or sum(polarity_sum) <> 0
    ),
    kept as (
        insert into customer_days as c (org_id, day, channel, customer_id, events, interactions, orders, revenue,
                                        texts, polarity_sum, polarity_squares)
        select org, day, channel, customer_id, events, interactions, orders, revenue, texts, polarity_sum,
               polarity_squares
        from delta
        on conflict (org_id, channel, customer_id, day) do update set
            events = c.events + excluded.events,
            interactions = c.interactions + excluded.interactions,
            orders = c.orders + excluded.orders,
            revenue = c.revenue + excluded.revenue,
            texts = c.texts + excluded.texts,
            polarity_sum = c.polarity_sum + excluded.polarity_sum,
            polarity_squares = c.polarity_squares + excluded.polarity_squares
        returning c.channel, c.customer_id, c.day, c.events, c.texts
    ),
    noted as (
        insert into unfolded_customers (org_id, channel, customer_id)
        select distinct org, k.channel, k.customer_id
        from kept k
        join delta d using (channel, customer_id, day)
        where (k.events - d.events > 0) <> (k.events > 0)
        returning 1
    )
    select array_agg(channel), array_agg(customer_id), array_agg(day)
    into emptied_channels, emptied_customers, emptied_days
    from kept
    where events <= 0 and texts = 0;

    -- Days a customer no longer has any event or scored text on.
    if emptied_days is not null then
        delete from customer_days c
        using unnest(emptied_channels, emptied_customers, emptied_days) as x (channel, customer_id, day)
        where c.org_id = org and (c.channel, c.customer_id, c.day) = (x.channel, x.customer_id, x.day)
          and c.events <= 0 and c.texts = 0;
    end if;

    with noted as (
        delete from unfolded_customers where org_id = org returning channel, customer_id
    ),
    who as (
        select distinct channel, customer_id from noted
    ),
    old_days as (
        select k.channel, k.customer_id, k.day
        from who w join counted_days k on k.org_id = org and (k.channel, k.customer_id) = (w.channel, w.customer_id)
    ),
    new_days as (
        select c.channel, c.customer_id, c.day
        from who w join customer_days c on c.org_id = org and (c.channel, c.customer_id) = (w.channel, w.customer_id)
        where c.events > 0
    ),
    gaps as (
        select channel, day, -1 as customers,
               lag(day, 1, '-infinity'::date) over (partition by channel, customer_id order by day) as previous_day
        from old_days
        union all
        select channel, day, 1, lag(day, 1, '-infinity'::date) over (partition by channel, customer_id order by day)
        from new_days
    ),
    applied as (
        insert into active_gaps as g (org_id, channel, day, previous_day, shard, customers)
        select org, channel, day, previous_day, 0, sum(customers)
        from gaps
        group by channel, day, previous_day
        having sum(customers) <> 0
        order by channel, day, previous_day
        on conflict (org_id, channel, day, previous_day, shard) do update set customers = g.customers + excluded.customers
        returning 1
    ),
    forgotten as (
        delete from counted_days k
        using (select * from old_days except select * from new_days) x
        where k.org_id = org and (k.channel, k.customer_id, k.day) = (x.channel, x.customer_id, x.day)
        returning 1
    ),
    remembered as (
        insert into counted_days (org_id, channel, customer_id, day)
        select org, x.channel, x.customer_id, x.day
        from (select * from new_days except select * from old_days) x
        returning 1
    )
    select count(*) into folded from who;
    return folded;
end
$$;
grant execute on function fold_rollups(uuid) to sightline_app;

-- The organizations the background folder has work in.
create function orgs_with_unfolded_rollups() returns setof uuid
    language sql stable security definer set search_path = public, pg_temp as $$
    select org_id from rollup_deltas
    union
    select org_id from unfolded_customers
$$;
grant execute on function orgs_with_unfolded_rollups() to sightline_app;

-- From the raw rows, under the folder's lock so no fold runs in between. The old deltas are
-- dropped in the statement that logs the raw rows, so both see the same snapshot: a change
-- committed meanwhile is either in the raw rows and not in the deltas, or neither.
create or replace function rebuild_rollups(org uuid) returns void
language plpgsql as $$
begin
    perform pg_advisory_xact_lock(hashtextextended('fold_rollups:' || org::text, 0));
    delete from daily_rollups where org_id = org;
    delete from customer_days where org_id = org;
    delete from active_gaps where org_id = org;
    delete from counted_days where org_id = org;
    delete from unfolded_customers where org_id = org;
    execute format('with dropped as (delete from rollup_deltas where org_id = %L) ', org) || log_rollup_changes_sql(
        rollup_changes('interactions', format('(select * from interactions where org_id = %L) s', org), 1)
        || ' union all ' || rollup_changes('orders', format('(select * from orders where org_id = %L) s', org), 1)
        || ' union all ' || rollup_changes('text_scores', format('(select * from text_scores where org_id = %L) s', org), 1));
    perform fold_rollups(org);
end
$$;

-- As in 0017, for every table of rollup rows without a key on `organizations`: a deleted
-- organization's logged deltas would otherwise be folded into rollups whose keys refuse them,
-- on every round of the background folder.
drop trigger organizations_forget_customer_days on organizations;
drop function forget_customer_days();
create function forget_unkeyed_rollups() returns trigger
language plpgsql as $$
declare
    scope text := current_setting('app.org_id', true);
begin
    perform set_config('app.org_id', old.id::text, true);
    delete from customer_days where org_id = old.id;
    delete from rollup_deltas where org_id = old.id;
    delete from unfolded_customers where org_id = old.id;
    perform set_config('app.org_id', coalesce(scope, ''), true);
    return old;
end
$$;
create trigger organizations_forget_unkeyed_rollups after delete on organizations
    for each row execute function forget_unkeyed_rollups();

drop function orgs_with_unfolded_days();
drop function fold_active_days(uuid);
drop function rollup_sql(text);
