//! Computes the dashboard (SPEC UI-2) from the rollups: `daily_rollups` (per day and channel)
//! and `active_gaps` (customers by active day and previous active day), and the same per RFM
//! segment (`segment_days`, `segment_gaps`, migration 0021), brought up to date first by
//! folding the writes' logged deltas (`rollups`), plus the last scoring run's customers counted
//! per RFM segment and cell (`score_cells`, migration 0022). No query here reads raw events or
//! every customer's scores, so the cost follows the number of days, not of events or customers
//! — and the same per product category (`category_days`, `category_gaps`,
//! `category_score_cells`, migration 0025). Only a category and a segment chosen together read
//! the category's orders of the range (`order_categories`, migration 0023, one narrow index
//! range) and its reviews' scores, a cost that follows them.

use analytics::rfm::Segment;
use analytics::Interval;
use chrono::{NaiveDate, Utc};
use domain::Permission;
use serde::Deserialize;

use super::analytics::reports::{date, invalid};
use super::caller::Caller;
use super::error::ApiError;
use super::text::search::channel_param;
use crate::dashboard::{Bucket, ChannelTotals, Dashboard, Kpi, RfmCell, SegmentTotals};

/// Query parameters as sent: `from`/`to` (ISO dates), or `days` ending today; `channel`;
/// `segment` (an RFM segment key); `category` (a product category).
#[derive(Debug, Default, Deserialize)]
pub struct DashboardQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub days: Option<String>,
    pub channel: Option<String>,
    pub segment: Option<String>,
    pub category: Option<String>,
}

/// The validated range and filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub channel: Option<&'static str>,
    /// Customers of this RFM segment as of the last scoring run.
    pub segment: Option<Segment>,
    /// Order lines and reviews of products in this category.
    pub category: Option<String>,
}

impl Scope {
    /// The range of the same length just before this one.
    pub fn previous(&self) -> (NaiveDate, NaiveDate) {
        let days = (self.to - self.from).num_days() + 1;
        (
            self.from - chrono::Duration::days(days),
            self.from - chrono::Duration::days(1),
        )
    }

    /// Series buckets: days up to three months, weeks up to two years, then months.
    pub fn bucket(&self) -> &'static str {
        match (self.to - self.from).num_days() + 1 {
            days if days <= 92 => "day",
            days if days <= 731 => "week",
            _ => "month",
        }
    }
}

/// Checks the parameters: a 422 naming the field for a bad date, an inverted or over-long
/// range, a `days` outside 1..=3660, an unknown channel or segment, or a category name longer
/// than a product's can be. A category no product has is not an error: its figures are zero.
pub fn scope(query: &DashboardQuery, today: NaiveDate) -> Result<Scope, ApiError> {
    let days = match query.days.as_deref().filter(|d| !d.is_empty()) {
        None => 30,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=3660).contains(d))
            .ok_or_else(|| invalid("days", "must be a whole number of days from 1 to 3660"))?,
    };
    let to = date("to", query.to.as_deref())?.unwrap_or(today);
    let from = date("from", query.from.as_deref())?.unwrap_or(to - chrono::Duration::days(days - 1));
    if from > to {
        return Err(invalid("from", "must not be after `to`"));
    }
    if (to - from).num_days() >= 3660 {
        return Err(invalid("from", "the range may span at most ten years"));
    }
    let channel = query
        .channel
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| channel_param(c, &["review"]))
        .transpose()?;
    let segment = query
        .segment
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|key| {
            Segment::from_key(key).ok_or_else(|| {
                let keys: Vec<&str> = Segment::ALL.iter().map(|s| s.key()).collect();
                invalid("segment", format!("must be one of {}", keys.join(", ")))
            })
        })
        .transpose()?;
    let category = query
        .category
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            (c.chars().count() <= 200)
                .then(|| c.to_owned())
                .ok_or_else(|| invalid("category", "must be at most 200 characters"))
        })
        .transpose()?;
    Ok(Scope {
        from,
        to,
        channel,
        segment,
        category,
    })
}

// Every dashboard query binds the same parameters: $1 = organization, $2 = channel, $3 =
// segment key, $4 = category (each null when not chosen), $5..$6 = the days it reads, and $7
// whatever else it needs. A `union all` branch whose condition on them is false is not run.

/// The category's counted orders of $5..$6 (one row per order with its lines' revenue in the
/// category, kept by migration 0023), in channel $2 and of segment $3's customers: `from …
/// where …` over `o`.
macro_rules! segment_category_orders {
    () => {
        "from order_categories o
         where o.org_id = $1 and o.category = $4 and o.day between $5 and $6
           and ($2::text is null or o.channel = $2)
           and o.customer_id in (select customer_id from customer_scores where org_id = $1 and segment = $3)"
    };
}

