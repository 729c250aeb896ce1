-- Browser sessions (SPEC AUTH-2): one row per signed-in browser, found by the SHA-256 of the
-- id in its cookie (a database reader cannot take over a session). A session belongs to a
-- person, not to an organization: it survives switching between their organizations.
--
-- Settings the policy reads (set transaction-locally by app/src/backend/sessions.rs):
--   app.session_hash  hex SHA-256 of the cookie's id: that one session
--   app.user_id       a person: all their sessions (sign out everywhere, password change)
create table sessions (
    id_hash bytea primary key check (length(id_hash) = 32),
    user_id uuid references users (id) on delete cascade,
    data jsonb not null,
    expires_at timestamptz not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- Serves ending every session of a person.
create index sessions_user_idx on sessions (user_id);
-- Serves removing expired sessions.
create index sessions_expiry_idx on sessions (expires_at);

alter table sessions enable row level security;
alter table sessions force row level security;

create policy sessions_scope on sessions
    using (
        id_hash = decode(nullif(current_setting('app.session_hash', true), ''), 'hex')
        or user_id = nullif(current_setting('app.user_id', true), '')::uuid
    )
    with check (
        id_hash = decode(nullif(current_setting('app.session_hash', true), ''), 'hex')
    );
