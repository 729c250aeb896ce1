//! Signed webhooks (SPEC ING-4): `POST /api/v1/webhooks/shopify/orders?org=<slug>` for
//! Shopify's `orders/create`, and `PUT /api/v1/webhooks/shopify/secret` to set the secret.

use std::collections::HashMap;

use app::backend::ingest::shopify;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;

use super::extract::{ApiJson, Caller};
use crate::error::ApiError;
use crate::startup::AppState;

pub async fn shopify_order(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let slug = query.get("org").ok_or(ApiError::Unauthorized)?;
    let signature = headers.get("x-shopify-hmac-sha256").and_then(|v| v.to_str().ok());
    let external_id = shopify::receive_order(&state.db, slug, signature, &body).await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({ "external_id": external_id })),
    ))
}

#[derive(Deserialize)]
pub struct Secret {
    secret: String,
}

pub async fn set_shopify_secret(
    caller: Caller,
    ApiJson(input): ApiJson<Secret>,
) -> Result<StatusCode, ApiError> {
    shopify::set_secret(caller, &input.secret).await?;
    Ok(StatusCode::NO_CONTENT)
}
