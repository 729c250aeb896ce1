//! Liveness and readiness, for load balancers and orchestrators.
//!
//! `/health` answers 200 while the process can answer at all. `/ready` checks every dependency
//! and answers 503 when any is down, so traffic moves elsewhere until it recovers; it never
//! restarts anything itself.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

use crate::startup::AppState;

/// A dependency check that takes longer than this counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /health`
pub async fn health() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The outcome of one dependency check.
#[derive(Debug, Serialize)]
pub struct Check {
    pub status: CheckStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Down,
    /// Working with less: still ready (the sentiment model is absent and the lexicon scorer
    /// reads texts instead).
    Degraded,
}

/// The body of `/ready`: one entry per dependency.
#[derive(Debug, Serialize)]
pub struct Readiness {
    pub status: &'static str,
    pub checks: Checks,
}

#[derive(Debug, Serialize)]
pub struct Checks {
    pub database: Check,
    pub migrations: Check,
    /// Present only when `REDIS_URL` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<Check>,
    /// The sentiment model: `degraded` (with why) when the lexicon scorer stands in.
    pub sentiment_model: Check,
}

/// `GET /ready`
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let (database, migrations, redis) =
        tokio::join!(check_database(&state), check_migrations(&state), async {
            match &state.redis {
                Some(client) => Some(check_redis(client).await),
                None => None,
            }
        });
    let all_ok = database.status == CheckStatus::Ok
        && migrations.status == CheckStatus::Ok
        && redis.as_ref().is_none_or(|c| c.status == CheckStatus::Ok);
    let (code, status) = if all_ok {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    (
        code,
        Json(Readiness {
            status,
            checks: Checks {
                database,
                migrations,
                redis,
                sentiment_model: check_sentiment_model(),
            },
        }),
    )
}

fn check_sentiment_model() -> Check {
    let problem = app::backend::text::scorers().model_problem();
    Check {
        status: if problem.is_none() {
            CheckStatus::Ok
        } else {
            CheckStatus::Degraded
        },
        latency_ms: None,
        detail: problem.map(str::to_owned),
    }
}

async fn check_database(state: &AppState) -> Check {
    timed(async { sqlx::query("select 1").execute(&state.db).await.map(|_| None) }).await
}

async fn check_migrations(state: &AppState) -> Check {
    timed(async {
        let pending = crate::database::pending_migrations(&state.db)
            .await
            .map_err(|e| e.to_string())?;
        if pending.is_empty() {
            Ok(None)
        } else {
            Err(format!("pending migrations: {pending:?}"))
        }
    })
    .await
}

async fn check_redis(client: &redis::Client) -> Check {
    timed(async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| None)
    })
    .await
}

/// Runs a check under the timeout; its error becomes the check's detail, so an operator sees
/// why without opening the logs.
async fn timed<E: std::fmt::Display>(
    check: impl std::future::Future<Output = Result<Option<String>, E>>,
) -> Check {
    let started = Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, check).await;
    let latency_ms = Some(started.elapsed().as_millis() as u64);
    match outcome {
        Ok(Ok(detail)) => Check {
            status: CheckStatus::Ok,
            latency_ms,
            detail,
        },
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check failed");
            Check {
                status: CheckStatus::Down,
                latency_ms,
                detail: Some(error.to_string()),
            }
        }
        Err(_) => Check {
            status: CheckStatus::Down,
            latency_ms,
            detail: Some("timed out".into()),
        },
    }
}
