//! Members of the caller's organization: list, change role, remove (SPEC TEN-1, AUTH-4).
//! Ids outside the organization answer 404 and are audited as denied attempts (TEN-3).

use chrono::{DateTime, Utc};
use domain::{Permission, Role};
use serde::Serialize;
use uuid::Uuid;

use super::caller::Caller;
use super::error::{ApiError, FieldError};
use super::tenant::TenantTx;

#[derive(Serialize, sqlx::FromRow)]
pub struct MemberView {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

/// Every member of the caller's organization, oldest first.
pub async fn list(mut caller: Caller) -> Result<Vec<MemberView>, ApiError> {
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
    Ok(data)
}

/// Gives a member another role; only owners make or unmake owners, and the last owner stays.
pub async fn change_role(mut caller: Caller, user_id: Uuid, role: &str) -> Result<MemberView, ApiError> {
    let Some(new_role) = Role::parse(role) else {
        return Err(ApiError::Validation(vec![FieldError::new(
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
    Ok(view)
}

/// Removes a member (their tokens in this organization die with the membership).
pub async fn remove(mut caller: Caller, user_id: Uuid) -> Result<(), ApiError> {
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
    Ok(())
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
