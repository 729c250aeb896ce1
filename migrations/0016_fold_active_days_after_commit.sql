-- Concurrent writers no longer queue on each other's customers (SPEC ING-5 at 1 M rows).
--
-- The triggers of 0012 kept `active_gaps` exact inside the writing statement. Two writers
-- moving days of one customer must not both work from a snapshot without the other's days, so
-- each statement first locked every customer it touched and held the locks to commit. A batch
-- of 1,000 interactions names ~1,000 customers, so concurrent batches of one organization
-- nearly always shared some and ran one after another, with the whole rollup statement inside
-- the wait: the batch API fell from ~15,000 to ~800 interactions/s with four clients.
--
-- Now the statement does only what commutes — adding its deltas to `daily_rollups` and
-- `customer_days`, where concurrent writers meet on a row lock only when they touch the same
-- customer on the same day — and notes the customers whose set of active days it changed in
-- `unfolded_customers`. `fold_active_days` moves those customers' gaps from the days last
-- counted (`counted_days`) to the days active now, one folder per organization at a time: the
-- background folder every few hundred milliseconds, and the dashboard before it reads, so the
-- figures it shows are exact for everything committed before the request.

-- Each customer's active days as `active_gaps` counts them: written only by the folder, so a
-- folder never waits for a writer, and what it takes away is exactly what it added before.
create table counted_days (
    org_id uuid not null references organizations (id) on delete cascade,
    channel text not null,
    customer_id uuid not null,
    day date not null,
    -- Serves the folder's read of one customer's counted days.
    primary key (org_id, channel, customer_id, day)
);

-- Customers (per channel, and '*' for all channels) whose active days changed since the last
-- fold. Append-only for writers and without an index or key, so concurrent writers never
-- conflict on it; the folder deletes what it folded. Short-lived rows, hence no foreign key.
create table unfolded_customers (
    org_id uuid not null,
    channel text not null,
    customer_id uuid not null
);

do $$
declare
    t text;
begin
    foreach t in array array['counted_days', 'unfolded_customers'] loop
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
-- The background folder asks which organizations have work (`orgs_with_unfolded_days`).
create policy unfolded_customers_owner_lists on unfolded_customers for select to sightline_owner using (true);

-- Every day counted so far: the 0012 triggers kept `active_gaps` exact for exactly these.
insert into counted_days (org_id, channel, customer_id, day)
select org_id, channel, customer_id, day from customer_days where events > 0;

