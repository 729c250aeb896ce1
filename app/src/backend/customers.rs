//! Customers as merchants look them up (SPEC ING-8, UI-5): a searchable, paged list and one
//! customer's profile with their latest interactions and orders. Ids of other organizations
//! answer 404 and are audited as denied attempts (TEN-3).

use chrono::{DateTime, Utc};
use domain::Permission;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::analytics::reports::invalid;
use super::caller::Caller;
use super::cursor;
use super::error::ApiError;
use super::tenant::{OrgId, TenantTx};

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListQuery {
    /// Matches the start of the external id, email or name (case-insensitive).
    pub q: Option<String>,
    /// An RFM segment key of the last scoring run (e.g. `champions`, `at_risk`).
    pub segment: Option<String>,
    /// A churn-risk band: `low`, `medium` or `high`.
    pub churn: Option<String>,
    /// Customer lifetime value bounds (inclusive), in the organization's currency.
    pub clv_min: Option<String>,
    pub clv_max: Option<String>,
    /// Seen (an interaction or order) within this many days.
    pub seen_within_days: Option<String>,
    /// `newest` (default), `last_seen`, `revenue`, `clv` or `churn`; always highest first.
    pub sort: Option<String>,
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
    /// From the last scoring run, when the customer was scored.
    pub rfm_segment: Option<String>,
    pub churn_band: Option<String>,
    pub churn_probability: Option<f64>,
    pub clv: Option<f64>,
    /// The sort value, for the next page's cursor.
    #[serde(skip)]
    pub sort_key: String,
}
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct TimelineEntry {
    pub id: Uuid,
    pub external_id: String,
    pub occurred_at: DateTime<Utc>,
    pub channel: String,
    pub event_type: String,
    pub content: Option<String>,
    /// The text's sentiment label once scored (`negative`, `neutral`, `positive`).
    pub sentiment: Option<String>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ReviewEntry {
    pub id: Uuid,
    pub external_id: String,
    pub reviewed_at: DateTime<Utc>,
    pub sku: String,
    pub rating: i16,
    pub content: String,
    pub sentiment: Option<String>,
}

/// One week of a customer's scored texts: mean polarity (P+ − P−, −1 … 1) and how many.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct SentimentWeek {
    pub week: chrono::NaiveDate,
    pub polarity: f64,
    pub texts: i64,
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
    pub reviews: Vec<ReviewEntry>,
    /// Weekly sentiment over the last 26 weeks with texts.
    pub sentiment_trend: Vec<SentimentWeek>,
}

/// The list's columns: the customer with the last scoring run's view of them (`c`, `s`).
const COLUMNS: &str =
    "c.id, c.external_id, c.email, c.name, c.country, c.segment, c.first_seen_at, c.last_seen_at,
                       c.interaction_count, c.order_count, c.revenue, c.created_at, s.segment as rfm_segment,
                       s.churn_band, s.churn_probability, s.clv";

/// How a list is ordered: the SQL it sorts by (highest first, then id) and the type its cursor
/// value is read back as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Newest,
    LastSeen,
    Revenue,
    Clv,
    Churn,
}

impl Sort {
    pub const ALL: [Sort; 5] = [
        Sort::Newest,
        Sort::LastSeen,
        Sort::Revenue,
        Sort::Clv,
        Sort::Churn,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::LastSeen => "last_seen",
            Sort::Revenue => "revenue",
            Sort::Clv => "clv",
            Sort::Churn => "churn",
        }
    }

    /// The sort expression, never null (unscored or unseen customers sort last).
    fn expression(self) -> &'static str {
        match self {
            Sort::Newest => "c.created_at",
            Sort::LastSeen => "coalesce(c.last_seen_at, '-infinity'::timestamptz)",
            Sort::Revenue => "c.revenue",
            Sort::Clv => "coalesce(s.clv, -1)",
            Sort::Churn => "coalesce(s.churn_probability, -1)",
        }
    }

    fn sql_type(self) -> &'static str {
        match self {
            Sort::Newest | Sort::LastSeen => "timestamptz",
            Sort::Revenue => "numeric",
            Sort::Clv | Sort::Churn => "float8",
        }
    }
}

