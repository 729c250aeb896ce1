//! People, organizations, memberships, refresh tokens and the audit log: the queries behind
//! registration, sign-in and `/me`. Every function takes the scope it runs in (`AccountTx` or
//! `TenantTx`), never a pool.

use chrono::{DateTime, Utc};
use domain::{ApiKeyScope, Email, Role, Slug};
use serde::Serialize;
use sqlx::Connection;
use uuid::Uuid;

use crate::backend::auth::secrets::{self, IssuedSecret, SecretKind};
use crate::backend::error::ApiError;
use crate::backend::tenant::{AccountTx, OrgId, TenantTx, UserId};

/// How long a refresh token is valid.
pub const REFRESH_TOKEN_TTL: chrono::Duration = chrono::Duration::days(7);

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// 409: an account with this email exists.
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::EmailTaken => ApiError::Conflict(error.to_string()),
            IdentityError::Database(e) => e.into(),
        }
    }
}

/// A person as the API shows them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    /// Credentials issued before this no longer count (not shown).
    #[serde(skip)]
    pub password_changed_at: DateTime<Utc>,
}

/// An organization as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Organization {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

fn is_unique_violation(error: &sqlx::Error, constraint: &str) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation() && db.constraint() == Some(constraint))
}

/// Creates a person. The transaction must act for `id` (`AccountTx::for_user`).
pub async fn insert_user(
    account: &mut AccountTx,
    id: UserId,
    email: &Email,
    password_hash: &str,
) -> Result<User, IdentityError> {
    sqlx::query_as(
        "insert into users (id, email, password_hash) values ($1, $2, $3) returning id, email, display_name, password_changed_at",
    )
    .bind(id)
    .bind(email.as_str())
    .bind(password_hash)
    .fetch_one(account.conn())
    .await
    .map_err(|e| {
        if is_unique_violation(&e, "users_email_key") {
            IdentityError::EmailTaken
        } else {
            e.into()
        }
    })
}

/// Creates the tenant's own organization row, suffixing the slug when another organization
/// already has it ("acme" → "acme-3f9c").
pub async fn insert_organization(
    tenant: &mut TenantTx,
    name: &str,
    slug: &Slug,
) -> Result<Organization, IdentityError> {
    let org_id = tenant.org_id();
    let mut candidate = slug.as_str().to_owned();
    for attempt in 0..4 {
        // A savepoint, so a taken slug does not abort the whole registration.
        let mut savepoint = tenant.conn().begin().await?;
        let inserted = sqlx::query_as(
            "insert into organizations (id, slug, name) values ($1, $2, $3) returning id, slug, name",
        )
        .bind(org_id)
        .bind(&candidate)
        .bind(name)
        .fetch_one(&mut *savepoint)
        .await;
        match inserted {
            Ok(organization) => {
                savepoint.commit().await?;
                return Ok(organization);
            }
            Err(e) if is_unique_violation(&e, "organizations_slug_key") && attempt < 3 => {
                savepoint.rollback().await?;
                let suffix = &Uuid::new_v4().simple().to_string()[..4];
                let stem = &slug.as_str()[..slug.as_str().len().min(58)];
                candidate = format!("{}-{suffix}", stem.trim_end_matches('-'));
            }
            Err(e) => return Err(e.into()),
        }
    }
    unreachable!("the last attempt returns")
}

/// Makes `user` a member of the tenant's organization.
pub async fn add_member(tenant: &mut TenantTx, user: UserId, role: Role) -> Result<(), IdentityError> {
    let org_id = tenant.org_id();
    sqlx::query("insert into memberships (org_id, user_id, role) values ($1, $2, $3)")
        .bind(org_id)
        .bind(user)
        .bind(role.as_str())
        .execute(tenant.conn())
        .await?;
    Ok(())
}

/// The account a sign-in names, with its password hash. Needs `AccountTx::for_sign_in`.
pub async fn credentials(
    account: &mut AccountTx,
    email: &Email,
) -> Result<Option<(UserId, String)>, IdentityError> {
    let row: Option<(Uuid, String)> = sqlx::query_as("select id, password_hash from users where email = $1")
        .bind(email.as_str())
        .fetch_optional(account.conn())
        .await?;
    Ok(row.map(|(id, hash)| (UserId(id), hash)))
}

