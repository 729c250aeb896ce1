//! What the analytics endpoints answer (SPEC ANA-2..6): stored scores (a customer's, the RFM
//! segments, basket rules, product forecasts) and reports computed on request over a chosen
//! range (cohorts, funnels, revenue). Every answer is `{"status": "ready", "result": …}` or
//! `{"status": "insufficient_data", "result": {needed, have, hint}}` — a 200 either way; bad
//! parameters are a 422 naming the field, other organizations' ids a 404.

use analytics::cohorts::{retention, Cohorts};
use analytics::funnel::{funnel as funnel_of, Funnel};
use analytics::patterns::{self, Patterns, Touch};
use analytics::revenue::{revenue as revenue_of, Line, Revenue};
use analytics::rfm::Segment;
use analytics::{Analysis, Interval, Period};
use chrono::{DateTime, NaiveDate, Utc};
use domain::Permission;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::scoring::{self, midnight, SALE};
use crate::backend::caller::Caller;
use crate::backend::error::{ApiError, FieldError};

/// Said when nothing has been computed for the organization yet.
fn not_computed<T>() -> Analysis<T> {
    Analysis::insufficient(
        "a scoring run",
        0,
        "scores are computed after each import and daily; import orders, or ask for a run with POST /api/v1/analytics/refresh",
    )
}

/// When the last scoring run was and what produced it — or, when it could not compute the
/// results of `kinds` (checked in order), its insufficient-data answer; or "not computed"
/// when no run has finished yet (a run stores one row per kind, at most four).
async fn last_run<T>(
    caller: &mut Caller,
    kinds: &[&str],
) -> Result<Result<(DateTime<Utc>, String), Analysis<T>>, ApiError> {
    let stored: Vec<(String, DateTime<Utc>, String, Value)> = sqlx::query_as(
        "select kind, computed_at, model_version, result from analytics_results where org_id = $1",
    )
    .bind(caller.tenant.org_id())
    .fetch_all(caller.tenant.conn())
    .await?;
    for kind in kinds {
        if let Some(why) = stored
            .iter()
            .find(|s| s.0 == *kind)
            .and_then(|s| insufficient_in(&s.3))
        {
            return Ok(Err(why));
        }
    }
    Ok(stored
        .into_iter()
        .next()
        .map(|(_, at, version, _)| (at, version))
        .ok_or_else(not_computed))
}

/// Reads an `{"status": "insufficient_data", "result": {…}}` value back.
fn insufficient_in<T>(value: &Value) -> Option<Analysis<T>> {
    (value["status"] == "insufficient_data").then(|| {
        let why = &value["result"];
        Analysis::insufficient(
            why["needed"].as_str().unwrap_or_default(),
            why["have"].as_u64().unwrap_or(0) as usize,
            why["hint"].as_str().unwrap_or_default(),
        )
    })
}

// ------------------------------------------------------------------ customer scores

/// A customer's RFM position.
#[derive(Debug, Serialize)]
pub struct RfmPosition {
    pub recency_days: i32,
    pub frequency: i32,
    pub monetary: f64,
    pub r: i16,
    pub f: i16,
    pub m: i16,
    pub segment: String,
    pub segment_label: String,
    /// The segment at the run before, when there was one.
    pub previous_segment: Option<String>,
}

/// Churn risk and what drives it.
#[derive(Debug, Serialize)]
pub struct ChurnRisk {
    pub probability: f64,
    pub band: String,
    /// `model` (trained on this organization's history) or `p_alive` (1 − P(alive)).
    pub method: String,
    pub reasons: Value,
}

/// Everything scored about one customer.
#[derive(Debug, Serialize)]
pub struct CustomerScores {
    pub customer_id: Uuid,
    pub computed_at: DateTime<Utc>,
    pub model_version: String,
    pub rfm: RfmPosition,
    pub p_alive: f64,
    pub horizon_days: i32,
    pub expected_purchases: Interval,
    /// Discounted value over the horizon; absent when spend cannot be modelled yet.
    pub clv: Option<Interval>,
    pub churn: ChurnRisk,
}

