-- The triggers of 0023 recompute the touched orders by joining them to the view
-- `counted_order_categories`, which grouped the organization's orders, lines and products
-- before the join: Postgres cannot push a join into a grouping, so every statement that wrote
-- order lines grouped its organization's every order and threw all but the touched ones away
-- (63 ms a statement at 16,000 orders, growing with them). The same rows, grouped per order
-- inside a lateral subquery: a join on an order's key now reads that order, its lines by their
-- key and each line's product by its key, so the triggers' cost follows the lines they write
-- (`offset 0` keeps the planner from joining the products first, which pairs every line with
-- every product when product statistics are small). `rebuild_rollups` reads the same view, now
-- order by order: about 0.2 s for 16,000 orders against 0.03 s grouped at once, paid once per
-- rebuild rather than on every write.
create or replace view counted_order_categories with (security_invoker = true) as
select o.org_id, o.id as order_id, c.category, (o.ordered_at at time zone 'UTC')::date as day,
       coalesce(o.channel, 'unknown') as channel, o.customer_id, c.revenue
from orders o
cross join lateral (
    select p.category, sum(l.quantity * l.unit_price) as revenue
    from order_lines l
    cross join lateral (
        select p.category from products p where p.org_id = l.org_id and p.id = l.product_id offset 0
    ) as p
    where l.org_id = o.org_id and l.order_id = o.id and p.category is not null
    group by p.category
) as c
where o.status not in ('cancelled', 'refunded');
