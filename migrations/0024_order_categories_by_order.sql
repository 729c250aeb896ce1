-- The triggers of 0023 recomputed the touched orders by joining them to the view
-- `counted_order_categories`, which groups before it joins: Postgres cannot push the join into
-- the grouping, so every statement that wrote order lines grouped its organization's every
-- order and threw all but the touched ones away (63 ms a statement at 16,000 orders, growing
-- with them). The same function, reading the touched orders, their lines and their lines'
-- products by key: about 80 ms per 5,000 lines written, whatever the organization's size. The
-- view stays, for `rebuild_rollups`, which wants every order of an organization.
create or replace function refresh_order_categories() returns trigger
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
    -- `counted_order_categories` for these orders alone: each order's lines by their key and
    -- each line's product by its key (`offset 0` keeps the planner from joining the products
    -- first, which would pair every line with every product), so the cost follows the lines.
    insert into order_categories (org_id, order_id, category, day, channel, customer_id, revenue)
    select o.org_id, o.id, c.category, (o.ordered_at at time zone 'UTC')::date, coalesce(o.channel, 'unknown'),
           o.customer_id, sum(l.quantity * l.unit_price)
    from unnest(orgs, ids) as t (org_id, order_id)
    join orders o on o.org_id = t.org_id and o.id = t.order_id
    join order_lines l on l.org_id = o.org_id and l.order_id = o.id
    cross join lateral (
        select p.category from products p where p.org_id = l.org_id and p.id = l.product_id offset 0
    ) as c
    where c.category is not null and o.status not in ('cancelled', 'refunded')
    group by o.org_id, o.id, c.category;
    return null;
end
$$;