/// The organization a signed-in person acts in: the one with `slug`, or else the one they
/// joined first. `None` when they are not a member of it (or of any).
pub async fn organization_of_member(
    account: &mut AccountTx,
    user: UserId,
    slug: Option<&str>,
) -> Result<Option<Organization>, IdentityError> {
    Ok(sqlx::query_as(
        "select o.id, o.slug, o.name from organizations o
         join memberships m on m.org_id = o.id and m.user_id = $1
         where $2::text is null or o.slug = $2
         order by m.created_at, o.slug
         limit 1",
    )
    .bind(user)
    .bind(slug)
    .fetch_optional(account.conn())
    .await?)
}

/// Every organization the person belongs to, for the organization switcher.
pub async fn organizations_of(
    account: &mut AccountTx,
    user: UserId,
) -> Result<Vec<Organization>, IdentityError> {
    Ok(sqlx::query_as(
        "select o.id, o.slug, o.name from organizations o
         join memberships m on m.org_id = o.id and m.user_id = $1
         order by o.name, o.slug",
    )
    .bind(user)
    .fetch_all(account.conn())
    .await?)
}

/// The stored password hash of a person (the transaction acts for them).
pub async fn password_hash(account: &mut AccountTx, user: UserId) -> Result<Option<String>, IdentityError> {
    Ok(
        sqlx::query_scalar("select password_hash from users where id = $1")
            .bind(user)
            .fetch_optional(account.conn())
            .await?,
    )
}

/// Replaces the person's password; every session and token issued before now stops working.
pub async fn set_password(account: &mut AccountTx, user: UserId, hash: &str) -> Result<(), IdentityError> {
    sqlx::query(
        "update users set password_hash = $2, password_changed_at = now(), updated_at = now() where id = $1",
    )
    .bind(user)
    .bind(hash)
    .execute(account.conn())
    .await?;
    Ok(())
}

/// Revokes every live refresh token of `user` in the tenant's organization.
pub async fn revoke_refresh_tokens_of(tenant: &mut TenantTx, user: UserId) -> Result<u64, IdentityError> {
    let org_id = tenant.org_id();
    Ok(sqlx::query(
        "update refresh_tokens set revoked_at = now()
         where org_id = $1 and user_id = $2 and revoked_at is null",
    )
    .bind(org_id)
    .bind(user)
    .execute(tenant.conn())
    .await?
    .rows_affected())
}

/// A member of the tenant's organization with their role; `None` if they are not one (any
/// more): removed members and deleted people lose access at once, whatever tokens they hold.
pub async fn member(
    tenant: &mut TenantTx,
    user: UserId,
) -> Result<Option<(User, Organization, Role)>, IdentityError> {
    let org_id = tenant.org_id();
    #[derive(sqlx::FromRow)]
    struct MemberRow {
        user_id: Uuid,
        email: String,
        display_name: Option<String>,
        password_changed_at: DateTime<Utc>,
        org_id: Uuid,
        slug: String,
        name: String,
        role: String,
    }
    let row: Option<MemberRow> = sqlx::query_as(
        "select u.id as user_id, u.email, u.display_name, u.password_changed_at,
                o.id as org_id, o.slug, o.name, m.role
         from memberships m
         join users u on u.id = m.user_id
         join organizations o on o.id = m.org_id
         where m.org_id = $1 and m.user_id = $2",
    )
    .bind(org_id)
    .bind(user)
    .fetch_optional(tenant.conn())
    .await?;
    Ok(row.and_then(|r| {
        Some((
            User {
                id: r.user_id,
                email: r.email,
                display_name: r.display_name,
                password_changed_at: r.password_changed_at,
            },
            Organization {
                id: r.org_id,
                slug: r.slug,
                name: r.name,
            },
            Role::parse(&r.role)?,
        ))
    }))
}

