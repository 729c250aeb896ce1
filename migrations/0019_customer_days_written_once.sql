-- The folder writes each active customer day once (SPEC ING-5).
--
-- A fold after a large import wrote every customer's day three times: per channel and for all
-- channels ('*') in `customer_days`, and again in the folder's copy of the days it had counted
-- (`counted_days`, from 0016, when writers changed the customer days themselves). Since 0018
-- only the folder changes `customer_days`, in the same transaction as the active-customer
-- gaps, so when a fold starts the gaps are exactly those between the active days in
-- `customer_days`: the copy is redundant, and so is the list of customers to fold
-- (`unfolded_customers`), which since 0018 only carried the folder's own notes from one of its
-- statements to the next. The all-channel rows are the sum of the channel rows, which the
-- folder and the segment view can add up themselves. A fold of 200,000 new interactions goes
-- from about 13 s to about 5 s.

-- Fold, with 0018's functions, whatever an older server logged or noted, so that the gaps agree
-- with the customer days everywhere before the lists go. Migrations run as the owner, which
-- row-level security scopes to one organization at a time.
do $$
declare
    org uuid;
begin
    for org in select orgs_with_unfolded_rollups() loop
        perform set_config('app.org_id', org::text, true);
        perform fold_rollups(org);
    end loop;
    perform set_config('app.org_id', '', true);
end
$$;