#[derive(sqlx::FromRow)]
struct ScoreRow {
    computed_at: DateTime<Utc>,
    model_version: String,
    recency_days: i32,
    frequency: i32,
    monetary: f64,
    r_score: i16,
    f_score: i16,
    m_score: i16,
    segment: String,
    previous_segment: Option<String>,
    horizon_days: i32,
    p_alive: f64,
    expected_purchases: f64,
    expected_purchases_low: f64,
    expected_purchases_high: f64,
    clv: Option<f64>,
    clv_low: Option<f64>,
    clv_high: Option<f64>,
    churn_probability: f64,
    churn_band: String,
    churn_method: String,
    churn_reasons: Value,
}

/// Interval level of stored scores.
const LEVEL: f64 = 0.9;

fn label(key: &str) -> String {
    Segment::from_key(key).map_or_else(|| key.to_owned(), |s| s.label().to_owned())
}

/// One customer's scores; 404 (audited) for an id that is not one of the organization's.
/// Only reads, in the caller's transaction (see `customer_patterns`).
pub async fn customer_scores(caller: &mut Caller, id: Uuid) -> Result<Analysis<CustomerScores>, ApiError> {
    caller.require(Permission::ReadData, "customers.read").await?;
    let org = caller.tenant.org_id();
    let orders: Option<i64> =
        sqlx::query_scalar("select order_count from customers where org_id = $1 and id = $2")
            .bind(org)
            .bind(id)
            .fetch_optional(caller.tenant.conn())
            .await?;
    let Some(orders) = orders else {
        caller.record_denied("customers.read", Some(id.to_string())).await;
        return Err(ApiError::NotFound);
    };
    let row: Option<ScoreRow> =
        sqlx::query_as("select * from customer_scores where org_id = $1 and customer_id = $2")
            .bind(org)
            .bind(id)
            .fetch_optional(caller.tenant.conn())
            .await?;
    let answer = match row {
        Some(row) => Analysis::Ready(CustomerScores {
            customer_id: id,
            computed_at: row.computed_at,
            model_version: row.model_version,
            rfm: RfmPosition {
                recency_days: row.recency_days,
                frequency: row.frequency,
                monetary: row.monetary,
                r: row.r_score,
                f: row.f_score,
                m: row.m_score,
                segment_label: label(&row.segment),
                segment: row.segment,
                previous_segment: row.previous_segment,
            },
            p_alive: row.p_alive,
            horizon_days: row.horizon_days,
            expected_purchases: Interval {
                estimate: row.expected_purchases,
                low: row.expected_purchases_low,
                high: row.expected_purchases_high,
                level: LEVEL,
            },
            clv: match (row.clv, row.clv_low, row.clv_high) {
                (Some(estimate), Some(low), Some(high)) => Some(Interval {
                    estimate,
                    low,
                    high,
                    level: LEVEL,
                }),
                _ => None,
            },
            churn: ChurnRisk {
                probability: row.churn_probability,
                band: row.churn_band,
                method: row.churn_method,
                reasons: row.churn_reasons,
            },
        }),
        None if orders == 0 => Analysis::insufficient(
            "at least one order from this customer",
            0,
            "scores describe buying behaviour: they appear after the customer's first order is imported",
        ),
        None => match last_run(caller, &["clv", "rfm"]).await? {
            Err(why) => why,
            Ok(_) => Analysis::insufficient(
                "a scoring run since this customer's first order",
                0,
                "the customer is scored at the next run: after the next import, within a day, or on POST /api/v1/analytics/refresh",
            ),
        },
    };
    Ok(answer)
}

// ------------------------------------------------------------------ RFM segments

