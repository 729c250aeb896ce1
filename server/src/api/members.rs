//! Members of the caller's organization: list, change role, remove (SPEC TEN-1, AUTH-4).
//! The rules live in `app::backend::members`, shared with the Settings pages.

use app::backend::members::{self, MemberView};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{ApiJson, Caller};
use super::Page;
use crate::error::ApiError;

/// `GET /api/v1/members`
pub async fn list(caller: Caller) -> Result<Json<Page<MemberView>>, ApiError> {
    Ok(Json(Page::complete(members::list(caller).await?)))
}

#[derive(Deserialize)]
pub struct RoleChange {
    role: String,
}

/// `PATCH /api/v1/members/{user_id}`
pub async fn change_role(
    caller: Caller,
    Path(user_id): Path<Uuid>,
    ApiJson(input): ApiJson<RoleChange>,
) -> Result<Json<MemberView>, ApiError> {
    Ok(Json(members::change_role(caller, user_id, &input.role).await?))
}

/// `DELETE /api/v1/members/{user_id}`
pub async fn remove(caller: Caller, Path(user_id): Path<Uuid>) -> Result<StatusCode, ApiError> {
    members::remove(caller, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
