//! Admin view of the job queue's dead letters: `GET /api/v1/admin/dead-jobs` and
//! `POST /api/v1/admin/dead-jobs/{id}/replay` (both need `ManageSettings`).

use app::backend::jobs::{self, DeadJob};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use domain::Permission;
use uuid::Uuid;

use super::extract::Caller;
use super::Page;
use crate::error::ApiError;

pub async fn dead(mut caller: Caller) -> Result<Json<Page<DeadJob>>, ApiError> {
    caller.require(Permission::ManageSettings, "jobs.read").await?;
    let list = jobs::dead(&mut caller.tenant).await?;
    Ok(Json(Page::complete(list)))
}

pub async fn replay(mut caller: Caller, Path(id): Path<Uuid>) -> Result<StatusCode, ApiError> {
    caller
        .require(Permission::ManageSettings, "jobs.replayed")
        .await?;
    if !jobs::replay(&mut caller.tenant, id).await? {
        return Err(ApiError::NotFound);
    }
    caller.audit("jobs.replayed", "job", id.to_string()).await?;
    caller.tenant.commit().await?;
    Ok(StatusCode::ACCEPTED)
}