/// A checked list query: every filter typed, ready to run page after page.
#[derive(Clone, Debug)]
pub struct Filter {
    prefix: Option<String>,
    segment: Option<String>,
    churn: Option<String>,
    clv_min: Option<f64>,
    clv_max: Option<f64>,
    seen_within_days: Option<i32>,
    pub sort: Sort,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl Filter {
    /// Checks `query`: a 422 naming the field for an unknown segment, band or sort, a bound
    /// that is not a number (or a minimum above the maximum), or a day count outside 1..=3650.
    pub fn parse(query: &ListQuery) -> Result<Filter, ApiError> {
        // `%` and `_` typed by a person are literal characters, not patterns.
        let prefix = present(&query.q).map(|q| {
            format!(
                "{}%",
                q.to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )
        });
        let segment = present(&query.segment)
            .map(|key| {
                analytics::rfm::Segment::ALL
                    .iter()
                    .find(|s| s.key() == key)
                    .map(|s| s.key().to_owned())
                    .ok_or_else(|| invalid("segment", format!("\"{key}\" is not an RFM segment")))
            })
            .transpose()?;
        let churn = present(&query.churn)
            .map(|band| match band {
                "low" | "medium" | "high" => Ok(band.to_owned()),
                _ => Err(invalid("churn", "low, medium or high")),
            })
            .transpose()?;
        let amount = |field: &str, value: &Option<String>| {
            present(value)
                .map(|v| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite())
                        .ok_or_else(|| invalid(field, "must be a number"))
                })
                .transpose()
        };
        let clv_min = amount("clv_min", &query.clv_min)?;
        let clv_max = amount("clv_max", &query.clv_max)?;
        if let (Some(min), Some(max)) = (clv_min, clv_max) {
            if min > max {
                return Err(invalid("clv_min", "must not be above clv_max"));
            }
        }
        let seen_within_days = present(&query.seen_within_days)
            .map(|v| {
                v.parse::<i32>()
                    .ok()
                    .filter(|d| (1..=3650).contains(d))
                    .ok_or_else(|| invalid("seen_within_days", "a whole number of days from 1 to 3650"))
            })
            .transpose()?;
        let sort = match present(&query.sort) {
            None => Sort::Newest,
            Some(key) => Sort::ALL
                .into_iter()
                .find(|s| s.key() == key)
                .ok_or_else(|| invalid("sort", "newest, last_seen, revenue, clv or churn"))?,
        };
        Ok(Filter {
            prefix,
            segment,
            churn,
            clv_min,
            clv_max,
            seen_within_days,
            sort,
        })
    }
}

/// One page of `filter`'s customers after `after` (a sort value and id), at most `limit`.
pub async fn page(
    tenant: &mut TenantTx,
    filter: &Filter,
    after: Option<&(String, Uuid)>,
    limit: i64,
) -> Result<Vec<CustomerSummary>, sqlx::Error> {
    let sort = filter.sort.expression();
    let cast = filter.sort.sql_type();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS}, ({sort})::text as sort_key
         from customers c
         left join customer_scores s on s.org_id = c.org_id and s.customer_id = c.id
         where c.org_id = $1
           and ($2::text is null or lower(c.external_id) like $2 or lower(c.email) like $2 or lower(c.name) like $2)
           and ($3::text is null or s.segment = $3)
           and ($4::text is null or s.churn_band = $4)
           and ($5::float8 is null or s.clv >= $5)
           and ($6::float8 is null or s.clv <= $6)
           and ($7::int is null or c.last_seen_at >= now() - make_interval(days => $7))
           and ($8::text is null or ({sort}, c.id) < ($8::{cast}, $9))
         order by {sort} desc, c.id desc
         limit $10"
    )))
    .bind(tenant.org_id())
    .bind(&filter.prefix)
    .bind(&filter.segment)
    .bind(&filter.churn)
    .bind(filter.clv_min)
    .bind(filter.clv_max)
    .bind(filter.seen_within_days)
    .bind(after.map(|a| a.0.as_str()))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(tenant.conn())
    .await
}