/// Issues a refresh token for `user`: in `family` when rotating, else in a new family.
pub async fn issue_refresh_token(
    tenant: &mut TenantTx,
    user: UserId,
    family: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<IssuedSecret, IdentityError> {
    let org_id = tenant.org_id();
    let issued = secrets::issue(SecretKind::RefreshToken, org_id);
    sqlx::query(
        "insert into refresh_tokens (org_id, user_id, family_id, token_hash, issued_at, expires_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(org_id)
    .bind(user)
    .bind(family.unwrap_or_else(Uuid::new_v4))
    .bind(&issued.hash[..])
    .bind(now)
    .bind(now + REFRESH_TOKEN_TTL)
    .execute(tenant.conn())
    .await?;
    Ok(issued)
}

/// A stored refresh token, found by the hash of the presented one.
#[derive(Debug, sqlx::FromRow)]
pub struct RefreshTokenRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The tenant's refresh token with this hash, locked until the transaction ends so two
/// concurrent refreshes cannot both rotate it.
pub async fn refresh_token_for_update(
    tenant: &mut TenantTx,
    hash: &[u8; 32],
) -> Result<Option<RefreshTokenRow>, IdentityError> {
    let org_id = tenant.org_id();
    Ok(sqlx::query_as(
        "select id, user_id, family_id, expires_at, used_at, revoked_at from refresh_tokens
         where org_id = $1 and token_hash = $2
         for update",
    )
    .bind(org_id)
    .bind(&hash[..])
    .fetch_optional(tenant.conn())
    .await?)
}

pub async fn mark_refresh_token_used(tenant: &mut TenantTx, id: Uuid) -> Result<(), IdentityError> {
    let org_id = tenant.org_id();
    sqlx::query("update refresh_tokens set used_at = now() where org_id = $1 and id = $2")
        .bind(org_id)
        .bind(id)
        .execute(tenant.conn())
        .await?;
    Ok(())
}

/// Revokes every live token of a family: on sign-out, and when a used token comes back.
pub async fn revoke_refresh_family(tenant: &mut TenantTx, family: Uuid) -> Result<u64, IdentityError> {
    let org_id = tenant.org_id();
    let revoked = sqlx::query(
        "update refresh_tokens set revoked_at = now()
         where org_id = $1 and family_id = $2 and revoked_at is null",
    )
    .bind(org_id)
    .bind(family)
    .execute(tenant.conn())
    .await?;
    Ok(revoked.rows_affected())
}

/// The id and scopes of the tenant's unrevoked API key with this hash.
pub async fn live_api_key(
    tenant: &mut TenantTx,
    hash: &[u8; 32],
) -> Result<Option<(Uuid, Vec<ApiKeyScope>)>, IdentityError> {
    let org_id = tenant.org_id();
    // `last_used_at` is refreshed at most once a minute, by whichever request gets the row
    // lock without waiting: a busy key never makes its own requests queue behind each other.
    let row: Option<(Uuid, Vec<String>)> = sqlx::query_as(
        "with live as (
             select id, scopes from api_keys
             where org_id = $1 and key_hash = $2 and revoked_at is null
         ),
         stale as (
             select k.id from api_keys k join live on live.id = k.id
             where k.org_id = $1 and (k.last_used_at is null or k.last_used_at < now() - interval '1 minute')
             for update of k skip locked
         ),
         touched as (
             update api_keys k set last_used_at = now()
             from stale where k.org_id = $1 and k.id = stale.id
             returning k.id
         )
         select id, scopes from live",
    )
    .bind(org_id)
    .bind(&hash[..])
    .fetch_optional(tenant.conn())
    .await?;
    Ok(row.map(|(id, scopes)| (id, scopes.iter().filter_map(|s| ApiKeyScope::parse(s)).collect())))
}

/// One audit-log entry (SPEC AUTH-6).
pub struct AuditEntry<'a> {
    pub actor: Option<UserId>,
    pub actor_api_key: Option<Uuid>,
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<String>,
    pub outcome: &'a str,
    pub request_id: Option<String>,
}

/// Appends `entry` to the tenant's audit log, in the caller's transaction.
pub async fn audit(tenant: &mut TenantTx, entry: AuditEntry<'_>) -> Result<(), IdentityError> {
    let org_id: OrgId = tenant.org_id();
    sqlx::query(
        "insert into audit_log
             (org_id, actor_user_id, actor_api_key_id, action, target_type, target_id, outcome, request_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(org_id)
    .bind(entry.actor)
    .bind(entry.actor_api_key)
    .bind(entry.action)
    .bind(entry.target_type)
    .bind(entry.target_id)
    .bind(entry.outcome)
    .bind(entry.request_id)
    .execute(tenant.conn())
    .await?;
    Ok(())
}

/// Appends `action` by and about `user` to the tenant's audit log.
pub async fn audit_person(
    tenant: &mut TenantTx,
    user: UserId,
    action: &str,
    outcome: &str,
) -> Result<(), IdentityError> {
    audit(
        tenant,
        AuditEntry {
            actor: Some(user),
            actor_api_key: None,
            action,
            target_type: Some("user"),
            target_id: Some(user.to_string()),
            outcome,
            request_id: crate::backend::error::current_request_id(),
        },
    )
    .await?;
    Ok(())
}
