-- Rollups per RFM segment (SPEC UI-2), so the dashboard filtered to a segment reads as few rows
-- as the whole organization's does.
--
-- The segment view summed its members' customer days and counted its active members from them:
-- rows that grow with customers × active days (about 0.3 s at 2 M interactions, and in
-- proportion beyond). A customer's segment changes only when a scoring run stores new scores,
-- so the folder keeps each segment's days and active-customer gaps as it keeps the
-- organization's: a change of segment is logged (`segment_moves`) in the transaction that makes
-- it, and the background folder moves the customer's days and gaps from the segment it counted
-- them in to the new one, a bounded number of customers per round, under the same lock and
-- snapshot as the deltas. Moving a customer costs its whole history (about 1 ms per customer
-- here), and a scoring run can move every customer: done in one fold, that would hold the lock
-- every dashboard request folds under for seconds at 2 M interactions and for minutes at
-- 100 M. Until a customer's move is folded, its new rows count in the segment it was counted in,
-- so every segment's rollups stay exactly those of the customers counted in it, and the segment
-- view follows a scoring run within a few of the folder's rounds.

-- One organization's days per segment and channel, as `daily_rollups` holds them for all
-- customers (without the negative-text count, which the segment view does not show).
create table segment_days (
    org_id uuid not null,
    segment text not null,
    day date not null,
    channel text not null,
    interactions bigint not null default 0,
    orders bigint not null default 0,
    revenue numeric(24, 4) not null default 0,
    texts bigint not null default 0,
    polarity_sum double precision not null default 0,
    polarity_squares double precision not null default 0,
    -- Serves the segment view: one segment, the range's days.
    primary key (org_id, segment, day, channel)
);

-- `active_gaps` (0012) per segment: how many of the segment's customers had `day` as an active
-- day after `previous_day` as their last one ('-infinity' for none), per channel and for all
-- channels ('*').
create table segment_gaps (
    org_id uuid not null,
    segment text not null,
    channel text not null,
    day date not null,
    previous_day date not null,
    customers bigint not null,
    primary key (org_id, segment, channel, day, previous_day)
);

-- Customers whose segment changed since the last fold, with the segment they were in before
-- the first such change (null: none), which is the one the folder counted them in. Rows are
-- few (one per changed score) and short-lived, like the deltas'.
create table segment_moves (
    id bigint generated always as identity,
    org_id uuid not null,
    customer_id uuid not null,
    old_segment text
);
-- Serves the fold: the next customers to move, and a customer's first pending move.
create index segment_moves_customer_idx on segment_moves (org_id, customer_id, id);

-- None of the three carries a key on organizations, as 0017 and 0019 decided for the customer
-- days and gaps: `forget_unkeyed_rollups` removes their rows with the organization.
do $$
declare
    t text;