/// Checks that `caller` may export customers and reads their filters; the export then reads
/// page after page, each in its own short transaction of the organization answered here.
pub async fn export_filter(caller: Caller, query: &ListQuery) -> Result<(OrgId, Filter), ApiError> {
    caller.require(Permission::ReadData, "customers.export").await?;
    let filter = Filter::parse(query)?;
    let org = caller.tenant.org_id();
    caller.tenant.commit().await?;
    Ok((org, filter))
}

/// The CSV header of an export, in the order of `csv_record`.
pub const CSV_HEADER: [&str; 16] = [
    "id",
    "external_id",
    "name",
    "email",
    "country",
    "segment",
    "rfm_segment",
    "churn_band",
    "churn_probability",
    "clv",
    "first_seen_at",
    "last_seen_at",
    "interaction_count",
    "order_count",
    "revenue",
    "created_at",
];

/// One customer as an export row.
pub fn csv_record(c: &CustomerSummary) -> [String; 16] {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let time = |t: &Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    let number = |n: Option<f64>| n.map(|n| n.to_string()).unwrap_or_default();
    [
        c.id.to_string(),
        c.external_id.clone(),
        text(&c.name),
        text(&c.email),
        text(&c.country),
        text(&c.segment),
        text(&c.rfm_segment),
        text(&c.churn_band),
        number(c.churn_probability),
        number(c.clv),
        time(&c.first_seen_at),
        time(&c.last_seen_at),
        c.interaction_count.to_string(),
        c.order_count.to_string(),
        c.revenue.to_string(),
        c.created_at.to_rfc3339(),
    ]
}

/// Highest first by the chosen sort, `limit` (≤ 100, default 50) per page.
pub async fn list(
    mut caller: Caller,
    query: &ListQuery,
) -> Result<(Vec<CustomerSummary>, Option<String>), ApiError> {
    caller.require(Permission::ReadData, "customers.list").await?;
    let limit = cursor::page_limit(query.limit)?;
    let filter = Filter::parse(query)?;
    let after = query
        .cursor
        .as_deref()
        .map(|c| cursor::decode_key(c).ok_or_else(|| invalid("cursor", "not a cursor from this list")))
        .transpose()?;
    let mut rows = page(&mut caller.tenant, &filter, after.as_ref(), limit + 1).await?;
    caller.tenant.commit().await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|c| cursor::encode_key(&c.sort_key, c.id))
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
        "select {COLUMNS}, '' as sort_key from customers c
         left join customer_scores s on s.org_id = c.org_id and s.customer_id = c.id
         where c.org_id = $1 and c.id = $2"
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
        "select i.id, i.external_id, i.occurred_at, i.channel, i.event_type, i.content, s.label as sentiment
         from interactions i
         left join text_scores s on s.org_id = i.org_id and s.subject = 'interaction' and s.subject_id = i.id
         where i.org_id = $1 and i.customer_id = $2 order by i.occurred_at desc limit 50",
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
    let reviews = sqlx::query_as(
        "select r.id, r.external_id, r.reviewed_at, r.sku, r.rating, r.content, s.label as sentiment
         from reviews r
         left join text_scores s on s.org_id = r.org_id and s.subject = 'review' and s.subject_id = r.id
         where r.org_id = $1 and r.customer_id = $2 order by r.reviewed_at desc limit 50",
    )
    .bind(org_id)
    .bind(id)
    .fetch_all(caller.tenant.conn())
    .await?;
    let sentiment_trend = sqlx::query_as(
        "select * from (
             select date_trunc('week', written_at at time zone 'UTC')::date as week,
                    avg(positive::float8 - negative::float8) as polarity, count(*) as texts
             from text_scores where org_id = $1 and customer_id = $2
             group by 1 order by 1 desc limit 26
         ) w order by week",
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
        reviews,
        sentiment_trend,
    })
}
