-- The log of rollup deltas gives its space back once everything in it is folded.
--
-- The folder deletes what it applies, and the dead rows stay in the heap until a vacuum. With
-- autovacuum off (as on some hosts) or held back, a large load leaves hundreds of MB of dead
-- rows that every dashboard request's check for pending deltas and every round of the
-- background folder scan again: about 110 ms per request after a 2 M-row load. The folder calls
-- this after each round; it empties the table only when nothing is left in it.

-- Truncates `rollup_deltas` when it has grown past 8 MB and holds no row. The lock waits for
-- every writer still inside its transaction, so no logged delta can be lost, and at most 100 ms:
-- under load the table simply keeps its space until a quiet moment. Runs as the owner, which
-- sees every organization's rows (0018's owner policy).
create function compact_rollup_deltas() returns boolean
    language plpgsql security definer set search_path = public, pg_temp set lock_timeout = '100ms' as $$
begin
    if pg_relation_size('rollup_deltas') < 8 * 1024 * 1024 then
        return false;
    end if;
    lock table rollup_deltas in access exclusive mode;
    if exists (select 1 from rollup_deltas) then
        return false;
    end if;
    truncate rollup_deltas;
    return true;
exception when lock_not_available then
    return false;
end
$$;
revoke all on function compact_rollup_deltas() from public;
grant execute on function compact_rollup_deltas() to sightline_app;
