//! Server functions behind the data pages: the customers list and page, and the manual entry
//! forms, going through the same backend (permissions, parsers, write path) as the REST API.

// A server function takes one argument per form field (that is how a plain HTML form
// arrives), and the client half the macro generates cannot carry an item-level allow.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ui_error::UiError;

/// A customer as the list shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRow {
    pub id: String,
    pub external_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub country: Option<String>,
    pub segment: Option<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub interactions: i64,
    pub orders: i64,
    pub revenue: String,
    /// The last scoring run's RFM segment (its label), churn risk and lifetime value.
    pub rfm_segment: Option<String>,
    pub churn: Option<String>,
    pub clv: Option<String>,
}

/// The customer list's filters, sort and page, as they stand in the address (the names of
/// `GET /api/v1/customers`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerFilters {
    pub q: Option<String>,
    pub segment: Option<String>,
    pub churn: Option<String>,
    pub clv_min: Option<String>,
    pub clv_max: Option<String>,
    pub seen_within_days: Option<String>,
    pub sort: Option<String>,
    pub cursor: Option<String>,
}

impl CustomerFilters {
    /// The names and values set, in a fixed order (for links and the CSV export).
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("q", &self.q),
            ("segment", &self.segment),
            ("churn", &self.churn),
            ("clv_min", &self.clv_min),
            ("clv_max", &self.clv_max),
            ("seen_within_days", &self.seen_within_days),
            ("sort", &self.sort),
            ("cursor", &self.cursor),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().filter(|v| !v.is_empty()).map(|v| (name, v)))
        .collect()
    }
}

/// A page of customers and the cursor to the next one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomersPage {
    pub rows: Vec<CustomerRow>,
    pub next_cursor: Option<String>,
}

/// One entry of a customer's timeline: an interaction or an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineItem {
    pub at: String,
    pub kind: String,
    pub title: String,
    pub detail: Option<String>,
    /// The text's sentiment label, once scored.
    pub sentiment: Option<String>,
}

/// A customer's page: the profile, their scores and the latest interactions and orders,
/// newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerView {
    pub customer: CustomerRow,
    pub scores: ScoresView,
    pub patterns: PatternsView,
    pub timeline: Vec<TimelineItem>,
    /// (week, mean polarity −1 … 1, texts) of the last 26 weeks with scored texts.
    pub sentiment_trend: Vec<(String, f64, i64)>,
}

/// A customer's behaviour patterns of the last 30 days in words, or why there are none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PatternsView {
    Ready {
        engagement: String,
        /// (description, confidence) strongest first; may be empty.
        patterns: Vec<(String, String)>,
    },
    Missing {
        needed: String,
        have: usize,
        hint: String,
    },
}

#[cfg(feature = "ssr")]
fn patterns_view(answer: analytics::Analysis<analytics::patterns::Patterns>) -> PatternsView {
    match answer {
        analytics::Analysis::InsufficientData(why) => PatternsView::Missing {
            needed: why.needed,
            have: why.have,
            hint: why.hint,
        },
        analytics::Analysis::Ready(found) => PatternsView::Ready {
            engagement: format!(
                "{:.0} / 100 ({} interactions in the last {} days)",
                found.engagement_score * 100.0,
                found.interactions,
                found.window_days
            ),
            patterns: found
                .patterns
                .into_iter()
                .map(|p| (p.description, format!("{:.0} % confidence", p.confidence * 100.0)))
                .collect(),
        },
    }
}

/// A customer's scores in words, or why there are none yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoresView {
    Ready(Box<Scores>),
    /// What is missing and what to do about it.
    Missing {
        needed: String,
        hint: String,
    },
}

/// Each score with its interval and the reasons behind the churn risk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scores {
    pub segment: String,
    pub rfm: String,
    pub p_alive: String,
    pub expected_purchases: String,
    pub clv: Option<String>,
    pub churn_band: String,
    pub churn: String,
    pub churn_reasons: Vec<String>,
    pub computed: String,
}

