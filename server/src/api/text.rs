//! Text endpoints (SPEC TXT-1, TXT-3): ad hoc sentiment scoring and full-text search. Scoring of stored texts runs in the
//! background (`app::backend::text::scoring`).

use app::backend::text::search::{Hit, SearchQuery};
use app::backend::text::{score_adhoc, Scored};
use axum::extract::Query;
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

#[derive(Serialize)]
pub struct SearchResponse {
    data: Vec<Hit>,
    next_cursor: Option<String>,
}

pub async fn search(
    caller: Caller,
    Query(query): Query<SearchQuery>,
) -> Result<Json<SearchResponse>, ApiError> {
    let (data, next_cursor) = app::backend::text::search::search(caller, &query).await?;
    Ok(Json(SearchResponse { data, next_cursor }))
}
