//! Analytics endpoints (SPEC ANA-2..6): a customer's scores, RFM segments, cohorts, funnels,
//! revenue, basket rules, product forecasts and a manual scoring run. The answers are made in
//! `app::backend::analytics::reports`.

use analytics::cohorts::Cohorts;
use analytics::funnel::Funnel;
use analytics::revenue::Revenue;
use analytics::Analysis;
use app::backend::analytics::reports::{
    self, BasketQuery, BasketView, CustomerScores, ProductForecast, RangeQuery, RfmSegments,
};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::Caller;
use crate::error::ApiError;

pub async fn customer_scores(
    mut caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Analysis<CustomerScores>>, ApiError> {
    Ok(Json(reports::customer_scores(&mut caller, id).await?))
}

pub async fn customer_patterns(
    mut caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Analysis<analytics::patterns::Patterns>>, ApiError> {
    Ok(Json(reports::customer_patterns(&mut caller, id).await?))
}

pub async fn rfm_segments(caller: Caller) -> Result<Json<Analysis<RfmSegments>>, ApiError> {
    Ok(Json(reports::rfm_segments(caller).await?))
}

pub async fn cohorts(
    caller: Caller,
    Query(query): Query<RangeQuery>,
) -> Result<Json<Analysis<Cohorts>>, ApiError> {
    Ok(Json(reports::cohorts(caller, &query).await?))
}

pub async fn funnel(
    caller: Caller,
    Query(query): Query<RangeQuery>,
) -> Result<Json<Analysis<Funnel>>, ApiError> {
    Ok(Json(reports::funnel(caller, &query).await?))
}

pub async fn revenue(
    caller: Caller,
    Query(query): Query<RangeQuery>,
) -> Result<Json<Analysis<Revenue>>, ApiError> {
    Ok(Json(reports::revenue(caller, &query).await?))
}

pub async fn basket(
    caller: Caller,
    Query(query): Query<BasketQuery>,
) -> Result<Json<Analysis<BasketView>>, ApiError> {
    Ok(Json(reports::basket(caller, &query).await?))
}

#[derive(Debug, Default, Deserialize)]
pub struct ForecastQuery {
    pub horizon: Option<String>,
}

pub async fn product_forecast(
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(query): Query<ForecastQuery>,
) -> Result<Json<Analysis<ProductForecast>>, ApiError> {
    Ok(Json(
        reports::product_forecast(caller, id, query.horizon.as_deref()).await?,
    ))
}

/// 202 with whether a new run was queued (`false`: one was already waiting).
pub async fn refresh(caller: Caller) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let queued = reports::refresh(caller).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "queued": queued })),
    ))
}
