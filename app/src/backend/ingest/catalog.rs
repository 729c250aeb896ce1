//! Products (SPEC ING-3, ING-7): one row per normalized SKU; made on first sight when an
//! order line, review or price observation names an unknown SKU (named by its SKU until the
//! product itself arrives), and updated in place when it is sent (the latest version wins).

use std::collections::{BTreeMap, HashMap};

use domain::records::{normalize_sku, Product};
use uuid::Uuid;

use super::super::error::ApiError;
use super::super::tenant::TenantTx;

/// The product id for every SKU in `skus` (keyed by the SKU as given), making missing ones.
pub async fn ensure_products<'a>(
    tenant: &mut TenantTx,
    skus: impl IntoIterator<Item = &'a str>,
    batch_id: Option<Uuid>,
) -> Result<HashMap<String, Uuid>, ApiError> {
    let org_id = tenant.org_id();
    // normalized → one spelling to name the product by, if it is new
    let mut wanted: BTreeMap<String, &str> = BTreeMap::new();
    let mut spellings: Vec<(&str, String)> = Vec::new();
    for sku in skus {
        let normalized = normalize_sku(sku);
        wanted.entry(normalized.clone()).or_insert(sku);
        spellings.push((sku, normalized));
    }
    let (normalized, given): (Vec<&str>, Vec<&str>) = wanted.iter().map(|(n, s)| (n.as_str(), *s)).unzip();
    sqlx::query(
        "insert into products (org_id, sku, normalized_sku, name, batch_id)
         select $1, sku, normalized, sku, $4 from unnest($2::text[], $3::text[]) as u(normalized, sku)
         on conflict (org_id, normalized_sku) do nothing",
    )
    .bind(org_id)
    .bind(&normalized)
    .bind(&given)
    .bind(batch_id)
    .execute(tenant.conn())
    .await?;
    // A fresh statement sees rows made by concurrent transactions too.
    let found: Vec<(String, Uuid)> = sqlx::query_as(
        "select normalized_sku, id from products where org_id = $1 and normalized_sku = any($2)",
    )
    .bind(org_id)
    .bind(&normalized)
    .fetch_all(tenant.conn())
    .await?;
    let by_normalized: HashMap<String, Uuid> = found.into_iter().collect();
    Ok(spellings
        .into_iter()
        .filter_map(|(sku, normalized)| by_normalized.get(&normalized).map(|id| (sku.to_owned(), *id)))
        .collect())
}

/// Writes products; a SKU sent twice in one batch keeps its last version.
pub async fn write_products(
    tenant: &mut TenantTx,
    records: &[Product],
    lineage: super::Lineage<'_>,
) -> Result<(), ApiError> {
    let batch_id = lineage.batch_id;
    let org_id = tenant.org_id();
    let mut last: BTreeMap<String, &Product> = BTreeMap::new();
    for record in records {
        last.insert(normalize_sku(&record.sku), record);
    }
    let rows: Vec<(&String, &&Product)> = last.iter().collect();
    let normalized: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    let sku: Vec<&str> = rows.iter().map(|(_, p)| p.sku.as_str()).collect();
    let name: Vec<&str> = rows.iter().map(|(_, p)| p.name.as_str()).collect();
    let category: Vec<Option<&str>> = rows.iter().map(|(_, p)| p.category.as_deref()).collect();
    let cost: Vec<Option<rust_decimal::Decimal>> = rows.iter().map(|(_, p)| p.cost).collect();
    let price: Vec<Option<rust_decimal::Decimal>> = rows.iter().map(|(_, p)| p.price).collect();
    let currency: Vec<Option<&str>> = rows.iter().map(|(_, p)| p.currency.map(|c| c.code())).collect();
    let marketplace: Vec<Option<&str>> = rows.iter().map(|(_, p)| p.marketplace.as_deref()).collect();
    sqlx::query(
        "insert into products (org_id, normalized_sku, sku, name, category, cost, price, currency, marketplace, batch_id)
         select $1, * , $10 from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::numeric[],
                                        $8::text[], $9::text[])
         on conflict (org_id, normalized_sku) do update set
             sku = excluded.sku, name = excluded.name, category = excluded.category, cost = excluded.cost,
             price = excluded.price, currency = excluded.currency, marketplace = excluded.marketplace,
             batch_id = excluded.batch_id, updated_at = now()",
    )
    .bind(org_id)
    .bind(&normalized)
    .bind(&sku)
    .bind(&name)
    .bind(&category)
    .bind(&cost)
    .bind(&price)
    .bind(&currency)
    .bind(&marketplace)
    .bind(batch_id)
    .execute(tenant.conn())
    .await?;
    Ok(())
}
