//! API keys for machines (SPEC AUTH-3): create (the key is shown once), list, revoke.

use chrono::{DateTime, Utc};
use domain::{ApiKeyScope, Permission};
use serde::Serialize;
use uuid::Uuid;

use super::auth::secrets::{self, SecretKind};
use super::caller::Caller;
use super::error::{ApiError, FieldError};

#[derive(Serialize, sqlx::FromRow)]
pub struct KeyView {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The answer to a creation: the only time the key itself is shown.
#[derive(Serialize)]
pub struct CreatedKey {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub prefix: String,
    pub key: String,
}

/// Creates a key with `scopes` (no more than its creator may do); the key is in the answer
/// and nowhere else.
pub async fn create(mut caller: Caller, name: &str, scopes: &[String]) -> Result<CreatedKey, ApiError> {
    caller
        .require(Permission::ManageApiKeys, "api_key.created")
        .await?;
    let mut errors = Vec::new();
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::new(
            "name",
            "invalid",
            "name the key with 1 to 100 characters",
        ));
    }
    let scopes: Option<Vec<ApiKeyScope>> = scopes.iter().map(|s| ApiKeyScope::parse(s)).collect();
    let scopes = scopes.filter(|s| !s.is_empty()).unwrap_or_else(|| {
        errors.push(FieldError::new(
            "scopes",
            "invalid",
            "one or more of ingest, read, admin",
        ));
        Vec::new()
    });
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    // A key may not do what its creator may not.
    if scopes.contains(&ApiKeyScope::Admin) && !caller.grants(Permission::ManageSettings) {
        caller.record_denied("api_key.created", None).await;
        return Err(ApiError::Forbidden);
    }
    let mut scope_names: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
    scope_names.sort();
    scope_names.dedup();

    let org_id = caller.tenant.org_id();
    let issued = secrets::issue(SecretKind::ApiKey, org_id);
    let prefix = secrets::display_prefix(&issued.text);
    let id: Uuid = sqlx::query_scalar(
        "insert into api_keys (org_id, name, prefix, key_hash, scopes, created_by)
         values ($1, $2, $3, $4, $5, $6) returning id",
    )
    .bind(org_id)
    .bind(&name)
    .bind(&prefix)
    .bind(&issued.hash[..])
    .bind(&scope_names)
    .bind(caller.user_id())
    .fetch_one(caller.tenant.conn())
    .await?;
    caller.audit("api_key.created", "api_key", id.to_string()).await?;
    caller.tenant.commit().await?;
    Ok(CreatedKey {
        id,
        name,
        scopes: scope_names,
        prefix,
        key: issued.text,
    })
}

/// The organization's keys, newest first, revoked ones included.
pub async fn list(mut caller: Caller) -> Result<Vec<KeyView>, ApiError> {
    caller
        .require(Permission::ManageApiKeys, "api_key.listed")
        .await?;
    let org_id = caller.tenant.org_id();
    let data = sqlx::query_as(
        "select id, name, scopes, prefix, created_at, last_used_at, revoked_at from api_keys
         where org_id = $1 order by created_at desc, id",
    )
    .bind(org_id)
    .fetch_all(caller.tenant.conn())
    .await?;
    caller.tenant.commit().await?;
    Ok(data)
}

/// Revokes at once; 404 (audited) for keys of other organizations or unknown ids.
pub async fn revoke(mut caller: Caller, id: Uuid) -> Result<(), ApiError> {
    caller
        .require(Permission::ManageApiKeys, "api_key.revoked")
        .await?;
    let org_id = caller.tenant.org_id();
    let revoked = sqlx::query(
        "update api_keys set revoked_at = coalesce(revoked_at, now()), updated_at = now()
         where org_id = $1 and id = $2",
    )
    .bind(org_id)
    .bind(id)
    .execute(caller.tenant.conn())
    .await?;
    if revoked.rows_affected() == 0 {
        caller
            .record_denied("api_key.revoked", Some(id.to_string()))
            .await;
        return Err(ApiError::NotFound);
    }
    caller.audit("api_key.revoked", "api_key", id.to_string()).await?;
    caller.tenant.commit().await?;
    Ok(())
}
