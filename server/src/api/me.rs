//! `GET /api/v1/me`: who the caller is, where, and what they may do.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use domain::{Permission, Role};
use secrecy::SecretString;
use serde::Deserialize;
use serde::Serialize;

use super::extract::{Actor, ApiJson, Caller};
use crate::error::ApiError;
use crate::identity::{Organization, User};
use crate::startup::AppState;

#[derive(Serialize)]
pub struct Me {
    user: User,
    organization: Organization,
    role: Role,
    permissions: Vec<Permission>,
}

/// People only: an API key acts for an organization, not as someone (403).
pub async fn me(caller: Caller) -> Result<Json<Me>, ApiError> {
    let (Actor::Person { role, .. }, Some((user, organization))) = (&caller.actor, caller.profile) else {
        return Err(ApiError::Forbidden);
    };
    let role = *role;
    // Nothing was written: the transaction just ends.
    drop(caller.tenant);
    Ok(Json(Me {
        user,
        organization,
        role,
        permissions: role.permissions(),
    }))
}

#[derive(Deserialize)]
pub struct PasswordChange {
    current_password: SecretString,
    new_password: SecretString,
}

/// `POST /api/v1/me/password`: 204; every other session and token of the person ends.
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    app::backend::accounts::change_password(&state.db, caller, input.current_password, input.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
