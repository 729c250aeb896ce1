-- Live updates (SPEC UI-3): what happened in an organization, as a short-lived log that
-- browsers follow over server-sent events. Each event is published with `pg_notify` on
-- `sightline_events` in the transaction that caused it, so it is delivered only if that
-- transaction commits, and every server process listening hears it (the fan-out across
-- processes). The log itself is for catching up: a client that reconnects asks for the events
-- after the last id it saw. Events older than a day are pruned by the job worker.

create table live_events (
    org_id uuid not null references organizations (id) on delete cascade,
    id bigint generated always as identity,
    -- interactions_created, orders_created, sentiment_scored, import_progress.
    kind text not null,
    payload jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    -- Serves a reconnecting client's catch-up: one organization's events after an id.
    primary key (org_id, id)
);

-- Serves pruning by age.
create index live_events_age_idx on live_events (created_at);

alter table live_events enable row level security;
alter table live_events force row level security;
create policy live_events_tenant_isolation on live_events
    using (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    with check (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

-- Logs one event and announces it (the announcement carries the whole event, so listeners
-- need no query to pass it on). Runs as the caller: row-level security applies.
create function publish_event(org uuid, kind text, payload jsonb) returns bigint
language plpgsql as $$
declare
    event live_events;
begin
    insert into live_events (org_id, kind, payload) values (org, kind, payload) returning * into event;
    perform pg_notify('sightline_events', json_build_object(
        'id', event.id, 'org_id', event.org_id, 'kind', event.kind, 'payload', event.payload,
        'at', event.created_at)::text);
    return event.id;
end
$$;

-- Removes every organization's events older than `keep` (the worker's housekeeping).
create function prune_live_events(keep interval) returns integer
    language sql security definer set search_path = public, pg_temp as $$
    with gone as (delete from live_events where created_at < now() - keep returning 1)
    select count(*)::integer from gone
$$;
-- The pruning runs as the owner and must see and remove every organization's old events.
create policy live_events_owner_reading on live_events for select to sightline_owner using (true);
create policy live_events_owner_pruning on live_events for delete to sightline_owner using (true);
revoke all on function prune_live_events(interval) from public;
grant execute on function prune_live_events(interval) to sightline_app;

-- What each statement on the raw tables announces: one event per organization it touched.
create function announce_changes() returns trigger
language plpgsql as $$
declare
    r record;
begin
    if TG_TABLE_NAME = 'interactions' then
        for r in select org_id, count(*) as n, count(distinct customer_id) as customers, max(occurred_at) as latest
                 from new_rows group by org_id loop
            perform publish_event(r.org_id, 'interactions_created',
                jsonb_build_object('count', r.n, 'customers', r.customers, 'latest_at', r.latest));
        end loop;
    elsif TG_TABLE_NAME = 'orders' then
        for r in select org_id, count(*) as n, coalesce(sum(total), 0) as total from new_rows group by org_id loop
            perform publish_event(r.org_id, 'orders_created', jsonb_build_object('count', r.n, 'total', r.total));
        end loop;
    elsif TG_TABLE_NAME = 'text_scores' then
        for r in select org_id, count(*) as n, count(*) filter (where label = 'negative') as negative
                 from new_rows group by org_id loop
            perform publish_event(r.org_id, 'sentiment_scored', jsonb_build_object('texts', r.n, 'negative', r.negative));
        end loop;
    end if;
    return null;
end
$$;

create trigger interactions_announce after insert on interactions referencing new table as new_rows
    for each statement execute function announce_changes();
create trigger orders_announce after insert on orders referencing new table as new_rows
    for each statement execute function announce_changes();
create trigger text_scores_announce_insert after insert on text_scores referencing new table as new_rows
    for each statement execute function announce_changes();
create trigger text_scores_announce_update after update on text_scores referencing old table as old_rows new table as new_rows
    for each statement execute function announce_changes();
