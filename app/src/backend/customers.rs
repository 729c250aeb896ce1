//! Customers as merchants look them up (SPEC ING-8, UI-5): a searchable, paged list and one
//! customer's profile with their latest interactions and orders. Ids of other organizations
//! answer 404 and are audited as denied attempts (TEN-3).

use chrono::{DateTime, Utc};
use domain::Permission;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::caller::Caller;
use super::cursor;
use super::error::ApiError;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Matches the start of the external id, email or name (case-insensitive).
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct CustomerSummary {
    pub id: Uuid,
    pub external_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub country: Option<String>,
    pub segment: Option<String>,
    pub first_seen_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub interaction_count: i64,
    pub order_count: i64,
    pub revenue: Decimal,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct TimelineEntry {
    pub id: Uuid,
    pub external_id: String,
    pub occurred_at: DateTime<Utc>,
    pub channel: String,
    pub event_type: String,
    pub content: Option<String>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct OrderSummary {
    pub id: Uuid,
    pub external_id: String,
    pub ordered_at: DateTime<Utc>,
    pub status: String,
    pub currency: String,
    pub total: Decimal,
}

/// One customer with their latest 50 interactions and orders.
#[derive(Debug, Serialize)]
pub struct CustomerProfile {
    #[serde(flatten)]
    pub customer: CustomerSummary,
    pub interactions: Vec<TimelineEntry>,
    pub orders: Vec<OrderSummary>,
}

const COLUMNS: &str = "id, external_id, email, name, country, segment, first_seen_at, last_seen_at,
                       interaction_count, order_count, revenue, created_at";

/// Newest customers first, `limit` (≤ 100, default 50) per page.
pub async fn list(
    mut caller: Caller,
    query: &ListQuery,
) -> Result<(Vec<CustomerSummary>, Option<String>), ApiError> {
    caller.require(Permission::ReadData, "customers.list").await?;
    let limit = cursor::page_limit(query.limit)?;
    let after = cursor::start::<Uuid>(query.cursor.as_deref())?;
    // `%` and `_` typed by a person are literal characters, not patterns.
    let prefix = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| {
            format!(
                "{}%",
                q.to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )
        });
    let org_id = caller.tenant.org_id();
    let mut rows: Vec<CustomerSummary> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from customers
         where org_id = $1
           and ($2::text is null or lower(external_id) like $2 or lower(email) like $2 or lower(name) like $2)
           and ($3::timestamptz is null or (created_at, id) < ($3, $4))
         order by created_at desc, id desc
         limit $5"
    )))
    .bind(org_id)
    .bind(prefix)
    .bind(after.map(|(at, _)| at))
    .bind(after.map(|(_, id)| id))
    .bind(limit + 1)
    .fetch_all(caller.tenant.conn())
    .await?;
    caller.tenant.commit().await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|c| cursor::encode(c.created_at, c.id))
    } else {
        None
    };
    Ok((rows, next))
}

/// One customer's profile; 404 (audited) when the id is not one of this organization's.
pub async fn profile(mut caller: Caller, id: Uuid) -> Result<CustomerProfile, ApiError> {
    caller.require(Permission::ReadData, "customers.read").await?;
    let org_id = caller.tenant.org_id();
    let customer: Option<CustomerSummary> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from customers where org_id = $1 and id = $2"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(caller.tenant.conn())
    .await?;
    let Some(customer) = customer else {
        caller.record_denied("customers.read", Some(id.to_string())).await;
        return Err(ApiError::NotFound);
    };
    let interactions = sqlx::query_as(
        "select id, external_id, occurred_at, channel, event_type, content from interactions
         where org_id = $1 and customer_id = $2 order by occurred_at desc limit 50",
    )
    .bind(org_id)
    .bind(id)
    .fetch_all(caller.tenant.conn())
    .await?;
    let orders = sqlx::query_as(
        "select id, external_id, ordered_at, status, currency::text, total from orders
         where org_id = $1 and customer_id = $2 order by ordered_at desc limit 50",
    )
    .bind(org_id)
    .bind(id)
    .fetch_all(caller.tenant.conn())
    .await?;
    caller.tenant.commit().await?;
    Ok(CustomerProfile {
        customer,
        interactions,
        orders,
    })
}