#[cfg(feature = "ssr")]
fn scores_view(
    answer: analytics::Analysis<crate::backend::analytics::reports::CustomerScores>,
) -> ScoresView {
    let s = match answer {
        analytics::Analysis::Ready(s) => s,
        analytics::Analysis::InsufficientData(why) => {
            return ScoresView::Missing {
                needed: why.needed,
                hint: why.hint,
            }
        }
    };
    let range = |i: &analytics::Interval, digits: usize| {
        format!(
            "{:.digits$} ({:.0} % range {:.digits$}–{:.digits$})",
            i.estimate,
            i.level * 100.0,
            i.low,
            i.high
        )
    };
    let months = (f64::from(s.horizon_days) / 30.44).round();
    let method = if s.churn.method == "model" {
        "learned from this store's customers who stopped buying"
    } else {
        "1 − P(alive): too little history to learn from yet"
    };
    Scores {
        segment: s.rfm.segment_label.clone(),
        rfm: format!(
            "R {} · F {} · M {} — last order {} days ago, {} orders, {:.2} spent",
            s.rfm.r, s.rfm.f, s.rfm.m, s.rfm.recency_days, s.rfm.frequency, s.rfm.monetary
        ),
        p_alive: format!("{:.0} %", s.p_alive * 100.0),
        expected_purchases: format!("{} in the next {months} months", range(&s.expected_purchases, 1)),
        clv: s.clv.as_ref().map(|clv| range(clv, 2)),
        churn_band: s.churn.band.clone(),
        churn: format!("{:.0} % ({method})", s.churn.probability * 100.0),
        churn_reasons: s
            .churn
            .reasons
            .as_array()
            .map(|reasons| {
                reasons
                    .iter()
                    .filter_map(|r| r["text"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        computed: format!("{} · {}", when(s.computed_at), s.model_version),
    }
    .into()
}

impl From<Scores> for ScoresView {
    fn from(scores: Scores) -> Self {
        ScoresView::Ready(Box::new(scores))
    }
}

#[cfg(feature = "ssr")]
fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(feature = "ssr")]
fn row(c: crate::backend::customers::CustomerSummary) -> CustomerRow {
    CustomerRow {
        id: c.id.to_string(),
        external_id: c.external_id,
        name: c.name,
        email: c.email,
        country: c.country,
        segment: c.segment,
        first_seen: c.first_seen_at.map(when),
        last_seen: c.last_seen_at.map(when),
        interactions: c.interaction_count,
        orders: c.order_count,
        revenue: c.revenue.round_dp(2).to_string(),
        rfm_segment: c.rfm_segment.as_deref().map(|key| {
            analytics::rfm::Segment::ALL
                .iter()
                .find(|s| s.key() == key)
                .map_or_else(|| key.to_owned(), |s| s.label().to_owned())
        }),
        churn: c
            .churn_band
            .zip(c.churn_probability)
            .map(|(band, p)| format!("{band} ({:.0} %)", p * 100.0)),
        clv: c.clv.map(|v| format!("{v:.2}")),
    }
}

#[server(prefix = "/rpc", endpoint = "customers")]
pub async fn list_customers(filters: CustomerFilters) -> Result<CustomersPage, UiError> {
    use crate::backend::{customers, web};
    let query = customers::ListQuery {
        q: filters.q,
        segment: filters.segment,
        churn: filters.churn,
        clv_min: filters.clv_min,
        clv_max: filters.clv_max,
        seen_within_days: filters.seen_within_days,
        sort: filters.sort,
        limit: Some(25),
        cursor: filters.cursor.filter(|c| !c.is_empty()),
    };
    let (rows, next_cursor) = customers::list(web::caller().await?, &query).await?;
    Ok(CustomersPage {
        rows: rows.into_iter().map(row).collect(),
        next_cursor,
    })
}

#[server(prefix = "/rpc", endpoint = "customer")]
pub async fn customer(id: String) -> Result<CustomerView, UiError> {
    use crate::backend::{customers, web};
    let id = uuid::Uuid::parse_str(&id).map_err(|_| UiError::NotFound)?;
    use crate::backend::analytics::reports;
    // One caller (one authentication, one transaction) for the whole page.
    let mut caller = web::caller().await?;
    let scores = scores_view(reports::customer_scores(&mut caller, id).await?);
    let patterns = patterns_view(reports::customer_patterns(&mut caller, id).await?);
    let profile = customers::profile(caller, id).await?;
    let mut timeline: Vec<(chrono::DateTime<chrono::Utc>, TimelineItem)> = profile
        .interactions
        .into_iter()
        .map(|i| {
            (
                i.occurred_at,
                TimelineItem {
                    at: when(i.occurred_at),
                    kind: i.channel.clone(),
                    title: i.event_type.replace('_', " "),
                    detail: i.content,
                    sentiment: i.sentiment,
                },
            )
        })
        .chain(profile.orders.into_iter().map(|o| {
            (
                o.ordered_at,
                TimelineItem {
                    at: when(o.ordered_at),
                    kind: "order".into(),
                    title: format!(
                        "Order {} · {} {} · {}",
                        o.external_id,
                        o.total.round_dp(2),
                        o.currency,
                        o.status
                    ),
                    detail: None,
                    sentiment: None,
                },
            )
        }))
        .chain(profile.reviews.into_iter().map(|r| {
            (
                r.reviewed_at,
                TimelineItem {
                    at: when(r.reviewed_at),
                    kind: "review".into(),
                    title: format!("Review of {} · {} of 5", r.sku, r.rating),
                    detail: Some(r.content),
                    sentiment: r.sentiment,
                },
            )
        }))
        .collect();
    timeline.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    Ok(CustomerView {
        customer: row(profile.customer),
        scores,
        patterns,
        timeline: timeline.into_iter().map(|(_, item)| item).collect(),
        sentiment_trend: profile
            .sentiment_trend
            .into_iter()
            .map(|w| (w.week.to_string(), w.polarity, w.texts))
            .collect(),
    })
}

/// A `datetime-local` value (no zone; the form says UTC) as RFC 3339; anything else is passed
/// on unchanged for the record parser to refuse with its usual message.
#[cfg(feature = "ssr")]
fn form_time(value: &str) -> String {
    let value = value.trim();
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(value, format).ok())
        .map_or_else(|| value.to_owned(), |t| t.and_utc().to_rfc3339())
}

/// Fields from a form: blank ones are left out, as if not sent.
#[cfg(feature = "ssr")]
fn record(fields: &[(&str, Option<String>)]) -> serde_json::Value {
    serde_json::Value::Object(
        fields
            .iter()
            .filter_map(|(name, value)| {
                let value = value.as_deref()?.trim();
                (!value.is_empty()).then(|| (name.to_string(), serde_json::Value::String(value.to_owned())))
            })
            .collect(),
    )
}

/// A record's id when the form leaves it blank: typed records need none of their own.
#[cfg(feature = "ssr")]
fn manual_id(given: Option<String>) -> Option<String> {
    given
        .filter(|id| !id.trim().is_empty())
        .or_else(|| Some(format!("manual-{}", uuid::Uuid::new_v4())))
}

/// Adds one interaction; answers the customer's id (made on first sight).
#[server(prefix = "/rpc", endpoint = "add-interaction")]
pub async fn add_interaction(
    external_id: Option<String>,
    customer_external_id: Option<String>,
    occurred_at: Option<String>,
    channel: Option<String>,
    event_type: Option<String>,
    content: Option<String>,
) -> Result<String, UiError> {
    use crate::backend::ingest::batch;
    use crate::backend::web;
    let result = async {
        let value = record(&[
            ("external_id", manual_id(external_id)),
            ("customer_external_id", customer_external_id),
            ("occurred_at", occurred_at.as_deref().map(form_time)),
            ("channel", channel),
            ("event_type", event_type),
            ("content", content),
        ]);
        let stored = batch::ingest_interaction(&web::state(), web::caller().await?, &value, None).await?;
        Ok(stored.written.customer_id.to_string())
    }
    .await;
    web::finish(result)
}

/// Adds one order with one line; answers the order's external id.
#[server(prefix = "/rpc", endpoint = "add-order")]
pub async fn add_order(
    external_id: Option<String>,
    customer_external_id: Option<String>,
    ordered_at: Option<String>,
    status: Option<String>,
    currency: Option<String>,
    total: Option<String>,
    country: Option<String>,
    sku: Option<String>,
    quantity: Option<String>,
    unit_price: Option<String>,
) -> Result<String, UiError> {
    use crate::backend::error::ApiError;
    use crate::backend::ingest::batch::{self, Mode};
    use crate::backend::web;
    let result = async {
        let external_id = manual_id(external_id);
        let mut value = record(&[
            ("external_id", external_id.clone()),
            ("customer_external_id", customer_external_id),
            ("ordered_at", ordered_at.as_deref().map(form_time)),
            ("status", status),
            ("currency", currency),
            ("total", total),
            ("country", country),
        ]);
        value["lines"] = serde_json::json!([record(&[
            ("sku", sku),
            ("quantity", quantity),
            ("unit_price", unit_price)
        ])]);
        batch::ingest::<domain::records::Order>(&web::state(), web::caller().await?, &[value], Mode::Atomic)
            .await
            .map_err(|error| match error {
                // The form has one line: its fields are named without the `lines[0].` prefix.
                ApiError::Validation(mut fields) => {
                    for f in &mut fields {
                        f.field = f.field.trim_start_matches("lines[0].").to_owned();
                    }
                    ApiError::Validation(fields)
                }
                other => other,
            })?;
        Ok(external_id.unwrap_or_default())
    }
    .await;
    web::finish(result)
}
