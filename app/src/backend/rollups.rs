//! The dashboard's rollups, folded after the writes commit (migrations 0016 and 0018).
//!
//! A write statement only logs its changes (`rollup_deltas`): upserting the daily rollups and
//! each customer's days inside the write cost most of every ingest path, and moving a
//! customer's active-customer gaps needs one writer per customer at a time, which made
//! concurrent batches queue on each other. Folding runs here instead: in the background shortly
//! after the writes, and before the dashboard reads, so it is exact on every request. Changes of
//! RFM segment (migration 0021) are moved by the background folder only, a bounded number of
//! customers per round, so a segment's view follows a scoring run within a few rounds.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use super::tenant::{OrgId, TenantTx};

/// How often the background folder looks for logged changes.
const EVERY: Duration = Duration::from_millis(250);

/// After a round that took `t`, the folder rests at least `REST_PER_WORK × t`. A fold's cost
/// follows the days of the customers it touches more than the number of changes, so during a
/// large load back-to-back rounds would redo that work over and over and take a core from the
/// writers (measured: as much database time as the batch API itself). Resting in proportion
/// keeps the folder under a quarter of the time; the dashboard folds before it reads anyway.
const REST_PER_WORK: u32 = 3;

/// How many customers whose RFM segment changed one round of the background folder moves to
/// their new segment (migration 0021). Moving one costs its whole history (about 1 ms here);
/// a bounded round keeps the fold's lock, which every dashboard request folds under, short
/// after a scoring run that moved every customer.
const MOVES_PER_ROUND: i32 = 1000;

/// Brings the organization's rollups up to date with everything committed before the call, in
/// the caller's transaction (the fold's lock is held until it ends). Changes of segment are
/// left to the background folder, so this stays as cheap as the writes since the last fold.
/// Answers how many customers (per channel) had their active-customer gaps moved; zero, without
/// taking any lock, when nothing was logged.
pub async fn fold(tenant: &mut TenantTx) -> Result<i64, sqlx::Error> {
    let org = tenant.org_id();
    fold_moving(tenant.conn(), org.0, Some(0)).await
}

/// Folds everything, changes of segment included, on any connection: for the ones that write
/// past the tenant scope (the demo generator's and the tests' superuser).
pub async fn fold_on<'c>(conn: impl sqlx::PgExecutor<'c>, org: Uuid) -> Result<i64, sqlx::Error> {
    fold_moving(conn, org, None).await
}

/// Folds the logged deltas, the organization's and its categories' (migration 0025), and
/// moves up to `moves` customers to their new segment (all when none).
async fn fold_moving<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    org: Uuid,
    moves: Option<i32>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select fold_rollups($1, $2) + fold_category_rollups($1)")
        .bind(org)
        .bind(moves)
        .fetch_one(conn)
        .await
}

/// Folds every organization with logged changes (and up to `MOVES_PER_ROUND` changes of
/// segment), each in its own short transaction. One
/// organization that cannot be folded does not hold back the others; the first error is
/// answered after all were tried.
pub async fn fold_all(db: &PgPool) -> Result<i64, sqlx::Error> {
    let orgs: Vec<Uuid> = sqlx::query_scalar("select orgs_with_unfolded_rollups()")
        .fetch_all(db)
        .await?;
    let mut folded = 0;
    let mut failed = None;
    for org in orgs {
        match fold_alone(db, OrgId(org)).await {
            Ok(count) => folded += count,
            Err(error) => {
                tracing::warn!(%error, %org, "could not fold an organization's rollups");
                failed.get_or_insert(error);
            }
        }
    }
    failed.map_or(Ok(folded), Err)
}

/// Gives the deltas' table its space back once everything in it is folded (migration 0020), so
/// the check for pending deltas stays cheap after a large load even where autovacuum is off.
/// Answers whether it did.
pub async fn compact(db: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select compact_rollup_deltas()")
        .fetch_one(db)
        .await
}

async fn fold_alone(db: &PgPool, org: OrgId) -> Result<i64, sqlx::Error> {
    let mut tenant = TenantTx::begin(db, org).await?;
    let folded = fold_moving(tenant.conn(), org.0, Some(MOVES_PER_ROUND)).await?;
    tenant.commit().await?;
    Ok(folded)
}

/// Folds in the background until `stop` turns true, so the logged changes stay few however
/// long nobody looks at a dashboard.
pub async fn work(db: PgPool, mut stop: watch::Receiver<bool>) {
    tracing::info!("rollup folder started");
    while !*stop.borrow() {
        let started = std::time::Instant::now();
        let round = async {
            fold_all(&db).await?;
            compact(&db).await
        };
        let pause = match round.await {
            Ok(_) => EVERY.max(started.elapsed() * REST_PER_WORK),
            Err(error) => {
                tracing::warn!(%error, "could not fold every organization's rollups; retrying");
                EVERY * 8
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
    tracing::info!("rollup folder stopped");
}
