-- Active customers over any range without a distinct count (SPEC UI-2 at 100 M events).
--
-- `count(distinct customer_id)` over `customer_days` grows with customers × active days: at
-- 2 M interactions it was nearly all of a year's dashboard time. Instead, every active day of
-- a customer is filed under the customer's previous active day (its "gap"). A customer was
-- active in [from, to] exactly when one of their days in the range has its previous day before
-- `from` — their first day in the range — so the count is a sum over the range's days of the
-- gaps starting before `from`:
--
--     active(from, to) = sum(customers) where day between from and to and previous_day < from
--
-- `active_gaps` holds one row per (day, previous day) pair, not per customer, so its size is
-- bounded by days² per channel however many customers there are, and the sum reads the range's
-- pairs only. The first active day of a customer has previous day '-infinity'.
--
-- The triggers keep it exact: a customer's day that starts or stops being active changes only
-- the gaps between its neighbours, so each statement recomputes, per customer it moves, the
-- stretch from the active day before its first moved day to the one after its last.
--
-- "All channels" is its own channel '*' in both `customer_days` and `active_gaps`: a customer
-- active on one day in two channels is one active customer of the day, not two.

create table active_gaps (
    org_id uuid not null references organizations (id) on delete cascade,
    channel text not null,
    day date not null,
    previous_day date not null,
    shard smallint not null,
    customers bigint not null,
    -- Serves the active-customer sum: one organization's channel, the range's days in order.
    primary key (org_id, channel, day, previous_day, shard)
);

alter table active_gaps enable row level security;
alter table active_gaps force row level security;
create policy active_gaps_tenant_isolation on active_gaps
    using (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    with check (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

-- The gap recomputation reads one customer's days in order, around the moved ones, and the
-- segment filter one segment's customers' days in a range; nothing reads customer_days by day
-- alone any more.
alter table customer_days drop constraint customer_days_pkey;
alter table customer_days add primary key (org_id, channel, customer_id, day);

-- Each customer's day also carries the daily rollups' figures, so the dashboard filtered to a
-- segment (whose members change with every scoring run) sums its members' days instead of
-- raw events. `events` (interactions and orders of any status) decides whether the customer
-- was active; a day with only a scored review text has events = 0 and is not an active day.
alter table customer_days
    add column interactions bigint not null default 0,
    add column orders bigint not null default 0,
    add column revenue numeric(24, 4) not null default 0,
    add column texts bigint not null default 0,
    add column polarity_sum double precision not null default 0,
    add column polarity_squares double precision not null default 0;

-- As in 0009, with the scored text's customer kept (it was left out when customer_days only
-- counted events).
create or replace function rollup_changes(tab text, source text, sign int) returns text
language sql immutable as $$
    select format('select * from (%s) as changes (org_id, day, channel, customer_id, interactions, orders,
                       revenue, texts, polarity_sum, polarity_squares, negative_texts, events)', format(case tab
        when 'interactions' then
            'select org_id, (occurred_at at time zone ''UTC'')::date as day, channel, customer_id,
                    %1$s::bigint as interactions, 0::bigint as orders, 0::numeric as revenue, 0::bigint as texts,
                    0::float8 as polarity_sum, 0::float8 as polarity_squares, 0::bigint as negative_texts,
                    %1$s::bigint as events
             from %2$s'
        when 'orders' then
            'select org_id, (ordered_at at time zone ''UTC'')::date, coalesce(channel, ''unknown''), customer_id,
                    0::bigint, (case when status in (''cancelled'', ''refunded'') then 0 else %1$s end)::bigint,
                    (case when status in (''cancelled'', ''refunded'') then 0 else %1$s * total end)::numeric,
                    0::bigint, 0::float8, 0::float8, 0::bigint, %1$s::bigint
             from %2$s'
        when 'text_scores' then
            'select org_id, (written_at at time zone ''UTC'')::date, channel, customer_id,
                    0::bigint, 0::bigint, 0::numeric, %1$s::bigint, (%1$s * (positive::float8 - negative::float8))::float8,
                    (%1$s * (positive::float8 - negative::float8) ^ 2)::float8, (case when label = ''negative'' then %1$s else 0 end)::bigint, 0::bigint
             from %2$s'
    end, sign, source))
$$;

