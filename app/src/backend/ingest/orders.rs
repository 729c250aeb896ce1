//! Writing orders and their lines (SPEC ING-2, ING-6, ING-8): customers and products made on
//! first sight, one row per external id (a resend with the same or a later `ordered_at`
//! replaces it, so status changes such as a refund apply), the lines replaced with the order,
//! and the order aggregates of every customer involved recomputed in the same transaction.

use std::collections::BTreeMap;

use domain::records::{Order, OrderStatus};
use uuid::Uuid;

use super::super::error::ApiError;
use super::super::tenant::TenantTx;
use super::{catalog, customers};

/// Writes `records` with their `lineage`; an external id sent twice keeps its latest version.
pub async fn write(
    tenant: &mut TenantTx,
    records: &[Order],
    lineage: super::Lineage<'_>,
) -> Result<(), ApiError> {
    let batch_id = lineage.batch_id;
    let org_id = tenant.org_id();
    let mut latest: BTreeMap<&str, (usize, &Order)> = BTreeMap::new();
    for (index, record) in records.iter().enumerate() {
        let entry = latest
            .entry(record.external_id.as_str())
            .or_insert((index, record));
        if record.ordered_at >= entry.1.ordered_at {
            *entry = (index, record);
        }
    }
    let chosen: Vec<(usize, &Order)> = latest.into_values().collect();
    let names: Vec<&str> = records.iter().map(|r| r.customer_external_id.as_str()).collect();
    let customer_of = customers::ensure(tenant, names, batch_id).await?;
    let skus: Vec<&str> = chosen
        .iter()
        .flat_map(|(_, o)| &o.lines)
        .map(|l| l.sku.as_str())
        .collect();
    let product_of = catalog::ensure_products(tenant, skus, batch_id).await?;

    let external: Vec<&str> = chosen.iter().map(|(_, o)| o.external_id.as_str()).collect();
    // Customers of the versions about to be replaced: their aggregates are recomputed (a
    // replaced order may move revenue, status or even customer); brand-new orders only add.
    let mut recompute: Vec<Uuid> =
        sqlx::query_scalar("select customer_id from orders where org_id = $1 and external_id = any($2)")
            .bind(org_id)
            .bind(&external)
            .fetch_all(tenant.conn())
            .await?;
    let customer: Vec<Uuid> = chosen
        .iter()
        .map(|(_, o)| customer_of[o.customer_external_id.as_str()])
        .collect();
    let ordered_at: Vec<_> = chosen.iter().map(|(_, o)| o.ordered_at).collect();
    let status: Vec<&str> = chosen.iter().map(|(_, o)| o.status.as_str()).collect();
    let currency: Vec<&str> = chosen.iter().map(|(_, o)| o.currency.code()).collect();
    let total: Vec<rust_decimal::Decimal> = chosen.iter().map(|(_, o)| o.total).collect();
    let payment: Vec<Option<&str>> = chosen.iter().map(|(_, o)| o.payment_method.as_deref()).collect();
    let country: Vec<Option<&str>> = chosen
        .iter()
        .map(|(_, o)| o.country.as_ref().map(|c| c.code()))
        .collect();
    let region: Vec<Option<&str>> = chosen.iter().map(|(_, o)| o.region.as_deref()).collect();
    let channel: Vec<Option<&str>> = chosen
        .iter()
        .map(|(_, o)| o.channel.map(|c| c.as_str()))
        .collect();
    let line: Vec<i64> = chosen.iter().map(|(i, _)| lineage.line(*i)).collect();
    // Rows written now (new, or replacing an older or equal version); older resends skip.
    // `xmax = 0` tells a row inserted now from one updated.
    let written: Vec<(Uuid, String, bool)> = sqlx::query_as(
        "insert into orders (org_id, external_id, customer_id, ordered_at, status, currency, total, payment_method,
                             country, region, channel, batch_id, source_line)
         select $1, u.external_id, u.customer_id, u.ordered_at, u.status, u.currency, u.total, u.payment_method,
                u.country, u.region, u.channel, $13, u.line
         from unnest($2::text[], $3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::numeric[], $8::text[],
                     $9::text[], $10::text[], $11::text[], $12::bigint[])
             as u(external_id, customer_id, ordered_at, status, currency, total, payment_method, country, region,
                  channel, line)
         on conflict (org_id, external_id) do update set
             customer_id = excluded.customer_id, ordered_at = excluded.ordered_at, status = excluded.status,
             currency = excluded.currency, total = excluded.total, payment_method = excluded.payment_method,
             country = excluded.country, region = excluded.region, channel = excluded.channel,
             batch_id = excluded.batch_id, source_line = excluded.source_line, updated_at = now()
         where excluded.ordered_at >= orders.ordered_at
         returning id, external_id, (xmax = 0) as inserted",
    )
    .bind(org_id)
    .bind(&external)
    .bind(&customer)
    .bind(&ordered_at)
    .bind(&status)
    .bind(&currency)
    .bind(&total)
    .bind(&payment)
    .bind(&country)
    .bind(&region)
    .bind(&channel)
    .bind(&line)
    .bind(batch_id)
    .fetch_all(tenant.conn())
    .await?;

    if written.is_empty() {
        return Ok(());
    }
    let replaced: Vec<Uuid> = written.iter().filter(|w| !w.2).map(|w| w.0).collect();
    if !replaced.is_empty() {
        sqlx::query("delete from order_lines where org_id = $1 and order_id = any($2)")
            .bind(org_id)
            .bind(&replaced)
            .execute(tenant.conn())
            .await?;
    }
    let by_external: BTreeMap<&str, &Order> =
        chosen.iter().map(|(_, o)| (o.external_id.as_str(), *o)).collect();
    let (mut order_id, mut line_no, mut product, mut sku, mut quantity, mut unit_price) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for (id, external_id, _) in &written {
        for (n, l) in by_external[external_id.as_str()].lines.iter().enumerate() {
            order_id.push(*id);
            line_no.push(n as i32 + 1);
            product.push(product_of.get(&l.sku).copied());
            sku.push(l.sku.as_str());
            quantity.push(l.quantity as i32);
            unit_price.push(l.unit_price);
        }
    }
    sqlx::query(
        "insert into order_lines (org_id, order_id, line_no, product_id, sku, quantity, unit_price)
         select $1, * from unnest($2::uuid[], $3::int[], $4::uuid[], $5::text[], $6::int[], $7::numeric[])",
    )
    .bind(org_id)
    .bind(&order_id)
    .bind(&line_no)
    .bind(&product)
    .bind(&sku)
    .bind(&quantity)
    .bind(&unit_price)
    .execute(tenant.conn())
    .await?;

    // Replaced orders: their old and new customers are recomputed from scratch.
    for (_, external_id, inserted) in &written {
        if !inserted {
            recompute.push(customer_of[by_external[external_id.as_str()].customer_external_id.as_str()]);
        }
    }
    recompute.sort_unstable();
    recompute.dedup();
    // New orders of every other customer add to their aggregates.
    let mut added: BTreeMap<Uuid, Added> = BTreeMap::new();
    for (_, external_id, inserted) in &written {
        let order = by_external[external_id.as_str()];
        let customer_id = customer_of[order.customer_external_id.as_str()];
        if !inserted || recompute.binary_search(&customer_id).is_ok() {
            continue;
        }
        added.entry(customer_id).or_default().add(order);
    }
    let mut touched: Vec<Uuid> = added.keys().copied().chain(recompute.iter().copied()).collect();
    touched.sort_unstable();
    customers::lock(tenant, &touched).await?;
    if !added.is_empty() {
        sqlx::query(
            "update customers c set
                 order_count = c.order_count + n.orders,
                 revenue = c.revenue + n.revenue,
                 first_seen_at = least(c.first_seen_at, n.first_at),
                 last_seen_at = greatest(c.last_seen_at, n.last_at),
                 updated_at = now()
             from unnest($2::uuid[], $3::bigint[], $4::numeric[], $5::timestamptz[], $6::timestamptz[])
                 as n(customer_id, orders, revenue, first_at, last_at)
             where c.org_id = $1 and c.id = n.customer_id",
        )
        .bind(org_id)
        .bind(added.keys().copied().collect::<Vec<_>>())
        .bind(added.values().map(|a| a.orders).collect::<Vec<_>>())
        .bind(added.values().map(|a| a.revenue).collect::<Vec<_>>())
        .bind(added.values().map(|a| a.first_at).collect::<Vec<_>>())
        .bind(added.values().map(|a| a.last_at).collect::<Vec<_>>())
        .execute(tenant.conn())
        .await?;
    }
    customers::recompute(tenant, &recompute).await
}

/// What a customer's new orders add to their aggregates: refunded and cancelled orders count
/// as activity (first and last seen) but not as orders or revenue, as in `recompute`.
#[derive(Debug)]
struct Added {
    orders: i64,
    revenue: rust_decimal::Decimal,
    first_at: chrono::DateTime<chrono::Utc>,
    last_at: chrono::DateTime<chrono::Utc>,
}

impl Default for Added {
    fn default() -> Self {
        Added {
            orders: 0,
            revenue: rust_decimal::Decimal::ZERO,
            first_at: chrono::DateTime::<chrono::Utc>::MAX_UTC,
            last_at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        }
    }
}

impl Added {
    fn add(&mut self, order: &Order) {
        if !matches!(order.status, OrderStatus::Refunded | OrderStatus::Cancelled) {
            self.orders += 1;
            self.revenue += order.total;
        }
        self.first_at = self.first_at.min(order.ordered_at);
        self.last_at = self.last_at.max(order.ordered_at);
    }
}
