-- Text intelligence (SPEC TXT-1, ANA-10): the model registry, one sentiment score per text,
-- and the scoring worker's claim on `scoring_queue`.

-- ---------------------------------------------------------------- model registry (ANA-10)
-- Models ship with the binary; each server registers the ones it loaded at start. Not tenant
-- data: every organization's texts are scored by the same models.
create table ml_models (
    name text not null,
    version text not null,
    kind text not null check (kind in ('sentiment')),
    -- How the model was trained and how it scored on its held-out split.
    metrics jsonb not null default '{}'::jsonb,
    active boolean not null default false,
    trained_at timestamptz,
    registered_at timestamptz not null default now(),
    primary key (name, version)
);

-- At most one active version of each model.
create unique index ml_models_one_active_idx on ml_models (name) where active;

-- ---------------------------------------------------------------- sentiment scores (TXT-1)
create table text_scores (
    org_id uuid not null references organizations (id) on delete cascade,
    subject text not null check (subject in ('interaction', 'review')),
    subject_id uuid not null,
    customer_id uuid,
    -- When the text was written (occurred_at or reviewed_at), for trends over time.
    written_at timestamptz not null,
    -- The interaction's channel; 'review' for reviews.
    channel text not null,
    label text not null check (label in ('negative', 'neutral', 'positive')),
    positive real not null check (positive between 0 and 1),
    neutral real not null check (neutral between 0 and 1),
    negative real not null check (negative between 0 and 1),
    confidence real not null check (confidence between 0 and 1),
    -- P(positive) − P(negative): the one number averages and trends use.
    polarity real generated always as (positive - negative) stored,
    scorer text not null check (scorer in ('model', 'lexicon')),
    model_name text not null,
    model_version text not null,
    scored_at timestamptz not null default now(),
    primary key (org_id, subject, subject_id),
    foreign key (org_id, customer_id) references customers (org_id, id),
    foreign key (model_name, model_version) references ml_models (name, version)
);

-- Serves a customer's sentiment average and trend (recomputed on every scoring batch).
create index text_scores_customer_idx on text_scores (org_id, customer_id, written_at);
-- Serves sentiment over time for the organization (dashboard trend, filters).
create index text_scores_time_idx on text_scores (org_id, written_at);

alter table text_scores enable row level security;
alter table text_scores force row level security;
create policy text_scores_tenant_isolation on text_scores
    using (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    with check (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

-- Mean polarity of the customer's last 30 days of texts minus that of the 150 days before
-- (counted back from their latest text); null without texts on both sides.
alter table customers add column sentiment_trend double precision;

-- ---------------------------------------------------------------- the scoring worker's queue
-- A text that failed every attempt stays in the queue, marked dead, with its last error.
alter table scoring_queue add column dead_at timestamptz;

drop index scoring_queue_due_idx;
-- Serves `claim_scoring_batch`: the oldest due live texts.
create index scoring_queue_due_idx on scoring_queue (run_after, org_id) where dead_at is null;

-- `claim_scoring_batch` runs as the owner and must see every organization's queue.
create policy scoring_queue_owner_claims on scoring_queue to sightline_owner using (true) with check (true);

-- Leases up to `batch_size` due texts of one organization (the one waiting longest): each
-- claim is an attempt and pushes `run_after` past the lease, so a worker that dies lets them
-- come back. Texts already claimed `max_attempts` times (their worker died every time) are
-- marked dead instead of handed out again.
create function claim_scoring_batch(batch_size integer, lease_seconds integer, max_attempts integer)
    returns table (org_id uuid, id bigint, subject text, subject_id uuid, subject_at timestamptz, attempts integer)
    language plpgsql security definer set search_path = public, pg_temp as $$
declare
    org uuid;
    picked bigint[];
begin
    select q.org_id into org from scoring_queue q
     where q.dead_at is null and q.run_after <= now()
     order by q.run_after limit 1;
    if org is null then
        return;
    end if;
    select array_agg(q.id) into picked from (
        select d.id from scoring_queue d
         where d.org_id = org and d.dead_at is null and d.run_after <= now()
         order by d.run_after, d.id
         limit batch_size
         for update skip locked) q;
    update scoring_queue q
       set dead_at = now(), last_error = coalesce(q.last_error, 'the worker stopped while scoring it')
     where q.org_id = org and q.id = any(picked) and q.attempts >= max_attempts;
    return query
        update scoring_queue q
           set attempts = q.attempts + 1,
               run_after = now() + make_interval(secs => lease_seconds)
         where q.org_id = org and q.id = any(picked) and q.attempts < max_attempts
        returning q.org_id, q.id, q.subject, q.subject_id, q.subject_at, q.attempts;
end
$$;

revoke all on function claim_scoring_batch(integer, integer, integer) from public;
grant execute on function claim_scoring_batch(integer, integer, integer) to sightline_app;
