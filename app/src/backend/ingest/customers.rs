//! Customers as the write path sees them (SPEC ING-1, ING-8): made on first sight by external
//! id, and their aggregates recomputed exactly where an incremental update cannot be.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::records::Customer;
use uuid::Uuid;

use super::super::error::ApiError;
use super::super::tenant::TenantTx;

/// The id of every customer in `external_ids`, creating the missing ones (tagged `batch_id`).
pub async fn ensure<'a>(
    tenant: &mut TenantTx,
    external_ids: impl IntoIterator<Item = &'a str>,
    batch_id: Option<Uuid>,
) -> Result<HashMap<String, Uuid>, ApiError> {
    let org_id = tenant.org_id();
    let wanted: Vec<&str> = external_ids
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let found: Vec<(String, Uuid)> = sqlx::query_as(
        "with wanted as (select unnest($2::text[]) as external_id),
         made as (
             insert into customers (org_id, external_id, batch_id)
             select $1, external_id, $3 from wanted
             on conflict (org_id, external_id) do nothing
             returning external_id, id
         )
         select external_id, id from made
         union all
         select c.external_id, c.id from customers c join wanted w on w.external_id = c.external_id
         where c.org_id = $1",
    )
    .bind(org_id)
    .bind(&wanted)
    .bind(batch_id)
    .fetch_all(tenant.conn())
    .await?;
    let mut ids: HashMap<String, Uuid> = found.into_iter().collect();
    // A customer another transaction made after this statement's snapshot was taken is
    // neither made here nor visible to it: look again with a fresh snapshot.
    let missing: Vec<&str> = wanted.iter().copied().filter(|w| !ids.contains_key(*w)).collect();
    if !missing.is_empty() {
        let late: Vec<(String, Uuid)> = sqlx::query_as(
            "select external_id, id from customers where org_id = $1 and external_id = any($2)",
        )
        .bind(org_id)
        .bind(&missing)
        .fetch_all(tenant.conn())
        .await?;
        ids.extend(late);
    }
    Ok(ids)
}

/// Writes customers sent explicitly (SPEC ING-3): made when new, otherwise their profile
/// updated. A field left out or null keeps the value already stored (so a file with only some
/// columns never wipes the others), `metadata` is merged key by key, and the aggregates are
/// left alone: they follow the customer's interactions and orders. The last record of an
/// external id in the batch wins.
pub async fn write_profiles(
    tenant: &mut TenantTx,
    records: &[Customer],
    lineage: super::Lineage<'_>,
) -> Result<(), ApiError> {
    let org_id = tenant.org_id();
    let mut last: BTreeMap<&str, &Customer> = BTreeMap::new();
    for record in records {
        last.insert(record.external_id.as_str(), record);
    }
    // In external-id order, so batches sharing customers lock them in the same order.
    let external_id: Vec<&str> = last.keys().copied().collect();
    let email: Vec<Option<&str>> = last
        .values()
        .map(|c| c.email.as_ref().map(|e| e.as_str()))
        .collect();
    let name: Vec<Option<&str>> = last.values().map(|c| c.name.as_deref()).collect();
    let country: Vec<Option<&str>> = last
        .values()
        .map(|c| c.country.as_ref().map(|c| c.code()))
        .collect();
    let segment: Vec<Option<&str>> = last.values().map(|c| c.segment.as_deref()).collect();
    let metadata: Vec<serde_json::Value> = last
        .values()
        .map(|c| serde_json::Value::Object(c.metadata.clone()))
        .collect();
    sqlx::query(
        "insert into customers as c (org_id, external_id, email, name, country, segment, metadata, batch_id)
         select $1, * , $8 from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[])
         on conflict (org_id, external_id) do update set
             email = coalesce(excluded.email, c.email), name = coalesce(excluded.name, c.name),
             country = coalesce(excluded.country, c.country), segment = coalesce(excluded.segment, c.segment),
             metadata = c.metadata || excluded.metadata, batch_id = excluded.batch_id, updated_at = now()",
    )
    .bind(org_id)
    .bind(&external_id)
    .bind(&email)
    .bind(&name)
    .bind(&country)
    .bind(&segment)
    .bind(&metadata)
    .bind(lineage.batch_id)
    .execute(tenant.conn())
    .await?;
    Ok(())
}

/// Locks `customers`' rows in id order before their aggregates change, so two batches that
/// share customers wait for each other instead of deadlocking.
pub async fn lock(tenant: &mut TenantTx, customers: &[Uuid]) -> Result<(), ApiError> {
    if customers.is_empty() {
        return Ok(());
    }
    let org_id = tenant.org_id();
    sqlx::query("select 1 from customers where org_id = $1 and id = any($2) order by id for no key update")
        .bind(org_id)
        .bind(customers)
        .execute(tenant.conn())
        .await?;
    Ok(())
}

/// Recomputes every aggregate of `customers` from their interactions and orders. First and
/// last seen span both; order count and revenue leave out refunded and cancelled orders.
pub async fn recompute(tenant: &mut TenantTx, customers: &[Uuid]) -> Result<(), ApiError> {
    if customers.is_empty() {
        return Ok(());
    }
    lock(tenant, customers).await?;
    let org_id = tenant.org_id();
    sqlx::query(
        "update customers c set
             interaction_count = i.n,
             order_count = o.n,
             revenue = o.revenue,
             first_seen_at = least(i.first_at, o.first_at),
             last_seen_at = greatest(i.last_at, o.last_at),
             updated_at = now()
         from unnest($2::uuid[]) as t(id)
         cross join lateral (
             select count(*) as n, min(occurred_at) as first_at, max(occurred_at) as last_at
             from interactions where org_id = $1 and customer_id = t.id
         ) i
         cross join lateral (
             select count(*) filter (where status not in ('refunded', 'cancelled')) as n,
                    coalesce(sum(total) filter (where status not in ('refunded', 'cancelled')), 0) as revenue,
                    min(ordered_at) as first_at, max(ordered_at) as last_at
             from orders where org_id = $1 and customer_id = t.id
         ) o
         where c.org_id = $1 and c.id = t.id",
    )
    .bind(org_id)
    .bind(customers)
    .execute(tenant.conn())
    .await?;
    Ok(())
}