-- As in 0012, without the gaps: the rollups and the customer days take the deltas, and a
-- customer day whose events cross zero (it starts or stops being an active day) notes its
-- customer for the folder. `returning` gives the row as it is after this statement's change,
-- including every change committed before it took the row's lock, so each crossing is seen by
-- exactly one writer.
create or replace function rollup_sql(changes text) returns text
language sql immutable as $$
    select format($q$
        with changed as (%s),
        rolled as (
            insert into daily_rollups as r
                (org_id, day, channel, shard, interactions, orders, revenue, texts, polarity_sum, polarity_squares,
                 negative_texts)
            select org_id, day, channel, (pg_backend_pid() %% 16)::smallint, sum(interactions), sum(orders),
                   sum(revenue), sum(texts), sum(polarity_sum), sum(polarity_squares), sum(negative_texts)
            from changed
            group by org_id, day, channel
            having sum(interactions) <> 0 or sum(orders) <> 0 or sum(revenue) <> 0 or sum(texts) <> 0
                or sum(polarity_sum) <> 0 or sum(negative_texts) <> 0
            order by org_id, day, channel
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
        -- Each change counts for its channel and for all channels.
        delta as (
            select org_id, day, v.channel, customer_id, sum(events) as events, sum(interactions) as interactions,
                   sum(orders) as orders, sum(revenue) as revenue, sum(texts) as texts,
                   sum(polarity_sum) as polarity_sum, sum(polarity_squares) as polarity_squares
            from changed cross join lateral (values (changed.channel), ('*')) as v (channel)
            where customer_id is not null
            group by org_id, day, v.channel, customer_id
            having sum(events) <> 0 or sum(interactions) <> 0 or sum(orders) <> 0 or sum(revenue) <> 0
                or sum(texts) <> 0 or sum(polarity_sum) <> 0
        ),
        kept as (
            insert into customer_days as c (org_id, day, channel, customer_id, events, interactions, orders, revenue,
                                            texts, polarity_sum, polarity_squares)
            select org_id, day, channel, customer_id, events, interactions, orders, revenue, texts, polarity_sum,
                   polarity_squares
            from delta
            order by org_id, channel, customer_id, day
            on conflict (org_id, channel, customer_id, day) do update set
                events = c.events + excluded.events,
                interactions = c.interactions + excluded.interactions,
                orders = c.orders + excluded.orders,
                revenue = c.revenue + excluded.revenue,
                texts = c.texts + excluded.texts,
                polarity_sum = c.polarity_sum + excluded.polarity_sum,
                polarity_squares = c.polarity_squares + excluded.polarity_squares
            returning c.org_id, c.channel, c.customer_id, c.day, c.events
        )
        insert into unfolded_customers (org_id, channel, customer_id)
        select distinct k.org_id, k.channel, k.customer_id
        from kept k
        join delta d using (org_id, channel, customer_id, day)
        where (k.events - d.events > 0) <> (k.events > 0)
    $q$, changes)
$$;

-- As in 0015, without locking the customers: nothing the statement does needs them any more.
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
    moves boolean;
begin
    if TG_OP = 'UPDATE' then
        execute format('select exists (%s)', changes) into moves;
        if not moves then
            return null;
        end if;
    end if;
    execute rollup_sql(changes);
    if TG_OP <> 'INSERT' then
        -- Days a customer no longer has any event or scored text on, in that channel or at all.
        execute format(
            'delete from customer_days c using (%s) x
             where c.org_id = x.org_id and c.channel in (x.channel, ''*'') and c.customer_id = x.customer_id
               and c.day = x.day and c.events <= 0 and c.texts = 0',
            removed);
    end if;
    return null;
end
$$;

-- Brings the organization's `active_gaps` up to date with every change committed before it
-- runs; answers how many (channel, customer) pairs it folded. Each noted customer's gaps
-- between its counted days are taken away and the gaps between its active days now are added
-- (a customer's whole history, which is what makes a fold idempotent and order-free: a change
-- committed while it runs is either in what it reads or still noted for the next fold). One
-- folder per organization at a time, under an advisory lock held to commit.
create function fold_active_days(org uuid) returns bigint
language plpgsql as $$
declare
    folded bigint;
begin
    if not exists (select 1 from unfolded_customers where org_id = org) then
        return 0;
    end if;
    perform pg_advisory_xact_lock(hashtextextended('fold_active_days:' || org::text, 0));
    -- A new statement, so a new snapshot: it sees what the previous folder committed.
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
grant execute on function fold_active_days(uuid) to sightline_app;

-- The organizations the background folder has work in.
create function orgs_with_unfolded_days() returns setof uuid
    language sql stable security definer set search_path = public, pg_temp as $$
    select distinct org_id from unfolded_customers
$$;
grant execute on function orgs_with_unfolded_days() to sightline_app;

create or replace function rebuild_rollups(org uuid) returns void
language plpgsql as $$
begin
    delete from daily_rollups where org_id = org;
    delete from customer_days where org_id = org;
    delete from active_gaps where org_id = org;
    delete from counted_days where org_id = org;
    delete from unfolded_customers where org_id = org;
    execute rollup_sql(
        rollup_changes('interactions', format('(select * from interactions where org_id = %L) s', org), 1)
        || ' union all ' || rollup_changes('orders', format('(select * from orders where org_id = %L) s', org), 1)
        || ' union all ' || rollup_changes('text_scores', format('(select * from text_scores where org_id = %L) s', org), 1));
    perform fold_active_days(org);
end
$$;
