//! Builds the application from settings: state, router and the listening server.
//! Tests build the same router with `build_router`, so what they exercise is what runs.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::MatchedPath;
use axum::http::{HeaderName, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use leptos::prelude::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::auth::jwt::{KeyRing, SigningKey, TokenError};
use app::backend::sessions::Sessions;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::rate_limit::Limits;
use crate::settings::{JwtSettings, Settings};
use crate::{error, health};
pub use app::backend::state::AppState;

/// Header carrying the request id: taken from the client or proxy when present, else made.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Why the state could not be built from the settings.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("invalid REDIS_URL: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("invalid access-token keys: {0}")]
    Keys(#[from] TokenError),
}

/// State for `settings`; connects nothing yet (the pool is lazy).
pub fn state_from_settings(settings: &Settings) -> Result<AppState, StateError> {
    let redis = match &settings.redis_url {
        Some(url) => Some(redis::Client::open(secrecy::ExposeSecret::expose_secret(url))?),
        None => None,
    };
    let db = crate::database::app_pool(&settings.database);
    Ok(AppState {
        leptos_options: leptos_options(settings.addr, &settings.site_root),
        live: app::backend::live::LiveHub::start(db.clone()),
        db,
        limits: Arc::new(Limits::new(&settings.limits, redis.clone())),
        redis,
        keys: Arc::new(key_ring(&settings.jwt)?),
        secure_cookies: settings.secure_cookies,
        job_lease: settings.job_lease,
    })
}

fn key_ring(settings: &JwtSettings) -> Result<KeyRing, TokenError> {
    let secret = settings.secret.clone().unwrap_or_else(|| {
        tracing::warn!("SIGHTLINE_JWT_SECRET is not set: access tokens will not survive a restart");
        crate::auth::jwt::random_secret()
    });
    let current = SigningKey {
        id: settings.key_id.clone(),
        secret,
    };
    let previous = settings
        .previous
        .iter()
        .map(|(id, secret)| SigningKey {
            id: id.clone(),
            secret: secret.clone(),
        })
        .collect();
    KeyRing::new(current, previous)
}

/// Where the built site lives and what its bundle is called (see `scripts/build-site.sh`).
pub fn leptos_options(addr: SocketAddr, site_root: &std::path::Path) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("sightline")
        .site_root(site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build()
}

/// Every route the server answers, with request ids, tracing and compression around them.
pub fn build_router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let shell_options = state.leptos_options.clone();

    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .nest("/api/v1", crate::api::router())
        .route("/api/{*rest}", any(error::api_not_found))
        .leptos_routes(&state, routes, move || app::shell(shell_options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        .layer(middleware::from_fn(take_flash_once))
        .layer(session_layer(&state))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(middleware::from_fn(scope_request_id))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
                .layer(CompressionLayer::new())
                // Bundle files keep their names across releases: browsers must revalidate
                // (a cheap 304) rather than run an old WASM against new HTML.
                .layer(SetResponseHeaderLayer::if_not_present(
                    http::header::CACHE_CONTROL,
                    http::HeaderValue::from_static("no-cache"),
                )),
        )
        .with_state(state)
}

/// Browser sessions: an HttpOnly, SameSite=Lax cookie (Secure unless turned off for local
/// http) naming a session kept in Redis when configured, else in PostgreSQL. Nothing is
/// read or written for requests that do not use the session (API calls with tokens).
fn session_layer(state: &AppState) -> SessionManagerLayer<Sessions> {
    let store = match &state.redis {
        Some(client) => Sessions::redis(client.clone()),
        None => Sessions::postgres(state.db.clone()),
    };
    SessionManagerLayer::new(store)
        .with_name("sightline_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.secure_cookies)
        .with_expiry(Expiry::OnInactivity(SESSION_IDLE_LIFETIME))
}

/// A browser session ends after a week without use.
const SESSION_IDLE_LIFETIME: tower_sessions::cookie::time::Duration =
    tower_sessions::cookie::time::Duration::days(7);

/// One span per request, named by route (not raw path, which would explode cardinality)
/// and carrying the request id so every log line inside can be tied to the request.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("-", MatchedPath::as_str);
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        path = %request.uri().path(),
        request_id,
    )
}

/// Makes the request id available to everything the request runs (error bodies, jobs).
/// Every request gets its own `TakenFlash`, so a page render reads a one-time value once.
async fn take_flash_once(mut request: Request<axum::body::Body>, next: Next) -> Response {
    request
        .extensions_mut()
        .insert(app::backend::web::TakenFlash::default());
    next.run(request).await
}

async fn scope_request_id(request: Request<axum::body::Body>, next: Next) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
        .to_owned();
    error::with_request_id(request_id, next.run(request)).await
}

/// Serves `router` on `listener` until SIGINT or SIGTERM; then live feeds end, so their
/// connections let the requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    live: app::backend::live::LiveHub,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        live.close();
    })
    .await
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "could not listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "could not listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}
