//! RFM segmentation (SPEC ANA-2): recency, frequency and monetary quintile scores (1–5) and
//! the well-known named segments, plus how customers moved between two dates.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::{Analysis, Sample};

/// One customer's purchases, summarised.
#[derive(Clone, Debug, PartialEq)]
pub struct Purchases<K> {
    pub customer: K,
    pub last_order: NaiveDate,
    pub orders: u32,
    pub revenue: f64,
}

/// The ten segments of the classic R × F grid (as used by Shopify apps, Klaviyo and Putler).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    Champions,
    LoyalCustomers,
    PotentialLoyalists,
    NewCustomers,
    Promising,
    NeedAttention,
    AboutToSleep,
    AtRisk,
    CantLoseThem,
    Hibernating,
}

impl Segment {
    pub const ALL: [Segment; 10] = [
        Segment::Champions,
        Segment::LoyalCustomers,
        Segment::PotentialLoyalists,
        Segment::NewCustomers,
        Segment::Promising,
        Segment::NeedAttention,
        Segment::AboutToSleep,
        Segment::AtRisk,
        Segment::CantLoseThem,
        Segment::Hibernating,
    ];

    /// The segment of a recency and frequency score.
    pub fn of(r: u8, f: u8) -> Segment {
        match (r, f) {
            (5, 4..=5) => Segment::Champions,
            (3..=4, 4..=5) => Segment::LoyalCustomers,
            (4..=5, 2..=3) => Segment::PotentialLoyalists,
            (5, 1) => Segment::NewCustomers,
            (4, 1) => Segment::Promising,
            (3, 3) => Segment::NeedAttention,
            (3, 1..=2) => Segment::AboutToSleep,
            (1..=2, 5) => Segment::CantLoseThem,
            (1..=2, 3..=4) => Segment::AtRisk,
            _ => Segment::Hibernating,
        }
    }

