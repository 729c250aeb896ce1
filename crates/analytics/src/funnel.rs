//! Funnels (SPEC ANA-5): how many customers go through a sequence of event types in order,
//! within a time limit of the first step, with conversion and drop-off per step.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::{wilson, Analysis, Interval, Sample};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub event_type: String,
    pub customers: usize,
    /// Share of the previous step's customers who reached this one.
    pub conversion: Interval,
    /// Share of the first step's customers who reached this one.
    pub overall: Interval,
    /// Customers lost since the previous step.
    pub dropped: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Funnel {
    pub sample: Sample,
    /// Hours allowed from the first step to the last.
    pub window_hours: i64,
    pub steps: Vec<Step>,
}

/// Counts customers completing `steps` in order from (customer, time, event type) events.
/// For each customer the earliest first step that leads furthest is used.
pub fn funnel<K: Ord>(
    events: &[(K, DateTime<Utc>, String)],
    steps: &[String],
    window: Duration,
) -> Analysis<Funnel> {
    if steps.len() < 2 {
        return Analysis::insufficient(
            "at least 2 steps",
            steps.len(),
            "name the event types in order, e.g. view,cart,checkout",
        );
    }
    let mut by_customer: BTreeMap<&K, Vec<(DateTime<Utc>, usize)>> = BTreeMap::new();
    for (customer, at, kind) in events {
        if let Some(step) = steps.iter().position(|s| s == kind) {
            by_customer.entry(customer).or_default().push((*at, step));
        }
    }
    let mut reached = vec![0usize; steps.len()];
    for timeline in by_customer.values_mut() {
        timeline.sort();
        let mut furthest = None;
        for (i, &(start, step)) in timeline.iter().enumerate() {
            if step != 0 {
                continue;
            }
            let mut at_step = 0;
            for &(at, next) in &timeline[i + 1..] {
                if at - start > window {
                    break;
                }
                if next == at_step + 1 {
                    at_step = next;
                }
            }
            furthest = Some(furthest.map_or(at_step, |f: usize| f.max(at_step)));
            if at_step == steps.len() - 1 {
                break;
            }
        }
        if let Some(furthest) = furthest {
            for count in &mut reached[..=furthest] {
                *count += 1;
            }
        }
    }
    let entered = reached[0];
    if entered == 0 {
        return Analysis::insufficient(
            format!("at least one customer with a \"{}\" event in the range", steps[0]),
            0,
            "check the event type names, or widen the date range",
        );
    }
    let steps = steps
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let previous = if i == 0 { entered } else { reached[i - 1] };
            Step {
                event_type: name.clone(),
                customers: reached[i],
                conversion: wilson(reached[i], previous, 0.9),
                overall: wilson(reached[i], entered, 0.9),
                dropped: previous - reached[i],
            }
        })
        .collect();
    Analysis::Ready(Funnel {
        sample: Sample::new(entered),
        window_hours: window.num_hours(),
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + Duration::hours(hours)
    }

    #[test]
    fn nobody_at_the_first_step_is_insufficient_data() {
        let steps = vec!["view".to_string(), "cart".to_string()];
        let events = vec![(1, at(0), "cart".to_string())];
        let answer = funnel(&events, &steps, Duration::hours(1));
        assert!(matches!(answer, Analysis::InsufficientData(ref why) if why.needed.contains("view")));
    }

    #[test]
    fn order_and_window_matter() {
        let steps: Vec<String> = ["view", "cart", "buy"].map(String::from).to_vec();
        let e = |c: u8, h, k: &str| (c, at(h), k.to_string());
        let events = vec![
            e(1, 0, "view"),
            e(1, 1, "cart"),
            e(1, 2, "buy"),
            e(2, 0, "view"),
            e(2, 1, "buy"),
            e(2, 2, "cart"),
            e(3, 5, "cart"),
            e(3, 6, "view"),
            e(4, 0, "view"),
            e(4, 1, "cart"),
            e(4, 100, "buy"),
        ];
        let f = funnel(&events, &steps, Duration::hours(48)).ready().unwrap();
        let counts: Vec<usize> = f.steps.iter().map(|s| s.customers).collect();
        assert_eq!(counts, vec![4, 3, 1]);
        assert_eq!(f.steps[2].dropped, 2);
    }

    proptest! {
        #[test]
        fn each_step_has_at_most_the_customers_of_the_one_before(
            events in prop::collection::vec((0u8..20, 0i64..500, 0usize..4), 0..200),
        ) {
            let kinds = ["a", "b", "c", "d"];
            let events: Vec<(u8, DateTime<Utc>, String)> = events.iter().map(|(c, h, k)| (*c, at(*h), kinds[*k].to_string())).collect();
            let steps: Vec<String> = kinds.iter().map(|s| s.to_string()).collect();
            let Some(f) = funnel(&events, &steps, Duration::hours(100)).ready() else {
                prop_assert!(events.iter().all(|e| e.2 != "a"), "insufficient only without a first step");
                return Ok(());
            };
            for pair in f.steps.windows(2) {
                prop_assert!(pair[1].customers <= pair[0].customers);
                prop_assert_eq!(pair[1].dropped, pair[0].customers - pair[1].customers);
            }
        }
    }
}
