//! Writing interactions (SPEC ING-1, ING-6, ING-8, ING-9): one write path for every source.
//!
//! In one tenant transaction, for a whole batch with a handful of set-based statements:
//! customers are created on first sight by external id; each external id is claimed in
//! `interaction_keys` (a record sent again creates nothing and answers the existing id; a
//! changed record with a later `occurred_at` replaces the earlier version); new rows go into
//! their month partitions; customer aggregates move by exactly what was inserted or
//! replaced; texts are queued for scoring. Month partitions are made beforehand, outside the
//! transaction, so the DDL's lock is never held while rows are written.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Utc};
use domain::records::Interaction;
use sqlx::PgPool;
use uuid::Uuid;

use super::super::error::ApiError;
use super::super::tenant::TenantTx;
use super::customers;

/// What happened to one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Stored now.
    Created,
    /// Replaced an earlier version with the same external id (this one is more recent).
    Updated,
    /// Already stored (the same or a more recent version): nothing changed.
    Unchanged,
}

/// The stored identity of one written record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub outcome: Outcome,
}

/// Months whose partition this process has made or found (partitions are never dropped by
/// the application), so a write asks the database only about months it has not seen.
/// Keyed by database name, as one process may talk to several (tests do).
static MONTHS_MADE: std::sync::OnceLock<std::sync::Mutex<BTreeSet<(String, i32, u32)>>> =
    std::sync::OnceLock::new();

/// Makes sure every month `times` fall in has its partition. Call before `write`, on the
/// pool (each creation commits at once).
pub async fn prepare_months(
    db: &PgPool,
    times: impl IntoIterator<Item = DateTime<Utc>>,
) -> Result<(), ApiError> {
    let months: BTreeSet<(i32, u32)> = times.into_iter().map(|t| (t.year(), t.month())).collect();
    let database = db.connect_options().get_database().unwrap_or_default().to_owned();
    let made = MONTHS_MADE.get_or_init(Default::default);
    let missing: Vec<(i32, u32)> = {
        let made = made.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        months
            .into_iter()
            .filter(|(y, m)| !made.contains(&(database.clone(), *y, *m)))
            .collect()
    };
    for (year, month) in missing {
        let first_day = chrono::NaiveDate::from_ymd_opt(year, month, 1)
            .expect("a valid month")
            .and_time(chrono::NaiveTime::MIN)
            .and_utc();
        sqlx::query("select ensure_interactions_partition($1)")
            .bind(first_day)
            .execute(db)
            .await?;
        made.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((database.clone(), year, month));
    }
    Ok(())
}

