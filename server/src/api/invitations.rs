//! Invitations (SPEC TEN-1): an admin invites an email with a role and shares the link; the
//! invitee accepts with a password (a new account) or their existing password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use secrecy::SecretString;
use serde::Deserialize;

use super::auth::{start_session, Session};
use super::extract::{ApiJson, Caller};
use crate::error::ApiError;
use crate::startup::AppState;
use app::backend::accounts;
use app::backend::invitations::{self, CreatedInvitation};

#[derive(Deserialize)]
pub struct NewInvitation {
    email: String,
    role: String,
}

/// `POST /api/v1/invitations`
pub async fn create(
    caller: Caller,
    ApiJson(input): ApiJson<NewInvitation>,
) -> Result<(StatusCode, Json<CreatedInvitation>), ApiError> {
    let created = invitations::create(caller, &input.email, &input.role).await?;
    Ok((StatusCode::CREATED, Json(created)))
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
