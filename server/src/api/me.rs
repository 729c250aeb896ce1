//! `GET /api/v1/me`: who the caller is, where, and what they may do.

use axum::extract::State;
use axum::Json;
use domain::{Permission, Role};
use serde::Serialize;

use super::extract::AccessToken;
use crate::error::ApiError;
use crate::identity::{self, Organization, User};
use crate::startup::AppState;
use crate::tenant::TenantTx;

#[derive(Serialize)]
pub struct Me {
    user: User,
    organization: Organization,
    role: Role,
    permissions: Vec<Permission>,
}

pub async fn me(
    State(state): State<AppState>,
    AccessToken(claims): AccessToken,
) -> Result<Json<Me>, ApiError> {
    let mut tenant = TenantTx::begin(&state.db, claims.org_id()).await?;
    let (user, organization, role) = identity::member(&mut tenant, claims.user_id())
        .await
        .map_err(ApiError::from)?
        .ok_or(ApiError::Unauthorized)?;
    tenant.commit().await?;
    Ok(Json(Me {
        user,
        organization,
        role,
        permissions: role.permissions(),
    }))
}
