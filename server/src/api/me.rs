//! `GET /api/v1/me`: who the caller is, where, and what they may do.

use axum::Json;
use domain::{Permission, Role};
use serde::Serialize;

use super::extract::{Actor, Caller};
use crate::error::ApiError;
use crate::identity::{Organization, User};

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
