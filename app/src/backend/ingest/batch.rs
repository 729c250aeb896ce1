//! Batches of records (SPEC ING-4, ING-5): parse every record, then either write all or
//! nothing (`atomic`, the default) or write the valid ones and report the rest (`partial`).
//! One transaction per batch, recorded in `import_batches` for lineage.

use chrono::{DateTime, Utc};
use domain::records::{
    CompetitorPrice, Customer, FieldIssue, Interaction, InventoryLevel, Order, Product, Review,
};
use domain::Permission;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::super::caller::Caller;
use super::super::error::{ApiError, FieldError};
use super::super::quota;
use super::super::state::AppState;
use super::super::tenant::TenantTx;
use super::idempotency;
use super::interactions::{self, Outcome, Written};
use super::{catalog, customers, feedback, orders, Lineage};
use sqlx::PgPool;

/// Records one batch may hold.
pub const MAX_RECORDS: usize = 1_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Everything or nothing.
    #[default]
    Atomic,
    /// The valid records; the rest are reported.
    Partial,
}

/// What a batch did: how many records were accepted, and why the others were not.
#[derive(Debug, Serialize)]
pub struct BatchResult {
    pub accepted: usize,
    pub rejected: Vec<FieldError>,
    /// The batch these rows trace back to.
    pub batch_id: Uuid,
    /// Set once the organization has used 80 % of its monthly events.
    pub quota_warning: Option<String>,
}

/// A kind of record a batch can carry: how it parses and how it is written.
pub trait Kind: Sized + Send + Sync {
    /// Its name in `import_batches.entity`.
    const ENTITY: &'static str;

    /// Whether its records count against the monthly event quota (SPEC TEN-4): things that
    /// happen (interactions, orders, reviews), not catalog or stock updates.
    const COUNTS_AS_EVENTS: bool = false;

    fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>>;

    /// Work outside the tenant's transaction, before it writes anything (making partitions:
    /// their DDL must not wait on locks this request's own transaction holds).
    fn prepare(
        db: &PgPool,
        records: &[Self],
    ) -> impl std::future::Future<Output = Result<(), ApiError>> + Send {
        let _ = (db, records);
        async { Ok(()) }
    }

    /// Writes parsed records in the tenant's transaction.
    fn write(
        tenant: &mut TenantTx,
        records: &[Self],
        lineage: Lineage<'_>,
    ) -> impl std::future::Future<Output = Result<(), ApiError>> + Send;
}

impl Kind for Interaction {
    const ENTITY: &'static str = "interactions";
    const COUNTS_AS_EVENTS: bool = true;

    fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>> {
        Interaction::parse(record, now)
    }

    async fn prepare(db: &PgPool, records: &[Self]) -> Result<(), ApiError> {
        let times: Vec<DateTime<Utc>> = records.iter().map(|r| r.occurred_at).collect();
        interactions::prepare_months(db, times).await
    }

    async fn write(tenant: &mut TenantTx, records: &[Self], lineage: Lineage<'_>) -> Result<(), ApiError> {
        interactions::write(tenant, records, lineage).await.map(drop)
    }
}

impl Kind for Order {
    const ENTITY: &'static str = "orders";
    const COUNTS_AS_EVENTS: bool = true;

    fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>> {
        Order::parse(record, now)
    }

    async fn write(tenant: &mut TenantTx, records: &[Self], lineage: Lineage<'_>) -> Result<(), ApiError> {
        orders::write(tenant, records, lineage).await
    }
}

impl Kind for Product {
    const ENTITY: &'static str = "products";

    fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>> {
        Product::parse(record, now)
    }

    async fn write(tenant: &mut TenantTx, records: &[Self], lineage: Lineage<'_>) -> Result<(), ApiError> {
        catalog::write_products(tenant, records, lineage).await
    }
}

impl Kind for Review {
    const ENTITY: &'static str = "reviews";
    const COUNTS_AS_EVENTS: bool = true;

    fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>> {
        Review::parse(record, now)
    }

    async fn write(tenant: &mut TenantTx, records: &[Self], lineage: Lineage<'_>) -> Result<(), ApiError> {
        feedback::write_reviews(tenant, records, lineage).await
    }
}

impl Kind for CompetitorPrice {
    const ENTITY: &'static str = "competitor_prices";

    fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>> {
        CompetitorPrice::parse(record, now)
    }

    async fn write(tenant: &mut TenantTx, records: &[Self], lineage: Lineage<'_>) -> Result<(), ApiError> {
        feedback::write_competitor_prices(tenant, records, lineage).await
    }
}

impl Kind for InventoryLevel {
    const ENTITY: &'static str = "inventory";

    fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>> {
        InventoryLevel::parse(record, now)
    }

    async fn write(tenant: &mut TenantTx, records: &[Self], lineage: Lineage<'_>) -> Result<(), ApiError> {
        feedback::write_inventory(tenant, records, lineage).await
    }
}

