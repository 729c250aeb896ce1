//! Sending data in (SPEC ING-4..6): one interaction, or batches of up to 1,000. The parsing
//! and the write path live in `app::backend::ingest`, shared with imports and the pages.

use app::backend::ingest::batch::{self, BatchResult, Kind, Mode, SingleResult};
use app::backend::quota;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::extract::{ApiJson, Caller};
use crate::error::ApiError;
use crate::startup::AppState;

#[derive(Serialize)]
pub struct Stored {
    id: Uuid,
    customer_id: Uuid,
}

/// `POST /api/v1/interactions`: 201 when stored, 200 when the same record was already there
/// (or the same `Idempotency-Key` was answered before).
pub async fn create_interaction(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(record): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let key =
        match headers.get("idempotency-key") {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| {
                ApiError::BadRequest("the Idempotency-Key header must be visible ASCII".into())
            })?),
        };
    let SingleResult {
        written,
        quota_warning,
    } = batch::ingest_interaction(&state, caller, &record, key).await?;
    let status = if written.stored_something() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = Json(Stored {
        id: written.id,
        customer_id: written.customer_id,
    });
    Ok(with_quota_warning((status, body).into_response(), quota_warning))
}

#[derive(Deserialize)]
pub struct Batch {
    records: Vec<Value>,
    #[serde(default)]
    mode: Mode,
}

/// `POST /api/v1/{entity}/batch`: atomic → 201 `{accepted}` or 422 with every error;
/// partial → 200 `{accepted, rejected}`.
pub async fn batch_of<K: Kind>(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<Batch>,
) -> Result<Response, ApiError> {
    let BatchResult {
        accepted,
        rejected,
        batch_id,
        quota_warning,
    } = batch::ingest::<K>(&state, caller, &input.records, input.mode).await?;
    let response = match input.mode {
        Mode::Atomic => (
            StatusCode::CREATED,
            Json(serde_json::json!({ "accepted": accepted, "batch_id": batch_id })),
        ),
        Mode::Partial => (
            StatusCode::OK,
            Json(serde_json::json!({ "accepted": accepted, "rejected": rejected, "batch_id": batch_id })),
        ),
    };
    Ok(with_quota_warning(response.into_response(), quota_warning))
}

/// Adds `X-Sightline-Quota-Warning` once 80 % of the month's events are used (SPEC TEN-4).
fn with_quota_warning(mut response: Response, warning: Option<String>) -> Response {
    if let Some(value) = warning.and_then(|w| HeaderValue::from_str(&w).ok()) {
        response.headers_mut().insert(quota::WARNING_HEADER, value);
    }
    response
}
