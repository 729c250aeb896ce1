//! Text endpoints (SPEC TXT-1): ad hoc sentiment scoring. Scoring of stored texts runs in the
//! background (`app::backend::text::scoring`).

use app::backend::text::{score_adhoc, Scored};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::extract::{ApiJson, Caller};
use crate::error::ApiError;

#[derive(Deserialize)]
pub struct SentimentRequest {
    texts: Vec<String>,
}

#[derive(Serialize)]
pub struct SentimentResponse {
    data: Vec<Scored>,
}

pub async fn sentiment(
    caller: Caller,
    ApiJson(request): ApiJson<SentimentRequest>,
) -> Result<Json<SentimentResponse>, ApiError> {
    Ok(Json(SentimentResponse {
        data: score_adhoc(caller, request.texts).await?,
    }))
}
