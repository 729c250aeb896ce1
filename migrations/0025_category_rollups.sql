-- Rollups per product category (SPEC UI-2), so the dashboard filtered to a category reads as
-- few rows as the whole organization's does.
--
-- The category view read its range's orders from `order_categories` (0023) and joined its
-- range's review scores to their reviews and products on every request: rows that grow with
-- the orders and reviews of the range (at 2 M interactions 58 ms for 365 days, most of it the
-- reviews; at 100 M about fifty times that). Here each category's days are kept as the
-- organization's are (`daily_rollups`): a write only logs its changes (`category_deltas`,
-- insert-only, so concurrent writers of one day never wait on each other), and the folder adds
-- them up after commit, under a lock, before every dashboard request and in the background.
--
-- What is logged, in the transaction of the write, is what the categories are made of: the
-- rows of `order_categories` (each counted order's revenue per category, which 0023's triggers
-- recompute on every change of lines, status, day, channel, customer or product category) and
-- of `review_categories` (each scored review's polarity in its product's category, recomputed
-- the same way on every change of score, review product or product category), as they are
-- written and removed.
--
-- Buyers of a category in a range are counted as the organization's active customers are
-- (0012's `active_gaps`): per customer and category, each order day with the day of the
-- previous one, so a range's buyers are the sum over its days of those whose previous day
-- falls before it.

-- One organization's days per category and channel ('review' for reviews' scores).
create table category_days (
    org_id uuid not null references organizations (id) on delete cascade,
    category text not null,
    day date not null,
    channel text not null,
    orders bigint not null default 0,
    -- Numeric without a scale, as `order_categories.revenue`, so adding and removing cancel.
    revenue numeric not null default 0,
    texts bigint not null default 0,
    polarity_sum double precision not null default 0,
    polarity_squares double precision not null default 0,
    -- Serves the category view: one category, the range's days.
    primary key (org_id, category, day, channel)
);

-- How many of a category's buyers had `day` as an order day after `previous_day` as their last
-- one ('-infinity' for none), per channel and for all channels ('*').
create table category_gaps (
    org_id uuid not null references organizations (id) on delete cascade,
    category text not null,
    channel text not null,
    day date not null,
    previous_day date not null,
    customers bigint not null,
    primary key (org_id, category, channel, day, previous_day)
);

-- Changes not yet folded. No key on organizations, as for `rollup_deltas` (0018): the insert
-- is on every order and score write's path; the fold drops a deleted organization's rows.
create table category_deltas (
    org_id uuid not null,
    category text not null,
    day date not null,
    channel text not null,
    -- An order's buyer, for the gaps; null for a review's score.
    customer_id uuid,
    orders integer not null default 0,
    revenue numeric not null default 0,
    texts integer not null default 0,
    polarity_sum double precision not null default 0,
    polarity_squares double precision not null default 0
);
create index category_deltas_org_idx on category_deltas (org_id);

-- Serves the fold: a buyer's order days in a category.
create index order_categories_customer_idx on order_categories (org_id, customer_id, category, day)
    include (channel);

-- The last scoring run's customers who had bought in a category by then, per RFM segment and
-- cell: the category view's segment summary and grid, as `score_cells` (0022) is the
-- organization's. Written by the scoring run, like the scores themselves a snapshot.
create table category_score_cells (
    org_id uuid not null references organizations (id) on delete cascade,
    category text not null,
    segment text not null,
    r_score smallint not null,
    f_score smallint not null,
    customers bigint not null,
    monetary numeric not null,
    high_churn bigint not null,
    primary key (org_id, category, segment, r_score, f_score)
);

-- Each scored review of a categorized product: its score in its product's category, on the day
-- it was written. What `order_categories` (0023) is to orders: kept by statement-level triggers
-- that recompute the touched reviews from their current score, product and category, so the
-- rows equal the join whatever order a statement's or a transaction's changes come in (a
-- review moved to another product and rescored in one statement included). A review's row goes
-- with it.
create table review_categories (
    org_id uuid not null,
    review_id uuid not null,
    category text not null,
    day date not null,
    -- P(positive) − P(negative).
    polarity double precision not null,
    primary key (org_id, review_id),
    foreign key (org_id, review_id) references reviews (org_id, id) on delete cascade
);

