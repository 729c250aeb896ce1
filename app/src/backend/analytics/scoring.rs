//! The `score` job (SPEC ANA-2..6): reads one organization's orders, order lines and recent
//! interactions, computes RFM segments, lifetime value, churn risk, market-basket rules and
//! product demand forecasts with the `analytics` library, and replaces the stored results in
//! one transaction. It runs after an import, on a schedule (`schedule`) and on request.
//!
//! Churn labels come from the organization's own history: the model learns from the
//! customers as they were 90 days ago which of them bought nothing since, then scores
//! everyone as of today. Too few of either kind and the score falls back to 1 − P(alive),
//! and says so (`churn_method`).

use std::collections::HashMap;
use std::time::Duration;

use analytics::churn::{
    behaviour_features, Activity, ChurnModel, Column, Reason, RiskBand, BEHAVIOUR_FEATURES,
};
use analytics::clv::{customer_value, summarize, BgNbd, ClvSettings, GammaGamma, TimeUnit, Transaction};
use analytics::forecast::{forecast, ForecastSettings};
use analytics::rfm::{self, Purchases};
use analytics::Analysis;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::backend::jobs::{Claimed, Finish, JobError};
use crate::backend::state::AppState;
use crate::backend::tenant::{OrgId, TenantTx};

/// Names the scoring code; stored with every result so a reader knows what produced it.
pub const MODEL_VERSION: &str = "scores/1";

/// How far ahead expected purchases and lifetime value look.
pub const HORIZON_MONTHS: u32 = 12;

/// Churn means no order within this many days; the model learns from the state this long ago.
pub const CHURN_WINDOW_DAYS: i64 = 90;

/// Forecasts look this far ahead; the endpoint serves 7, 30 or 90 days of it.
pub const FORECAST_DAYS: usize = 90;

/// At most this many products (the best sellers) get a forecast per run.
const FORECAST_PRODUCTS: i64 = 500;

/// Days of interactions read for behaviour features (their windows reach 180 days back from
/// the training date, which lies `CHURN_WINDOW_DAYS` before today).
const INTERACTION_DAYS: i64 = 180 + CHURN_WINDOW_DAYS;

/// How long the worker's scheduler waits between looks for organizations due a run.
pub const SCHEDULE_EVERY: Duration = Duration::from_secs(300);

/// Orders that count as sales, as a SQL condition on `orders` (alias-free: prefix it).
pub(super) const SALE: &str = "status not in ('cancelled', 'refunded')";

/// Rows written per statement.
const WRITE_CHUNK: usize = 5_000;

/// Queues a scoring run for the organization unless one is already waiting.
pub async fn request(tenant: &mut TenantTx) -> Result<bool, sqlx::Error> {
    let queued = sqlx::query(
        "insert into jobs (org_id, kind)
         select $1, 'score'
         where not exists (select 1 from jobs where org_id = $1 and kind = 'score'
                           and (locked_until is null or locked_until < now()))",
    )
    .bind(tenant.org_id())
    .execute(tenant.conn())
    .await?;
    Ok(queued.rows_affected() == 1)
}

/// Queues runs for every organization whose scores are missing, a day old, or older than a
/// quarter of an hour with new data since. Answers how many were queued.
pub async fn schedule(db: &PgPool) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("select enqueue_due_scoring(interval '24 hours', interval '15 minutes')")
        .fetch_one(db)
        .await
}

/// Everything the computation reads, loaded in one tenant transaction.
#[derive(Default)]
pub struct Input {
    /// (customer, day, order total) of orders that count (not cancelled or refunded).
    pub orders: Vec<(Uuid, NaiveDate, f64)>,
    /// Recent interactions per customer: (day, is a support contact).
    pub interactions: HashMap<Uuid, Vec<(NaiveDate, bool)>>,
    /// When each customer was first seen.
    pub first_seen: HashMap<Uuid, NaiveDate>,
    /// The products in each order of the last year.
    pub baskets: Vec<Vec<String>>,
    /// (product, day, units) of the best sellers over the last year.
    pub sales: Vec<(Uuid, NaiveDate, f64)>,
}

/// One customer's stored scores.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerScore {
    pub customer_id: Uuid,
    pub recency_days: i32,
    pub frequency: i32,
    pub monetary: f64,
    pub r: i16,
    pub f: i16,
    pub m: i16,
    pub segment: &'static str,
    pub p_alive: f64,
    pub expected_purchases: analytics::Interval,
    pub clv: Option<analytics::Interval>,
    pub churn_probability: f64,
    pub churn_reasons: Vec<Reason>,
}

