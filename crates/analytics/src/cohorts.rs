//! Cohort retention (SPEC ANA-5): customers grouped by the period of their first order, and
//! the share of each cohort active in every later period, with a Wilson interval.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

use crate::{wilson, Analysis, Interval, Period, Sample};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cohort {
    /// First day of the acquisition period.
    pub period: NaiveDate,
    pub customers: usize,
    /// Index k: share of the cohort active k periods after acquiring (k = 0 is always 1).
    pub retention: Vec<Retention>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Retention {
    pub offset: u32,
    pub active: usize,
    pub share: Interval,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cohorts {
    pub period: Period,
    pub sample: Sample,
    pub cohorts: Vec<Cohort>,
}

/// Retention by acquisition period from (customer, activity day) pairs, e.g. order days.
/// Periods run up to the one containing `as_of`, which is partial and so included as is.
pub fn retention<K: Ord>(activity: &[(K, NaiveDate)], period: Period, as_of: NaiveDate) -> Analysis<Cohorts> {
    let mut active: BTreeMap<&K, BTreeSet<NaiveDate>> = BTreeMap::new();
    for (customer, day) in activity.iter().filter(|(_, d)| *d <= as_of) {
        active.entry(customer).or_default().insert(period.start(*day));
    }
    if active.is_empty() {
        return Analysis::insufficient(
            "at least one customer with an order",
            0,
            "import orders to see cohorts",
        );
    }
    let last = period.start(as_of);
    let mut by_cohort: BTreeMap<NaiveDate, Vec<&BTreeSet<NaiveDate>>> = BTreeMap::new();
    for periods in active.values() {
        let first = *periods.first().expect("non-empty");
        by_cohort.entry(first).or_default().push(periods);
    }
    let cohorts = by_cohort
        .into_iter()
        .map(|(start, members)| {
            let span = period.between(start, last).max(0) as u32;
            let retention = (0..=span)
                .map(|offset| {
                    let target = period.advance(start, offset);
                    let count = members.iter().filter(|p| p.contains(&target)).count();
                    Retention {
                        offset,
                        active: count,
                        share: wilson(count, members.len(), 0.9),
                    }
                })
                .collect();
            Cohort {
                period: start,
                customers: members.len(),
                retention,
            }
        })
        .collect::<Vec<_>>();
    let first = cohorts.first().map_or(last, |c| c.period);
    Analysis::Ready(Cohorts {
        period,
        sample: Sample::dated(active.len(), first, as_of),
        cohorts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn offset_zero_is_everyone_and_shares_are_counts_over_cohort_size(
            events in prop::collection::vec((0u8..30, 0u16..400), 1..200),
        ) {
            let base = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
            let activity: Vec<(u8, NaiveDate)> = events.iter().map(|(c, d)| (*c, base + chrono::Days::new(u64::from(*d)))).collect();
            let result = retention(&activity, Period::Month, base + chrono::Days::new(400)).ready().unwrap();
            let total: usize = result.cohorts.iter().map(|c| c.customers).sum();
            prop_assert_eq!(total, result.sample.size);
            for cohort in &result.cohorts {
                prop_assert_eq!(cohort.retention[0].active, cohort.customers);
                for r in &cohort.retention {
                    prop_assert!(r.active <= cohort.customers);
                    prop_assert!((r.share.estimate - r.active as f64 / cohort.customers as f64).abs() < 1e-12);
                }
            }
        }
    }
}
