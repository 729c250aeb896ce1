//! `GET /api/v1/audit-log` (SPEC AUTH-6): the organization's audit trail, newest first,
//! filtered by action, actor and time, paged by cursor, or downloaded as CSV. The query lives
//! in `app::backend::audit_log`, shared with the Settings page.

use app::backend::audit_log::{self, Filters, Listing};
use axum::extract::Query;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::extract::Caller;
use super::Page;
use crate::error::ApiError;

pub async fn list(caller: Caller, Query(filters): Query<Filters>) -> Result<Response, ApiError> {
    Ok(match audit_log::list(caller, &filters).await? {
        Listing::Page { data, next_cursor } => Json(Page { data, next_cursor }).into_response(),
        Listing::Csv(body) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"audit-log.csv\"",
                ),
            ],
            body,
        )
            .into_response(),
    })
}