/// What one run computed.
pub struct Output {
    pub customers: Vec<CustomerScore>,
    pub churn_method: &'static str,
    /// Organization-wide results by kind (`analytics_results.kind`).
    pub results: Vec<(&'static str, Value)>,
    pub forecasts: Vec<(Uuid, Value)>,
}

impl Output {
    pub fn model_version(&self) -> String {
        format!("{MODEL_VERSION} churn:{}", self.churn_method)
    }
}

/// Runs the job: load, compute off the async executor, store.
pub async fn run(state: &AppState, job: &Claimed) -> Result<Finish, JobError> {
    let began = std::time::Instant::now();
    let now = Utc::now();
    let input = load(&state.db, job.org(), now.date_naive()).await?;
    let as_of = now.date_naive();
    let output = tokio::task::spawn_blocking(move || compute(&input, as_of))
        .await
        .map_err(|e| JobError::Failed(format!("the scoring computation stopped: {e}")))?;
    let scored = output.customers.len();
    store(&state.db, job.org(), now, &output).await?;
    tracing::info!(org_id = %job.org_id, customers = scored, forecasts = output.forecasts.len(),
        churn_method = output.churn_method, seconds = began.elapsed().as_secs_f64(), "scores computed");
    Ok(Finish::Done)
}

/// Reads what the computation needs as of `today`.
pub async fn load(db: &PgPool, org: OrgId, today: NaiveDate) -> Result<Input, sqlx::Error> {
    // One consistent view of the organization's data for every query below.
    let snapshot = db
        .begin_with("begin isolation level repeatable read, read only")
        .await?;
    let mut tenant = TenantTx::enter(snapshot, org).await?;
    let orders: Vec<(Uuid, NaiveDate, f64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select customer_id, (ordered_at at time zone 'UTC')::date, total::float8 from orders
         where org_id = $1 and {SALE} and ordered_at < $2"
    )))
    .bind(org)
    .bind(midnight(today + chrono::Duration::days(1)))
    .fetch_all(tenant.conn())
    .await?;
    let first_seen: HashMap<Uuid, NaiveDate> = sqlx::query_as::<_, (Uuid, NaiveDate)>(
        "select id, (first_seen_at at time zone 'UTC')::date from customers
         where org_id = $1 and order_count > 0 and first_seen_at is not null",
    )
    .bind(org)
    .fetch_all(tenant.conn())
    .await?
    .into_iter()
    .collect();
    let mut interactions: HashMap<Uuid, Vec<(NaiveDate, bool)>> = HashMap::new();
    let rows: Vec<(Uuid, NaiveDate, bool)> = sqlx::query_as(
        "select customer_id, (occurred_at at time zone 'UTC')::date,
                event_type ~* '(support|complaint|ticket|refund|return)'
         from interactions where org_id = $1 and occurred_at >= $2",
    )
    .bind(org)
    .bind(midnight(today - chrono::Duration::days(INTERACTION_DAYS)))
    .fetch_all(tenant.conn())
    .await?;
    for (customer, day, support) in rows {
        if first_seen.contains_key(&customer) {
            interactions.entry(customer).or_default().push((day, support));
        }
    }
    let year_ago = midnight(today - chrono::Duration::days(365));
    let baskets: Vec<Vec<String>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select array_agg(distinct l.product_id::text) from orders o
         join order_lines l on l.org_id = o.org_id and l.order_id = o.id
         where o.org_id = $1 and o.ordered_at >= $2 and o.{SALE} and l.product_id is not null
         group by o.org_id, o.id"
    )))
    .bind(org)
    .bind(year_ago)
    .fetch_all(tenant.conn())
    .await?;
    let sales: Vec<(Uuid, NaiveDate, f64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with sold as (
             select l.product_id, (o.ordered_at at time zone 'UTC')::date as day, sum(l.quantity)::float8 as units
             from orders o join order_lines l on l.org_id = o.org_id and l.order_id = o.id
             where o.org_id = $1 and o.ordered_at >= $2 and o.ordered_at < $3
               and o.{SALE} and l.product_id is not null
             group by 1, 2),
         best as (select product_id from sold group by 1 order by sum(units) desc limit $4)
         select s.product_id, s.day, s.units from sold s join best using (product_id)"
    )))
    .bind(org)
    .bind(year_ago)
    .bind(midnight(today))
    .bind(FORECAST_PRODUCTS)
    .fetch_all(tenant.conn())
    .await?;
    tenant.commit().await?;
    Ok(Input {
        orders,
        interactions,
        first_seen,
        baskets,
        sales,
    })
}