/// The per-day figures every range query sums, as relation `days` (day, channel,
/// interactions, orders, revenue, texts, polarity_sum, polarity_squares) over $5..$6: the daily
/// rollups, or with a segment chosen the segment's (migration 0021).
macro_rules! rollup_days {
    () => {
        "(select day, channel, interactions, orders, revenue, texts, polarity_sum, polarity_squares
          from daily_rollups
          where org_id = $1 and $3::text is null and ($2::text is null or channel = $2) and day between $5 and $6
          union all
          select day, channel, interactions, orders, revenue, texts, polarity_sum, polarity_squares
          from segment_days
          where org_id = $1 and segment = $3 and ($2::text is null or channel = $2) and day between $5 and $6
         ) as days"
    };
}

/// `days` for category $4: its orders and revenue, and its products' scored reviews, from
/// its rollups (migration 0025). Interactions are not tied to products, so there are none.
macro_rules! category_rollup_days {
    () => {
        "(select day, channel, 0::int8 as interactions, orders, revenue, texts, polarity_sum, polarity_squares
          from category_days
          where org_id = $1 and category = $4 and ($2::text is null or channel = $2) and day between $5 and $6
         ) as days"
    };
}

/// `days` for category $4 and segment $3 together, which no rollup holds: the segment's
/// customers' orders and scored reviews of the category, read per request.
macro_rules! segment_category_days {
    () => {
        concat!(
            "(select o.day, o.channel, 0::int8 as interactions, count(*)::int8 as orders, sum(o.revenue) as revenue,
                     0::int8 as texts, 0::float8 as polarity_sum, 0::float8 as polarity_squares ",
            segment_category_orders!(),
            " group by 1, 2
             union all
             select (t.written_at at time zone 'UTC')::date, 'review', 0, 0, 0, count(*),
                    sum(t.positive::float8 - t.negative::float8), sum((t.positive::float8 - t.negative::float8) ^ 2)
             from text_scores t
             join reviews r on r.org_id = t.org_id and r.id = t.subject_id
             join products p on p.org_id = r.org_id and p.id = r.product_id
             where t.org_id = $1 and t.subject = 'review' and p.category = $4
               and t.written_at >= $5::date::timestamp at time zone 'UTC'
               and t.written_at < ($6::date + 1)::timestamp at time zone 'UTC'
               and ($2::text is null or $2 = 'review')
               and t.customer_id in (select customer_id from customer_scores where org_id = $1 and segment = $3)
             group by 1) as days"
        )
    };
}

/// Where a request's day figures come from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    /// The organization's or a segment's rollups.
    Rollups,
    /// A category's rollups.
    Category,
    /// A category's orders and reviews, of a segment's customers.
    SegmentCategory,
}

/// The statement `$head days $tail` over the rows `$source` names.
macro_rules! over_days {
    ($source:expr, $head:expr, $tail:expr) => {
        match $source {
            Source::Rollups => concat!($head, rollup_days!(), $tail),
            Source::Category => concat!($head, category_rollup_days!(), $tail),
            Source::SegmentCategory => concat!($head, segment_category_days!(), $tail),
        }
    };
}

/// One range's totals from `daily_rollups`.
#[derive(Debug, Default, sqlx::FromRow)]
struct Totals {
    orders: i64,
    revenue: f64,
    texts: i64,
    polarity_sum: f64,
    polarity_squares: f64,
}

