//! Members of the caller's organization: list, change role, remove (SPEC TEN-1, AUTH-4).
//! Ids outside the organization answer 404 and are audited as denied attempts (TEN-3).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::{Permission, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{ApiJson, Caller};
use super::Page;
use crate::error::ApiError;
use crate::tenant::TenantTx;

#[derive(Serialize, sqlx::FromRow)]
pub struct MemberView {
    user_id: Uuid,
    email: String,
    display_name: Option<String>,
    role: String,
    joined_at: DateTime<Utc>,
}

/// `GET /api/v1/members`
pub async fn list(mut caller: Caller) -> Result<Json<Page<MemberView>>, ApiError> {
    caller.require(Permission::ReadData, "members.list").await?;
    let org_id = caller.tenant.org_id();
    let data = sqlx::query_as(
        "select u.id as user_id, u.email, u.display_name, m.role, m.created_at as joined_at
         from memberships m join users u on u.id = m.user_id
         where m.org_id = $1
         order by m.created_at, u.email",
    )
    .bind(org_id)
    .fetch_all(caller.tenant.conn())
    .await?;
    caller.tenant.commit().await?;
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

#[derive(Deserialize)]
pub struct RoleChange {
    role: String,
}

/// `PATCH /api/v1/members/{user_id}`
pub async fn change_role(
    mut caller: Caller,
    Path(user_id): Path<Uuid>,
    ApiJson(input): ApiJson<RoleChange>,
) -> Result<Json<MemberView>, ApiError> {
    let Some(new_role) = Role::parse(&input.role) else {
        return Err(ApiError::Validation(vec![crate::error::FieldError::new(
            "role",
            "invalid",
            "one of owner, admin, analyst, viewer",
        )]));
    };
    caller
        .require(Permission::ManageMembers, "member.role_changed")
        .await?;
    let current = target_role(&mut caller, user_id, "member.role_changed").await?;
    if (current == Role::Owner || new_role == Role::Owner) && !caller.grants(Permission::ManageOwners) {
        caller
            .record_denied("member.role_changed", Some(user_id.to_string()))
            .await;
        return Err(ApiError::Forbidden);
    }
    if current == Role::Owner && new_role != Role::Owner {
        ensure_another_owner(&mut caller.tenant).await?;
    }
    let org_id = caller.tenant.org_id();
    sqlx::query("update memberships set role = $3, updated_at = now() where org_id = $1 and user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .bind(new_role.as_str())
        .execute(caller.tenant.conn())
        .await?;
    caller
        .audit("member.role_changed", "member", user_id.to_string())
        .await?;
    let view = sqlx::query_as(
        "select u.id as user_id, u.email, u.display_name, m.role, m.created_at as joined_at
         from memberships m join users u on u.id = m.user_id
         where m.org_id = $1 and m.user_id = $2",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_one(caller.tenant.conn())
    .await?;
    caller.tenant.commit().await?;
    Ok(Json(view))
}

/// `DELETE /api/v1/members/{user_id}`
pub async fn remove(mut caller: Caller, Path(user_id): Path<Uuid>) -> Result<StatusCode, ApiError> {
    caller
        .require(Permission::ManageMembers, "member.removed")
        .await?;
    let current = target_role(&mut caller, user_id, "member.removed").await?;
    if current == Role::Owner {
        if !caller.grants(Permission::ManageOwners) {
            caller
                .record_denied("member.removed", Some(user_id.to_string()))
                .await;
            return Err(ApiError::Forbidden);
        }
        ensure_another_owner(&mut caller.tenant).await?;
    }
    let org_id = caller.tenant.org_id();
    sqlx::query("delete from memberships where org_id = $1 and user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .execute(caller.tenant.conn())
        .await?;
    caller
        .audit("member.removed", "member", user_id.to_string())
        .await?;
    caller.tenant.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The role of `user_id` in the caller's organization, locked for the change; 404 (audited as
/// a denied attempt) when they are not a member of it.
async fn target_role(caller: &mut Caller, user_id: Uuid, action: &str) -> Result<Role, ApiError> {
    let org_id = caller.tenant.org_id();
    let role: Option<String> =
        sqlx::query_scalar("select role from memberships where org_id = $1 and user_id = $2 for update")
            .bind(org_id)
            .bind(user_id)
            .fetch_optional(caller.tenant.conn())
            .await?;
    match role.as_deref().and_then(Role::parse) {
        Some(role) => Ok(role),
        None => {
            caller.record_denied(action, Some(user_id.to_string())).await;
            Err(ApiError::NotFound)
        }
    }
}

/// 409 when the organization would be left without an owner. Locks the owners' rows so two
/// concurrent demotions cannot both pass.
async fn ensure_another_owner(tenant: &mut TenantTx) -> Result<(), ApiError> {
    let org_id = tenant.org_id();
    let owners: Vec<Uuid> =
        sqlx::query_scalar("select user_id from memberships where org_id = $1 and role = 'owner' for update")
            .bind(org_id)
            .fetch_all(tenant.conn())
            .await?;
    if owners.len() < 2 {
        return Err(ApiError::Conflict(
            "an organization needs at least one owner".into(),
        ));
    }
    Ok(())
}