/// The start of `day` (UTC), for range conditions on timestamps.
pub(crate) fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// Everything one run computes, as of `as_of` (pure: no I/O).
pub fn compute(input: &Input, as_of: NaiveDate) -> Output {
    let settings = ClvSettings {
        months: HORIZON_MONTHS,
        ..ClvSettings::default()
    };
    let transactions: Vec<Transaction<Uuid>> = input
        .orders
        .iter()
        .map(|&(customer, date, amount)| Transaction {
            customer,
            date,
            amount,
        })
        .collect();
    let summaries = summarize(&transactions, as_of, settings.unit);
    let plain: Vec<_> = summaries.iter().map(|(_, s)| *s).collect();
    let frequency_fit = BgNbd::fit(&plain);
    let spend_fit = GammaGamma::fit(&plain);

    let activities = activities(input);
    // In the summaries' order, which the scores below are zipped in.
    let purchases: Vec<Purchases<Uuid>> = summaries
        .iter()
        .map(|(id, _)| {
            let orders = &activities[id].orders;
            Purchases {
                customer: *id,
                last_order: orders.iter().map(|(day, _)| *day).max().unwrap_or(as_of),
                orders: orders.len() as u32,
                revenue: orders.iter().map(|(_, amount)| amount).sum(),
            }
        })
        .collect();
    let segments = rfm::score(&purchases, as_of);

    let churn = train_churn(input, &activities, as_of);
    let churn_method = if matches!(churn, Analysis::Ready(_)) {
        "model"
    } else {
        "p_alive"
    };

    let mut customers = Vec::new();
    if let (Analysis::Ready(fit), Analysis::Ready(rfm)) = (&frequency_fit, &segments) {
        let spend = spend_fit.as_ready();
        let values: Vec<_> = summaries
            .iter()
            .map(|(_, s)| customer_value(fit, spend, s, &settings))
            .collect();
        let risks = churn_scores(churn.as_ready(), &summaries, &activities, &values, as_of);
        customers = summaries
            .iter()
            .zip(&rfm.customers)
            .zip(values.iter().zip(risks))
            .map(|(((id, _), r), (value, (probability, reasons)))| {
                debug_assert_eq!(*id, r.customer);
                CustomerScore {
                    customer_id: *id,
                    recency_days: r.recency_days as i32,
                    frequency: r.frequency as i32,
                    monetary: r.monetary,
                    r: i16::from(r.r),
                    f: i16::from(r.f),
                    m: i16::from(r.m),
                    segment: r.segment.key(),
                    p_alive: value.p_alive.clamp(0.0, 1.0),
                    expected_purchases: value.expected_purchases,
                    clv: value.clv,
                    churn_probability: probability,
                    churn_reasons: reasons,
                }
            })
            .collect();
    }

    // Every stored result has the endpoints' shape: `{status, result}`.
    let clv_result = stored(&frequency_fit, |fit| {
        json!({
            "as_of": as_of,
            "horizon_months": HORIZON_MONTHS,
            "time_unit": "week",
            "bgnbd": fit,
            "gamma_gamma": spend_fit,
        })
    });
    let churn_result = stored(&churn, |model| {
        json!({
            "as_of": as_of,
            "window_days": CHURN_WINDOW_DAYS,
            "sample": model.sample,
            "base_rate": model.base_rate,
            "weights": model.weights(),
        })
    });
    // The segment summary only: per-customer positions live in `customer_scores`.
    let rfm_result = stored(
        &segments,
        |r| json!({ "as_of": r.as_of, "sample": r.sample, "segments": r.segments }),
    );
    let basket = analytics::basket::mine(
        &input.baskets,
        analytics::basket::BasketSettings {
            min_support: 0.005,
            min_confidence: 0.1,
            min_lift: 1.0,
            max_len: Some(3),
        },
    );
    let results = vec![
        ("clv", clv_result),
        ("churn", churn_result),
        ("rfm", rfm_result),
        ("basket", serde_json::to_value(&basket).unwrap_or(Value::Null)),
    ];
    Output {
        customers,
        churn_method,
        results,
        forecasts: forecasts(&input.sales, as_of),
    }
}

