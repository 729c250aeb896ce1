//! Durable background jobs in PostgreSQL (SPEC ING-5, ING-9): CSV imports and scoring runs
//! (`analytics::scoring`), which the worker also schedules.
//!
//! Why not apalis or another queue crate: jobs here must live in tenant-owned tables under
//! the same forced row-level security as the data they work on, be enqueued in the very
//! transaction that creates their subject (an import is stored and queued at once, or not at
//! all), and resume from a checkpoint written in the same transaction as the rows it covers.
//! That is a table, one `claim_job` function and a worker loop; an external queue schema
//! would sit outside RLS and outside those transactions.
//!
//! Semantics: a claim leases the job (`AppState::job_lease`), renewed while the worker is alive; a worker
//! killed mid-job lets the lease lapse and the job is claimed again and resumes. Each claim
//! is an attempt; a failure is retried after exponential back-off with jitter; after
//! `max_attempts` (3) the job moves to `dead_jobs`, from where an admin can replay it.
//! A graceful stop hands the job back without spending its attempt.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use super::analytics::scoring;
use super::ingest::imports;
use super::state::AppState;
use super::tenant::{OrgId, TenantTx};

/// How long a claim holds a job without renewal, unless `SIGHTLINE_JOB_LEASE_SECONDS` says
/// otherwise: also how long a job of a killed process waits before another process resumes it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// How often an idle worker looks for due jobs.
const POLL: Duration = Duration::from_millis(500);

/// The first retry's delay; each further retry doubles it.
const BACKOFF_BASE: Duration = Duration::from_secs(10);

/// Why a job did not finish.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The job cannot succeed as it is (retrying will not help).
    #[error("{0}")]
    Failed(String),
    /// The job is of a kind this server does not run.
    #[error("unknown job kind {0}")]
    UnknownKind(String),
}

impl From<super::error::ApiError> for JobError {
    fn from(error: super::error::ApiError) -> Self {
        match error {
            super::error::ApiError::Internal(cause) => JobError::Failed(cause.to_string()),
            other => JobError::Failed(other.to_string()),
        }
    }
}

/// How a job's run ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Done: the job is removed.
    Done,
    /// Asked to stop: the job goes back to the queue, its attempt not counted.
    Stopped,
}

/// A job this worker holds the lease on.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub org_id: Uuid,
    pub id: Uuid,
    pub kind: String,
    pub payload: Value,
    pub attempts: i32,
    pub max_attempts: i32,
}

impl Claimed {
    pub fn org(&self) -> OrgId {
        OrgId(self.org_id)
    }
}

/// Queues a job in the tenant's transaction: it exists exactly when that transaction commits.
pub async fn enqueue(tenant: &mut TenantTx, kind: &str, payload: Value) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar("insert into jobs (org_id, kind, payload) values ($1, $2, $3) returning id")
        .bind(tenant.org_id())
        .bind(kind)
        .bind(payload)
        .fetch_one(tenant.conn())
        .await
}

/// Leases the oldest due job, if any, for `lease`.
pub async fn claim(db: &PgPool, lease: Duration) -> Result<Option<Claimed>, sqlx::Error> {
    sqlx::query_as("select * from claim_job($1)")
        .bind(lease.as_secs() as i32)
        .fetch_optional(db)
        .await
}

/// Extends the lease of a job still being worked on by `lease`.
pub async fn renew(db: &PgPool, job: &Claimed, lease: Duration) -> Result<(), sqlx::Error> {
    let mut tenant = TenantTx::begin(db, job.org()).await?;
    sqlx::query(
        "update jobs set locked_until = now() + make_interval(secs => $3), updated_at = now()
         where org_id = $1 and id = $2",
    )
    .bind(job.org_id)
    .bind(job.id)
    .bind(lease.as_secs_f64())
    .execute(tenant.conn())
    .await?;
    tenant.commit().await
}