#[derive(Debug, Default, Serialize, sqlx::FromRow)]
pub struct SegmentFigures {
    pub segment: String,
    #[sqlx(skip)]
    pub label: String,
    pub customers: i64,
    pub share: f64,
    pub revenue: f64,
    pub average_clv: Option<f64>,
    pub high_churn_risk: i64,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct SegmentMove {
    pub from: Option<String>,
    pub to: String,
    pub customers: i64,
}

#[derive(Debug, Serialize)]
pub struct RfmSegments {
    pub computed_at: DateTime<Utc>,
    pub model_version: String,
    pub customers: i64,
    /// Every segment, empty ones included, in the classic order.
    pub segments: Vec<SegmentFigures>,
    /// Customers whose segment changed since the run before (`from: null` = newly scored).
    pub movement: Vec<SegmentMove>,
}

/// The organization's customers per RFM segment, with revenue, value and churn risk.
pub async fn rfm_segments(mut caller: Caller) -> Result<Analysis<RfmSegments>, ApiError> {
    caller.require(Permission::ReadData, "analytics.read").await?;
    let org = caller.tenant.org_id();
    // Customers are scored only when both the segments and the value model could be made.
    let (computed_at, model_version) = match last_run(&mut caller, &["rfm", "clv"]).await? {
        Ok(run) => run,
        Err(why) => {
            caller.tenant.commit().await?;
            return Ok(why);
        }
    };
    let mut figures: Vec<SegmentFigures> = sqlx::query_as(
        "select segment, count(*) as customers, (count(*)::float8 / sum(count(*)) over ())::float8 as share,
                sum(monetary)::float8 as revenue, avg(clv)::float8 as average_clv,
                count(*) filter (where churn_band = 'high') as high_churn_risk
         from customer_scores where org_id = $1 group by segment",
    )
    .bind(org)
    .fetch_all(caller.tenant.conn())
    .await?;
    let movement: Vec<SegmentMove> = sqlx::query_as(
        "select previous_segment as \"from\", segment as \"to\", count(*) as customers
         from customer_scores
         where org_id = $1 and previous_segment is distinct from segment
         group by 1, 2 order by 3 desc, 1, 2",
    )
    .bind(org)
    .fetch_all(caller.tenant.conn())
    .await?;
    let customers = figures.iter().map(|f| f.customers).sum();
    let segments = Segment::ALL
        .iter()
        .map(|s| {
            let found = figures
                .iter()
                .position(|f| f.segment == s.key())
                .map(|i| figures.swap_remove(i));
            SegmentFigures {
                label: s.label().to_owned(),
                ..found.unwrap_or_else(|| SegmentFigures {
                    segment: s.key().to_owned(),
                    ..SegmentFigures::default()
                })
            }
        })
        .collect();
    let answer = Analysis::Ready(RfmSegments {
        computed_at,
        model_version,
        customers,
        segments,
        movement,
    });
    caller.tenant.commit().await?;
    Ok(answer)
}

// ------------------------------------------------------------------ parameters

/// Query parameters of the range reports, as sent.
#[derive(Debug, Default, Deserialize)]
pub struct RangeQuery {
    pub interval: Option<String>,
    pub by: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub steps: Option<String>,
    pub window_hours: Option<String>,
}

pub(crate) fn invalid(field: &str, message: impl ToString) -> ApiError {
    ApiError::Validation(vec![FieldError::new(field, "invalid", message)])
}

fn period(value: Option<&str>) -> Result<Period, ApiError> {
    match value.unwrap_or("month") {
        "day" => Ok(Period::Day),
        "week" => Ok(Period::Week),
        "month" => Ok(Period::Month),
        other => Err(invalid(
            "interval",
            format!("\"{other}\" is not one of day, week, month"),
        )),
    }
}

/// A `limit` parameter: `default` when absent, else a whole number from 1 to `max`.
pub(crate) fn limit(value: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| invalid("limit", format!("must be a whole number from 1 to {max}"))),
    }
}

pub(crate) fn date(field: &str, value: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                .or_else(|_| {
                    DateTime::parse_from_rfc3339(v.trim()).map(|t| t.with_timezone(&Utc).date_naive())
                })
                .map_err(|_| invalid(field, format!("\"{v}\" is not a date (YYYY-MM-DD)")))
        })
        .transpose()
}

/// The inclusive day range asked for: `default_days` up to today unless given.
fn range(query: &RangeQuery, default_days: i64) -> Result<(NaiveDate, NaiveDate), ApiError> {
    day_range(query.from.as_deref(), query.to.as_deref(), default_days)
}