/// An analysis as stored: `summary` of a result, or the insufficient-data answer as it is.
fn stored<T>(analysis: &Analysis<T>, summary: impl FnOnce(&T) -> Value) -> Value {
    match analysis {
        Analysis::Ready(result) => json!({ "status": "ready", "result": summary(result) }),
        Analysis::InsufficientData(why) => json!({ "status": "insufficient_data", "result": why }),
    }
}

/// Each customer's activity, keyed like the summaries.
fn activities(input: &Input) -> HashMap<Uuid, Activity> {
    let mut activities: HashMap<Uuid, Activity> = HashMap::new();
    for &(customer, day, amount) in &input.orders {
        activities.entry(customer).or_default().orders.push((day, amount));
    }
    for (customer, activity) in activities.iter_mut() {
        // First sight counts towards age even when it lies before the interactions read.
        if let Some(first) = input.first_seen.get(customer) {
            activity.interactions.push((*first, false, None));
        }
        if let Some(seen) = input.interactions.get(customer) {
            activity
                .interactions
                .extend(seen.iter().map(|&(day, support)| (day, support, None)));
        }
    }
    activities
}

/// Behaviour feature columns for `customers` as of `as_of`, with P(alive) from `fit`.
fn feature_columns(
    customers: &[Uuid],
    activities: &HashMap<Uuid, Activity>,
    p_alive: &[f64],
    as_of: NaiveDate,
) -> Vec<Column> {
    let mut columns: Vec<Vec<f64>> = vec![Vec::with_capacity(customers.len()); BEHAVIOUR_FEATURES.len()];
    for (customer, p) in customers.iter().zip(p_alive) {
        let mut activity = activities.get(customer).cloned().unwrap_or_default();
        activity.p_alive = Some(*p);
        for (column, value) in columns.iter_mut().zip(behaviour_features(&activity, as_of)) {
            column.push(value);
        }
    }
    // Named as merchants read them: the names become the reasons' words.
    BEHAVIOUR_FEATURES
        .iter()
        .zip(columns)
        .map(|(name, values)| Column::Numeric {
            name: (*name).to_owned(),
            values,
        })
        .collect()
}

/// Trains on the customers as they were `CHURN_WINDOW_DAYS` ago: churned = no order since.
fn train_churn(
    input: &Input,
    activities: &HashMap<Uuid, Activity>,
    as_of: NaiveDate,
) -> Analysis<ChurnModel> {
    let cutoff = as_of - chrono::Duration::days(CHURN_WINDOW_DAYS);
    let before: Vec<Transaction<Uuid>> = input
        .orders
        .iter()
        .filter(|(_, day, _)| *day <= cutoff)
        .map(|&(customer, date, amount)| Transaction {
            customer,
            date,
            amount,
        })
        .collect();
    let summaries = summarize(&before, cutoff, TimeUnit::Week);
    let fit = match BgNbd::fit(&summaries.iter().map(|(_, s)| *s).collect::<Vec<_>>()) {
        Analysis::Ready(fit) => fit,
        Analysis::InsufficientData(why) => return Analysis::InsufficientData(why),
    };
    let customers: Vec<Uuid> = summaries.iter().map(|(id, _)| *id).collect();
    let p_alive: Vec<f64> = summaries.iter().map(|(_, s)| fit.params.p_alive(s)).collect();
    let columns = feature_columns(&customers, activities, &p_alive, cutoff);
    let churned: Vec<bool> = customers
        .iter()
        .map(|id| {
            !activities[id]
                .orders
                .iter()
                .any(|(day, _)| *day > cutoff && *day <= as_of)
        })
        .collect();
    ChurnModel::train(&columns, &churned)
}

