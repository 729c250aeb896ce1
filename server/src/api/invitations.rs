//! Invitations (SPEC TEN-1): an admin invites an email with a role and shares the link; the
//! invitee accepts with a password (a new account) or their existing password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use domain::{Email, Permission, Role};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::auth::{start_session, Session};
use super::extract::{ApiJson, Caller};
use crate::auth::secrets::{self, SecretKind};
use crate::error::{ApiError, FieldError};
use crate::startup::AppState;
use app::backend::accounts;

/// How long an invitation can be accepted.
const INVITATION_TTL: chrono::Duration = chrono::Duration::days(7);

#[derive(Deserialize)]
pub struct NewInvitation {
    email: String,
    role: String,
}

#[derive(Serialize)]
pub struct CreatedInvitation {
    id: Uuid,
    email: String,
    role: Role,
    invitation_token: String,
    accept_url: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

/// `POST /api/v1/invitations`
pub async fn create(
    mut caller: Caller,
    ApiJson(input): ApiJson<NewInvitation>,
) -> Result<(StatusCode, Json<CreatedInvitation>), ApiError> {
    caller
        .require(Permission::ManageMembers, "member.invited")
        .await?;
    let email = Email::parse(&input.email);
    let role = Role::parse(&input.role);
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
    Ok((
        StatusCode::CREATED,
        Json(CreatedInvitation {
            id,
            email: email.to_string(),
            role,
            accept_url: format!("/invitations/accept?token={}", issued.text),
            invitation_token: issued.text,
            expires_at,
        }),
    ))
}

#[derive(Deserialize)]
pub struct Acceptance {
    token: SecretString,
    password: SecretString,
}

/// `POST /api/v1/invitations/accept`: joins the invited email to the organization — creating
/// the account, or, when it exists, proving it with its password — and signs it in there.
pub async fn accept(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<Acceptance>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let (mut tenant, user_id) = accounts::accept_invitation(&state.db, input.token, input.password).await?;
    let session = start_session(&state, &mut tenant, user_id, None, Some("invitation.accepted")).await?;
    tenant.commit().await?;
    Ok((StatusCode::CREATED, Json(session)))
}
