//! Sending data in (SPEC ING-4..6): one interaction, or batches of up to 1,000. The parsing
//! and the write path live in `app::backend::ingest`, shared with imports and the pages.

use app::backend::ingest::batch::{self, BatchResult, Kind, Mode};
use axum::extract::State;
use axum::http::StatusCode;
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

/// `POST /api/v1/interactions`: 201 when stored, 200 when the same record was already there.
pub async fn create_interaction(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(record): ApiJson<Value>,
) -> Result<(StatusCode, Json<Stored>), ApiError> {
    let written = batch::ingest_interaction(&state, caller, &record).await?;
    let status = if written.stored_something() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Stored {
            id: written.id,
            customer_id: written.customer_id,
        }),
    ))
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
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let BatchResult {
        accepted,
        rejected,
        batch_id,
    } = batch::ingest::<K>(&state, caller, &input.records, input.mode).await?;
    Ok(match input.mode {
        Mode::Atomic => (
            StatusCode::CREATED,
            Json(serde_json::json!({ "accepted": accepted, "batch_id": batch_id })),
        ),
        Mode::Partial => (
            StatusCode::OK,
            Json(serde_json::json!({ "accepted": accepted, "rejected": rejected, "batch_id": batch_id })),
        ),
    })
}
