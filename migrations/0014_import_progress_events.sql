-- Live updates (SPEC UI-3): an import's progress reaches the organization's browsers as
-- `import_progress` events, published in the transaction that records each chunk (and the
-- start and the end), so the upload page moves as the server does instead of polling it.
create function announce_import_progress() returns trigger
language plpgsql as $$
begin
    perform publish_event(new.org_id, 'import_progress', jsonb_build_object(
        'import_id', new.id, 'entity', new.entity, 'status', new.status, 'rows_done', new.rows_done,
        'rows_accepted', new.rows_accepted, 'rows_rejected', new.rows_rejected,
        'bytes_done', case when new.status = 'succeeded' then coalesce(new.bytes_total, new.resume_offset)
                           else new.resume_offset end,
        'bytes_total', new.bytes_total));
    return null;
end
$$;

-- CSV imports only: a REST batch or a webhook is one request, already answered.
create trigger import_batches_announce after update on import_batches
    for each row
    when (new.source = 'csv' and (old.status, old.rows_done, old.resume_offset)
                             is distinct from (new.status, new.rows_done, new.resume_offset))
    execute function announce_import_progress();