/// `GET /api/v1/dashboard`: the dashboard for `query`.
pub async fn dashboard(caller: &mut Caller, query: &DashboardQuery) -> Result<Dashboard, ApiError> {
    caller.require(Permission::ReadData, "dashboard.read").await?;
    let scope = scope(query, Utc::now().date_naive())?;
    // Every figure counts everything committed before this request.
    super::rollups::fold(&mut caller.tenant).await?;
    let org = caller.tenant.org_id();
    let (previous_from, previous_to) = scope.previous();
    let conn = caller.tenant.conn();
    // Every read below is a few index ranges. A branch switched off by an unchosen filter can
    // still be planned as a parallel scan under a false one-time filter, and starting its
    // workers cost more than the reads themselves (about 5 ms per query here).
    sqlx::query("set local max_parallel_workers_per_gather = 0")
        .execute(&mut *conn)
        .await?;

    let segment = scope.segment.map(Segment::key);
    let category = scope.category.as_deref();
    let source = match (category, segment) {
        (None, _) => Source::Rollups,
        (Some(_), None) => Source::Category,
        (Some(_), Some(_)) => Source::SegmentCategory,
    };
    // Both ranges' totals in one pass over their days.
    let totals: Vec<(bool, Totals)> = sqlx::query_as::<_, (bool, i64, f64, i64, f64, f64)>(over_days!(
        source,
        "select day >= $7 as current, coalesce(sum(orders), 0)::int8, coalesce(sum(revenue), 0)::float8,
                coalesce(sum(texts), 0)::int8, coalesce(sum(polarity_sum), 0)::float8,
                coalesce(sum(polarity_squares), 0)::float8
         from ",
        " group by 1"
    ))
    .bind(org)
    .bind(scope.channel)
    .bind(segment)
    .bind(category)
    .bind(previous_from)
    .bind(scope.to)
    .bind(scope.from)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(
        |(current, orders, revenue, texts, polarity_sum, polarity_squares)| {
            (
                current,
                Totals {
                    orders,
                    revenue,
                    texts,
                    polarity_sum,
                    polarity_squares,
                },
            )
        },
    )
    .collect();
    let mut current = Totals::default();
    let mut previous = Totals::default();
    for (is_current, t) in totals {
        if is_current {
            current = t;
        } else {
            previous = t;
        }
    }

    // Customers whose first active day in the range follows a gap from before it (see
    // migration 0012): a sum over the range's (day, previous day) pairs, not a distinct count.
    // A segment's gaps count its members, a category's its buyers; a segment's buyers of a
    // category are counted from their orders.
    let active = |from: NaiveDate, to: NaiveDate| {
        sqlx::query_scalar::<_, i64>(match source {
            Source::Rollups => {
                "select (select coalesce(sum(customers), 0)::int8 from active_gaps
                         where org_id = $1 and channel = coalesce($2, '*') and $3::text is null
                           and day between $5 and $6 and previous_day < $5)
                      + (select coalesce(sum(customers), 0)::int8 from segment_gaps
                         where org_id = $1 and segment = $3 and channel = coalesce($2, '*')
                           and day between $5 and $6 and previous_day < $5)"
            }
            Source::Category => {
                "select coalesce(sum(customers), 0)::int8 from category_gaps
                 where org_id = $1 and category = $4 and channel = coalesce($2, '*')
                   and day between $5 and $6 and previous_day < $5"
            }
            Source::SegmentCategory => concat!(
                "select count(distinct o.customer_id) ",
                segment_category_orders!()
            ),
        })
        .bind(org)
        .bind(scope.channel)
        .bind(segment)
        .bind(category)
        .bind(from)
        .bind(to)
    };
    let active_now = active(scope.from, scope.to).fetch_one(&mut *conn).await?;
    let active_before = active(previous_from, previous_to).fetch_one(&mut *conn).await?;

    let series: Vec<Bucket> = sqlx::query_as::<_, (NaiveDate, i64, i64, f64, i64, f64)>(over_days!(
        source,
        "select date_trunc($7, day)::date, sum(interactions)::int8, sum(orders)::int8, sum(revenue)::float8,
                sum(texts)::int8, sum(polarity_sum)::float8
         from ",
        " group by 1 order by 1"
    ))
    .bind(org)
    .bind(scope.channel)
    .bind(segment)
    .bind(category)
    .bind(scope.from)
    .bind(scope.to)
    .bind(scope.bucket())
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(start, interactions, orders, revenue, texts, polarity)| Bucket {
        start: start.to_string(),
        interactions,
        orders,
        revenue,
        texts,
        sentiment: (texts > 0).then(|| polarity / texts as f64),
    })
    .collect();

    let channels: Vec<ChannelTotals> = sqlx::query_as::<_, (String, i64, i64, f64, i64)>(over_days!(
        source,
        "select channel, sum(interactions)::int8, sum(orders)::int8, sum(revenue)::float8, sum(texts)::int8
         from ",
        "
         group by 1
         having sum(interactions) <> 0 or sum(orders) <> 0 or sum(texts) <> 0
         order by 2 desc, 3 desc, 1"
    ))
    .bind(org)
    .bind(scope.channel)
    .bind(segment)
    .bind(category)
    .bind(scope.from)
    .bind(scope.to)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(channel, interactions, orders, revenue, texts)| ChannelTotals {
        channel,
        interactions,
        orders,
        revenue,
        texts,
    })
    .collect();

    let currency: Option<String> = sqlx::query_scalar(
        "select currency::text from orders where org_id = $1 order by ordered_at desc limit 1",
    )
    .bind(org)
    .fetch_optional(&mut *conn)
    .await?;

    // The last scoring run's segments and churn bands (a snapshot, not a range), from its cells
    // (migration 0022); with a category chosen, of the customers who had bought in it by then
    // (migration 0025).
    let scored: Vec<(String, i64, f64, i64)> = sqlx::query_as(if category.is_some() {
        "select segment, sum(customers)::int8, sum(monetary)::float8, sum(high_churn)::int8
         from category_score_cells where org_id = $1 and category = $2 group by 1"
    } else {
        "select segment, sum(customers)::int8, sum(monetary)::float8, sum(high_churn)::int8
         from score_cells where org_id = $1 group by 1"
    })
    .bind(org)
    .bind(category)
    .fetch_all(&mut *conn)
    .await?;
    let rfm_grid: Vec<RfmCell> = sqlx::query_as::<_, (i16, i16, i64, f64)>(if category.is_some() {
        "select r_score, f_score, sum(customers)::int8, sum(monetary)::float8
         from category_score_cells
         where org_id = $1 and category = $2 and ($3::text is null or segment = $3)
         group by 1, 2 order by 1, 2"
    } else {
        "select r_score, f_score, sum(customers)::int8, sum(monetary)::float8
         from score_cells
         where org_id = $1 and ($3::text is null or segment = $3)
         group by 1, 2 order by 1, 2"
    })
    .bind(org)
    .bind(category)
    .bind(segment)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(r, f, customers, revenue)| RfmCell {
        r,
        f,
        customers,
        revenue,
    })
    .collect();
    // The categories to choose from (the products' own, so a bookmarked one that is gone still
    // answers, with zeros).
    let categories: Vec<String> = sqlx::query_scalar(
        "select distinct category from products where org_id = $1 and category is not null order by 1 limit 500",
    )
    .bind(org)
    .fetch_all(&mut *conn)
    .await?;
    let scored_at: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("select max(scored_at) from score_cells where org_id = $1")
            .bind(org)
            .fetch_one(&mut *conn)
            .await?;
    // Only reads: the transaction ends with the caller.

    let segments = Segment::ALL
        .iter()
        .filter_map(|s| {
            scored
                .iter()
                .find(|row| row.0 == s.key())
                .map(|row| SegmentTotals {
                    segment: s.key().to_owned(),
                    label: s.label().to_owned(),
                    customers: row.1,
                    revenue: row.2,
                })
        })
        .collect();
    let in_scope = scored.iter().filter(|row| segment.is_none_or(|s| row.0 == s));
    let high_churn: i64 = in_scope.clone().map(|row| row.3).sum();
    let scored_customers: i64 = in_scope.map(|row| row.1).sum();

    let sentiment = |t: &Totals| {
        (t.texts > 0)
            .then(|| Interval::mean_of_moments(t.texts as f64, t.polarity_sum, t.polarity_squares, 0.9))
    };
    let sentiment_now = sentiment(&current);
    let kpis = vec![
        Kpi {
            key: "revenue".into(),
            label: "Revenue".into(),
            value: Some(current.revenue),
            previous: Some(previous.revenue),
            interval: None,
            explanation: match category {
                Some(c) => format!(
                    "Sum of the order lines (quantity × unit price) of products in category “{c}”; \
                         refunded and cancelled orders are left out."
                ),
                None => "Sum of order totals; refunded and cancelled orders are left out.".to_owned(),
            },
            empty_hint: (current.orders == 0).then(|| "Import orders to see revenue.".to_owned()),
        },
        Kpi {
            key: "orders".into(),
            label: "Orders".into(),
            value: Some(current.orders as f64),
            previous: Some(previous.orders as f64),
            interval: None,
            explanation: match category {
                Some(c) => {
                    format!("Orders with a product in category “{c}”, refunds and cancellations left out.")
                }
                None => "Orders placed, refunds and cancellations left out.".to_owned(),
            },
            empty_hint: (current.orders == 0).then(|| "Import orders or connect Shopify.".to_owned()),
        },
        Kpi {
            key: "active_customers".into(),
            label: "Active customers".into(),
            value: Some(active_now as f64),
            previous: Some(active_before as f64),
            interval: None,
            explanation: match category {
                Some(c) => format!("Customers who ordered a product in category “{c}” in the range."),
                None => "Customers with at least one interaction or order in the range.".to_owned(),
            },
            empty_hint: (active_now == 0).then(|| "Send interactions or import a CSV file.".to_owned()),
        },
        Kpi {
            key: "sentiment".into(),
            label: "Average sentiment".into(),
            value: sentiment_now.as_ref().map(|i| i.estimate),
            previous: sentiment(&previous).map(|i| i.estimate),
            interval: sentiment_now.as_ref().map(|i| (i.low, i.high)),
            explanation: format!(
                "Mean of P(positive) − P(negative) over {} scored {}, from −1 (all negative) to 1.",
                current.texts,
                category.map_or("texts".to_owned(), |c| format!(
                    "reviews of products in category “{c}”"
                )),
            ),
            empty_hint: (current.texts == 0).then(|| {
                "Texts are scored as they arrive: send interactions with content or reviews.".to_owned()
            }),
        },
        Kpi {
            key: "high_churn_risk".into(),
            label: "Customers at high churn risk".into(),
            value: scored_at.map(|_| high_churn as f64),
            previous: None,
            interval: None,
            explanation: match scored_at {
                Some(at) => format!(
                    "Of {scored_customers} scored customers{}{}, as of the scoring run at {} (all channels).",
                    scope
                        .segment
                        .map(|s| format!(" in {}", s.label()))
                        .unwrap_or_default(),
                    category
                        .map(|c| format!(" who had bought in category “{c}” by then"))
                        .unwrap_or_default(),
                    at.format("%Y-%m-%d %H:%M UTC"),
                ),
                None => "No scoring run has finished yet.".to_owned(),
            },
            empty_hint: scored_at.is_none().then(|| {
                "Scores are computed after each import and daily; import orders to get them.".to_owned()
            }),
        },
        Kpi {
            key: "open_alerts".into(),
            label: "Open alerts".into(),
            value: None,
            previous: None,
            interval: None,
            explanation: "Fraud and anomaly alerts are not computed yet.".to_owned(),
            empty_hint: Some("Alerts arrive with fraud detection.".to_owned()),
        },
    ];

    Ok(Dashboard {
        from: scope.from.to_string(),
        to: scope.to.to_string(),
        days: (scope.to - scope.from).num_days() + 1,
        previous_from: previous_from.to_string(),
        previous_to: previous_to.to_string(),
        channel: scope.channel.map(str::to_owned),
        segment: scope.segment.map(|s| s.key().to_owned()),
        category: scope.category.clone(),
        categories,
        currency,
        kpis,
        bucket: scope.bucket().to_owned(),
        series,
        channels,
        segments,
        rfm_grid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_default_is_thirty_days_ending_today_and_bad_parameters_name_their_field() {
        let today = day("2026-11-22");
        let s = scope(&DashboardQuery::default(), today).unwrap();
        assert_eq!((s.from, s.to, s.channel), (day("2026-10-24"), today, None));
        let field = |q: DashboardQuery| match scope(&q, today) {
            Err(ApiError::Validation(errors)) => errors[0].field.clone(),
            other => panic!("expected a validation error, got {other:?}"),
        };
        let q = |f: &str, v: &str| {
            let mut q = DashboardQuery::default();
            match f {
                "from" => q.from = Some(v.into()),
                "to" => q.to = Some(v.into()),
                "days" => q.days = Some(v.into()),
                _ => q.channel = Some(v.into()),
            }
            q
        };
        assert_eq!(field(q("days", "0")), "days");
        assert_eq!(field(q("days", "x")), "days");
        assert_eq!(field(q("from", "2026-13-01")), "from");
        assert_eq!(field(q("from", "2026-11-23")), "from");
        assert_eq!(field(q("channel", "fax")), "channel");
        assert_eq!(
            scope(&q("channel", "review"), today).unwrap().channel,
            Some("review")
        );
    }

    proptest! {
        #[test]
        fn the_previous_range_has_the_same_length_and_ends_the_day_before(
            start in 0i64..20_000, length in 1i64..3000,
        ) {
            let from = day("1990-01-01") + chrono::Duration::days(start);
            let to = from + chrono::Duration::days(length - 1);
            let s = Scope { from, to, channel: None, segment: None, category: None };
            let (pf, pt) = s.previous();
            prop_assert_eq!((pt - pf).num_days(), (to - from).num_days());
            prop_assert_eq!(pt.succ_opt().unwrap(), from);
            let bucket = s.bucket();
            prop_assert!(bucket == "day" || bucket == "week" || bucket == "month");
            // Buckets never hold more than about a hundred points on a chart.
            let points = match bucket { "day" => length, "week" => length / 7 + 1, _ => length / 28 + 1 };
            prop_assert!(points <= 131, "{} points of a {} range", points, bucket);
        }
    }
}
