//! `GET /api/v1/customers` (search, pages) and `GET /api/v1/customers/{id}` (profile with the
//! latest interactions and orders). The queries live in `app::backend::customers`.

use app::backend::customers::{self, CustomerProfile, CustomerSummary, ListQuery};
use axum::extract::{Path, Query};
use axum::Json;
use uuid::Uuid;

use super::extract::Caller;
use super::Page;
use crate::error::ApiError;

pub async fn list(
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<CustomerSummary>>, ApiError> {
    let (data, next_cursor) = customers::list(caller, &query).await?;
    Ok(Json(Page { data, next_cursor }))
}

pub async fn profile(caller: Caller, Path(id): Path<Uuid>) -> Result<Json<CustomerProfile>, ApiError> {
    Ok(Json(customers::profile(caller, id).await?))
}
