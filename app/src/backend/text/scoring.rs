//! The text scoring worker (SPEC TXT-1, ING-9): drains `scoring_queue`, where ingest marks
//! every interaction with text and every review in the transaction that writes it.
//!
//! One batch is one organization's texts, scored at background priority with no transaction
//! open and stored in one transaction: the scores are upserted, the
//! texts made searchable (`search_vector`), the customers' sentiment average and trend
//! recomputed from their scores, the queue rows deleted (storing the scores announces a
//! `sentiment_scored` live event, migration 0010) — all or nothing. A worker that dies mid-batch leaves the rows claimed
//! until the lease runs out, and they are scored again: an upsert and a recomputation give the
//! same result however often they run, so each text counts exactly once. A failing batch is
//! retried with back-off and jitter; a text claimed `MAX_ATTEMPTS` times is marked dead.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use super::{registry, scorers, Scored};
use crate::backend::error::ApiError;
use crate::backend::ingest::customers;
use crate::backend::jobs::{backoff, jitter};
use crate::backend::tenant::{OrgId, TenantTx};

/// Texts per claim (one transaction).
pub const BATCH: i32 = 500;

/// How long a claim holds its texts before another worker may take them.
pub const LEASE: Duration = Duration::from_secs(60);

/// Claims per text before it is marked dead.
pub const MAX_ATTEMPTS: i32 = 3;

/// How often an idle worker looks for texts.
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum TextError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("scoring stopped: {0}")]
    Scoring(String),
}

impl From<ApiError> for TextError {
    fn from(error: ApiError) -> Self {
        TextError::Scoring(error.to_string())
    }
}

/// One claimed queue row.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Claimed {
    org_id: Uuid,
    id: i64,
    subject: String,
    subject_id: Uuid,
    subject_at: Option<DateTime<Utc>>,
    attempts: i32,
}

/// An interaction or review row as read.
#[derive(sqlx::FromRow)]
struct TextRow {
    id: Uuid,
    customer_id: Option<Uuid>,
    written_at: DateTime<Utc>,
    channel: String,
    content: Option<String>,
}

/// A text with words, ready for scoring.
struct Text {
    subject: &'static str,
    id: Uuid,
    customer_id: Option<Uuid>,
    written_at: DateTime<Utc>,
    channel: String,
    content: String,
}

