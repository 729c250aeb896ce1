-- Two first writes into a new month at the same moment both asked for its partition: the
-- second, after waiting for the first's lock, could still see the table missing (its catalog
-- cache was not yet refreshed) and failed with "relation already exists", refusing the write.
-- Creating it now also treats "already exists" as done.
create or replace function ensure_interactions_partition(at timestamptz) returns text
    language plpgsql security definer set search_path = public, pg_temp as $$
declare
    month date := date_trunc('month', at at time zone 'UTC')::date;
    name text := format('interactions_%s', to_char(month, 'YYYY_MM'));
begin
    if month < date '1970-01-01' or month > date '2200-01-01' then
        raise exception 'month % is out of range', month;
    end if;
    if to_regclass(name) is not null then
        return name;
    end if;
    -- One creator at a time; the loser finds the table made.
    perform pg_advisory_xact_lock(hashtext('ensure_interactions_partition'));
    if to_regclass(name) is null then
        begin
            execute format(
                'create table %I partition of interactions for values from (%L) to (%L)',
                name, (month::timestamp at time zone 'UTC'), ((month + interval '1 month')::timestamp at time zone 'UTC'));
            execute format('revoke all on %I from sightline_app', name);
        exception when duplicate_table then
            null;
        end;
    end if;
    return name;
end
$$;
