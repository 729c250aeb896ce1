//! The model registry (SPEC ANA-10): which models and versions exist, how they were trained
//! and evaluated, and which version of each is active. Scores name their model and version,
//! so a score can always be traced to the evaluation behind it.

use sqlx::PgPool;
use text::sentiment::Head;

/// Records a head this process scores with and makes it the active version of its name.
pub async fn register(db: &PgPool, head: &Head) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "insert into ml_models (name, version, kind, metrics, trained_at)
         values ($1, $2, 'sentiment', $3, $4::timestamptz)
         on conflict (name, version) do update set metrics = excluded.metrics, trained_at = excluded.trained_at",
    )
    .bind(&head.name)
    .bind(&head.version)
    .bind(&head.evaluation)
    .bind(Some(head.trained_at.as_str()).filter(|t| !t.is_empty()))
    .execute(&mut *tx)
    .await?;
    // Two statements: the one-active index must never see two active rows at once.
    sqlx::query("update ml_models set active = false where name = $1 and version <> $2 and active")
        .bind(&head.name)
        .bind(&head.version)
        .execute(&mut *tx)
        .await?;
    sqlx::query("update ml_models set active = true where name = $1 and version = $2 and not active")
        .bind(&head.name)
        .bind(&head.version)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
