//! Active customers' gaps, folded after the writes commit (migration 0016).
//!
//! A write adds its deltas to the rollups in its own statement but only notes the customers
//! whose active days it changed; moving their gaps between active days needs one writer per
//! customer at a time, and doing that inside the write made concurrent batches of one
//! organization queue on each other's customers. Folding runs here instead: in the background
//! shortly after the writes, and before the dashboard reads, so it is exact on every request.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use super::tenant::{OrgId, TenantTx};

/// How often the background folder looks for noted customers.
const EVERY: Duration = Duration::from_millis(250);

/// Brings the organization's active-customer gaps up to date with everything committed before
/// the call, in the caller's transaction (the fold's lock is held until it ends). Answers how
/// many customers (per channel) it folded; zero, without taking any lock, when none was noted.
pub async fn fold(tenant: &mut TenantTx) -> Result<i64, sqlx::Error> {
    let org = tenant.org_id();
    fold_on(tenant.conn(), org.0).await
}

/// `fold` on any connection, for the ones that write past the tenant scope (the demo
/// generator's and the tests' superuser).
pub async fn fold_on<'c>(conn: impl sqlx::PgExecutor<'c>, org: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select fold_active_days($1)")
        .bind(org)
        .fetch_one(conn)
        .await
}

/// Folds every organization with noted customers, each in its own short transaction.
pub async fn fold_all(db: &PgPool) -> Result<i64, sqlx::Error> {
    let orgs: Vec<Uuid> = sqlx::query_scalar("select orgs_with_unfolded_days()")
        .fetch_all(db)
        .await?;
    let mut folded = 0;
    for org in orgs {
        let mut tenant = TenantTx::begin(db, OrgId(org)).await?;
        folded += fold(&mut tenant).await?;
        tenant.commit().await?;
    }
    Ok(folded)
}

/// Folds in the background until `stop` turns true, so the noted customers stay few however
/// long nobody looks at a dashboard.
pub async fn work(db: PgPool, mut stop: watch::Receiver<bool>) {
    tracing::info!("active-day folder started");
    while !*stop.borrow() {
        let pause = match fold_all(&db).await {
            Ok(_) => EVERY,
            Err(error) => {
                tracing::warn!(%error, "could not fold active days; retrying");
                EVERY * 8
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
    tracing::info!("active-day folder stopped");
}
