//! The REST API under `/api/v1` (SPEC OPS-4a): JSON in and out, errors as `ApiError`.

mod analytics;
mod api_keys;
mod audit_log;
mod auth;
mod chart_images;
mod customers;
mod dashboard;
mod events;
mod extract;
mod imports;
mod ingest;
mod invitations;
mod jobs;
mod me;
mod members;
mod text;
mod webhooks;

use axum::routing::{get, patch, post};
use axum::Router;
use serde::Serialize;

use domain::records::{CompetitorPrice, Customer, Interaction, InventoryLevel, Order, Product, Review};

use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(me::me))
        .route("/me/password", post(me::change_password))
        .route("/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/api-keys/{id}", axum::routing::delete(api_keys::revoke))
        .route("/audit-log", get(audit_log::list))
        .route("/invitations", post(invitations::create))
        .route("/invitations/accept", post(invitations::accept))
        .route("/dashboard", get(dashboard::show))
        .route("/charts/{file}", get(chart_images::show))
        .route("/events", get(events::stream))
        .route("/customers", get(customers::list))
        .route("/customers/batch", batch::<Customer>())
        .route("/customers/export.csv", get(customers::export))
        .route("/customers/{id}", get(customers::profile))
        .route("/customers/{id}/scores", get(analytics::customer_scores))
        .route("/customers/{id}/patterns", get(analytics::customer_patterns))
        .route("/segments/rfm", get(analytics::rfm_segments))
        .route("/analytics/cohorts", get(analytics::cohorts))
        .route("/analytics/funnel", get(analytics::funnel))
        .route("/analytics/revenue", get(analytics::revenue))
        .route("/analytics/basket", get(analytics::basket))
        .route("/analytics/refresh", post(analytics::refresh))
        .route("/products/{id}/forecast", get(analytics::product_forecast))
        .route("/products/{id}/review-insights", get(text::review_insights))
        .route("/insights/complaints", get(text::complaints))
        .route("/insights/feature-requests", get(text::feature_requests))
        .route("/text/sentiment", post(text::sentiment))
        .route("/search", get(text::search))
        .route("/interactions", post(ingest::create_interaction))
        .route("/interactions/batch", batch::<Interaction>())
        .route("/orders/batch", batch::<Order>())
        .route("/products/batch", batch::<Product>())
        .route("/reviews/batch", batch::<Review>())
        .route("/competitor-prices/batch", batch::<CompetitorPrice>())
        .route("/inventory/batch", batch::<InventoryLevel>())
        .route(
            "/imports",
            post(imports::start).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/imports/{id}", get(imports::status))
        .route("/imports/{id}/errors.csv", get(imports::errors_csv))
        .route("/webhooks/shopify/orders", post(webhooks::shopify_order))
        .route(
            "/webhooks/shopify/secret",
            axum::routing::put(webhooks::set_shopify_secret),
        )
        .route("/admin/dead-jobs", get(jobs::dead))
        .route("/admin/dead-jobs/{id}/replay", post(jobs::replay))
        .route("/members", get(members::list))
        .route(
            "/members/{user_id}",
            patch(members::change_role).delete(members::remove),
        )
}

/// A batch route for records of kind `K`: 1,000 records of up to 20,000 characters of text
/// each fit in the body limit.
fn batch<K: app::backend::ingest::batch::Kind + 'static>() -> axum::routing::MethodRouter<AppState> {
    post(ingest::batch_of::<K>).layer(axum::extract::DefaultBodyLimit::max(32 * 1024 * 1024))
}

/// A CSV file sent as it is read: `header`, then each page of rows from `pages`, as an
/// attachment named `file_name`.
pub fn csv_download(
    file_name: &str,
    header: axum::body::Bytes,
    pages: impl futures_util::Stream<Item = Result<axum::body::Bytes, std::io::Error>> + Send + 'static,
) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    use futures_util::stream::{self, StreamExt};
    // Fused: a body may be polled again after its end (compression does), which a bare
    // `unfold` forbids.
    let body = axum::body::Body::from_stream(stream::once(async { Ok(header) }).chain(pages).fuse());
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// A list answer (SPEC OPS-4a). Lists that fit one page say so with `next_cursor: null`.
#[derive(Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn complete(data: Vec<T>) -> Self {
        Page {
            data,
            next_cursor: None,
        }
    }
}