/// Registers the scorers' models, then scores batches until `stop` turns true.
pub async fn work(db: PgPool, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        match register_models(&db).await {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(%error, "could not register the text models; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(POLL * 20) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
    tracing::info!("text scoring worker started");
    while !*stop.borrow() {
        let pause = match score_next_batch(&db).await {
            Ok(0) => POLL,
            Ok(_) => continue,
            Err(error) => {
                tracing::warn!(%error, "text scoring batch failed");
                POLL * 4
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
    tracing::info!("text scoring worker stopped");
}

/// Every model a score may name must be in the registry first.
pub async fn register_models(db: &PgPool) -> Result<(), sqlx::Error> {
    for head in scorers().heads() {
        registry::register(db, head).await?;
    }
    Ok(())
}

/// Claims one batch of due texts and scores it; answers how many texts were claimed. A failed
/// batch is scheduled for a retry (or marked dead) before the error is returned.
pub async fn score_next_batch(db: &PgPool) -> Result<usize, TextError> {
    let claimed: Vec<Claimed> = sqlx::query_as("select * from claim_scoring_batch($1, $2, $3)")
        .bind(BATCH)
        .bind(LEASE.as_secs() as i32)
        .bind(MAX_ATTEMPTS)
        .fetch_all(db)
        .await?;
    let Some(first) = claimed.first() else {
        return Ok(0);
    };
    let org = OrgId(first.org_id);
    let began = std::time::Instant::now();
    match score_batch(db, org, &claimed).await {
        Ok(scored) => {
            tracing::debug!(org_id = %org, texts = claimed.len(), scored, ms = began.elapsed().as_millis() as u64, "texts scored");
            Ok(claimed.len())
        }
        Err(error) => {
            schedule_retry(db, org, &claimed, &error).await?;
            Err(error)
        }
    }
}

async fn score_batch(db: &PgPool, org: OrgId, claimed: &[Claimed]) -> Result<usize, TextError> {
    // No transaction stays open while the model runs: at background priority on a busy
    // machine that can take many seconds. A text replaced meanwhile was queued again, so its
    // new version is scored by a later batch.
    let mut reading = TenantTx::begin(db, org).await?;
    let texts = load(&mut reading, claimed).await?;
    reading.commit().await?;
    // The texts go to the scoring thread and come back with their scores (no copies).
    let (texts, scores) = at_background_priority(move || {
        let scores = scorers().score(&texts.iter().map(|t| t.content.as_str()).collect::<Vec<_>>());
        (texts, scores)
    })
    .await?;
    let scores = scores.map_err(|e| TextError::Scoring(e.to_string()))?;
    let mut tenant = TenantTx::begin(db, org).await?;
    store(&mut tenant, &texts, &scores).await?;
    let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
    sqlx::query("delete from scoring_queue where org_id = $1 and id = any($2)")
        .bind(org)
        .bind(&ids)
        .execute(tenant.conn())
        .await?;
    tenant.commit().await?;
    Ok(texts.len())
}

/// Runs `work` on a fresh thread at the lowest CPU priority (nice 19), which the threads it
/// starts (the model's) inherit, and awaits it without holding an executor or blocking-pool
/// thread: a backlog of texts uses idle cores and gives way to the server's request and
/// import threads. Linux applies nice only among threads of one scheduling group (autogroup
/// or cgroup), so it does not make the scorer give way to PostgreSQL. Elsewhere than Linux the
/// work runs at normal priority.
async fn at_background_priority<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TextError> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("text-scoring".into())
        .spawn(move || {
            #[cfg(target_os = "linux")]
            // SAFETY: setpriority only reads its integer arguments; `who = 0` with
            // PRIO_PROCESS is the calling thread on Linux. Failing to lower it (never
            // expected: lowering needs no privilege) only leaves the normal priority.
            unsafe {
                libc::setpriority(libc::PRIO_PROCESS, 0, 19);
            }
            // The receiver is gone only if the worker was dropped mid-batch.
            let _ = done.send(work());
        })
        .map_err(|e| TextError::Scoring(e.to_string()))?;
    result
        .await
        .map_err(|_| TextError::Scoring("the scoring thread panicked".into()))
}

/// The claimed texts that still exist and have words in them.
async fn load(tenant: &mut TenantTx, claimed: &[Claimed]) -> Result<Vec<Text>, sqlx::Error> {
    let org = tenant.org_id();
    let (mut interaction_ids, mut interaction_at, mut review_ids) = (Vec::new(), Vec::new(), Vec::new());
    for c in claimed {
        match (c.subject.as_str(), c.subject_at) {
            ("interaction", Some(at)) => {
                interaction_ids.push(c.subject_id);
                interaction_at.push(at);
            }
            ("review", _) => review_ids.push(c.subject_id),
            // Ingest always records when an interaction happened; without it the row cannot
            // be found in its partition, and the queue row is dropped with the batch.
            _ => tracing::warn!(
                queue_id = c.id,
                attempts = c.attempts,
                "queued interaction without its time"
            ),
        }
    }
    // Partition pruning needs the time with the id.
    let interactions: Vec<TextRow> = sqlx::query_as(
        "select i.id, i.customer_id, i.occurred_at as written_at, i.channel, i.content
         from interactions i
         join unnest($2::uuid[], $3::timestamptz[]) as k(id, at) on i.id = k.id and i.occurred_at = k.at
         where i.org_id = $1",
    )
    .bind(org)
    .bind(&interaction_ids)
    .bind(&interaction_at)
    .fetch_all(tenant.conn())
    .await?;
    let reviews: Vec<TextRow> = sqlx::query_as(
        "select id, customer_id, reviewed_at as written_at, 'review' as channel, content
         from reviews where org_id = $1 and id = any($2)",
    )
    .bind(org)
    .bind(&review_ids)
    .fetch_all(tenant.conn())
    .await?;
    let texts = interactions
        .into_iter()
        .map(|row| ("interaction", row))
        .chain(reviews.into_iter().map(|row| ("review", row)))
        .filter_map(|(subject, row)| {
            let content = row.content.filter(|c| !c.trim().is_empty())?;
            Some(Text {
                subject,
                id: row.id,
                customer_id: row.customer_id,
                written_at: row.written_at,
                channel: row.channel,
                content,
            })
        })
        .collect();
    Ok(texts)
}

/// Upserts the scores, fills the texts' search vectors and recomputes the customers'
/// sentiment aggregates from their scores.
async fn store(tenant: &mut TenantTx, texts: &[Text], scores: &[Scored]) -> Result<(), TextError> {
    let org = tenant.org_id();
    let touched: Vec<Uuid> = texts
        .iter()
        .filter_map(|t| t.customer_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let column = |f: fn(&Scored) -> f32| scores.iter().map(f).collect::<Vec<f32>>();
    sqlx::query(
        "insert into text_scores (org_id, subject, subject_id, customer_id, written_at, channel, label,
                                  positive, neutral, negative, confidence, scorer, model_name, model_version)
         select $1, u.* from unnest($2::text[], $3::uuid[], $4::uuid[], $5::timestamptz[], $6::text[], $7::text[],
                                    $8::real[], $9::real[], $10::real[], $11::real[], $12::text[], $13::text[], $14::text[])
             as u(subject, subject_id, customer_id, written_at, channel, label, positive, neutral, negative,
                  confidence, scorer, model_name, model_version)
         on conflict (org_id, subject, subject_id) do update set
             customer_id = excluded.customer_id, written_at = excluded.written_at, channel = excluded.channel,
             label = excluded.label, positive = excluded.positive, neutral = excluded.neutral,
             negative = excluded.negative, confidence = excluded.confidence, scorer = excluded.scorer,
             model_name = excluded.model_name, model_version = excluded.model_version, scored_at = now()",
    )
    .bind(org)
    .bind(texts.iter().map(|t| t.subject).collect::<Vec<_>>())
    .bind(texts.iter().map(|t| t.id).collect::<Vec<_>>())
    .bind(texts.iter().map(|t| t.customer_id).collect::<Vec<_>>())
    .bind(texts.iter().map(|t| t.written_at).collect::<Vec<_>>())
    .bind(texts.iter().map(|t| t.channel.as_str()).collect::<Vec<_>>())
    .bind(scores.iter().map(|s| s.sentiment.label.as_str()).collect::<Vec<_>>())
    .bind(column(|s| s.sentiment.positive as f32))
    .bind(column(|s| s.sentiment.neutral as f32))
    .bind(column(|s| s.sentiment.negative as f32))
    .bind(column(|s| s.sentiment.confidence as f32))
    .bind(scores.iter().map(|s| s.scorer).collect::<Vec<_>>())
    .bind(scores.iter().map(|s| s.model_name).collect::<Vec<_>>())
    .bind(scores.iter().map(|s| s.model_version).collect::<Vec<_>>())
    .execute(tenant.conn())
    .await?;

    let (interactions, reviews): (Vec<&Text>, Vec<&Text>) =
        texts.iter().partition(|t| t.subject == "interaction");
    sqlx::query(
        "update interactions i set search_vector = to_tsvector('english', i.content)
         from unnest($2::uuid[], $3::timestamptz[]) as k(id, at)
         where i.org_id = $1 and i.id = k.id and i.occurred_at = k.at",
    )
    .bind(org)
    .bind(interactions.iter().map(|t| t.id).collect::<Vec<_>>())
    .bind(interactions.iter().map(|t| t.written_at).collect::<Vec<_>>())
    .execute(tenant.conn())
    .await?;
    sqlx::query("update reviews set search_vector = to_tsvector('english', content) where org_id = $1 and id = any($2)")
        .bind(org)
        .bind(reviews.iter().map(|t| t.id).collect::<Vec<_>>())
        .execute(tenant.conn())
        .await?;

    // The customers last, as every write path takes them (after its rows and their rollup
    // rows), so the scorer and a concurrent import of the same customers never wait in a cycle.
    customers::lock(tenant, &touched).await?;
    recompute_sentiment(tenant, &touched).await?;
    Ok(())
}

/// Sets the customers' sentiment sum, count and trend from all their scores: exact however
/// often a text is rescored. The trend compares the last 30 days of texts with the 150 days
/// before, counted back from the customer's latest text.
pub async fn recompute_sentiment(tenant: &mut TenantTx, customers: &[Uuid]) -> Result<(), sqlx::Error> {
    if customers.is_empty() {
        return Ok(());
    }
    let org = tenant.org_id();
    sqlx::query(
        "update customers c set
             sentiment_sum = a.total, sentiment_count = a.n, sentiment_trend = a.trend, updated_at = now()
         from unnest($2::uuid[]) as t(id)
         cross join lateral (
             select coalesce(sum(s.polarity), 0)::float8 as total, count(*) as n,
                    (avg(s.polarity) filter (where s.written_at > l.latest - interval '30 days')
                     - avg(s.polarity) filter (where s.written_at <= l.latest - interval '30 days'
                                                 and s.written_at > l.latest - interval '180 days'))::float8 as trend
             from text_scores s
             cross join (select max(written_at) as latest from text_scores
                          where org_id = $1 and customer_id = t.id) l
             where s.org_id = $1 and s.customer_id = t.id
         ) a
         where c.org_id = $1 and c.id = t.id",
    )
    .bind(org)
    .bind(customers)
    .execute(tenant.conn())
    .await?;
    Ok(())
}

/// After a failed batch: each text waits out a back-off with jitter, or is marked dead once it
/// has had `MAX_ATTEMPTS` claims.
async fn schedule_retry(
    db: &PgPool,
    org: OrgId,
    claimed: &[Claimed],
    error: &TextError,
) -> Result<(), sqlx::Error> {
    let attempts = claimed.iter().map(|c| c.attempts).max().unwrap_or(1);
    let delay = backoff(attempts, jitter());
    let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
    let mut tenant = TenantTx::begin(db, org).await?;
    sqlx::query(
        "update scoring_queue set last_error = $3,
             run_after = now() + make_interval(secs => $4),
             dead_at = case when attempts >= $5 then now() end
         where org_id = $1 and id = any($2)",
    )
    .bind(org)
    .bind(&ids)
    .bind(error.to_string())
    .bind(delay.as_secs_f64())
    .bind(MAX_ATTEMPTS)
    .execute(tenant.conn())
    .await?;
    tenant.commit().await?;
    if attempts >= MAX_ATTEMPTS {
        tracing::error!(org_id = %org, texts = ids.len(), %error, "texts marked dead after their last attempt");
    } else {
        tracing::warn!(org_id = %org, texts = ids.len(), attempt = attempts, retry_in_s = delay.as_secs(), %error, "text scoring will retry");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn background_work_and_its_threads_run_at_the_lowest_priority_while_the_caller_keeps_its_own() {
        // SAFETY: getpriority only reads its integer arguments.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let before = nice();
        assert!(before < 19, "the test needs a caller above the lowest priority");
        let (inside, started_inside) =
            super::at_background_priority(move || (nice(), std::thread::spawn(nice).join().unwrap()))
                .await
                .unwrap();
        assert_eq!(inside, 19);
        assert_eq!(
            started_inside, 19,
            "threads the work starts (the model's) inherit it"
        );
        assert_eq!(nice(), before, "the calling thread keeps its priority");
    }
}
