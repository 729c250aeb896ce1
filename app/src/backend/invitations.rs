//! Invitations (SPEC TEN-1): an admin invites an email with a role and shares the link.

use domain::{Email, Permission, Role};
use serde::Serialize;
use uuid::Uuid;

use super::auth::secrets::{self, SecretKind};
use super::caller::Caller;
use super::error::{ApiError, FieldError};

/// How long an invitation can be accepted.
const INVITATION_TTL: chrono::Duration = chrono::Duration::days(7);

#[derive(Serialize)]
pub struct CreatedInvitation {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub invitation_token: String,
    pub accept_url: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Invites `email` with `role` (only owners invite owners); the answer holds the link to share.
pub async fn create(mut caller: Caller, email: &str, role: &str) -> Result<CreatedInvitation, ApiError> {
    caller
        .require(Permission::ManageMembers, "member.invited")
        .await?;
    let email = Email::parse(email);
    let role = Role::parse(role);
    let (Ok(email), Some(role)) = (email.as_ref(), role) else {
        let mut errors = Vec::new();
        if let Err(e) = &email {
            errors.push(FieldError::new("email", "invalid", e));
        }
        if role.is_none() {
            errors.push(FieldError::new(
                "role",
                "invalid",
                "one of owner, admin, analyst, viewer",
            ));
        }
        return Err(ApiError::Validation(errors));
    };
    if role == Role::Owner && !caller.grants(Permission::ManageOwners) {
        caller.record_denied("member.invited", None).await;
        return Err(ApiError::Forbidden);
    }
    let org_id = caller.tenant.org_id();
    let issued = secrets::issue(SecretKind::Invitation, org_id);
    let expires_at = chrono::Utc::now() + INVITATION_TTL;
    let id: Uuid = sqlx::query_scalar(
        "insert into invitations (org_id, email, role, token_hash, invited_by, expires_at)
         values ($1, $2, $3, $4, $5, $6) returning id",
    )
    .bind(org_id)
    .bind(email.as_str())
    .bind(role.as_str())
    .bind(&issued.hash[..])
    .bind(caller.user_id())
    .bind(expires_at)
    .fetch_one(caller.tenant.conn())
    .await?;
    caller
        .audit("member.invited", "invitation", id.to_string())
        .await?;
    caller.tenant.commit().await?;
    Ok(CreatedInvitation {
        id,
        email: email.to_string(),
        role,
        accept_url: format!("/invitations/accept?token={}", issued.text),
        invitation_token: issued.text,
        expires_at,
    })
}