/// Writes `records` (already parsed) in the tenant's transaction, tagged with `batch_id`;
/// answers one `Written` per record, in order. Records repeating an external id within the
/// batch count once: the most recent `occurred_at` wins.
pub async fn write(
    tenant: &mut TenantTx,
    records: &[Interaction],
    lineage: super::Lineage<'_>,
) -> Result<Vec<Written>, ApiError> {
    let batch_id = lineage.batch_id;
    let org_id = tenant.org_id();
    // The latest version of each external id in this batch.
    let mut latest: HashMap<&str, usize> = HashMap::new();
    for (index, record) in records.iter().enumerate() {
        latest
            .entry(record.external_id.as_str())
            .and_modify(|best| {
                if records[*best].occurred_at < record.occurred_at {
                    *best = index;
                }
            })
            .or_insert(index);
    }
    let mut chosen: Vec<usize> = latest.values().copied().collect();
    chosen.sort_unstable();

    // Customers on first sight: every one a record names, superseded duplicates included.
    let names: Vec<&str> = records.iter().map(|r| r.customer_external_id.as_str()).collect();
    let customer_of = customers::ensure(tenant, names, batch_id).await?;

    // Claim each external id; existing claims come back with what they hold.
    let ids: Vec<Uuid> = chosen.iter().map(|_| Uuid::new_v4()).collect();
    let external: Vec<&str> = chosen.iter().map(|&i| records[i].external_id.as_str()).collect();
    let times: Vec<DateTime<Utc>> = chosen.iter().map(|&i| records[i].occurred_at).collect();
    #[derive(sqlx::FromRow)]
    struct Claim {
        external_id: String,
        id: Uuid,
        occurred_at: DateTime<Utc>,
        claimed: bool,
    }
    let claims: Vec<Claim> = sqlx::query_as(
        "with wanted as (
             select * from unnest($2::text[], $3::uuid[], $4::timestamptz[]) as w(external_id, id, occurred_at)
         ),
         claimed as (
             insert into interaction_keys (org_id, external_id, id, occurred_at)
             select $1, external_id, id, occurred_at from wanted
             on conflict (org_id, external_id) do nothing
             returning external_id, id, occurred_at
         )
         select external_id, id, occurred_at, true as claimed from claimed
         union all
         select k.external_id, k.id, k.occurred_at, false from interaction_keys k
         join wanted w on w.external_id = k.external_id
         where k.org_id = $1 and not exists (select 1 from claimed c where c.external_id = k.external_id)",
    )
    .bind(org_id)
    .bind(&external)
    .bind(&ids)
    .bind(&times)
    .fetch_all(tenant.conn())
    .await?;
    let claim_of: HashMap<&str, &Claim> = claims.iter().map(|c| (c.external_id.as_str(), c)).collect();

    // Decide per record: insert (new), replace (newer than stored), or leave.
    let mut to_insert: Vec<(usize, Uuid)> = Vec::new();
    let mut old_versions: (Vec<Uuid>, Vec<DateTime<Utc>>) = (Vec::new(), Vec::new());
    let mut new_times: (Vec<Uuid>, Vec<DateTime<Utc>>) = (Vec::new(), Vec::new());
    let mut outcome_of: HashMap<&str, (Uuid, Outcome)> = HashMap::new();
    for &index in &chosen {
        let record = &records[index];
        let claim = claim_of.get(record.external_id.as_str()).ok_or_else(|| {
            ApiError::internal(std::io::Error::other(
                "an external id was neither claimed nor found",
            ))
        })?;
        let outcome = if claim.claimed {
            to_insert.push((index, claim.id));
            Outcome::Created
        } else if record.occurred_at > claim.occurred_at {
            old_versions.0.push(claim.id);
            old_versions.1.push(claim.occurred_at);
            new_times.0.push(claim.id);
            new_times.1.push(record.occurred_at);
            to_insert.push((index, claim.id));
            Outcome::Updated
        } else {
            Outcome::Unchanged
        };
        outcome_of.insert(record.external_id.as_str(), (claim.id, outcome));
    }

    // Earlier versions leave before the new ones arrive; their customers' aggregates are
    // recomputed below (a minimum or maximum cannot be taken back incrementally).
    let mut recompute: Vec<Uuid> = Vec::new();
    if !old_versions.0.is_empty() {
        recompute = sqlx::query_scalar(
            "delete from interactions i
             using unnest($2::uuid[], $3::timestamptz[]) as g(id, occurred_at)
             where i.org_id = $1 and i.id = g.id and i.occurred_at = g.occurred_at
             returning i.customer_id",
        )
        .bind(org_id)
        .bind(&old_versions.0)
        .bind(&old_versions.1)
        .fetch_all(tenant.conn())
        .await?;
        sqlx::query(
            "update interaction_keys k set occurred_at = w.occurred_at
             from unnest($2::uuid[], $3::timestamptz[]) as w(id, occurred_at)
             where k.org_id = $1 and k.id = w.id",
        )
        .bind(org_id)
        .bind(&new_times.0)
        .bind(&new_times.1)
        .execute(tenant.conn())
        .await?;
        recompute.extend(
            to_insert
                .iter()
                .filter(|(i, _)| outcome_of[records[*i].external_id.as_str()].1 == Outcome::Updated)
                .map(|(i, _)| customer_of[records[*i].customer_external_id.as_str()]),
        );
    }

    if !to_insert.is_empty() {
        // Every customer whose aggregates change here, locked at once in id order.
        let mut touched: Vec<Uuid> = to_insert
            .iter()
            .map(|(i, _)| customer_of[records[*i].customer_external_id.as_str()])
            .chain(recompute.iter().copied())
            .collect();
        touched.sort_unstable();
        touched.dedup();
        let mut id = Vec::with_capacity(to_insert.len());
        let mut customer = Vec::with_capacity(to_insert.len());
        let mut external_id = Vec::with_capacity(to_insert.len());
        let mut occurred_at = Vec::with_capacity(to_insert.len());
        let mut channel = Vec::with_capacity(to_insert.len());
        let mut event_type = Vec::with_capacity(to_insert.len());
        let mut content = Vec::with_capacity(to_insert.len());
        let mut metadata = Vec::with_capacity(to_insert.len());
        let mut line = Vec::with_capacity(to_insert.len());
        for &(index, row_id) in &to_insert {
            let record = &records[index];
            id.push(row_id);
            customer.push(customer_of[record.customer_external_id.as_str()]);
            external_id.push(record.external_id.as_str());
            occurred_at.push(record.occurred_at);
            channel.push(record.channel.as_str());
            event_type.push(record.event_type.as_str());
            content.push(record.content.as_deref());
            metadata.push(serde_json::Value::Object(record.metadata.clone()));
            line.push(lineage.line(index));
        }
        // Rows first; customers are locked only for the short update at the end, so batches
        // sharing customers overlap for all but that moment.
        let added: Vec<(Uuid, i64, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
            "with new as (
                 insert into interactions
                     (org_id, id, customer_id, external_id, occurred_at, channel, event_type, content, metadata,
                      batch_id, source_line)
                 select $1, u.id, u.customer_id, u.external_id, u.occurred_at, u.channel, u.event_type, u.content,
                        u.metadata, $10, u.line
                 from unnest($2::uuid[], $3::uuid[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
                             $8::text[], $9::jsonb[], $11::bigint[])
                     as u(id, customer_id, external_id, occurred_at, channel, event_type, content, metadata, line)
                 returning id, customer_id, occurred_at, content
             ),
             queued as (
                 insert into scoring_queue (org_id, subject, subject_id, subject_at)
                 select $1, 'interaction', id, occurred_at from new where content is not null
             )
             select customer_id, count(*), min(occurred_at), max(occurred_at) from new group by customer_id",
        )
        .bind(org_id)
        .bind(&id)
        .bind(&customer)
        .bind(&external_id)
        .bind(&occurred_at)
        .bind(&channel)
        .bind(&event_type)
        .bind(&content)
        .bind(&metadata)
        .bind(batch_id)
        .bind(&line)
        .fetch_all(tenant.conn())
        .await?;
        customers::lock(tenant, &touched).await?;
        sqlx::query(
            "update customers c set
                 interaction_count = c.interaction_count + n.count,
                 first_seen_at = least(c.first_seen_at, n.first_at),
                 last_seen_at = greatest(c.last_seen_at, n.last_at),
                 updated_at = now()
             from unnest($2::uuid[], $3::bigint[], $4::timestamptz[], $5::timestamptz[])
                 as n(customer_id, count, first_at, last_at)
             where c.org_id = $1 and c.id = n.customer_id",
        )
        .bind(org_id)
        .bind(added.iter().map(|a| a.0).collect::<Vec<_>>())
        .bind(added.iter().map(|a| a.1).collect::<Vec<_>>())
        .bind(added.iter().map(|a| a.2).collect::<Vec<_>>())
        .bind(added.iter().map(|a| a.3).collect::<Vec<_>>())
        .execute(tenant.conn())
        .await?;
    }

    customers::recompute(tenant, &recompute).await?;

    Ok(records
        .iter()
        .map(|record| {
            let (id, outcome) = outcome_of[record.external_id.as_str()];
            let chosen_here = latest[record.external_id.as_str()];
            Written {
                id,
                customer_id: customer_of[record.customer_external_id.as_str()],
                // A superseded duplicate within the batch changed nothing by itself.
                outcome: if std::ptr::eq(record, &records[chosen_here]) {
                    outcome
                } else {
                    Outcome::Unchanged
                },
            }
        })
        .collect())
}