begin
    foreach t in array array['segment_days', 'segment_gaps', 'segment_moves'] loop
        execute format('alter table %I enable row level security', t);
        execute format(
            'create policy %I on %I
                 using (org_id = nullif(current_setting(''app.org_id'', true), '''')::uuid)
                 with check (org_id = nullif(current_setting(''app.org_id'', true), '''')::uuid)',
            t || '_tenant_isolation', t);
    end loop;
end
$$;

-- The background folder asks which organizations have work (`orgs_with_unfolded_rollups`).
create policy segment_moves_owner_lists on segment_moves for select to sightline_owner using (true);

-- Logs every change of a customer's segment: a first score, a new segment, a score removed
-- (except with its organization, whose rollups go with it). Per statement, so a scoring run's
-- update of every customer compares its rows in one pass, without joining them.
create function note_segment_moves() returns trigger
language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        insert into segment_moves (org_id, customer_id, old_segment)
        select org_id, customer_id, null from new_rows;
    elsif tg_op = 'UPDATE' then
        insert into segment_moves (org_id, customer_id, old_segment)
        select org_id, customer_id, segment
        from (select org_id, customer_id, segment from old_rows
              except all
              select org_id, customer_id, segment from new_rows) as changed;
    else
        insert into segment_moves (org_id, customer_id, old_segment)
        select o.org_id, o.customer_id, o.segment from old_rows o
        where exists (select 1 from organizations g where g.id = o.org_id);
    end if;
    return null;
end
$$;

create trigger customer_scores_segments_inserted after insert on customer_scores
    referencing new table as new_rows for each statement execute function note_segment_moves();
create trigger customer_scores_segments_updated after update on customer_scores
    referencing old table as old_rows new table as new_rows for each statement execute function note_segment_moves();
create trigger customer_scores_segments_deleted after delete on customer_scores
    referencing old table as old_rows for each statement execute function note_segment_moves();

-- As in 0019, and the segments' rollups with them, moving up to `moves` customers (all when
-- null) to the segment they are in now. Each changed customer day is added to the segment its
-- customer is counted in: the one its first pending move left, if it has one that this fold
-- does not take, else its segment now. A customer this fold moves takes its days as the last
-- fold left them from the segment it was counted in to its segment now. The gaps are worked
-- out per customer once, before and after, so that the organization's and the segments' gaps
-- come from the same rows. The dashboard folds with no moves, so a request never waits for a
-- scoring run's worth of them.
--
-- The joins between the fold's own lists must hash: the planner cannot know how many rows a
-- fold carries, and a nested loop between two of them is quadratic. With nested loops priced
-- out, the forced ones (the index lookups) make the plan's cost look huge, which would start
-- the JIT compiler (about 1.7 s per fold); nothing here gains from it.
drop function fold_rollups(uuid);
create function fold_rollups(org uuid, moves integer default 0) returns bigint
language plpgsql set jit = off as $$
declare
    folded bigint;
    emptied_channels text[];
    emptied_customers uuid[];
    emptied_days date[];
    nestloop text := current_setting('enable_nestloop');
begin
    if not exists (select 1 from rollup_deltas where org_id = org)
       and (moves = 0 or not exists (select 1 from segment_moves where org_id = org)) then
        return 0;
    end if;
    perform pg_advisory_xact_lock(hashtextextended('fold_rollups:' || org::text, 0));
    perform set_config('enable_nestloop', 'off', true);
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
    -- events after this fold, `delta` what it added.
    crossed as (
        select channel, customer_id, day, sum(after) > 0 as active
        from (select channel, customer_id, day, events as after, 0 as added from kept
              union all
              select channel, customer_id, day, 0, events from delta) as both_sides
        group by channel, customer_id, day
        having (sum(after) - sum(added) > 0) <> (sum(after) > 0)
    ),
    -- The customers this fold moves: the first `moves` with a logged move, all of their moves.
    taken as (
        delete from segment_moves m
        where m.org_id = org and m.customer_id in (
            select distinct customer_id from segment_moves
            where org_id = org and coalesce(moves, 1) > 0
            order by customer_id
            limit moves
        )
        returning id, customer_id, old_segment
    ),
    -- Each moved customer once, with the segment its first move left: the one the last fold
    -- counted it in.
    moved as (
        select distinct on (customer_id) customer_id, old_segment from taken order by customer_id, id
    ),
    -- Every customer whose days or segment change: the segment its rows were counted in
    -- (`was_in`) and the one they count in after this fold (`now_in`), null for none. A
    -- customer with a move left pending stays where it was counted.
    placed as (
        select p.customer_id, p.moved,
               case when p.moved then p.old_segment when pending.found then pending.old_segment else s.segment end
                   as was_in,
               case when not p.moved and pending.found then pending.old_segment else s.segment end as now_in
        from (select customer_id, bool_or(moved) as moved, max(old_segment) as old_segment
              from (select distinct customer_id, false as moved, null::text as old_segment from delta
                    union all
                    select customer_id, true, old_segment from moved) as both_kinds
              group by customer_id) p
        left join lateral (
            select segment from customer_scores s where s.org_id = org and s.customer_id = p.customer_id offset 0
        ) s on true
        left join lateral (
            select true as found, m.old_segment from segment_moves m
            where m.org_id = org and m.customer_id = p.customer_id
            order by m.id
            limit 1
        ) pending on true
    ),
    -- Customers whose gaps are worked out again: an active day crossed, or a segment changed.
    regarded as (
        select customer_id, bool_or(moved) as moved
        from (select customer_id, false as moved from crossed
              union all
              select customer_id, true from moved) as both_kinds
        group by customer_id
    ),
    -- Read in this statement's snapshot, which does not see `kept`'s changes: each regarded
    -- customer's active days in every channel as the gaps count them now. One index range per
    -- customer, whatever the statistics say (`offset 0` keeps the lookup from being turned into
    -- a scan of the organization's days).
    days_before as (
        select c.channel, r.customer_id, c.day, r.moved
        from regarded r cross join lateral (
            select channel, day from customer_days c
            where c.org_id = org and c.customer_id = r.customer_id and c.events > 0
            offset 0
        ) c
    ),
    -- Per channel, only the channels whose gaps can change: one with a crossing, or every
    -- channel of a customer that changes segment.
    channel_days_before as (
        select d.channel, d.customer_id, d.day
        from days_before d
        left join (select distinct channel, customer_id from crossed) w
               on w.channel = d.channel and w.customer_id = d.customer_id
        where d.moved or w.customer_id is not null
    ),
    channel_days_after as (
        (select channel, customer_id, day from channel_days_before
         except all
         select channel, customer_id, day from crossed where not active)
        union all
        select channel, customer_id, day from crossed where active
    ),
    every_day_after as (
        (select customer_id, day from days_before
         except all
         select customer_id, day from crossed where not active)
        union all
        select customer_id, day from crossed where active
    ),
    -- Each regarded customer's gaps before (-1) and after (+1), per channel and for all
    -- channels ('*': a day active in any channel).
    gaps as (
        select customer_id, channel, day, -1 as customers,
               lag(day, 1, '-infinity'::date) over (partition by channel, customer_id order by day) as previous_day
        from channel_days_before
        union all
        select customer_id, channel, day, 1,
               lag(day, 1, '-infinity'::date) over (partition by channel, customer_id order by day)
        from channel_days_after
        union all
        select customer_id, '*', day, -1, lag(day, 1, '-infinity'::date) over (partition by customer_id order by day)
        from (select distinct customer_id, day from days_before) d
        union all
        select customer_id, '*', day, 1, lag(day, 1, '-infinity'::date) over (partition by customer_id order by day)
        from (select distinct customer_id, day from every_day_after) d
    ),
    -- Each customer's gaps that change: what a customer keeps gives the same gap both ways,
    -- which cancels here, before anything is joined or sorted. A customer that changes segment
    -- keeps both ways apart (`side`), since they count in different segments.
    changed_gaps as (
        select customer_id, channel, day, previous_day, sum(customers) as customers
        from (select g.customer_id, g.channel, g.day, g.previous_day, g.customers,
                     case when g.customer_id in (select customer_id from moved) then g.customers else 0 end as side
              from gaps g) as sided
        group by customer_id, channel, day, previous_day, side
        having sum(customers) <> 0
    ),
    applied as (
        insert into active_gaps as g (org_id, channel, day, previous_day, shard, customers)
        select org, channel, day, previous_day, 0, sum(customers)
        from changed_gaps
        group by channel, day, previous_day
        having sum(customers) <> 0
        order by channel, day, previous_day
        on conflict (org_id, channel, day, previous_day, shard) do update set customers = g.customers + excluded.customers
        returning 1
    ),
    segment_gaps_applied as (
        insert into segment_gaps as g (org_id, segment, channel, day, previous_day, customers)
        select org, segment, channel, day, previous_day, sum(customers)
        from (select case when x.customers < 0 then p.was_in else p.now_in end as segment, x.channel, x.day,
                     x.previous_day, x.customers
              from changed_gaps x join placed p on p.customer_id = x.customer_id
              where p.was_in is not null or p.now_in is not null) as counted
        where segment is not null
        group by segment, channel, day, previous_day
        having sum(customers) <> 0
        order by segment, channel, day, previous_day
        on conflict (org_id, segment, channel, day, previous_day) do update set
            customers = g.customers + excluded.customers
        returning 1
    ),
    segment_days_applied as (
        insert into segment_days as s (org_id, segment, day, channel, interactions, orders, revenue, texts,
                                       polarity_sum, polarity_squares)
        select org, segment, day, channel, sum(interactions), sum(orders), sum(revenue), sum(texts),
               sum(polarity_sum), sum(polarity_squares)
        from (
            -- This fold's changes, in their customer's segment now.
            select p.now_in as segment, d.day, d.channel, d.interactions, d.orders, d.revenue, d.texts,
                   d.polarity_sum, d.polarity_squares
            from delta d join placed p on p.customer_id = d.customer_id
            where p.now_in is not null
            union all
            -- A moved customer's days as the last fold left them, out of the old segment and
            -- into the new one.
            select x.segment, c.day, c.channel, x.sign * c.interactions, x.sign * c.orders, x.sign * c.revenue,
                   x.sign * c.texts, x.sign * c.polarity_sum, x.sign * c.polarity_squares
            from placed p
            cross join lateral (
                select day, channel, interactions, orders, revenue, texts, polarity_sum, polarity_squares
                from customer_days c where c.org_id = org and c.customer_id = p.customer_id
                offset 0
            ) c
            cross join lateral (values (p.was_in, -1), (p.now_in, 1)) as x (segment, sign)
            where p.moved and p.was_in is distinct from p.now_in and x.segment is not null
        ) as changes
        group by segment, day, channel
        having sum(interactions) <> 0 or sum(orders) <> 0 or sum(revenue) <> 0 or sum(texts) <> 0
            or sum(polarity_sum) <> 0
        order by segment, day, channel
        on conflict (org_id, segment, day, channel) do update set
            interactions = s.interactions + excluded.interactions,
            orders = s.orders + excluded.orders,
            revenue = s.revenue + excluded.revenue,
            texts = s.texts + excluded.texts,
            polarity_sum = s.polarity_sum + excluded.polarity_sum,
            polarity_squares = s.polarity_squares + excluded.polarity_squares
        returning 1
    )
    select (select count(*) from (select distinct channel, customer_id from crossed) w)
               + (select count(distinct customer_id) from crossed),
           array_agg(channel), array_agg(customer_id), array_agg(day)
    into folded, emptied_channels, emptied_customers, emptied_days
    from kept
    where events <= 0 and texts = 0;
    perform set_config('enable_nestloop', nestloop, true);

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
    select org_id from rollup_deltas
    union
    select org_id from segment_moves
$$;

-- As in 0019, and the segments' rollups: every scored customer is logged as moved into its
-- segment, so the fold counts its days there from nothing.
create or replace function rebuild_rollups(org uuid) returns void
language plpgsql as $$
begin
    perform pg_advisory_xact_lock(hashtextextended('fold_rollups:' || org::text, 0));
    delete from daily_rollups where org_id = org;
    delete from customer_days where org_id = org;
    delete from active_gaps where org_id = org;
    delete from segment_days where org_id = org;
    delete from segment_gaps where org_id = org;
    delete from segment_moves where org_id = org;
    insert into segment_moves (org_id, customer_id, old_segment)
    select org_id, customer_id, null from customer_scores where org_id = org;
    execute format('with dropped as (delete from rollup_deltas where org_id = %L) ', org) || log_rollup_changes_sql(
        rollup_changes('interactions', format('(select * from interactions where org_id = %L) s', org), 1)
        || ' union all ' || rollup_changes('orders', format('(select * from orders where org_id = %L) s', org), 1)
        || ' union all ' || rollup_changes('text_scores', format('(select * from text_scores where org_id = %L) s', org), 1));
    perform fold_rollups(org, null);
end
$$;

-- As in 0019, with the segments' rows.
create or replace function forget_unkeyed_rollups() returns trigger
language plpgsql as $$
declare
    scope text := current_setting('app.org_id', true);
begin
    perform set_config('app.org_id', old.id::text, true);
    delete from customer_days where org_id = old.id;
    delete from active_gaps where org_id = old.id;
    delete from rollup_deltas where org_id = old.id;
    delete from segment_days where org_id = old.id;
    delete from segment_gaps where org_id = old.id;
    delete from segment_moves where org_id = old.id;
    perform set_config('app.org_id', coalesce(scope, ''), true);
    return old;
end
$$;

-- Today's scored customers enter their segments: logged as moved from none, then folded with
-- whatever else is pending, one organization at a time (migrations run as the owner, which
-- row-level security scopes to one organization; the scores are read past it here).
alter table customer_scores no force row level security;
insert into segment_moves (org_id, customer_id, old_segment)
select org_id, customer_id, null from customer_scores;
alter table customer_scores force row level security;
do $$
declare
    org uuid;
begin
    for org in select orgs_with_unfolded_rollups() loop
        perform set_config('app.org_id', org::text, true);
        perform fold_rollups(org, null);
    end loop;
end
$$;

grant execute on function fold_rollups(uuid, integer) to sightline_app;

do $$
declare
    t text;
begin
    foreach t in array array['segment_days', 'segment_gaps', 'segment_moves'] loop
        execute format('alter table %I force row level security', t);
    end loop;
end
$$;