impl Kind for Customer {
    const ENTITY: &'static str = "customers";

    fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>> {
        Customer::parse(record, now)
    }

    async fn write(tenant: &mut TenantTx, records: &[Self], lineage: Lineage<'_>) -> Result<(), ApiError> {
        customers::write_profiles(tenant, records, lineage).await
    }
}

/// Parses and writes a batch of `K` records for the caller (who needs `ingest`).
pub async fn ingest<K: Kind>(
    state: &AppState,
    mut caller: Caller,
    records: &[Value],
    mode: Mode,
) -> Result<BatchResult, ApiError> {
    let action = format!("{}.ingested", K::ENTITY);
    caller.require(Permission::Ingest, &action).await?;
    if records.len() > MAX_RECORDS {
        return Err(ApiError::Validation(vec![FieldError::new(
            "records",
            "too_long",
            format!(
                "at most {MAX_RECORDS} records per batch; send more in several batches or as a CSV import"
            ),
        )]));
    }
    let now = Utc::now();
    let mut valid = Vec::with_capacity(records.len());
    let mut rejected = Vec::new();
    for (index, record) in records.iter().enumerate() {
        match K::parse(record, now) {
            Ok(parsed) => valid.push(parsed),
            Err(issues) => rejected.extend(issues.into_iter().map(|i| FieldError::of_record(Some(index), i))),
        }
    }
    if mode == Mode::Atomic && !rejected.is_empty() {
        return Err(ApiError::Validation(rejected));
    }
    let rejected_records = rejected
        .iter()
        .filter_map(|e| e.index)
        .collect::<std::collections::BTreeSet<_>>()
        .len();

    let events = if K::COUNTS_AS_EVENTS {
        valid.len() as i64
    } else {
        0
    };
    let usage = quota::check(&mut caller.tenant, events).await?;
    K::prepare(&state.db, &valid).await?;
    let org_id = caller.tenant.org_id();
    let batch_id: Uuid = sqlx::query_scalar(
        "insert into import_batches
             (org_id, source, entity, status, rows_total, rows_done, rows_accepted, rows_rejected,
              created_by, created_by_api_key, finished_at)
         values ($1, 'rest', $2, 'succeeded', $3, $3, $4, $5, $6, $7, now())
         returning id",
    )
    .bind(org_id)
    .bind(K::ENTITY)
    .bind(records.len() as i64)
    .bind(valid.len() as i64)
    .bind(rejected_records as i64)
    .bind(caller.user_id())
    .bind(caller.api_key_id())
    .fetch_one(caller.tenant.conn())
    .await?;
    K::write(&mut caller.tenant, &valid, Lineage::batch(batch_id)).await?;
    quota::record(&mut caller.tenant, events).await?;
    caller.tenant.commit().await?;
    Ok(BatchResult {
        accepted: valid.len(),
        rejected,
        batch_id,
        quota_warning: usage.after(events).warning(),
    })
}

/// What storing one interaction answered, and whether the quota is nearly used up.
#[derive(Debug)]
pub struct SingleResult {
    pub written: Written,
    pub quota_warning: Option<String>,
}

/// Parses and writes one interaction; answers where it is stored and whether it is new.
/// With an `idempotency_key`, a repeat of the same request answers the first answer, and a
/// different request with a used key is refused (409).
pub async fn ingest_interaction(
    state: &AppState,
    mut caller: Caller,
    record: &Value,
    idempotency_key: Option<&str>,
) -> Result<SingleResult, ApiError> {
    caller
        .require(Permission::Ingest, "interactions.ingested")
        .await?;
    let parsed = Interaction::parse(record, Utc::now()).map_err(FieldError::invalid_record)?;
    let usage = quota::check(&mut caller.tenant, 1).await?;
    if let Some(key) = idempotency_key {
        if let Some(earlier) = idempotency::claim(&mut caller.tenant, key, record).await? {
            return Ok(SingleResult {
                written: earlier,
                quota_warning: usage.warning(),
            });
        }
    }
    interactions::prepare_months(&state.db, [parsed.occurred_at]).await?;
    let written = interactions::write(
        &mut caller.tenant,
        std::slice::from_ref(&parsed),
        Lineage::default(),
    )
    .await?[0];
    let events = i64::from(written.outcome == Outcome::Created);
    quota::record(&mut caller.tenant, events).await?;
    if let Some(key) = idempotency_key {
        idempotency::remember(&mut caller.tenant, key, &written).await?;
    }
    caller.tenant.commit().await?;
    Ok(SingleResult {
        written,
        quota_warning: usage.after(events).warning(),
    })
}

impl Written {
    /// Whether the request stored something (201) or found it already there (200).
    pub fn stored_something(&self) -> bool {
        self.outcome != Outcome::Unchanged
    }
}
