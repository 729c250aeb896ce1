//! Registration and sign-in for API clients (SPEC AUTH-1, AUTH-3).

use std::time::SystemTime;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use domain::Role;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{ApiJson, ClientAddr};
use crate::auth::jwt::ACCESS_TOKEN_TTL;
use crate::auth::secrets::{self, SecretKind};
use crate::auth::sign_in::{sign_in, SignedIn};
use crate::error::ApiError;
use crate::identity::{self, Organization, User};
use crate::startup::AppState;
use crate::tenant::{TenantTx, UserId};
use app::backend::accounts;

#[derive(Deserialize)]
pub struct Registration {
    email: String,
    password: SecretString,
    organization: String,
}

#[derive(Deserialize)]
pub struct SignIn {
    email: String,
    password: SecretString,
    /// The organization's slug; the person's first organization when absent.
    organization: Option<String>,
}

/// What registration and sign-in answer: who, where, and the tokens to act with.
#[derive(Serialize)]
pub struct Session {
    user: User,
    organization: Organization,
    role: Role,
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: u64,
}

/// `POST /api/v1/auth/register`: a new person, their organization, and them as its owner.
pub async fn register(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<Registration>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let (mut tenant, user_id) =
        accounts::register(&state.db, &input.email, input.password, &input.organization).await?;
    let session = start_session(&state, &mut tenant, user_id, None, Some("user.registered")).await?;
    tenant.commit().await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// `POST /api/v1/auth/login`: see `auth::sign_in` for what is checked and throttled.
pub async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiJson(input): ApiJson<SignIn>,
) -> Result<Json<Session>, ApiError> {
    let SignedIn {
        user_id, mut tenant, ..
    } = sign_in(
        &state.db,
        &state.limits,
        &client.key(),
        &input.email,
        input.password,
        input.organization.as_deref(),
    )
    .await?;
    let session = start_session(&state, &mut tenant, user_id, None, Some("user.signed_in")).await?;
    tenant.commit().await?;
    Ok(Json(session))
}

/// Issues both tokens for a member (the refresh token in `family` when rotating) and records
/// `action` in the audit log, inside the caller's transaction; 401 if they are no member.
pub(super) async fn start_session(
    state: &AppState,
    tenant: &mut TenantTx,
    user_id: UserId,
    family: Option<Uuid>,
    action: Option<&str>,
) -> Result<Session, ApiError> {
    // Read back as the member is now: the answer shows exactly what the tokens grant.
    let (user, organization, role) = identity::member(tenant, user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let refresh = identity::issue_refresh_token(tenant, user_id, family, chrono::Utc::now()).await?;
    if let Some(action) = action {
        identity::audit_person(tenant, user_id, action, "success").await?;
    }
    Ok(Session {
        access_token: state.keys.issue(user_id, tenant.org_id(), SystemTime::now()),
        refresh_token: refresh.text,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_TTL.as_secs(),
        user,
        organization,
        role,
    })
}

#[derive(Deserialize)]
pub struct RefreshRequest {
    refresh_token: SecretString,
}

/// `POST /api/v1/auth/refresh`: a new token pair for a live refresh token, which dies in the
/// exchange. A token presented a second time revokes its whole family: whoever holds the
/// newer one (a thief, or the real client) must sign in again.
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<RefreshRequest>,
) -> Result<Json<Session>, ApiError> {
    let presented = secrets::parse(SecretKind::RefreshToken, input.refresh_token.expose_secret())
        .ok_or(ApiError::Unauthorized)?;
    let mut tenant = TenantTx::begin(&state.db, presented.org_id).await?;
    let token = identity::refresh_token_for_update(&mut tenant, &presented.hash)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let user_id = UserId(token.user_id);
    if token.used_at.is_some() && token.revoked_at.is_none() {
        let revoked = identity::revoke_refresh_family(&mut tenant, token.family_id).await?;
        identity::audit_person(&mut tenant, user_id, "refresh_token.reused", "denied").await?;
        tenant.commit().await?;
        tracing::warn!(user_id = %user_id, revoked, "refresh token reused: family revoked");
        return Err(ApiError::Unauthorized);
    }
    if token.used_at.is_some() || token.revoked_at.is_some() || token.expires_at <= chrono::Utc::now() {
        return Err(ApiError::Unauthorized);
    }
    identity::mark_refresh_token_used(&mut tenant, token.id).await?;
    let session = start_session(&state, &mut tenant, user_id, Some(token.family_id), None).await?;
    tenant.commit().await?;
    Ok(Json(session))
}

/// `POST /api/v1/auth/logout`: ends the session the refresh token belongs to. Always 204, so
/// it cannot be used to test tokens.
pub async fn logout(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    let Some(presented) = secrets::parse(SecretKind::RefreshToken, input.refresh_token.expose_secret())
    else {
        return Ok(StatusCode::NO_CONTENT);
    };
    let mut tenant = TenantTx::begin(&state.db, presented.org_id).await?;
    if let Some(token) = identity::refresh_token_for_update(&mut tenant, &presented.hash).await? {
        identity::revoke_refresh_family(&mut tenant, token.family_id).await?;
        identity::audit_person(&mut tenant, UserId(token.user_id), "user.signed_out", "success").await?;
    }
    tenant.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
