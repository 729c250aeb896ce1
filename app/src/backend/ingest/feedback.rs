//! Reviews, competitor prices and inventory levels (SPEC ING-3, ING-7, ING-9): products (and
//! reviewers) on first sight; one review per external id with the latest `reviewed_at`
//! winning, spam flagged rather than dropped, and texts queued for scoring; one price
//! observation per competitor, SKU and moment; one stock level per SKU and moment.

use std::collections::BTreeMap;

use domain::records::{CompetitorPrice, InventoryLevel, Review};
use uuid::Uuid;

use super::super::error::ApiError;
use super::super::tenant::TenantTx;
use super::{catalog, customers};

pub async fn write_reviews(
    tenant: &mut TenantTx,
    records: &[Review],
    lineage: super::Lineage<'_>,
) -> Result<(), ApiError> {
    let batch_id = lineage.batch_id;
    let org_id = tenant.org_id();
    let mut latest: BTreeMap<&str, (usize, &Review)> = BTreeMap::new();
    for (index, record) in records.iter().enumerate() {
        let entry = latest
            .entry(record.external_id.as_str())
            .or_insert((index, record));
        if record.reviewed_at >= entry.1.reviewed_at {
            *entry = (index, record);
        }
    }
    let chosen: Vec<(usize, &Review)> = latest.into_values().collect();
    let skus: Vec<&str> = chosen.iter().map(|(_, r)| r.sku.as_str()).collect();
    let product_of = catalog::ensure_products(tenant, skus, batch_id).await?;
    let reviewers: Vec<&str> = chosen
        .iter()
        .filter_map(|(_, r)| r.customer_external_id.as_deref())
        .collect();
    let customer_of = customers::ensure(tenant, reviewers, batch_id).await?;

    let external: Vec<&str> = chosen.iter().map(|(_, r)| r.external_id.as_str()).collect();
    let product: Vec<Option<Uuid>> = chosen
        .iter()
        .map(|(_, r)| product_of.get(&r.sku).copied())
        .collect();
    let sku: Vec<&str> = chosen.iter().map(|(_, r)| r.sku.as_str()).collect();
    let customer: Vec<Option<Uuid>> = chosen
        .iter()
        .map(|(_, r)| {
            r.customer_external_id
                .as_deref()
                .and_then(|c| customer_of.get(c).copied())
        })
        .collect();
    let rating: Vec<i16> = chosen.iter().map(|(_, r)| r.rating as i16).collect();
    let content: Vec<&str> = chosen.iter().map(|(_, r)| r.content.as_str()).collect();
    let reviewed_at: Vec<_> = chosen.iter().map(|(_, r)| r.reviewed_at).collect();
    let marketplace: Vec<Option<&str>> = chosen.iter().map(|(_, r)| r.marketplace.as_deref()).collect();
    let spam: Vec<Option<&str>> = chosen.iter().map(|(_, r)| r.spam_reason()).collect();
    let line: Vec<i64> = chosen.iter().map(|(i, _)| lineage.line(*i)).collect();
    sqlx::query(
        "with written as (
             insert into reviews (org_id, external_id, product_id, sku, customer_id, rating, content, reviewed_at,
                                  marketplace, spam_reason, batch_id, source_line)
             select $1, u.external_id, u.product_id, u.sku, u.customer_id, u.rating, u.content, u.reviewed_at,
                    u.marketplace, u.spam, $12, u.line
             from unnest($2::text[], $3::uuid[], $4::text[], $5::uuid[], $6::smallint[], $7::text[],
                         $8::timestamptz[], $9::text[], $10::text[], $11::bigint[])
                 as u(external_id, product_id, sku, customer_id, rating, content, reviewed_at, marketplace, spam, line)
             on conflict (org_id, external_id) do update set
                 product_id = excluded.product_id, sku = excluded.sku, customer_id = excluded.customer_id,
                 rating = excluded.rating, content = excluded.content, reviewed_at = excluded.reviewed_at,
                 marketplace = excluded.marketplace, spam_reason = excluded.spam_reason,
                 batch_id = excluded.batch_id, source_line = excluded.source_line, updated_at = now()
             where excluded.reviewed_at >= reviews.reviewed_at
               and (excluded.content, excluded.rating) is distinct from (reviews.content, reviews.rating)
             returning id
         )
         insert into scoring_queue (org_id, subject, subject_id)
         select $1, 'review', id from written",
    )
    .bind(org_id)
    .bind(&external)
    .bind(&product)
    .bind(&sku)
    .bind(&customer)
    .bind(&rating)
    .bind(&content)
    .bind(&reviewed_at)
    .bind(&marketplace)
    .bind(&spam)
    .bind(&line)
    .bind(batch_id)
    .execute(tenant.conn())
    .await?;
    Ok(())
}