/// The inclusive day range of `from` and `to` parameters: `default_days` up to today unless
/// given; a 422 naming `from` when it is after `to` or the range spans over ten years.
pub(crate) fn day_range(
    from: Option<&str>,
    to: Option<&str>,
    default_days: i64,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let to = date("to", to)?.unwrap_or_else(|| Utc::now().date_naive());
    let from = date("from", from)?.unwrap_or(to - chrono::Duration::days(default_days - 1));
    if from > to {
        return Err(invalid("from", "must not be after `to`"));
    }
    if (to - from).num_days() > 366 * 10 {
        return Err(invalid("from", "the range may span at most ten years"));
    }
    Ok((from, to))
}

fn sql_unit(period: Period) -> &'static str {
    match period {
        Period::Day => "day",
        Period::Week => "week",
        Period::Month => "month",
    }
}

// ------------------------------------------------------------------ behaviour patterns

/// A customer's behaviour patterns over the last 30 days (SPEC ANA-1), computed on request
/// from their interactions and the sentiment of their texts. Only reads, in the caller's
/// transaction, so a page can ask several such questions with one caller.
pub async fn customer_patterns(caller: &mut Caller, id: Uuid) -> Result<Analysis<Patterns>, ApiError> {
    caller.require(Permission::ReadData, "customers.read").await?;
    let org = caller.tenant.org_id();
    let known: Option<i32> = sqlx::query_scalar("select 1 from customers where org_id = $1 and id = $2")
        .bind(org)
        .bind(id)
        .fetch_optional(caller.tenant.conn())
        .await?;
    if known.is_none() {
        caller.record_denied("customers.read", Some(id.to_string())).await;
        return Err(ApiError::NotFound);
    }
    let now = Utc::now();
    let rows: Vec<(DateTime<Utc>, String, Option<f32>)> = sqlx::query_as(
        "select i.occurred_at, i.channel, s.polarity
         from interactions i
         left join text_scores s on s.org_id = i.org_id and s.subject = 'interaction' and s.subject_id = i.id
         where i.org_id = $1 and i.customer_id = $2 and i.occurred_at > $3 and i.occurred_at <= $4",
    )
    .bind(org)
    .bind(id)
    .bind(now - chrono::Duration::days(patterns::WINDOW_DAYS))
    .bind(now)
    .fetch_all(caller.tenant.conn())
    .await?;
    let touches: Vec<Touch> = rows
        .into_iter()
        .map(|(at, channel, polarity)| Touch {
            at,
            channel,
            polarity: polarity.map(f64::from),
        })
        .collect();
    Ok(patterns::detect(&touches, now))
}

// ------------------------------------------------------------------ cohorts

/// Retention of the customers first buying in each period of the range (default: a year).
pub async fn cohorts(mut caller: Caller, query: &RangeQuery) -> Result<Analysis<Cohorts>, ApiError> {
    caller.require(Permission::ReadData, "analytics.read").await?;
    let period = period(query.interval.as_deref())?;
    let (from, to) = range(query, 365)?;
    // Each customer's active periods, for customers whose first order falls in the range
    // (date_trunc's weeks start on Monday, as the library's do).
    let activity: Vec<(Uuid, NaiveDate)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with firsts as (
             select customer_id from orders where org_id = $1 and {SALE}
             group by customer_id having min(ordered_at) >= $2 and min(ordered_at) < $3)
         select distinct o.customer_id, date_trunc($4, o.ordered_at at time zone 'UTC')::date
         from orders o join firsts f using (customer_id)
         where o.org_id = $1 and o.{SALE} and o.ordered_at < $3"
    )))
    .bind(caller.tenant.org_id())
    .bind(midnight(from))
    .bind(midnight(to + chrono::Duration::days(1)))
    .bind(sql_unit(period))
    .fetch_all(caller.tenant.conn())
    .await?;
    caller.tenant.commit().await?;
    Ok(retention(&activity, period, to))
}

// ------------------------------------------------------------------ funnel

