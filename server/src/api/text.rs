//! Text endpoints (SPEC TXT-1..3): ad hoc sentiment scoring, review and conversation insights,
//! and full-text search. Scoring of stored texts runs in the
//! background (`app::backend::text::scoring`).

use analytics::Analysis;
use app::backend::text::insights::{self, InsightQuery, PatternReport, ReviewInsights};
use app::backend::text::search::{Hit, SearchQuery};
use app::backend::text::{score_adhoc, Scored};
use axum::extract::{Path, Query};
use axum::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

pub async fn review_insights(
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Analysis<ReviewInsights>>, ApiError> {
    Ok(Json(insights::review_insights(caller, id).await?))
}

pub async fn complaints(
    caller: Caller,
    Query(query): Query<InsightQuery>,
) -> Result<Json<Analysis<PatternReport>>, ApiError> {
    Ok(Json(insights::complaints(caller, &query).await?))
}

pub async fn feature_requests(
    caller: Caller,
    Query(query): Query<InsightQuery>,
) -> Result<Json<Analysis<PatternReport>>, ApiError> {
    Ok(Json(insights::feature_requests(caller, &query).await?))
}