-- Adds `changes` (a query in `rollup_changes`' columns) to the rollups, the active days and the
-- gaps, in key order so two writers on one shard lock rows in the same order. Every CTE reads
-- the snapshot from before the statement; the gaps are the old stretch's taken away and the new
-- stretch's (the old one with the moved days applied) added. A stretch's first day gets a
-- made-up gap from '-infinity' in both, which cancels out.
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
            returning 1
        ),
        -- Days a customer starts (active) or stops being active on; other changes move no gap.
        moved as (
            select d.org_id, d.channel, d.customer_id, d.day, coalesce(c.events, 0) + d.events > 0 as active
            from delta d
            left join customer_days c using (org_id, channel, customer_id, day)
            where (coalesce(c.events, 0) > 0) <> (coalesce(c.events, 0) + d.events > 0)
        ),
        spans as (
            select m.org_id, m.channel, m.customer_id, m.first, m.last,
                   (select max(c.day) from customer_days c
                    where (c.org_id, c.channel, c.customer_id) = (m.org_id, m.channel, m.customer_id)
                      and c.day < m.first and c.events > 0) as before,
                   (select min(c.day) from customer_days c
                    where (c.org_id, c.channel, c.customer_id) = (m.org_id, m.channel, m.customer_id)
                      and c.day > m.last and c.events > 0) as after
            from (select org_id, channel, customer_id, min(day) as first, max(day) as last
                  from moved group by org_id, channel, customer_id) m
        ),
        old_days as (
            select s.org_id, s.channel, s.customer_id, c.day
            from spans s
            join customer_days c
              on (c.org_id, c.channel, c.customer_id) = (s.org_id, s.channel, s.customer_id)
             and c.day between coalesce(s.before, s.first) and coalesce(s.after, s.last) and c.events > 0
        ),
        new_days as (
            select o.org_id, o.channel, o.customer_id, o.day
            from old_days o
            where not exists (select 1 from moved m
                              where (m.org_id, m.channel, m.customer_id, m.day)
                                  = (o.org_id, o.channel, o.customer_id, o.day))
            union all
            select org_id, channel, customer_id, day from moved where active
        ),
        stretches as (
            select org_id, channel, day, -1 as customers,
                   lag(day, 1, '-infinity'::date) over (partition by org_id, channel, customer_id order by day) as previous_day
            from old_days
            union all
            select org_id, channel, day, 1,
                   lag(day, 1, '-infinity'::date) over (partition by org_id, channel, customer_id order by day)
            from new_days
        )
        insert into active_gaps as g (org_id, channel, day, previous_day, shard, customers)
        select org_id, channel, day, previous_day, (pg_backend_pid() %% 16)::smallint, sum(customers)
        from stretches
        group by org_id, channel, day, previous_day
        having sum(customers) <> 0
        order by org_id, channel, day, previous_day
        on conflict (org_id, channel, day, previous_day, shard) do update set customers = g.customers + excluded.customers
    $q$, changes)
$$;

-- The trigger on every raw table. Two writers moving days of the same customer must not both
-- work from a snapshot without the other's days, so the statement first locks the customers
-- it touches (in key order; the write paths hold these rows already, for the customer
-- aggregates) and then works from a snapshot taken after the locks.
create or replace function apply_rollups() returns trigger
language plpgsql as $$
declare
    added text := rollup_changes(TG_TABLE_NAME, 'new_rows', 1);
    removed text := rollup_changes(TG_TABLE_NAME, 'old_rows', -1);
    changes text := case TG_OP when 'INSERT' then added when 'DELETE' then removed
                                else added || ' union all ' || removed end;
begin
    if TG_TABLE_NAME <> 'text_scores' then
        execute format(
            'select count(*) from (
                 select 1 from customers c
                 where (c.org_id, c.id) in (select org_id, customer_id from (%s) x)
                 order by c.org_id, c.id
                 for no key update of c
             ) locked',
            changes);
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

create or replace function rebuild_rollups(org uuid) returns void
language plpgsql as $$
begin
    delete from daily_rollups where org_id = org;
    delete from customer_days where org_id = org;
    delete from active_gaps where org_id = org;
    execute rollup_sql(
        rollup_changes('interactions', format('(select * from interactions where org_id = %L) s', org), 1)
        || ' union all ' || rollup_changes('orders', format('(select * from orders where org_id = %L) s', org), 1)
        || ' union all ' || rollup_changes('text_scores', format('(select * from text_scores where org_id = %L) s', org), 1));
end
$$;

-- Existing organizations get their all-channel days and their gaps.
do $$
declare
    org uuid;
begin
    for org in select id from organizations loop
        perform set_config('app.org_id', org::text, true);
        perform rebuild_rollups(org);
    end loop;
    perform set_config('app.org_id', '', true);
end
$$;
