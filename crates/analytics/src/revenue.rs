//! Revenue and margin by period and by a dimension (channel, category, region…) with
//! period-over-period change (SPEC ANA-5). Exact sums: the sample says how many orders and
//! which days they cover; margin is given only as far as costs are known, and says how far.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

use crate::{Analysis, Period, Sample};

/// One order line (or one order, when there is no finer grain).
#[derive(Clone, Debug, PartialEq)]
pub struct Line<K> {
    pub order: K,
    pub date: NaiveDate,
    pub revenue: f64,
    /// Cost of the goods, when known.
    pub cost: Option<f64>,
    /// The dimension value, e.g. the channel; `None` groups as "unknown".
    pub group: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figures {
    pub revenue: f64,
    pub orders: usize,
    /// Revenue minus cost over the lines with a known cost.
    pub margin: Option<f64>,
    /// Share of revenue whose cost is known (the margin's coverage).
    pub cost_coverage: f64,
    /// Relative change of revenue against the previous period (`None` when that had none).
    pub change: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeriodRevenue {
    pub period: NaiveDate,
    pub total: Figures,
    /// By dimension value, in name order.
    pub groups: BTreeMap<String, Figures>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Revenue {
    pub period: Period,
    pub sample: Sample,
    /// Every period from the first to the last, empty ones included.
    pub periods: Vec<PeriodRevenue>,
}

struct Sums<'a, K> {
    revenue: f64,
    costed_revenue: f64,
    cost: f64,
    orders: BTreeSet<&'a K>,
}

impl<K> Default for Sums<'_, K> {
    fn default() -> Self {
        Sums {
            revenue: 0.0,
            costed_revenue: 0.0,
            cost: 0.0,
            orders: BTreeSet::new(),
        }
    }
}

impl<K> Sums<'_, K> {
    fn figures(&self, previous: Option<f64>) -> Figures {
        Figures {
            revenue: self.revenue,
            orders: self.orders.len(),
            margin: (self.costed_revenue > 0.0).then_some(self.costed_revenue - self.cost),
            cost_coverage: if self.revenue > 0.0 {
                self.costed_revenue / self.revenue
            } else {
                0.0
            },
            change: previous.filter(|p| *p > 0.0).map(|p| (self.revenue - p) / p),
        }
    }
}

/// Revenue per period between `from` and `to` (inclusive).
pub fn revenue<K: Ord>(
    lines: &[Line<K>],
    period: Period,
    from: NaiveDate,
    to: NaiveDate,
) -> Analysis<Revenue> {
    let inside: Vec<&Line<K>> = lines
        .iter()
        .filter(|l| from <= l.date && l.date <= to && l.revenue.is_finite())
        .collect();
    if inside.is_empty() {
        return Analysis::insufficient(
            "at least one order in the range",
            0,
            "import orders or widen the date range",
        );
    }
    let mut totals: BTreeMap<NaiveDate, Sums<K>> = BTreeMap::new();
    let mut grouped: BTreeMap<(NaiveDate, String), Sums<K>> = BTreeMap::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    for line in &inside {
        let start = period.start(line.date);
        let name = line.group.clone().unwrap_or_else(|| "unknown".to_string());
        names.insert(name.clone());
        for sums in [
            totals.entry(start).or_default(),
            grouped.entry((start, name)).or_default(),
        ] {
            sums.revenue += line.revenue;
            if let Some(cost) = line.cost.filter(|c| c.is_finite()) {
                sums.costed_revenue += line.revenue;
                sums.cost += cost;
            }
            sums.orders.insert(&line.order);
        }
    }
    let empty = Sums::<K>::default();
    let last = period.start(to);
    let mut periods: Vec<PeriodRevenue> = Vec::new();
    let mut start = period.start(from);
    while start <= last {
        let previous = periods.last();
        let total = totals
            .get(&start)
            .unwrap_or(&empty)
            .figures(previous.map(|p| p.total.revenue));
        let groups = names
            .iter()
            .map(|name| {
                let before = previous.and_then(|p| p.groups.get(name)).map(|f| f.revenue);
                (
                    name.clone(),
                    grouped
                        .get(&(start, name.clone()))
                        .unwrap_or(&empty)
                        .figures(before),
                )
            })
            .collect();
        periods.push(PeriodRevenue {
            period: start,
            total,
            groups,
        });
        start = period.advance(start, 1);
    }
    let orders: BTreeSet<&K> = inside.iter().map(|l| &l.order).collect();
    Analysis::Ready(Revenue {
        period,
        sample: Sample::dated(orders.len(), from, to),
        periods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn groups_add_up_to_the_total_and_change_follows_the_previous_period(
            lines in prop::collection::vec((0u32..50, 0u16..120, 1u32..10_000, prop::option::of(0u32..5_000), 0u8..3), 1..150),
        ) {
            let base = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
            let lines: Vec<Line<u32>> = lines.iter().map(|(o, d, r, c, g)| Line {
                order: *o,
                date: base + chrono::Days::new(u64::from(*d)),
                revenue: f64::from(*r) / 100.0,
                cost: c.map(|c| f64::from(c) / 100.0),
                group: Some(["web", "store", "app"][*g as usize].to_string()),
            }).collect();
            let result = revenue(&lines, Period::Month, base, base + chrono::Days::new(119)).ready().unwrap();
            let everything: f64 = lines.iter().map(|l| l.revenue).sum();
            let reported: f64 = result.periods.iter().map(|p| p.total.revenue).sum();
            prop_assert!((everything - reported).abs() < 1e-6);
            for (i, p) in result.periods.iter().enumerate() {
                let parts: f64 = p.groups.values().map(|g| g.revenue).sum();
                prop_assert!((parts - p.total.revenue).abs() < 1e-6);
                prop_assert!(p.total.cost_coverage <= 1.0 + 1e-12);
                if i > 0 && result.periods[i - 1].total.revenue > 0.0 {
                    let before = result.periods[i - 1].total.revenue;
                    prop_assert!((p.total.change.unwrap() - (p.total.revenue - before) / before).abs() < 1e-9);
                }
            }
        }
    }
}