/// The delay before retry number `attempt` (1-based): `BACKOFF_BASE · 2^(attempt-1)`, times a
/// jitter factor in [0.5, 1.5) so jobs that failed together do not retry together.
pub fn backoff(attempt: i32, jitter: f64) -> Duration {
    let exponent = attempt.clamp(1, 16) - 1;
    BACKOFF_BASE.mul_f64(f64::from(1u32 << exponent) * (0.5 + jitter.clamp(0.0, 1.0 - f64::EPSILON)))
}

/// A uniform number in [0, 1) from the OS random source.
pub(crate) fn jitter() -> f64 {
    // The low 53 bits: all random (a v4 id fixes only version and variant bits, higher up).
    (Uuid::new_v4().as_u128() & ((1u128 << 53) - 1)) as f64 / (1u64 << 53) as f64
}

/// Records the outcome of a run: removes a finished job, hands a stopped one back, and
/// schedules a retry of a failed one or moves it to `dead_jobs`. Answers whether it died.
pub async fn settle(
    db: &PgPool,
    job: &Claimed,
    outcome: &Result<Finish, JobError>,
) -> Result<bool, sqlx::Error> {
    let mut tenant = TenantTx::begin(db, job.org()).await?;
    let mut died = false;
    match outcome {
        Ok(Finish::Done) => {
            sqlx::query("delete from jobs where org_id = $1 and id = $2")
                .bind(job.org_id)
                .bind(job.id)
                .execute(tenant.conn())
                .await?;
        }
        Ok(Finish::Stopped) => {
            sqlx::query(
                "update jobs set locked_until = null, attempts = greatest(attempts - 1, 0), updated_at = now()
                 where org_id = $1 and id = $2",
            )
            .bind(job.org_id)
            .bind(job.id)
            .execute(tenant.conn())
            .await?;
        }
        Err(error) => {
            let message = error.to_string();
            let permanent = matches!(error, JobError::UnknownKind(_));
            if permanent || job.attempts >= job.max_attempts {
                died = true;
                sqlx::query(
                    "with gone as (delete from jobs where org_id = $1 and id = $2 returning *)
                     insert into dead_jobs (org_id, id, kind, payload, attempts, last_error, created_at)
                     select org_id, id, kind, payload, attempts, $3, created_at from gone
                     on conflict (org_id, id) do update
                         set attempts = excluded.attempts, last_error = excluded.last_error, failed_at = now()",
                )
                .bind(job.org_id)
                .bind(job.id)
                .bind(&message)
                .execute(tenant.conn())
                .await?;
                tracing::error!(job_id = %job.id, org_id = %job.org_id, kind = job.kind, error = message, "job moved to the dead-letter table");
            } else {
                let delay = backoff(job.attempts, jitter());
                sqlx::query(
                    "update jobs set locked_until = null, last_error = $3, updated_at = now(),
                                     run_after = now() + make_interval(secs => $4)
                     where org_id = $1 and id = $2",
                )
                .bind(job.org_id)
                .bind(job.id)
                .bind(&message)
                .bind(delay.as_secs_f64())
                .execute(tenant.conn())
                .await?;
                tracing::warn!(job_id = %job.id, kind = job.kind, attempt = job.attempts, retry_in_s = delay.as_secs(), error = message, "job failed; will retry");
            }
        }
    }
    tenant.commit().await?;
    Ok(died)
}

/// Runs one claimed job to its end (renewing its lease meanwhile) and records the outcome.
pub async fn run_claimed(
    state: &AppState,
    job: Claimed,
    stop: &watch::Receiver<bool>,
) -> Result<(), sqlx::Error> {
    let work = async {
        match job.kind.as_str() {
            "import" => imports::run(state, &job, stop).await,
            "score" => scoring::run(state, &job).await,
            other => Err(JobError::UnknownKind(other.to_owned())),
        }
    };
    let renewals = async {
        loop {
            tokio::time::sleep(state.job_lease / 3).await;
            if let Err(error) = renew(&state.db, &job, state.job_lease).await {
                tracing::warn!(%error, job_id = %job.id, "could not renew a job's lease");
            }
        }
    };
    let outcome = tokio::select! {
        outcome = work => outcome,
        never = renewals => never,
    };
    if settle(&state.db, &job, &outcome).await? {
        let reason = outcome.err().map(|e| e.to_string()).unwrap_or_default();
        bury(state, &job, &reason).await?;
    }
    Ok(())
}