-- What `review_categories` must hold. Invoker's rights, so row-level security applies as to
-- the caller's own reads; joined by key, so a join on touched reviews reads those alone.
create view scored_review_categories with (security_invoker = true) as
select t.org_id, t.subject_id as review_id, p.category, (t.written_at at time zone 'UTC')::date as day,
       t.positive::float8 - t.negative::float8 as polarity
from text_scores t
join reviews r on r.org_id = t.org_id and r.id = t.subject_id
join products p on p.org_id = r.org_id and p.id = r.product_id
where t.subject = 'review' and p.category is not null;

do $$
declare
    t text;
begin
    foreach t in array array['category_days', 'category_gaps', 'category_deltas', 'category_score_cells',
                             'review_categories'] loop
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
create policy category_deltas_owner_lists on category_deltas for select to sightline_owner using (true);

-- Recomputes the rows of the reviews a statement touched: a review's score written, replaced
-- or removed; a review moved to another product; a product moved to another category. Writers
-- are ordered as 0023 orders the orders' writers, so that whoever recomputes last sees what
-- the others committed:
-- - a score's writer locks its review's row first, as a review's update does, so the two
--   recompute the review one after the other;
-- - a product's change of category takes the organization's category lock exclusively before
--   it looks its reviews up, and the others take it shared (after their row locks, so a writer
--   never holds it while it waits for a row) before they recompute.
create function refresh_review_categories() returns trigger
language plpgsql as $$
declare
    touched text := case tg_table_name
        when 'text_scores' then case tg_op
            when 'INSERT' then 'select org_id, subject_id from new_rows where subject = ''review'''
            when 'DELETE' then 'select org_id, subject_id from old_rows where subject = ''review'''
            else 'select org_id, subject_id from new_rows where subject = ''review''
                  union select org_id, subject_id from old_rows where subject = ''review''' end
        when 'reviews' then
            'select n.org_id, n.id from new_rows n join old_rows o on o.org_id = n.org_id and o.id = n.id
             where n.product_id is distinct from o.product_id'
        else
            'select r.org_id, r.id
             from new_rows n join old_rows o on o.org_id = n.org_id and o.id = n.id
             join reviews r on r.org_id = n.org_id and r.product_id = n.id
             where n.category is distinct from o.category'
    end;
    orgs uuid[];
    ids uuid[];
begin
    if tg_table_name = 'products' then
        perform pg_advisory_xact_lock(hashtextextended('order_categories:' || org_id::text, 0))
        from (select distinct n.org_id from new_rows n join old_rows o on o.org_id = n.org_id and o.id = n.id
              where n.category is distinct from o.category order by 1) as t;
    end if;
    -- Not for an organization being deleted, whose rows go with it.
    execute format('select array_agg(org_id order by org_id, review_id), array_agg(review_id order by org_id, review_id)
                    from (select distinct * from (%s) as d (org_id, review_id)) as t
                    where exists (select 1 from organizations g where g.id = t.org_id)', touched)
    into orgs, ids;
    if ids is null then
        return null;
    end if;
    if tg_table_name = 'text_scores' then
        perform 1 from reviews r join unnest(orgs, ids) as t (org_id, review_id) on r.org_id = t.org_id and r.id = t.review_id
        order by r.org_id, r.id
        for no key update of r;
    end if;
    if tg_table_name <> 'products' then
        perform pg_advisory_xact_lock_shared(hashtextextended('order_categories:' || org::text, 0))
        from (select distinct unnest(orgs) as org order by 1) as t;
    end if;
    delete from review_categories c
    using unnest(orgs, ids) as t (org_id, review_id)
    where c.org_id = t.org_id and c.review_id = t.review_id;
    insert into review_categories (org_id, review_id, category, day, polarity)
    select v.org_id, v.review_id, v.category, v.day, v.polarity
    from unnest(orgs, ids) as t (org_id, review_id)
    join scored_review_categories v on v.org_id = t.org_id and v.review_id = t.review_id;
    return null;
end
$$;

create trigger text_scores_categories_inserted after insert on text_scores
    referencing new table as new_rows for each statement execute function refresh_review_categories();
create trigger text_scores_categories_updated after update on text_scores
    referencing old table as old_rows new table as new_rows for each statement execute function refresh_review_categories();
create trigger text_scores_categories_deleted after delete on text_scores
    referencing old table as old_rows for each statement execute function refresh_review_categories();
create trigger reviews_categories_updated after update on reviews
    referencing old table as old_rows new table as new_rows for each statement execute function refresh_review_categories();
create trigger products_review_categories_updated after update on products
    referencing old table as old_rows new table as new_rows for each statement execute function refresh_review_categories();

-- The orders' and the reviews' rows as their triggers write and remove them, as deltas
-- (except with their organization, whose rollups go with it).
create function log_category_deltas() returns trigger
language plpgsql as $$
declare
    added constant text := 'select *, 1 from new_rows';
    removed constant text := 'select *, -1 from old_rows o where exists (select 1 from organizations g where g.id = o.org_id)';
begin
    if tg_table_name = 'order_categories' then
        execute format(
            'insert into category_deltas (org_id, category, day, channel, customer_id, orders, revenue)
             select org_id, category, day, channel, customer_id, sign, sign * revenue
             from (%s) as c (org_id, order_id, category, day, channel, customer_id, revenue, sign)',
            case tg_op when 'INSERT' then added else removed end);
    else
        execute format(
            'insert into category_deltas (org_id, category, day, channel, texts, polarity_sum, polarity_squares)
             select org_id, category, day, ''review'', sign, sign * polarity, sign * polarity ^ 2
             from (%s) as c (org_id, review_id, category, day, polarity, sign)',
            case tg_op when 'INSERT' then added else removed end);
    end if;
    return null;
end
$$;

create trigger order_categories_logged_inserted after insert on order_categories
    referencing new table as new_rows for each statement execute function log_category_deltas();
create trigger order_categories_logged_deleted after delete on order_categories
    referencing old table as old_rows for each statement execute function log_category_deltas();
create trigger review_categories_logged_inserted after insert on review_categories
    referencing new table as new_rows for each statement execute function log_category_deltas();
create trigger review_categories_logged_deleted after delete on review_categories
    referencing old table as old_rows for each statement execute function log_category_deltas();

-- Adds the logged deltas to the categories' days and moves the gaps of every buyer whose order
-- days in a category changed, under a lock of its own (0021's fold may hold the organization's
-- for a bounded round of segment moves, and the two never touch the same rows). Answers how
-- many buyers' gaps in a category moved.
--
-- As in 0021, the joins between the fold's own lists must hash, and nothing here gains from
-- the JIT compiler.
create function fold_category_rollups(org uuid) returns bigint
language plpgsql set jit = off as $$
declare
    folded bigint;
    emptied_categories text[];
    emptied_days date[];
    emptied_channels text[];
    nestloop text := current_setting('enable_nestloop');
begin
    if not exists (select 1 from category_deltas where org_id = org) then
        return 0;
    end if;
    perform pg_advisory_xact_lock(hashtextextended('fold_category_rollups:' || org::text, 0));
    -- Deltas logged before their organization was deleted have nowhere to go.
    if not exists (select 1 from organizations where id = org) then
        delete from category_deltas where org_id = org;
        return 0;
    end if;
    perform set_config('enable_nestloop', 'off', true);
    -- A new statement, so a new snapshot: it sees what the previous folder committed, and the
    -- orders' rows of every delta it takes (a writer commits both at once).
    with changed as (
        delete from category_deltas where org_id = org
        returning category, day, channel, customer_id, orders, revenue, texts, polarity_sum, polarity_squares
    ),
    summed as (
        insert into category_days as d (org_id, category, day, channel, orders, revenue, texts, polarity_sum,
                                        polarity_squares)
        select org, category, day, channel, sum(orders), sum(revenue), sum(texts), sum(polarity_sum),
               sum(polarity_squares)
        from changed
        group by category, day, channel
        having sum(orders) <> 0 or sum(revenue) <> 0 or sum(texts) <> 0 or sum(polarity_sum) <> 0
            or sum(polarity_squares) <> 0
        order by category, day, channel
        on conflict (org_id, category, day, channel) do update set
            orders = d.orders + excluded.orders,
            revenue = d.revenue + excluded.revenue,
            texts = d.texts + excluded.texts,
            polarity_sum = d.polarity_sum + excluded.polarity_sum,
            polarity_squares = d.polarity_squares + excluded.polarity_squares
        returning d.category, d.day, d.channel, d.orders, d.texts
    ),
    -- Orders added (or removed: negative) per buyer, category, channel and day.
    bought as (
        select customer_id, category, channel, day, sum(orders) as added
        from changed
        where customer_id is not null
        group by customer_id, category, channel, day
        having sum(orders) <> 0
    ),
    -- Each such buyer's orders per day in the category: as this statement sees them (`after`),
    -- and before the deltas it takes. One index range per buyer and category (`offset 0` keeps
    -- the lookup from being turned into a scan of the organization's orders).
    counts as (
        select customer_id, category, channel, day, sum(after) as after, sum(after) - sum(added) as before
        from (select b.customer_id, b.category, c.channel, c.day, 1 as after, 0 as added
              from (select distinct customer_id, category from bought) b
              cross join lateral (
                  select channel, day from order_categories c
                  where c.org_id = org and c.customer_id = b.customer_id and c.category = b.category
                  offset 0
              ) c
              union all
              select customer_id, category, channel, day, 0, added from bought) as both_sides
        group by customer_id, category, channel, day
    ),
    -- Buyers and categories with a day that starts or stops being an order day.
    crossed as (
        select distinct customer_id, category from counts where (after > 0) <> (before > 0)
    ),
    regarded as (
        select c.* from counts c join crossed x on x.customer_id = c.customer_id and x.category = c.category
    ),
    -- Their gaps before (-1) and after (+1), per channel and for all channels ('*'); a gap a
    -- buyer keeps comes out both ways and cancels.
    gaps as (
        select category, channel, day, 1 as customers,
               lag(day, 1, '-infinity'::date) over (partition by customer_id, category, channel order by day)
                   as previous_day
        from regarded where after > 0
        union all
        select category, channel, day, -1,
               lag(day, 1, '-infinity'::date) over (partition by customer_id, category, channel order by day)
        from regarded where before > 0
        union all
        select category, '*', day, 1,
               lag(day, 1, '-infinity'::date) over (partition by customer_id, category order by day)
        from regarded group by customer_id, category, day having sum(after) > 0
        union all
        select category, '*', day, -1,
               lag(day, 1, '-infinity'::date) over (partition by customer_id, category order by day)
        from regarded group by customer_id, category, day having sum(before) > 0
    ),
    gapped as (
        insert into category_gaps as g (org_id, category, channel, day, previous_day, customers)
        select org, category, channel, day, previous_day, sum(customers)
        from gaps
        group by category, channel, day, previous_day
        having sum(customers) <> 0
        order by category, channel, day, previous_day
        on conflict (org_id, category, channel, day, previous_day) do update set
            customers = g.customers + excluded.customers
        returning g.customers
    )
    select (select count(*) from crossed), array_agg(category), array_agg(day), array_agg(channel)
    into folded, emptied_categories, emptied_days, emptied_channels
    from summed
    where orders = 0 and texts = 0;
    perform set_config('enable_nestloop', nestloop, true);

    -- Days and gaps left with nothing in them.
    if emptied_days is not null then
        delete from category_days d
        using unnest(emptied_categories, emptied_days, emptied_channels) as x (category, day, channel)
        where d.org_id = org and (d.category, d.day, d.channel) = (x.category, x.day, x.channel)
          and d.orders = 0 and d.texts = 0;
    end if;
    delete from category_gaps where org_id = org and customers = 0;
    return folded;
end
$$;
grant execute on function fold_category_rollups(uuid) to sightline_app;

-- The organizations the background folder has work in: as in 0021, and the categories'.
create or replace function orgs_with_unfolded_rollups() returns setof uuid
    language sql stable security definer set search_path = public, pg_temp as $$
    select org_id from rollup_deltas
    union
    select org_id from segment_moves
    union
    select org_id from category_deltas
$$;

-- The categories' rollups from the orders' and the reviews' rows, under the folder's lock,
-- the reviews' rows recomputed first. The old deltas are dropped in the statement that logs
-- the rows, so both see the same snapshot (as in 0018).
create function rebuild_category_rollups(org uuid) returns void
language plpgsql as $$
begin
    perform pg_advisory_xact_lock(hashtextextended('fold_category_rollups:' || org::text, 0));
    delete from review_categories where org_id = org;
    insert into review_categories (org_id, review_id, category, day, polarity)
    select org_id, review_id, category, day, polarity from scored_review_categories where org_id = org;
    delete from category_days where org_id = org;
    delete from category_gaps where org_id = org;
    with dropped as (delete from category_deltas where org_id = org)
    insert into category_deltas (org_id, category, day, channel, customer_id, orders, revenue, texts, polarity_sum,
                                 polarity_squares)
    select org_id, category, day, channel, customer_id, 1, revenue, 0, 0, 0
    from order_categories where org_id = org
    union all
    select org_id, category, day, 'review', null, 0, 0, 1, polarity, polarity ^ 2
    from review_categories where org_id = org;
    perform fold_category_rollups(org);
end
$$;

-- Counts the scored customers who have bought in each category, per RFM cell, afresh: called
-- by the scoring run once it has stored its scores (one pass over the organization's orders'
-- rows by the buyers' index, once per run).
create function count_category_score_cells(org uuid) returns void
language plpgsql as $$
begin
    delete from category_score_cells where org_id = org;
    insert into category_score_cells (org_id, category, segment, r_score, f_score, customers, monetary, high_churn)
    select org, b.category, s.segment, s.r_score, s.f_score, count(*), sum(s.monetary::numeric),
           count(*) filter (where s.churn_band = 'high')
    from (select distinct customer_id, category from order_categories where org_id = org) b
    join customer_scores s on s.org_id = org and s.customer_id = b.customer_id
    group by b.category, s.segment, s.r_score, s.f_score;
end
$$;

-- As in 0023, and the categories' rollups after the orders' rows they are made from.
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
    delete from order_categories where org_id = org;
    insert into order_categories (org_id, order_id, category, day, channel, customer_id, revenue)
    select org_id, order_id, category, day, channel, customer_id, revenue
    from counted_order_categories where org_id = org;
    perform rebuild_category_rollups(org);
    perform count_category_score_cells(org);
end
$$;

-- As in 0020, for both logs of deltas: each is truncated when it has grown past 8 MB and holds
-- no row, waiting at most 100 ms for the writers still inside their transactions.
create or replace function compact_rollup_deltas() returns boolean
    language plpgsql security definer set search_path = public, pg_temp set lock_timeout = '100ms' as $$
declare
    log text;
    empty boolean;
    compacted boolean := false;
begin
    foreach log in array array['rollup_deltas', 'category_deltas'] loop
        continue when pg_relation_size(log::regclass) < 8 * 1024 * 1024;
        begin
            execute format('lock table %I in access exclusive mode', log);
            execute format('select not exists (select 1 from %I)', log) into empty;
            if empty then
                execute format('truncate %I', log);
                compacted := true;
            end if;
        exception when lock_not_available then
            null;
        end;
    end loop;
    return compacted;
end
$$;

-- The orders and reviews already stored, one organization at a time, as that organization
-- (migrations run as the owner, which row-level security scopes to one organization; the
-- organizations are listed past it).
do $$
declare
    orgs uuid[];
    org uuid;
begin
    alter table organizations no force row level security;
    select array_agg(id) into orgs from organizations;
    alter table organizations force row level security;
    foreach org in array coalesce(orgs, '{}') loop
        perform set_config('app.org_id', org::text, true);
        perform rebuild_category_rollups(org);
        perform count_category_score_cells(org);
    end loop;
    perform set_config('app.org_id', '', true);
end
$$;

do $$
declare
    t text;
begin
    foreach t in array array['category_days', 'category_gaps', 'category_deltas', 'category_score_cells',
                             'review_categories'] loop
        execute format('alter table %I force row level security', t);
    end loop;
end
$$;
