//! API keys for machines (SPEC AUTH-3): create (the key is shown once), list, revoke. The
//! rules live in `app::backend::api_keys`, shared with the Settings pages.

use app::backend::api_keys::{self, CreatedKey, KeyView};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{ApiJson, Caller};
use super::Page;
use crate::error::ApiError;

#[derive(Deserialize)]
pub struct NewKey {
    name: String,
    scopes: Vec<String>,
}

/// `POST /api/v1/api-keys`
pub async fn create(
    caller: Caller,
    ApiJson(input): ApiJson<NewKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let created = api_keys::create(caller, &input.name, &input.scopes).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /api/v1/api-keys`
pub async fn list(caller: Caller) -> Result<Json<Page<KeyView>>, ApiError> {
    Ok(Json(Page::complete(api_keys::list(caller).await?)))
}

/// `DELETE /api/v1/api-keys/{id}`
pub async fn revoke(caller: Caller, Path(id): Path<Uuid>) -> Result<StatusCode, ApiError> {
    api_keys::revoke(caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