/// Tells a dead job's subject that it will not be done (an import shows as failed).
async fn bury(state: &AppState, job: &Claimed, reason: &str) -> Result<(), sqlx::Error> {
    match job.kind.as_str() {
        "import" => imports::mark_failed(&state.db, job, reason).await,
        _ => Ok(()),
    }
}

/// Claims and runs jobs one at a time until `stop` turns true, queueing due scoring runs every
/// `scoring::SCHEDULE_EVERY`; a job in progress is asked to stop at its next checkpoint and
/// handed back.
pub async fn work(state: AppState, mut stop: watch::Receiver<bool>) {
    tracing::info!("job worker started");
    let mut next_schedule = tokio::time::Instant::now();
    while !*stop.borrow() {
        if tokio::time::Instant::now() >= next_schedule {
            next_schedule = tokio::time::Instant::now() + scoring::SCHEDULE_EVERY;
            match scoring::schedule(&state.db).await {
                Ok(0) => {}
                Ok(queued) => tracing::info!(queued, "scoring runs queued"),
                Err(error) => tracing::warn!(%error, "could not queue scoring runs"),
            }
            if let Err(error) = super::live::prune(&state.db).await {
                tracing::warn!(%error, "could not prune old live events");
            }
        }
        match claim(&state.db, state.job_lease).await {
            Ok(Some(job)) => {
                tracing::info!(job_id = %job.id, org_id = %job.org_id, kind = job.kind, attempt = job.attempts, "job claimed");
                if let Err(error) = run_claimed(&state, job, &stop).await {
                    tracing::error!(%error, "could not record a job's outcome; its lease will lapse and it will run again");
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "could not claim jobs; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(POLL * 4) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
    tracing::info!("job worker stopped");
}

/// A job that failed every attempt, as the admin list shows it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct DeadJob {
    pub id: Uuid,
    pub kind: String,
    pub payload: Value,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub failed_at: chrono::DateTime<chrono::Utc>,
}

/// The organization's dead jobs, newest failure first (at most 100).
pub async fn dead(tenant: &mut TenantTx) -> Result<Vec<DeadJob>, sqlx::Error> {
    sqlx::query_as(
        "select id, kind, payload, attempts, last_error, created_at, failed_at from dead_jobs
         where org_id = $1 order by failed_at desc limit 100",
    )
    .bind(tenant.org_id())
    .fetch_all(tenant.conn())
    .await
}

/// Puts a dead job back in the queue with fresh attempts; `false` when there is no such job.
pub async fn replay(tenant: &mut TenantTx, id: Uuid) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query(
        "with revived as (delete from dead_jobs where org_id = $1 and id = $2 returning *)
         insert into jobs (org_id, id, kind, payload, created_at)
         select org_id, id, kind, payload, created_at from revived",
    )
    .bind(tenant.org_id())
    .bind(id)
    .execute(tenant.conn())
    .await?;
    Ok(moved.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Each retry waits between half and one and a half times double the previous base.
        #[test]
        fn backoff_doubles_within_its_jitter(attempt in 1i32..10, jitter in 0.0f64..1.0) {
            let delay = backoff(attempt, jitter).as_secs_f64();
            let base = BACKOFF_BASE.as_secs_f64() * f64::from(1u32 << (attempt - 1));
            prop_assert!(delay >= base * 0.5 && delay < base * 1.5);
        }
    }

    #[test]
    fn jitter_stays_in_the_unit_interval() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
