//! What every request, SSR render and server function runs with.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use sqlx::PgPool;

use super::auth::jwt::KeyRing;
use super::rate_limit::Limits;

/// Shared by every handler, SSR render and server function (Leptos provides it as context).
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// Connected as the application role: row-level security applies to everything it runs.
    pub db: PgPool,
    /// Present when `REDIS_URL` is set.
    pub redis: Option<redis::Client>,
    /// Signs and verifies access tokens.
    pub keys: Arc<KeyRing>,
    /// Request budgets and sign-in throttling.
    pub limits: Arc<Limits>,
    /// Whether session cookies are marked `Secure`.
    pub secure_cookies: bool,
    /// The process's subscription to live events, shared by every connected browser.
    pub live: super::live::LiveHub,
    /// How long a background job's claim lasts without renewal (`jobs::DEFAULT_LEASE`).
    pub job_lease: std::time::Duration,
}
