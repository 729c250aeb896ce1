-- Foundation: privileges for the application role, and the first tenant tables.
--
-- Runs as sightline_owner (see server/src/database.rs), which therefore owns every table.
-- sightline_app serves requests: it gets DML on what the owner creates, never ownership,
-- so row-level security always applies to it.

alter default privileges in schema public
    grant select, insert, update, delete on tables to sightline_app;
alter default privileges in schema public
    grant usage, select on sequences to sightline_app;

-- Tenants. Not itself tenant-scoped: sign-in must find an organization by slug before the
-- tenant is known. The identity work adds quotas and its own access rules.
create table organizations (
    id uuid primary key default gen_random_uuid(),
    slug text not null unique
        check (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    name text not null check (length(name) between 1 and 200),
    settings jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- People who sign in. An email is stored lower-cased so uniqueness is case-insensitive.
create table users (
    id uuid primary key default gen_random_uuid(),
    email text not null unique check (email = lower(email) and email like '_%@_%'),
    password_hash text not null,
    display_name text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- Who belongs to which organization, and as what. A tenant table: keyed by org_id first.
create table memberships (
    org_id uuid not null references organizations (id) on delete cascade,
    user_id uuid not null references users (id) on delete cascade,
    role text not null check (role in ('owner', 'admin', 'analyst', 'viewer')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (org_id, user_id)
);

-- Serves "which organizations does this user belong to" at sign-in.
create index memberships_user_idx on memberships (user_id);

alter table memberships enable row level security;
alter table memberships force row level security;

-- Rows are visible and writable only inside a transaction that set app.org_id to their
-- organization; with the setting absent, nullif(...) is null and no row matches.
create policy memberships_tenant_isolation on memberships
    using (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    with check (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
