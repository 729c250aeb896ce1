-- An update that moves nothing the rollups count (the scorer filling an interaction's search
-- vector, an order's payment method changing) still ran the whole rollup statement and, worse,
-- locked the customers of every updated row. The scorer does exactly that after writing its
-- scores, whose own rollup rows it already holds, so a concurrent import (customers first,
-- then rollup rows) and the scorer (rollup rows, then customers) deadlocked.
--
-- Now an update's changes are netted per (organization, day, channel, customer) first, and only
-- the groups that really move are locked and applied: an update that changes no counted column
-- does nothing at all. Inserts and deletes are as before (every row counts).
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
