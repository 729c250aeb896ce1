//! `GET /api/v1/dashboard` (SPEC UI-2): the dashboard's figures for a range and channel, as
//! the page shows them.

use app::backend::dashboard::{self, DashboardQuery};
use app::dashboard::Dashboard;
use axum::extract::Query;
use axum::Json;

use super::extract::Caller;
use crate::error::ApiError;

pub async fn show(
    mut caller: Caller,
    Query(query): Query<DashboardQuery>,
) -> Result<Json<Dashboard>, ApiError> {
    Ok(Json(dashboard::dashboard(&mut caller, &query).await?))
}
