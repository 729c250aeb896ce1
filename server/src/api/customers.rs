//! `GET /api/v1/customers` (search, filters, sorts, pages), its CSV export, and `GET /api/v1/customers/{id}` (profile with the
//! latest interactions and orders). The queries live in `app::backend::customers`.

use app::backend::customers::{self, CustomerProfile, CustomerSummary, ListQuery};
use app::backend::tenant::TenantTx;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use futures_util::stream;
use uuid::Uuid;

use super::extract::Caller;
use super::Page;
use crate::error::ApiError;
use crate::startup::AppState;

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

/// Rows per page of an export.
const EXPORT_PAGE: i64 = 1_000;

/// `GET /api/v1/customers/export.csv`: every customer the list's filters match, in its order,
/// streamed page by page (each page its own short transaction).
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let (org, filter) = customers::export_filter(caller, &query).await?;
    let mut header = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = header.write_record(customers::CSV_HEADER);
    let header = Bytes::from(header.into_inner().unwrap_or_default());
    let pages = stream::unfold(Some(None::<(String, Uuid)>), move |after| {
        let (db, filter) = (state.db.clone(), filter.clone());
        async move {
            let after = after?;
            let read = async {
                let mut tenant = TenantTx::begin(&db, org).await?;
                let page = customers::page(&mut tenant, &filter, after.as_ref(), EXPORT_PAGE).await?;
                tenant.commit().await?;
                Ok::<_, sqlx::Error>(page)
            };
            let page = match read.await {
                Ok(page) => page,
                Err(error) => {
                    tracing::error!(%error, "could not read customers for an export");
                    return Some((Err(std::io::Error::other("could not read the customers")), None));
                }
            };
            let next = (page.len() as i64 == EXPORT_PAGE)
                .then(|| page.last().map(|c| (c.sort_key.clone(), c.id)))
                .flatten();
            let mut writer = csv::Writer::from_writer(Vec::new());
            for customer in &page {
                let _ = writer.write_record(customers::csv_record(customer));
            }
            Some((
                Ok(Bytes::from(writer.into_inner().unwrap_or_default())),
                next.map(Some),
            ))
        }
    });
    Ok(super::csv_download("customers.csv", header, pages))
}