/// Customers passing through `steps` (interaction event types, in order) within
/// `window_hours` (default a week) of their first step, over the range (default 30 days).
pub async fn funnel(mut caller: Caller, query: &RangeQuery) -> Result<Analysis<Funnel>, ApiError> {
    caller.require(Permission::ReadData, "analytics.read").await?;
    let steps: Vec<String> = query
        .steps
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if steps.is_empty() {
        return Err(ApiError::Validation(vec![FieldError::new(
            "steps",
            "required",
            "name the event types in order, separated by commas, e.g. steps=view,cart,checkout",
        )]));
    }
    if steps.len() > 20 {
        return Err(invalid("steps", "at most 20 steps"));
    }
    let window_hours = match query.window_hours.as_deref() {
        None | Some("") => 24 * 7,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|h| (1..=24 * 366).contains(h))
            .ok_or_else(|| invalid("window_hours", "must be a whole number of hours from 1 to 8784"))?,
    };
    let (from, to) = range(query, 30)?;
    let events: Vec<(Uuid, DateTime<Utc>, String)> = sqlx::query_as(
        "select customer_id, occurred_at, event_type from interactions
         where org_id = $1 and occurred_at >= $2 and occurred_at < $3 and event_type = any($4)",
    )
    .bind(caller.tenant.org_id())
    .bind(midnight(from))
    .bind(midnight(to + chrono::Duration::days(1)))
    .bind(&steps)
    .fetch_all(caller.tenant.conn())
    .await?;
    caller.tenant.commit().await?;
    Ok(funnel_of(&events, &steps, chrono::Duration::hours(window_hours)))
}

// ------------------------------------------------------------------ revenue

/// (order, day, revenue, cost when known, group) as the revenue query reads them.
type SaleRow = (Uuid, NaiveDate, f64, Option<f64>, Option<String>);

/// Revenue, orders and margin per period (default month) over the range (default a year),
/// split `by` channel, product category or region when asked.
pub async fn revenue(mut caller: Caller, query: &RangeQuery) -> Result<Analysis<Revenue>, ApiError> {
    caller.require(Permission::ReadData, "analytics.read").await?;
    let period = period(query.interval.as_deref())?;
    let (from, to) = range(query, 365)?;
    let by = match query.by.as_deref() {
        None | Some("") => None,
        Some(b @ ("channel" | "category" | "region")) => Some(b),
        Some(other) => {
            return Err(invalid(
                "by",
                format!("\"{other}\" is not one of channel, category, region"),
            ))
        }
    };
    let org = caller.tenant.org_id();
    // Per order (or per order and category): revenue as sold, and cost only when every line's
    // product has one — margin then covers exactly the revenue whose cost is known.
    let sql = if by == Some("category") {
        format!(
            "select o.id, (o.ordered_at at time zone 'UTC')::date,
                    sum(l.quantity * l.unit_price)::float8,
                    case when bool_and(p.cost is not null) then sum(l.quantity * p.cost)::float8 end,
                    coalesce(p.category, 'uncategorised')
             from orders o
             join order_lines l on l.org_id = o.org_id and l.order_id = o.id
             left join products p on p.org_id = l.org_id and p.id = l.product_id
             where o.org_id = $1 and o.ordered_at >= $2 and o.ordered_at < $3 and o.{SALE}
             group by o.org_id, o.id, 2, 5"
        )
    } else {
        let group = match by {
            Some("channel") => "o.channel",
            Some("region") => "coalesce(o.region, o.country)",
            _ => "null::text",
        };
        format!(
            "select o.id, (o.ordered_at at time zone 'UTC')::date, o.total::float8,
                    case when count(l.line_no) > 0 and bool_and(p.cost is not null)
                         then sum(l.quantity * p.cost)::float8 end,
                    {group}
             from orders o
             left join order_lines l on l.org_id = o.org_id and l.order_id = o.id
             left join products p on p.org_id = l.org_id and p.id = l.product_id
             where o.org_id = $1 and o.ordered_at >= $2 and o.ordered_at < $3 and o.{SALE}
             group by o.org_id, o.id"
        )
    };
    let rows: Vec<SaleRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(org)
        .bind(midnight(from))
        .bind(midnight(to + chrono::Duration::days(1)))
        .fetch_all(caller.tenant.conn())
        .await?;
    caller.tenant.commit().await?;
    let lines: Vec<Line<Uuid>> = rows
        .into_iter()
        .map(|(order, date, revenue, cost, group)| Line {
            order,
            date,
            revenue,
            cost,
            group: if by.is_some() {
                Some(group.unwrap_or_else(|| "unknown".into()))
            } else {
                None
            },
        })
        .collect();
    Ok(revenue_of(&lines, period, from, to))
}

