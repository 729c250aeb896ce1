-- Background jobs, CSV imports, quotas, idempotency keys and webhook secrets
-- (SPEC ING-5, ING-6, ING-9, TEN-4). Every table is tenant-owned with forced row-level
-- security like the commerce tables.

-- ---------------------------------------------------------------- job queue
-- Durable jobs (imports now; scoring and recomputations later). A worker claims a due job
-- with `claim_job`, which leases it for a while: a worker that dies (kill -9) lets its lease
-- run out and the job is claimed again; a live worker renews its lease while it works.
-- Attempts count claims; after `max_attempts` failures the job moves to `dead_jobs`.
create table jobs (
    org_id uuid not null references organizations (id) on delete cascade,
    id uuid not null default gen_random_uuid(),
    kind text not null check (kind in ('import')),
    payload jsonb not null default '{}'::jsonb,
    attempts integer not null default 0,
    max_attempts integer not null default 3 check (max_attempts > 0),
    run_after timestamptz not null default now(),
    locked_until timestamptz,
    last_error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (org_id, id)
);

-- Serves `claim_job`: the oldest due job.
create index jobs_due_idx on jobs (run_after);

-- Jobs that failed every attempt, kept with their last error until someone replays them.
create table dead_jobs (
    org_id uuid not null references organizations (id) on delete cascade,
    id uuid not null,
    kind text not null,
    payload jsonb not null,
    attempts integer not null,
    last_error text,
    created_at timestamptz not null,
    failed_at timestamptz not null default now(),
    primary key (org_id, id)
);

-- Serves the admin list of dead jobs: newest failure first.
create index dead_jobs_recent_idx on dead_jobs (org_id, failed_at desc);

-- ---------------------------------------------------------------- CSV imports
-- An uploaded file, stored in the database in fixed-size chunks as it streams in, so any
-- server process can run (or resume) the import and a restart loses nothing.
create table import_chunks (
    org_id uuid not null,
    batch_id uuid not null,
    seq integer not null check (seq >= 0),
    data bytea not null,
    primary key (org_id, batch_id, seq),
    foreign key (org_id, batch_id) references import_batches (org_id, id) on delete cascade
);

alter table import_batches
    -- The header as mapped onto record fields ('' for a column that is ignored).
    add column columns text[],
    -- How far the import has got: the byte offset and line where the next unread row
    -- starts. Advanced in the same transaction as the rows before it, so a resumed import
    -- neither skips nor repeats a row.
    add column resume_offset bigint not null default 0,
    add column resume_line bigint not null default 1,
    add column bytes_total bigint,
    add column error text;

-- ---------------------------------------------------------------- quotas (TEN-4)
-- Events accepted per organization and month, spread over a few rows so concurrent writers
-- rarely wait on each other's row lock; usage is the sum of a month's shards.
create table usage_counters (
    org_id uuid not null references organizations (id) on delete cascade,
    month date not null,
    shard smallint not null check (shard between 0 and 15),
    events bigint not null default 0,
    primary key (org_id, month, shard)
);

-- ---------------------------------------------------------------- idempotency keys
-- The answer given to a single-record request with an `Idempotency-Key`, so a client
-- retrying after a lost response gets the same answer and nothing new is written.
create table idempotency_keys (
    org_id uuid not null references organizations (id) on delete cascade,
    key text not null check (length(key) between 1 and 200),
    request_hash bytea not null,
    response jsonb not null,
    created_at timestamptz not null default now(),
    primary key (org_id, key)
);

-- ---------------------------------------------------------------- webhook secrets
-- The secret a provider signs its webhooks with (Shopify: the app's client secret). Kept
-- readable (an HMAC needs the secret itself) and visible only inside its organization.
create table webhook_secrets (
    org_id uuid not null references organizations (id) on delete cascade,
    provider text not null check (provider in ('shopify')),
    secret text not null check (length(secret) between 16 and 500),
    updated_at timestamptz not null default now(),
    primary key (org_id, provider)
);

-- The organization a webhook address names (by slug), before any tenant scope exists: the
-- only thing a webhook learns is the id, and every further read happens inside that tenant.
create function webhook_organization(slug text) returns uuid
    language sql stable security definer set search_path = public, pg_temp as $$
    select o.id from organizations o where o.slug = webhook_organization.slug
$$;

-- ---------------------------------------------------------------- tenant isolation
do $$
declare
    t text;
begin
    foreach t in array array['jobs', 'dead_jobs', 'import_chunks', 'usage_counters',
                             'idempotency_keys', 'webhook_secrets'] loop
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

-- `webhook_organization` runs as the owner and must find any organization by slug.
create policy organizations_owner_lookup on organizations for select to sightline_owner using (true);

-- `claim_job` runs as the owner and must see every organization's due jobs; the
-- application role still sees only its tenant's.
create policy jobs_owner_claims on jobs to sightline_owner using (true) with check (true);

-- Leases the oldest due job for `lease_seconds` and answers it (no row when none is due).
-- `skip locked` lets several workers claim different jobs at once without waiting.
create function claim_job(lease_seconds integer)
    returns table (org_id uuid, id uuid, kind text, payload jsonb, attempts integer, max_attempts integer)
    language sql security definer set search_path = public, pg_temp as $$
    update jobs j
       set locked_until = now() + make_interval(secs => lease_seconds),
           attempts = j.attempts + 1,
           updated_at = now()
     where (j.org_id, j.id) = (
         select d.org_id, d.id from jobs d
          where d.run_after <= now() and (d.locked_until is null or d.locked_until < now())
          order by d.run_after
          limit 1
          for update skip locked)
    returning j.org_id, j.id, j.kind, j.payload, j.attempts, j.max_attempts
$$;

revoke all on function claim_job(integer) from public;
grant execute on function claim_job(integer) to sightline_app;
revoke all on function webhook_organization(text) from public;
grant execute on function webhook_organization(text) to sightline_app;
