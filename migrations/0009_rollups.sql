-- Dashboard rollups (SPEC UI-2): what the dashboard reads instead of raw events, so a tile
-- or chart over a year costs a few hundred rows however many events the organization has.
--
-- Kept exact by statement-level triggers with transition tables on the raw tables: every
-- insert, update and delete — REST, CSV import, webhook, the demo generator's COPY, a
-- replaced version of a record, a rescored text — adds its delta in the writing statement's
-- own transaction, so a rollup is never ahead of or behind the rows it summarises, and no
-- write path can forget it. `rebuild_rollups` recomputes an organization from scratch (the
-- `sightline rollups rebuild` command, and the property test's reference).
--
-- Days are UTC calendar days. Each row is split into `shard`s by the writing connection, so
-- concurrent writers touching the same day and channel do not queue on one row lock; readers
-- sum the shards.

-- ---------------------------------------------------------------- per day and channel
create table daily_rollups (
    org_id uuid not null references organizations (id) on delete cascade,
    day date not null,
    -- An interaction's channel, an order's channel ('unknown' when it has none), or 'review'
    -- for review texts.
    channel text not null,
    shard smallint not null,
    interactions bigint not null default 0,
    -- Sales only: refunded and cancelled orders are neither orders nor revenue (as in the
    -- customer aggregates and the revenue report).
    orders bigint not null default 0,
    revenue numeric(24, 4) not null default 0,
    -- Scored texts (interactions and reviews), their summed polarity (P+ − P−) and squared
    -- polarity (for the interval around the average).
    texts bigint not null default 0,
    polarity_sum double precision not null default 0,
    polarity_squares double precision not null default 0,
    negative_texts bigint not null default 0,
    -- Serves every dashboard range query: one organization's days in order.
    primary key (org_id, day, channel, shard)
);

-- ---------------------------------------------------------------- active customers
-- Who was active on which day (an interaction or an order), with how many events, so "active
-- customers" over any range is an exact distinct count and a replaced record can take its
-- day back.
create table customer_days (
    org_id uuid not null references organizations (id) on delete cascade,
    day date not null,
    channel text not null,
    customer_id uuid not null,
    events bigint not null,
    -- Serves the distinct count of active customers over a range (and one channel's).
    primary key (org_id, day, channel, customer_id)
);

do $$
declare
    t text;
begin
    foreach t in array array['daily_rollups', 'customer_days'] loop
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

-- ---------------------------------------------------------------- applying changes
-- The signed changes one statement made to `tab`, read from `source` (a transition table
-- or a subquery): one row per changed record with what it adds (sign 1) or takes away
-- (sign −1), in the columns `rollup_sql` sums.
create function rollup_changes(tab text, source text, sign int) returns text
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
            'select org_id, (written_at at time zone ''UTC'')::date, channel, null::uuid,
                    0::bigint, 0::bigint, 0::numeric, %1$s::bigint, (%1$s * (positive::float8 - negative::float8))::float8,
                    (%1$s * (positive::float8 - negative::float8) ^ 2)::float8, (case when label = ''negative'' then %1$s else 0 end)::bigint, 0::bigint
             from %2$s'
    end, sign, source))
$$;

-- The statement adding `changes` (a query in `rollup_changes`' columns) to the rollups, in
-- key order so two writers on one shard lock rows in the same order.
create function rollup_sql(changes text) returns text
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
        )
        insert into customer_days as c (org_id, day, channel, customer_id, events)
        select org_id, day, channel, customer_id, sum(events)
        from changed
        where customer_id is not null
        group by org_id, day, channel, customer_id
        having sum(events) <> 0
        order by org_id, day, channel, customer_id
        on conflict (org_id, day, channel, customer_id) do update set events = c.events + excluded.events
    $q$, changes)
$$;

-- The trigger on every raw table: applies what the statement changed. Transition tables are
-- visible only to the trigger function's own queries, hence the SQL built and run here.
create function apply_rollups() returns trigger
language plpgsql as $$
declare
    added text := rollup_changes(TG_TABLE_NAME, 'new_rows', 1);
    removed text := rollup_changes(TG_TABLE_NAME, 'old_rows', -1);
begin
    if TG_OP = 'INSERT' then
        execute rollup_sql(added);
    elsif TG_OP = 'DELETE' then
        execute rollup_sql(removed);
    else
        execute rollup_sql(added || ' union all ' || removed);
    end if;
    if TG_OP <> 'INSERT' and TG_TABLE_NAME <> 'text_scores' then
        -- Days a customer no longer has any event on.
        execute format(
            'delete from customer_days c using (%s) x
             where c.org_id = x.org_id and c.day = x.day and c.channel = x.channel and c.customer_id = x.customer_id
               and c.events <= 0',
            removed);
    end if;
    return null;
end
$$;

-- A trigger with transition tables serves one event, hence three per table.
do $$
declare
    t text;
begin
    foreach t in array array['interactions', 'orders', 'text_scores'] loop
        execute format('create trigger %I after insert on %I referencing new table as new_rows
                        for each statement execute function apply_rollups()', t || '_rollup_insert', t);
        execute format('create trigger %I after update on %I referencing old table as old_rows new table as new_rows
                        for each statement execute function apply_rollups()', t || '_rollup_update', t);
        execute format('create trigger %I after delete on %I referencing old table as old_rows
                        for each statement execute function apply_rollups()', t || '_rollup_delete', t);
    end loop;
end
$$;

-- Recomputes one organization's rollups from its raw rows: the reference the incremental
-- rollups must equal, and the repair after a bulk change that bypassed the triggers
-- (`sightline rollups rebuild`).
create function rebuild_rollups(org uuid) returns void
language plpgsql as $$
begin
    delete from daily_rollups where org_id = org;
    delete from customer_days where org_id = org;
    execute rollup_sql(
        rollup_changes('interactions', format('(select * from interactions where org_id = %L) s', org), 1)
        || ' union all ' || rollup_changes('orders', format('(select * from orders where org_id = %L) s', org), 1)
        || ' union all ' || rollup_changes('text_scores', format('(select * from text_scores where org_id = %L) s', org), 1));
end
$$;
grant execute on function rebuild_rollups(uuid) to sightline_app;