/// Churn probability and reasons per customer: the model's, or 1 − P(alive) explained by the
/// customer's silence against their own cadence.
fn churn_scores(
    model: Option<&ChurnModel>,
    summaries: &[(Uuid, analytics::clv::CustomerSummary)],
    activities: &HashMap<Uuid, Activity>,
    values: &[analytics::clv::CustomerValue],
    as_of: NaiveDate,
) -> Vec<(f64, Vec<Reason>)> {
    let customers: Vec<Uuid> = summaries.iter().map(|(id, _)| *id).collect();
    let p_alive: Vec<f64> = values.iter().map(|v| v.p_alive).collect();
    match model {
        Some(model) => {
            let columns = feature_columns(&customers, activities, &p_alive, as_of);
            model
                .score(&columns)
                .into_iter()
                .map(|s| (s.probability.clamp(0.0, 1.0), s.reasons))
                .collect()
        }
        None => summaries
            .iter()
            .zip(&p_alive)
            .map(|((id, summary), p)| {
                let features = behaviour_features(&activities[id], as_of);
                let text = format!(
                    "P(alive) is {:.0} %: last order {} days ago after {} repeat purchase{}",
                    p * 100.0,
                    features[0],
                    summary.frequency,
                    if summary.frequency == 1 { "" } else { "s" }
                );
                let reason = Reason {
                    feature: BEHAVIOUR_FEATURES[6].into(),
                    contribution: 1.0 - p,
                    text,
                };
                ((1.0 - p).clamp(0.0, 1.0), vec![reason])
            })
            .collect(),
    }
}

/// Daily unit forecasts per product, from the first sale in the last year up to yesterday.
fn forecasts(sales: &[(Uuid, NaiveDate, f64)], as_of: NaiveDate) -> Vec<(Uuid, Value)> {
    let mut by_product: HashMap<Uuid, Vec<(NaiveDate, f64)>> = HashMap::new();
    for &(product, day, units) in sales {
        by_product.entry(product).or_default().push((day, units));
    }
    let mut out: Vec<(Uuid, Value)> = by_product
        .into_iter()
        .map(|(product, days)| {
            let first = days.iter().map(|(d, _)| *d).min().unwrap_or(as_of);
            let length = (as_of - first).num_days().max(0) as usize;
            let mut series = vec![0.0; length];
            for (day, units) in days {
                if let Some(slot) = series.get_mut((day - first).num_days() as usize) {
                    *slot += units;
                }
            }
            let result = forecast(&series, FORECAST_DAYS, ForecastSettings::default());
            (product, serde_json::to_value(&result).unwrap_or(Value::Null))
        })
        .collect();
    out.sort_by_key(|(id, _)| *id);
    out
}