    /// A stable name for storage and URLs (as serialised).
    pub fn key(self) -> &'static str {
        match self {
            Segment::Champions => "champions",
            Segment::LoyalCustomers => "loyal_customers",
            Segment::PotentialLoyalists => "potential_loyalists",
            Segment::NewCustomers => "new_customers",
            Segment::Promising => "promising",
            Segment::NeedAttention => "need_attention",
            Segment::AboutToSleep => "about_to_sleep",
            Segment::AtRisk => "at_risk",
            Segment::CantLoseThem => "cant_lose_them",
            Segment::Hibernating => "hibernating",
        }
    }

    /// The segment a [`Segment::key`] names.
    pub fn from_key(key: &str) -> Option<Segment> {
        Segment::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            Segment::Champions => "Champions",
            Segment::LoyalCustomers => "Loyal customers",
            Segment::PotentialLoyalists => "Potential loyalists",
            Segment::NewCustomers => "New customers",
            Segment::Promising => "Promising",
            Segment::NeedAttention => "Need attention",
            Segment::AboutToSleep => "About to sleep",
            Segment::AtRisk => "At risk",
            Segment::CantLoseThem => "Can't lose them",
            Segment::Hibernating => "Hibernating",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomerRfm<K> {
    pub customer: K,
    pub recency_days: i64,
    pub frequency: u32,
    pub monetary: f64,
    pub r: u8,
    pub f: u8,
    pub m: u8,
    pub segment: Segment,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SegmentSummary {
    pub segment: Segment,
    pub label: &'static str,
    pub customers: usize,
    pub share: f64,
    pub revenue: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rfm<K> {
    /// Customers with at least one order up to the date, and the date.
    pub sample: Sample,
    pub as_of: NaiveDate,
    pub customers: Vec<CustomerRfm<K>>,
    /// Every segment, empty ones included, in [`Segment::ALL`] order.
    pub segments: Vec<SegmentSummary>,
}

/// Fewest customers for quintiles to mean anything.
pub const MIN_CUSTOMERS: usize = 5;

/// Quintile scores 1–5 by rank: a value scores by how many values are strictly below it, so
/// equal values share a score and distinct values split into five equal groups.
pub fn quintile_scores(values: &[f64]) -> Vec<u8> {
    let n = values.len();
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    values
        .iter()
        .map(|v| {
            let below = sorted.partition_point(|s| s.total_cmp(v).is_lt());
            (1 + below * 5 / n.max(1)) as u8
        })
        .collect()
}

/// Scores and segments every customer as of `as_of` (purchases after it are the caller's to
/// leave out).
pub fn score<K: Clone>(purchases: &[Purchases<K>], as_of: NaiveDate) -> Analysis<Rfm<K>> {
    if purchases.len() < MIN_CUSTOMERS {
        return Analysis::insufficient(
            format!("at least {MIN_CUSTOMERS} customers with an order"),
            purchases.len(),
            "import orders to see RFM segments",
        );
    }
    let recency: Vec<f64> = purchases
        .iter()
        .map(|p| -((as_of - p.last_order).num_days() as f64))
        .collect();
    let frequency: Vec<f64> = purchases.iter().map(|p| f64::from(p.orders)).collect();
    let monetary: Vec<f64> = purchases.iter().map(|p| p.revenue).collect();
    let (r, f, m) = (
        quintile_scores(&recency),
        quintile_scores(&frequency),
        quintile_scores(&monetary),
    );
    let customers: Vec<CustomerRfm<K>> = purchases
        .iter()
        .enumerate()
        .map(|(i, p)| CustomerRfm {
            customer: p.customer.clone(),
            recency_days: (as_of - p.last_order).num_days(),
            frequency: p.orders,
            monetary: p.revenue,
            r: r[i],
            f: f[i],
            m: m[i],
            segment: Segment::of(r[i], f[i]),
        })
        .collect();
    let n = customers.len();
    let segments = Segment::ALL
        .iter()
        .map(|&segment| {
            let members = customers.iter().filter(|c| c.segment == segment);
            let (count, revenue) = members.fold((0, 0.0), |(c, r), m| (c + 1, r + m.monetary));
            SegmentSummary {
                segment,
                label: segment.label(),
                customers: count,
                share: count as f64 / n as f64,
                revenue,
            }
        })
        .collect();
    let first = purchases.iter().map(|p| p.last_order).min().unwrap_or(as_of);
    Analysis::Ready(Rfm {
        sample: Sample::dated(n, first, as_of),
        as_of,
        customers,
        segments,
    })
}

/// How many customers moved from one segment to another between two scorings (customers new
/// at the later date come `from: None`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Movement {
    pub from: Option<Segment>,
    pub to: Segment,
    pub customers: usize,
}

pub fn movement<K: Ord + Clone>(before: &Rfm<K>, after: &Rfm<K>) -> Vec<Movement> {
    let earlier: BTreeMap<&K, Segment> = before
        .customers
        .iter()
        .map(|c| (&c.customer, c.segment))
        .collect();
    let mut counts: BTreeMap<(Option<Segment>, Segment), usize> = BTreeMap::new();
    for c in &after.customers {
        *counts
            .entry((earlier.get(&c.customer).copied(), c.segment))
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((from, to), customers)| Movement { from, to, customers })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_segment_key_is_its_serialised_name_and_reads_back() {
        for segment in Segment::ALL {
            let json = serde_json::to_value(segment).unwrap();
            assert_eq!(json, segment.key());
            assert_eq!(Segment::from_key(segment.key()), Some(segment));
        }
        assert_eq!(Segment::from_key("vip"), None);
    }
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn scores_are_one_to_five_and_distinct_values_split_evenly(values in prop::collection::hash_set(0u32..100_000, 5..300)) {
            let values: Vec<f64> = values.into_iter().map(f64::from).collect();
            let scores = quintile_scores(&values);
            prop_assert!(scores.iter().all(|s| (1..=5).contains(s)));
            let n = values.len();
            for s in 1..=5u8 {
                let count = scores.iter().filter(|x| **x == s).count();
                prop_assert!(count.abs_diff(n / 5) <= 1, "score {s}: {count} of {n}");
            }
        }

        #[test]
        fn a_higher_value_never_scores_lower(values in prop::collection::vec(0u32..50, 1..200)) {
            let values: Vec<f64> = values.into_iter().map(f64::from).collect();
            let scores = quintile_scores(&values);
            for i in 0..values.len() {
                for j in 0..values.len() {
                    if values[i] < values[j] { prop_assert!(scores[i] <= scores[j]); }
                    if values[i] == values[j] { prop_assert_eq!(scores[i], scores[j]); }
                }
            }
        }
    }

    #[test]
    fn every_score_pair_has_a_segment_and_the_corners_are_the_named_ones() {
        assert_eq!(Segment::of(5, 5), Segment::Champions);
        assert_eq!(Segment::of(1, 1), Segment::Hibernating);
        assert_eq!(Segment::of(1, 5), Segment::CantLoseThem);
        assert_eq!(Segment::of(5, 1), Segment::NewCustomers);
        let covered: std::collections::BTreeSet<Segment> = (1..=5)
            .flat_map(|r| (1..=5).map(move |f| Segment::of(r, f)))
            .collect();
        assert_eq!(covered.len(), Segment::ALL.len());
    }

    #[test]
    fn movement_counts_each_customer_once() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
        let p = |c: u32, d, o| Purchases {
            customer: c,
            last_order: day(d),
            orders: o,
            revenue: f64::from(o) * 10.0,
        };
        let before = score(
            &[p(1, 1, 1), p(2, 2, 2), p(3, 3, 3), p(4, 4, 4), p(5, 5, 5)],
            day(10),
        )
        .ready()
        .unwrap();
        let after = score(
            &[
                p(1, 20, 6),
                p(2, 2, 2),
                p(3, 3, 3),
                p(4, 4, 4),
                p(5, 5, 5),
                p(6, 21, 1),
            ],
            day(25),
        )
        .ready()
        .unwrap();
        let moves = movement(&before, &after);
        assert_eq!(moves.iter().map(|m| m.customers).sum::<usize>(), 6);
        assert_eq!(
            moves
                .iter()
                .filter(|m| m.from.is_none())
                .map(|m| m.customers)
                .sum::<usize>(),
            1
        );
    }
}