-- Each customer's days are kept per channel only: a customer's day in all channels ('*', which
-- 0012 kept as a row of its own) is the sum of its channels' rows, which the segment view sums
-- at read and the folder below works out for the all-channel gaps. That halves the rows every
-- fold writes. The key leads with the customer, so both the folder (one customer's days in
-- every channel) and the segment view (its members' days in a range) read one range each.
alter table customer_days no force row level security;
delete from customer_days where channel = '*';
alter table customer_days force row level security;
alter table customer_days drop constraint customer_days_pkey;
alter table customer_days add primary key (org_id, customer_id, day, channel);

-- As 0017 did for the customer days: the key on organizations cost a check per row written
-- (about a twentieth of a large fold); `forget_unkeyed_rollups` removes them with the
-- organization instead.
alter table active_gaps drop constraint active_gaps_org_id_fkey;

-- Brings the organization's rollups up to date with every change committed before it runs;
-- answers how many (channel, customer) pairs, '*' included, had their active-customer gaps
-- worked out again. In one statement, so every part reads the customer days as the last fold
-- left them:
-- - the logged deltas, netted per (day, channel) and per customer day, are added to
--   `daily_rollups` and `customer_days`;
-- - a customer day whose events cross zero starts or stops being an active day in its channel;
-- - for each customer with such a day, the gaps between its active days before are taken
--   away and those between its active days after are added, per channel and for all channels
--   (a day active in any channel).
-- Then the customer days left with no event and no text are removed. One folder per
-- organization at a time, under an advisory lock held to commit, so each delta is applied
-- exactly once: a change committed while it runs is either in what it drains or still logged
-- for the next fold.
create or replace function fold_rollups(org uuid) returns bigint
language plpgsql as $$
declare
    folded bigint;
    emptied_channels text[];
    emptied_customers uuid[];
    emptied_days date[];
begin
    if not exists (select 1 from rollup_deltas where org_id = org) then
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
        select day, channel, customer_id, sum(events) as events, sum(interactions) as interactions,
               sum(orders) as orders, sum(revenue) as revenue, sum(texts) as texts,
               sum(polarity_sum) as polarity_sum, sum(polarity_squares) as polarity_squares
        from changed
        where customer_id is not null
        group by day, channel, customer_id
        having sum(events) <> 0 or sum(interactions) <> 0 or sum(orders) <> 0 or sum(revenue) <> 0
            or sum(texts) <> 0 or sum(polarity_sum) <> 0
    ),
    kept as (
        insert into customer_days as c (org_id, day, channel, customer_id, events, interactions, orders, revenue,
                                        texts, polarity_sum, polarity_squares)
        select org, day, channel, customer_id, events, interactions, orders, revenue, texts, polarity_sum,
               polarity_squares
        from delta
        on conflict (org_id, customer_id, day, channel) do update set
            events = c.events + excluded.events,
            interactions = c.interactions + excluded.interactions,
            orders = c.orders + excluded.orders,
            revenue = c.revenue + excluded.revenue,
            texts = c.texts + excluded.texts,
            polarity_sum = c.polarity_sum + excluded.polarity_sum,
            polarity_squares = c.polarity_squares + excluded.polarity_squares
        returning c.channel, c.customer_id, c.day, c.events, c.texts
    ),
    -- Days that start (`active`) or stop being active days in their channel: `kept` holds the
    -- events after this fold, `delta` what it added. Grouped rather than joined, like every step
    -- below: the planner cannot know how many rows a fold carries, and a nested loop between two
    -- of these lists is quadratic.
    crossed as (
        select channel, customer_id, day, sum(after) > 0 as active
        from (select channel, customer_id, day, events as after, 0 as added from kept
              union all
              select channel, customer_id, day, 0, events from delta) as both_sides
        group by channel, customer_id, day
        having (sum(after) - sum(added) > 0) <> (sum(after) > 0)
    ),
    who as (
        select distinct channel, customer_id from crossed
    ),
    touched as (
        select distinct customer_id from crossed
    ),
    -- Read in this statement's snapshot, which does not see `kept`'s changes: the active days
    -- the gaps count now, in each channel with a crossing and in every channel of each customer
    -- with one (for '*'). One index range per customer, whatever the statistics say (`offset 0`
    -- keeps the lookup from being turned into a scan of the organization's days).
    channel_before as (
        select w.channel, w.customer_id, c.day
        from who w cross join lateral (
            select day from customer_days c
            where c.org_id = org and c.customer_id = w.customer_id and c.channel = w.channel and c.events > 0
            offset 0
        ) c
    ),
    channel_after as (
        (select channel, customer_id, day from channel_before
         except all
         select channel, customer_id, day from crossed where not active)
        union all
        select channel, customer_id, day from crossed where active
    ),
    every_before as (
        select c.channel, t.customer_id, c.day
        from touched t cross join lateral (
            select channel, day from customer_days c
            where c.org_id = org and c.customer_id = t.customer_id and c.events > 0
            offset 0
        ) c
    ),
    every_after as (
        (select channel, customer_id, day from every_before
         except all
         select channel, customer_id, day from crossed where not active)
        union all
        select channel, customer_id, day from crossed where active
    ),
    gaps as (
        select channel, day, -1 as customers,
               lag(day, 1, '-infinity'::date) over (partition by channel, customer_id order by day) as previous_day
        from channel_before
        union all
        select channel, day, 1, lag(day, 1, '-infinity'::date) over (partition by channel, customer_id order by day)
        from channel_after
        union all
        select '*', day, -1, lag(day, 1, '-infinity'::date) over (partition by customer_id order by day)
        from (select distinct customer_id, day from every_before) d
        union all
        select '*', day, 1, lag(day, 1, '-infinity'::date) over (partition by customer_id order by day)
        from (select distinct customer_id, day from every_after) d
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
    )
    select (select count(*) from who) + (select count(*) from touched), array_agg(channel), array_agg(customer_id),
           array_agg(day)
    into folded, emptied_channels, emptied_customers, emptied_days
    from kept
    where events <= 0 and texts = 0;

    -- Days a customer no longer has any event or scored text on.
    if emptied_days is not null then
        delete from customer_days c
        using unnest(emptied_channels, emptied_customers, emptied_days) as x (channel, customer_id, day)
        where c.org_id = org and (c.customer_id, c.day, c.channel) = (x.customer_id, x.day, x.channel)
          and c.events <= 0 and c.texts = 0;
    end if;
    return folded;
end
$$;

create or replace function orgs_with_unfolded_rollups() returns setof uuid
    language sql stable security definer set search_path = public, pg_temp as $$
    select distinct org_id from rollup_deltas
$$;

-- As in 0018, without the two lists.
create or replace function rebuild_rollups(org uuid) returns void
language plpgsql as $$
begin
    perform pg_advisory_xact_lock(hashtextextended('fold_rollups:' || org::text, 0));
    delete from daily_rollups where org_id = org;
    delete from customer_days where org_id = org;
    delete from active_gaps where org_id = org;
    execute format('with dropped as (delete from rollup_deltas where org_id = %L) ', org) || log_rollup_changes_sql(
        rollup_changes('interactions', format('(select * from interactions where org_id = %L) s', org), 1)
        || ' union all ' || rollup_changes('orders', format('(select * from orders where org_id = %L) s', org), 1)
        || ' union all ' || rollup_changes('text_scores', format('(select * from text_scores where org_id = %L) s', org), 1));
    perform fold_rollups(org);
end
$$;

-- As in 0018, without the list of noted customers and with the active-customer gaps.
create or replace function forget_unkeyed_rollups() returns trigger
language plpgsql as $$
declare
    scope text := current_setting('app.org_id', true);
begin
    perform set_config('app.org_id', old.id::text, true);
    delete from customer_days where org_id = old.id;
    delete from active_gaps where org_id = old.id;
    delete from rollup_deltas where org_id = old.id;
    perform set_config('app.org_id', coalesce(scope, ''), true);
    return old;
end
$$;

drop table unfolded_customers;
drop table counted_days;