/// 404 (audited) unless `id` is one of the organization's products.
/// The product, or a 404 (audited) when the organization has none with this id.
pub(crate) async fn require_product(caller: &mut Caller, id: Uuid) -> Result<ProductRef, ApiError> {
    let found: Option<ProductRef> =
        sqlx::query_as("select id, sku, name from products where org_id = $1 and id = $2")
            .bind(caller.tenant.org_id())
            .bind(id)
            .fetch_optional(caller.tenant.conn())
            .await?;
    match found {
        Some(product) => Ok(product),
        None => {
            caller.record_denied("analytics.read", Some(id.to_string())).await;
            Err(ApiError::NotFound)
        }
    }
}

// ------------------------------------------------------------------ basket

#[derive(Debug, Default, Deserialize)]
pub struct BasketQuery {
    /// Only rules whose antecedent contains this product ("bought together").
    pub product_id: Option<String>,
    pub limit: Option<String>,
}

/// A product as rules name it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ProductRef {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct RuleView {
    pub antecedent: Vec<ProductRef>,
    pub consequent: Vec<ProductRef>,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
    pub orders: u64,
}

#[derive(Debug, Serialize)]
pub struct BasketView {
    pub computed_at: DateTime<Utc>,
    pub model_version: String,
    pub sample: Value,
    pub settings: Value,
    pub itemsets: usize,
    pub rules_total: usize,
    /// Strongest first (by lift, then confidence).
    pub rules: Vec<RuleView>,
}

/// Product association rules from the last year's orders, strongest first.
pub async fn basket(mut caller: Caller, query: &BasketQuery) -> Result<Analysis<BasketView>, ApiError> {
    caller.require(Permission::ReadData, "analytics.read").await?;
    let limit = limit(query.limit.as_deref(), 50, 500)?;
    let org = caller.tenant.org_id();
    let product = match query.product_id.as_deref().filter(|p| !p.is_empty()) {
        None => None,
        Some(text) => {
            let id = Uuid::parse_str(text).map_err(|_| invalid("product_id", "is not a product id"))?;
            require_product(&mut caller, id).await?;
            Some(id.to_string())
        }
    };
    let stored: Option<(DateTime<Utc>, String, Value)> = sqlx::query_as(
        "select computed_at, model_version, result from analytics_results where org_id = $1 and kind = 'basket'",
    )
    .bind(org)
    .fetch_optional(caller.tenant.conn())
    .await?;
    let Some((computed_at, model_version, result)) = stored else {
        caller.tenant.commit().await?;
        return Ok(not_computed());
    };
    if let Some(why) = insufficient_in(&result) {
        caller.tenant.commit().await?;
        return Ok(why);
    }
    let basket = &result["result"];
    let empty = Vec::new();
    let all = basket["rules"].as_array().unwrap_or(&empty);
    let items = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let chosen: Vec<&Value> = all
        .iter()
        .filter(|r| {
            product
                .as_ref()
                .is_none_or(|p| items(&r["antecedent"]).contains(p))
        })
        .take(limit)
        .collect();
    let ids: Vec<Uuid> = chosen
        .iter()
        .flat_map(|r| items(&r["antecedent"]).into_iter().chain(items(&r["consequent"])))
        .filter_map(|s| Uuid::parse_str(&s).ok())
        .collect();
    let products: Vec<ProductRef> =
        sqlx::query_as("select id, sku, name from products where org_id = $1 and id = any($2)")
            .bind(org)
            .bind(&ids)
            .fetch_all(caller.tenant.conn())
            .await?;
    caller.tenant.commit().await?;
    let named = |v: &Value| -> Vec<ProductRef> {
        items(v)
            .iter()
            .filter_map(|s| products.iter().find(|p| p.id.to_string() == *s).cloned())
            .collect()
    };
    let rules = chosen
        .iter()
        .map(|r| RuleView {
            antecedent: named(&r["antecedent"]),
            consequent: named(&r["consequent"]),
            support: r["support"].as_f64().unwrap_or(0.0),
            confidence: r["confidence"].as_f64().unwrap_or(0.0),
            lift: r["lift"].as_f64().unwrap_or(0.0),
            orders: (r["support"].as_f64().unwrap_or(0.0) * basket["sample"]["size"].as_f64().unwrap_or(0.0))
                .round() as u64,
        })
        .collect();
    Ok(Analysis::Ready(BasketView {
        computed_at,
        model_version,
        sample: basket["sample"].clone(),
        settings: basket["settings"].clone(),
        itemsets: basket["itemsets"].as_array().map_or(0, Vec::len),
        rules_total: all.len(),
        rules,
    }))
}

