-- Each counted order's revenue per product category (SPEC UI-2), so the dashboard filtered to a
-- category reads one narrow index range instead of joining orders, order lines and products.
--
-- An order belongs to a category through its lines, so the category view joined the range's
-- orders to their lines and products: at 2 M interactions about 0.17 s for 30 days and 0.83 s
-- for 365 (stop 25's bench), in proportion to the orders beyond. A row here is one order's
-- lines in one category, written with the order: what the join gave, already joined.
--
-- Kept by statement-level triggers in the transaction that writes the order, its lines or a
-- product's category, so the rows always equal the join: each trigger recomputes the touched
-- orders from their current lines. Recomputing (rather than adding deltas) keeps "an order
-- counts once per category" exact without a count of lines per row. Concurrent writers are
-- ordered so that whoever recomputes last sees what the others committed:
-- - writers of an order's lines or of the order lock the order first, so two of them recompute
--   it one after the other;
-- - a product's change of category takes its organization's category lock exclusively, and
--   the order writers take it shared before they recompute: the change waits for the order
--   writers in flight and sees their lines, and later ones wait for it and see its category.
create table order_categories (
    org_id uuid not null,
    order_id uuid not null,
    category text not null,
    day date not null,
    channel text not null,
    customer_id uuid not null,
    -- Sum of the order's lines in the category (quantity × unit price).
    revenue numeric not null,
    primary key (org_id, order_id, category),
    -- An order's rows go with it, and with its organization.
    foreign key (org_id, order_id) references orders (org_id, id) on delete cascade
);

-- Serves the category view: one category, the range's days, read from the index alone.
create index order_categories_range_idx on order_categories (org_id, category, day)
    include (channel, customer_id, revenue);

-- What `order_categories` must hold: the counted orders' lines (not refunded or cancelled)
-- grouped by their products' categories. Invoker's rights, so row-level security applies as
-- to the caller's own reads.
create view counted_order_categories with (security_invoker = true) as
select o.org_id, o.id as order_id, p.category, (o.ordered_at at time zone 'UTC')::date as day,
       coalesce(o.channel, 'unknown') as channel, o.customer_id, sum(l.quantity * l.unit_price) as revenue
from orders o
join order_lines l on l.org_id = o.org_id and l.order_id = o.id
join products p on p.org_id = l.org_id and p.id = l.product_id
where p.category is not null and o.status not in ('cancelled', 'refunded')
group by o.org_id, o.id, p.category;

-- Recomputes the rows of the orders a statement touched: lines written or removed; an order's
-- day, channel, customer or counted status changed; a product moved to another category.
-- Dynamic SQL reads the transition tables, as in 0022.
create function refresh_order_categories() returns trigger
language plpgsql as $$
declare
    touched text := case tg_table_name
        when 'order_lines' then case tg_op
            when 'INSERT' then 'select org_id, order_id from new_rows'
            when 'DELETE' then 'select org_id, order_id from old_rows'
            else 'select org_id, order_id from new_rows union select org_id, order_id from old_rows' end
        when 'orders' then
            'select n.org_id, n.id from new_rows n join old_rows o on o.org_id = n.org_id and o.id = n.id
             where (n.ordered_at at time zone ''UTC'')::date <> (o.ordered_at at time zone ''UTC'')::date
                or n.channel is distinct from o.channel or n.customer_id <> o.customer_id
                or (n.status in (''cancelled'', ''refunded'')) <> (o.status in (''cancelled'', ''refunded''))'
        else
            'select distinct l.org_id, l.order_id
             from new_rows n join old_rows o on o.org_id = n.org_id and o.id = n.id
             join order_lines l on l.org_id = n.org_id and l.product_id = n.id
             where n.category is distinct from o.category'
    end;
    orgs uuid[];
    ids uuid[];
begin
    -- Locks in key order, so two writers never wait on each other crosswise. Each statement
    -- after a lock takes a fresh snapshot, which sees what whoever held it before committed.
    if tg_table_name = 'products' then
        -- Before the touched orders are looked up, so they include every order writer's lines.
        perform pg_advisory_xact_lock(hashtextextended('order_categories:' || org_id::text, 0))
        from (select distinct n.org_id from new_rows n join old_rows o on o.org_id = n.org_id and o.id = n.id
              where n.category is distinct from o.category order by 1) as t;
    end if;
    execute format('select array_agg(org_id order by org_id, order_id), array_agg(order_id order by org_id, order_id)
                    from (select distinct * from (%s) as d (org_id, order_id)) as t', touched)
    into orgs, ids;
    if ids is null then
        return null;
    end if;
    if tg_table_name <> 'products' then
        perform pg_advisory_xact_lock_shared(hashtextextended('order_categories:' || org::text, 0))
        from (select distinct unnest(orgs) as org order by 1) as t;
        perform 1 from orders o join unnest(orgs, ids) as t (org_id, order_id) on o.org_id = t.org_id and o.id = t.order_id
        order by o.org_id, o.id
        for no key update of o;
    end if;
    delete from order_categories c
    using unnest(orgs, ids) as t (org_id, order_id)
    where c.org_id = t.org_id and c.order_id = t.order_id;
    insert into order_categories (org_id, order_id, category, day, channel, customer_id, revenue)
    select v.org_id, v.order_id, v.category, v.day, v.channel, v.customer_id, v.revenue
    from unnest(orgs, ids) as t (org_id, order_id)
    join counted_order_categories v on v.org_id = t.org_id and v.order_id = t.order_id;
    return null;
end
$$;

create trigger order_lines_categories_inserted after insert on order_lines
    referencing new table as new_rows for each statement execute function refresh_order_categories();
create trigger order_lines_categories_updated after update on order_lines
    referencing old table as old_rows new table as new_rows for each statement execute function refresh_order_categories();
create trigger order_lines_categories_deleted after delete on order_lines
    referencing old table as old_rows for each statement execute function refresh_order_categories();
create trigger orders_categories_updated after update on orders
    referencing old table as old_rows new table as new_rows for each statement execute function refresh_order_categories();
create trigger products_categories_updated after update on products
    referencing old table as old_rows new table as new_rows for each statement execute function refresh_order_categories();

alter table order_categories enable row level security;
create policy order_categories_tenant_isolation on order_categories
    using (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    with check (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

-- As in 0021, and the orders' categories from their lines.
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
end
$$;

-- The orders already stored (migrations run as the owner, which row-level security would scope
-- to one organization; the orders are read past it here, before the new table is forced).
alter table orders no force row level security;
alter table order_lines no force row level security;
alter table products no force row level security;
insert into order_categories (org_id, order_id, category, day, channel, customer_id, revenue)
select org_id, order_id, category, day, channel, customer_id, revenue from counted_order_categories;
alter table orders force row level security;
alter table order_lines force row level security;
alter table products force row level security;
alter table order_categories force row level security;