/// Replaces the organization's stored results with `output`, in one transaction.
pub async fn store(db: &PgPool, org: OrgId, at: DateTime<Utc>, output: &Output) -> Result<(), sqlx::Error> {
    let version = output.model_version();
    let mut tenant = TenantTx::begin(db, org).await?;
    // Runs of one organization write one after another.
    sqlx::query("select pg_advisory_xact_lock(hashtext('score:' || $1::text))")
        .bind(org.0)
        .execute(tenant.conn())
        .await?;
    for chunk in output.customers.chunks(WRITE_CHUNK) {
        let column = |f: fn(&CustomerScore) -> f64| chunk.iter().map(f).collect::<Vec<f64>>();
        let optional =
            |f: fn(&CustomerScore) -> Option<f64>| chunk.iter().map(f).collect::<Vec<Option<f64>>>();
        sqlx::query(
            "insert into customer_scores as s (org_id, customer_id, computed_at, model_version,
                 recency_days, frequency, monetary, r_score, f_score, m_score, segment, horizon_days,
                 p_alive, expected_purchases, expected_purchases_low, expected_purchases_high,
                 clv, clv_low, clv_high, churn_probability, churn_band, churn_method, churn_reasons)
             select $1, u.customer_id, $2, $3, u.recency_days, u.frequency, u.monetary, u.r, u.f, u.m,
                    u.segment, $4, u.p_alive, u.ep, u.ep_low, u.ep_high, u.clv, u.clv_low, u.clv_high,
                    u.churn, u.band, $5, u.reasons::jsonb
             from unnest($6::uuid[], $7::int[], $8::int[], $9::float8[], $10::int2[], $11::int2[],
                         $12::int2[], $13::text[], $14::float8[], $15::float8[], $16::float8[],
                         $17::float8[], $18::float8[], $19::float8[], $20::float8[], $21::float8[],
                         $22::text[], $23::text[])
                  as u(customer_id, recency_days, frequency, monetary, r, f, m, segment, p_alive, ep,
                       ep_low, ep_high, clv, clv_low, clv_high, churn, band, reasons)
             on conflict (org_id, customer_id) do update set
                 previous_segment = s.segment, computed_at = excluded.computed_at,
                 model_version = excluded.model_version, recency_days = excluded.recency_days,
                 frequency = excluded.frequency, monetary = excluded.monetary,
                 r_score = excluded.r_score, f_score = excluded.f_score, m_score = excluded.m_score,
                 segment = excluded.segment, horizon_days = excluded.horizon_days,
                 p_alive = excluded.p_alive, expected_purchases = excluded.expected_purchases,
                 expected_purchases_low = excluded.expected_purchases_low,
                 expected_purchases_high = excluded.expected_purchases_high, clv = excluded.clv,
                 clv_low = excluded.clv_low, clv_high = excluded.clv_high,
                 churn_probability = excluded.churn_probability, churn_band = excluded.churn_band,
                 churn_method = excluded.churn_method, churn_reasons = excluded.churn_reasons",
        )
        .bind(org)
        .bind(at)
        .bind(&version)
        .bind((f64::from(HORIZON_MONTHS) * 365.25 / 12.0).round() as i32)
        .bind(output.churn_method)
        .bind(chunk.iter().map(|c| c.customer_id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|c| c.recency_days).collect::<Vec<_>>())
        .bind(chunk.iter().map(|c| c.frequency).collect::<Vec<_>>())
        .bind(column(|c| c.monetary))
        .bind(chunk.iter().map(|c| c.r).collect::<Vec<_>>())
        .bind(chunk.iter().map(|c| c.f).collect::<Vec<_>>())
        .bind(chunk.iter().map(|c| c.m).collect::<Vec<_>>())
        .bind(chunk.iter().map(|c| c.segment).collect::<Vec<_>>())
        .bind(column(|c| c.p_alive))
        .bind(column(|c| c.expected_purchases.estimate))
        .bind(column(|c| c.expected_purchases.low))
        .bind(column(|c| c.expected_purchases.high))
        .bind(optional(|c| c.clv.map(|v| v.estimate)))
        .bind(optional(|c| c.clv.map(|v| v.low)))
        .bind(optional(|c| c.clv.map(|v| v.high)))
        .bind(column(|c| c.churn_probability))
        .bind(
            chunk
                .iter()
                .map(|c| band_key(RiskBand::of(c.churn_probability)))
                .collect::<Vec<_>>(),
        )
        .bind(
            chunk
                .iter()
                .map(|c| serde_json::to_string(&c.churn_reasons).unwrap_or_else(|_| "[]".into()))
                .collect::<Vec<_>>(),
        )
        .execute(tenant.conn())
        .await?;
    }
    // Customers no longer scored (their orders were cancelled) keep no stale scores.
    sqlx::query("delete from customer_scores where org_id = $1 and computed_at <> $2")
        .bind(org)
        .bind(at)
        .execute(tenant.conn())
        .await?;
    // The category view's segments and grid count these scores (migration 0025).
    sqlx::query("select count_category_score_cells($1)")
        .bind(org)
        .execute(tenant.conn())
        .await?;
    for (kind, result) in &output.results {
        sqlx::query(
            "insert into analytics_results (org_id, kind, computed_at, model_version, result)
             values ($1, $2, $3, $4, $5)
             on conflict (org_id, kind) do update set computed_at = excluded.computed_at,
                 model_version = excluded.model_version, result = excluded.result",
        )
        .bind(org)
        .bind(kind)
        .bind(at)
        .bind(&version)
        .bind(result)
        .execute(tenant.conn())
        .await?;
    }
    sqlx::query("delete from product_forecasts where org_id = $1")
        .bind(org)
        .execute(tenant.conn())
        .await?;
    for chunk in output.forecasts.chunks(WRITE_CHUNK) {
        sqlx::query(
            "insert into product_forecasts (org_id, product_id, computed_at, model_version, first_day, result)
             select $1, u.product_id, $2, $3, $4, u.result::jsonb
             from unnest($5::uuid[], $6::text[]) as u(product_id, result)",
        )
        .bind(org)
        .bind(at)
        .bind(&version)
        .bind(at.date_naive())
        .bind(chunk.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|(_, v)| v.to_string()).collect::<Vec<_>>())
        .execute(tenant.conn())
        .await?;
    }
    tenant.commit().await
}

/// The band as `customer_scores.churn_band` stores it.
fn band_key(band: RiskBand) -> &'static str {
    match band {
        RiskBand::Low => "low",
        RiskBand::Medium => "medium",
        RiskBand::High => "high",
    }
}