// ------------------------------------------------------------------ forecasts

#[derive(Debug, Serialize)]
pub struct ForecastPoint {
    pub date: NaiveDate,
    pub units: f64,
    pub low: f64,
    pub high: f64,
}

#[derive(Debug, Serialize)]
pub struct ProductForecast {
    pub product_id: Uuid,
    pub computed_at: DateTime<Utc>,
    pub model_version: String,
    pub horizon: usize,
    pub level: f64,
    /// The chosen model: trend, seasonality and period, smoothing weights, fit statistics.
    pub model: Value,
    /// `good`, or `poor` with the reason.
    pub fit: Value,
    pub sample: Value,
    pub points: Vec<ForecastPoint>,
}

/// The product's daily unit forecast for the next 7, 30 or 90 days.
pub async fn product_forecast(
    mut caller: Caller,
    id: Uuid,
    horizon: Option<&str>,
) -> Result<Analysis<ProductForecast>, ApiError> {
    caller.require(Permission::ReadData, "analytics.read").await?;
    let horizon = match horizon.unwrap_or("30") {
        "7" => 7,
        "30" => 30,
        "90" => 90,
        other => return Err(invalid("horizon", format!("\"{other}\" is not one of 7, 30, 90"))),
    };
    let org = caller.tenant.org_id();
    require_product(&mut caller, id).await?;
    let stored: Option<(DateTime<Utc>, String, NaiveDate, Value)> = sqlx::query_as(
        "select computed_at, model_version, first_day, result from product_forecasts
         where org_id = $1 and product_id = $2",
    )
    .bind(org)
    .bind(id)
    .fetch_optional(caller.tenant.conn())
    .await?;
    let Some((computed_at, model_version, first_day, result)) = stored else {
        let answer = match last_run::<ProductForecast>(&mut caller, &[]).await? {
            Err(why) => why,
            Ok(_) => Analysis::insufficient(
                "sales of this product in the last year",
                0,
                "forecasts are made for products sold in the last 365 days (the best-selling 500)",
            ),
        };
        caller.tenant.commit().await?;
        return Ok(answer);
    };
    caller.tenant.commit().await?;
    if let Some(why) = insufficient_in(&result) {
        return Ok(why);
    }
    let f = &result["result"];
    let points = f["points"]
        .as_array()
        .map(|points| {
            points
                .iter()
                .take(horizon)
                .enumerate()
                .map(|(i, p)| ForecastPoint {
                    date: first_day + chrono::Duration::days(i as i64),
                    units: p["value"].as_f64().unwrap_or(0.0).max(0.0),
                    low: p["low"].as_f64().unwrap_or(0.0).max(0.0),
                    high: p["high"].as_f64().unwrap_or(0.0).max(0.0),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Analysis::Ready(ProductForecast {
        product_id: id,
        computed_at,
        model_version,
        horizon,
        level: f["level"].as_f64().unwrap_or(0.9),
        model: f["model"].clone(),
        fit: f["fit"].clone(),
        sample: f["sample"].clone(),
        points,
    }))
}

/// Queues a scoring run now (202); one already waiting is not doubled.
pub async fn refresh(mut caller: Caller) -> Result<bool, ApiError> {
    caller
        .require(Permission::RunAnalyses, "analytics.refresh")
        .await?;
    let queued = scoring::request(&mut caller.tenant).await?;
    caller
        .audit(
            "analytics.refresh",
            "organization",
            caller.tenant.org_id().to_string(),
        )
        .await?;
    caller.tenant.commit().await?;
    Ok(queued)
}
