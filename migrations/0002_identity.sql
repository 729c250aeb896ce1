-- Identity and tenancy (SPEC TEN-1..3, AUTH-1..6): quotas, invitations, refresh tokens,
-- API keys, the audit log, and row-level security on every table that holds people or
-- tenant data.
--
-- Settings the policies read (always set transaction-locally by server/src/tenant.rs):
--   app.org_id       the organization a request acts in (TenantTx)
--   app.user_id      the person an account-level transaction acts for (AccountTx)
--   app.login_email  the email a sign-in attempt names, to find that one user row
-- Unset settings read as NULL through nullif(current_setting(..., true), ''), so a query
-- that forgets its scope matches no row.
--
-- Secrets handed to clients (refresh tokens, API keys, invitation tokens) carry their
-- organization's id in clear and a random part stored only as a SHA-256 hash, so every
-- lookup happens inside that organization's scope: no cross-tenant index is ever needed.

-- ---------------------------------------------------------------- organizations
alter table organizations
    add column quota_events_per_month bigint not null default 10000000
        check (quota_events_per_month > 0),
    add column quota_stored_rows bigint not null default 100000000
        check (quota_stored_rows > 0),
    add column quota_api_calls_per_minute integer not null default 6000
        check (quota_api_calls_per_minute > 0);

alter table organizations enable row level security;
alter table organizations force row level security;

-- An organization is visible inside its own scope, and to its members at the account level
-- (organization switcher, sign-in by slug). It is written only inside its own scope.
create policy organizations_scope on organizations
    using (
        id = nullif(current_setting('app.org_id', true), '')::uuid
        or exists (
            select 1 from memberships m
            where m.org_id = organizations.id
              and m.user_id = nullif(current_setting('app.user_id', true), '')::uuid
        )
    )
    with check (id = nullif(current_setting('app.org_id', true), '')::uuid);

-- ---------------------------------------------------------------- users
alter table users
    add column password_changed_at timestamptz not null default now();

alter table users enable row level security;
alter table users force row level security;

-- A person's row is visible to themselves, to a sign-in attempt naming their email, and
-- inside the scope of any organization they belong to.
create policy users_scope on users
    using (
        id = nullif(current_setting('app.user_id', true), '')::uuid
        or email = nullif(current_setting('app.login_email', true), '')
        or exists (
            select 1 from memberships m
            where m.user_id = users.id
              and m.org_id = nullif(current_setting('app.org_id', true), '')::uuid
        )
    )
    with check (
        id = nullif(current_setting('app.user_id', true), '')::uuid
        or email = nullif(current_setting('app.login_email', true), '')
    );

-- ---------------------------------------------------------------- memberships
-- Replaces the foundation's policy: a person also sees their own memberships in every
-- organization (account level), but memberships are only ever written inside their org.
drop policy memberships_tenant_isolation on memberships;
create policy memberships_scope on memberships
    using (
        org_id = nullif(current_setting('app.org_id', true), '')::uuid
        or user_id = nullif(current_setting('app.user_id', true), '')::uuid
    )
    with check (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

-- ---------------------------------------------------------------- invitations
create table invitations (
    org_id uuid not null references organizations (id) on delete cascade,
    id uuid not null default gen_random_uuid(),
    email text not null check (email = lower(email) and email like '_%@_%'),
    role text not null check (role in ('owner', 'admin', 'analyst', 'viewer')),
    token_hash bytea not null check (length(token_hash) = 32),
    -- Who invited, for the audit trail; kept if that person later leaves.
    invited_by uuid,
    expires_at timestamptz not null,
    accepted_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (org_id, id),
    -- Serves accepting an invitation: the token names its org, the hash finds the row.
    unique (org_id, token_hash)
);

-- ---------------------------------------------------------------- refresh tokens
-- One row per issued refresh token; rotation marks the old one used and issues a new one in
-- the same family. Presenting a used token revokes the whole family (reuse detection).
create table refresh_tokens (
    org_id uuid not null,
    id uuid not null default gen_random_uuid(),
    user_id uuid not null,
    family_id uuid not null,
    token_hash bytea not null check (length(token_hash) = 32),
    issued_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz,
    revoked_at timestamptz,
    primary key (org_id, id),
    -- Serves refresh and logout: the token names its org, the hash finds the row.
    unique (org_id, token_hash),
    -- Removing a member ends their sessions in that organization.
    foreign key (org_id, user_id) references memberships (org_id, user_id) on delete cascade
);

-- Serves "revoke every token of this family" and "of this user" (reuse, password change).
create index refresh_tokens_family_idx on refresh_tokens (org_id, family_id);
create index refresh_tokens_user_idx on refresh_tokens (org_id, user_id);

-- ---------------------------------------------------------------- API keys
create table api_keys (
    org_id uuid not null references organizations (id) on delete cascade,
    id uuid not null default gen_random_uuid(),
    name text not null check (length(name) between 1 and 100),
    -- The first characters of the key, shown in lists so people can tell keys apart.
    prefix text not null check (length(prefix) between 4 and 16),
    key_hash bytea not null check (length(key_hash) = 32),
    scopes text[] not null
        check (cardinality(scopes) > 0 and scopes <@ array['ingest', 'read', 'admin']),
    created_by uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    primary key (org_id, id),
    -- Serves authenticating a request by key: the key names its org, the hash finds the row.
    unique (org_id, key_hash)
);

-- ---------------------------------------------------------------- audit log
-- Append-only for the application: it may insert and read, never change or delete.
create table audit_log (
    org_id uuid not null references organizations (id) on delete cascade,
    id bigint generated always as identity,
    occurred_at timestamptz not null default now(),
    actor_user_id uuid,
    actor_api_key_id uuid,
    action text not null check (length(action) between 1 and 100),
    target_type text,
    target_id text,
    outcome text not null check (outcome in ('success', 'denied', 'failure')),
    ip inet,
    request_id text,
    details jsonb not null default '{}'::jsonb,
    primary key (org_id, id)
);

-- Serves the audit log page: newest first, filtered by time, action or actor.
create index audit_log_time_idx on audit_log (org_id, occurred_at desc, id desc);
create index audit_log_action_idx on audit_log (org_id, action, occurred_at desc);
create index audit_log_actor_idx on audit_log (org_id, actor_user_id, occurred_at desc);

revoke update, delete, truncate on audit_log from sightline_app;

-- ---------------------------------------------------------------- tenant isolation
-- Every table above with an org_id: visible and writable only inside its organization.
do $$
declare
    t text;
begin
    foreach t in array array['invitations', 'refresh_tokens', 'api_keys', 'audit_log'] loop
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