pub async fn write_competitor_prices(
    tenant: &mut TenantTx,
    records: &[CompetitorPrice],
    lineage: super::Lineage<'_>,
) -> Result<(), ApiError> {
    let batch_id = lineage.batch_id;
    let org_id = tenant.org_id();
    let skus: Vec<&str> = records.iter().filter_map(|r| r.sku.as_deref()).collect();
    let product_of = catalog::ensure_products(tenant, skus, batch_id).await?;
    let product: Vec<Option<Uuid>> = records
        .iter()
        .map(|r| r.sku.as_deref().and_then(|s| product_of.get(s).copied()))
        .collect();
    let sku: Vec<Option<&str>> = records.iter().map(|r| r.sku.as_deref()).collect();
    let competitor_sku: Vec<Option<&str>> = records.iter().map(|r| r.competitor_sku.as_deref()).collect();
    let competitor: Vec<&str> = records.iter().map(|r| r.competitor.as_str()).collect();
    let price: Vec<rust_decimal::Decimal> = records.iter().map(|r| r.price).collect();
    let currency: Vec<&str> = records.iter().map(|r| r.currency.code()).collect();
    let promotion: Vec<Option<&str>> = records.iter().map(|r| r.promotion.as_deref()).collect();
    let observed_at: Vec<_> = records.iter().map(|r| r.observed_at).collect();
    sqlx::query(
        "insert into competitor_prices (org_id, product_id, sku, competitor_sku, competitor, price, currency,
                                        promotion, observed_at, batch_id)
         select $1, *, $10 from unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::text[],
                                       $8::text[], $9::timestamptz[])
         on conflict (org_id, competitor, sku, competitor_sku, observed_at) do nothing",
    )
    .bind(org_id)
    .bind(&product)
    .bind(&sku)
    .bind(&competitor_sku)
    .bind(&competitor)
    .bind(&price)
    .bind(&currency)
    .bind(&promotion)
    .bind(&observed_at)
    .bind(batch_id)
    .execute(tenant.conn())
    .await?;
    Ok(())
}

pub async fn write_inventory(
    tenant: &mut TenantTx,
    records: &[InventoryLevel],
    lineage: super::Lineage<'_>,
) -> Result<(), ApiError> {
    let batch_id = lineage.batch_id;
    let org_id = tenant.org_id();
    // One level per SKU and moment: the last one sent wins.
    let mut last: BTreeMap<(&str, chrono::DateTime<chrono::Utc>), &InventoryLevel> = BTreeMap::new();
    for record in records {
        last.insert((record.sku.as_str(), record.observed_at), record);
    }
    let skus: Vec<&str> = last.keys().map(|(sku, _)| *sku).collect();
    let product_of = catalog::ensure_products(tenant, skus, batch_id).await?;
    let levels: Vec<&InventoryLevel> = last.into_values().collect();
    let product: Vec<Option<Uuid>> = levels.iter().map(|l| product_of.get(&l.sku).copied()).collect();
    let sku: Vec<&str> = levels.iter().map(|l| l.sku.as_str()).collect();
    let observed_at: Vec<_> = levels.iter().map(|l| l.observed_at).collect();
    let on_hand: Vec<i32> = levels.iter().map(|l| l.on_hand as i32).collect();
    sqlx::query(
        "insert into inventory_levels (org_id, product_id, sku, observed_at, on_hand, batch_id)
         select $1, *, $6 from unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::int[])
         on conflict (org_id, sku, observed_at) do update set
             on_hand = excluded.on_hand, product_id = excluded.product_id, batch_id = excluded.batch_id",
    )
    .bind(org_id)
    .bind(&product)
    .bind(&sku)
    .bind(&observed_at)
    .bind(&on_hand)
    .bind(batch_id)
    .execute(tenant.conn())
    .await?;
    Ok(())
}
