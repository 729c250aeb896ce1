//! Sightline's statistical core (SPEC ANA-2..8): plain data in, plain results out — no
//! database, HTTP or async. The server fetches a tenant's rows, calls these functions and
//! stores or serves what they return; the `sightline analyze` command runs them on CSV files.
//!
//! Every result says how much data it stands on ([`Sample`]) and how sure it is (an
//! [`Interval`], a confidence, a fit statistic), or is an explicit [`Insufficient`] answer
//! saying what is missing — never a silent guess.

pub mod anomaly;
pub mod basket;
pub mod churn;
pub mod clv;
pub mod cohorts;
pub mod forecast;
pub mod funnel;
pub mod metrics;
mod optimise;
pub mod patterns;
pub mod revenue;
pub mod rfm;

use chrono::NaiveDate;
use serde::Serialize;

/// How much data a result stands on: shown next to every number so a user can judge it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// Customers, orders, baskets or observations, as the result says.
    pub size: usize,
    /// First and last day of the data used, when it is dated.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl Sample {
    pub fn new(size: usize) -> Self {
        Sample {
            size,
            from: None,
            to: None,
        }
    }

    pub fn dated(size: usize, from: NaiveDate, to: NaiveDate) -> Self {
        Sample {
            size,
            from: Some(from),
            to: Some(to),
        }
    }
}

/// An estimate with the range it plausibly lies in, at `level` (e.g. 0.9 for 90 %).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    pub level: f64,
}

impl Interval {
    /// A positive quantity with a standard error on the log scale: the interval is
    /// `estimate · exp(±z·se)`, so it never crosses zero and widens multiplicatively.
    pub fn log_normal(estimate: f64, log_se: f64, level: f64) -> Self {
        let z = normal_quantile(0.5 + level / 2.0);
        let spread = (z * log_se.max(0.0)).exp();
        Interval {
            estimate,
            low: estimate / spread,
            high: estimate * spread,
            level,
        }
    }
}

impl Interval {
    /// The mean of `values` with its normal-approximation interval (sample variance; a
    /// single value gets a zero-width interval, none gets 0).
    pub fn mean(values: &[f64], level: f64) -> Self {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n.max(1.0);
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        Self::around_mean(mean, var, n, level)
    }

    /// The same interval from a count, sum and sum of squares — what rollups keep, so an
    /// average over a year of stored sums needs no raw rows.
    pub fn mean_of_moments(n: f64, sum: f64, squares: f64, level: f64) -> Self {
        let mean = sum / n.max(1.0);
        // Σ(v − mean)² = Σv² − n·mean²; rounding may make it a hair negative.
        let var = ((squares - n * mean * mean) / (n - 1.0).max(1.0)).max(0.0);
        Self::around_mean(mean, var, n, level)
    }

    fn around_mean(mean: f64, var: f64, n: f64, level: f64) -> Self {
        let half = normal_quantile(0.5 + level / 2.0) * (var / n.max(1.0)).sqrt();
        Interval {
            estimate: mean,
            low: mean - half,
            high: mean + half,
            level,
        }
    }
}

/// Why a result could not be computed, in words a merchant can act on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Insufficient {
    /// What is missing, e.g. "at least 2 customers with a repeat purchase".
    pub needed: String,
    /// How many of it there are now.
    pub have: usize,
    /// What to do about it, e.g. "import more orders".
    pub hint: String,
}

/// A result, or an explicit statement that the data cannot support one yet.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", content = "result", rename_all = "snake_case")]
pub enum Analysis<T> {
    Ready(T),
    InsufficientData(Insufficient),
}

impl<T> Analysis<T> {
    pub fn insufficient(needed: impl Into<String>, have: usize, hint: impl Into<String>) -> Self {
        Analysis::InsufficientData(Insufficient {
            needed: needed.into(),
            have,
            hint: hint.into(),
        })
    }

    /// The result, borrowed, when there is one.
    pub fn as_ready(&self) -> Option<&T> {
        match self {
            Analysis::Ready(value) => Some(value),
            Analysis::InsufficientData(_) => None,
        }
    }

    pub fn ready(self) -> Option<T> {
        match self {
            Analysis::Ready(value) => Some(value),
            Analysis::InsufficientData(_) => None,
        }
    }
}

/// The standard normal quantile function (for interval half-widths).
pub fn normal_quantile(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().inverse_cdf(p)
}

/// The median of unsorted values (NaN for none).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The Wilson score interval of a proportion `successes / trials`: honest for small samples and
/// shares near 0 or 1, where `p ± z·se` is not.
pub fn wilson(successes: usize, trials: usize, level: f64) -> Interval {
    if trials == 0 {
        return Interval {
            estimate: f64::NAN,
            low: 0.0,
            high: 1.0,
            level,
        };
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z = normal_quantile(0.5 + level / 2.0);
    let denominator = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denominator;
    Interval {
        estimate: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
        level,
    }
}

/// Calendar periods results are grouped by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
    #[default]
    Month,
}

impl Period {
    /// The first day of the period containing `date` (weeks start on Monday, ISO 8601).
    pub fn start(self, date: NaiveDate) -> NaiveDate {
        use chrono::Datelike;
        match self {
            Period::Day => date,
            Period::Week => date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday())),
            Period::Month => date.with_day(1).expect("day 1 exists"),
        }
    }

    /// The start of the period `steps` after the one starting at `start`.
    pub fn advance(self, start: NaiveDate, steps: u32) -> NaiveDate {
        match self {
            Period::Day => start + chrono::Days::new(u64::from(steps)),
            Period::Week => start + chrono::Days::new(7 * u64::from(steps)),
            Period::Month => start + chrono::Months::new(steps),
        }
    }

    /// Whole periods from the one starting at `from` to the one starting at `to`.
    pub fn between(self, from: NaiveDate, to: NaiveDate) -> i64 {
        use chrono::Datelike;
        match self {
            Period::Day => (to - from).num_days(),
            Period::Week => (to - from).num_days() / 7,
            Period::Month => {
                i64::from(to.year() - from.year()) * 12 + i64::from(to.month()) - i64::from(from.month())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_wilson_interval_contains_the_share_and_stays_in_zero_one(trials in 1usize..10_000, share in 0.0f64..=1.0) {
            let successes = ((trials as f64) * share).round() as usize;
            let i = wilson(successes, trials, 0.95);
            prop_assert!(0.0 <= i.low && i.low <= i.estimate + 1e-12 && i.estimate <= i.high + 1e-12 && i.high <= 1.0);
        }

        #[test]
        fn a_mean_interval_is_centred_on_the_mean_and_narrows_with_more_data(values in prop::collection::vec(1.0f64..5.0, 1..200)) {
            let i = Interval::mean(&values, 0.9);
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            prop_assert!((i.estimate - mean).abs() < 1e-9);
            prop_assert!(i.low <= i.estimate && i.estimate <= i.high);
            prop_assert!(((i.high - i.estimate) - (i.estimate - i.low)).abs() < 1e-9);
            let doubled: Vec<f64> = values.iter().chain(&values).copied().collect();
            let wider = Interval::mean(&doubled, 0.9);
            prop_assert!(wider.high - wider.low <= i.high - i.low + 1e-9);
        }

        #[test]
        fn a_mean_from_moments_equals_the_mean_of_the_values(values in prop::collection::vec(-1.0f64..1.0, 1..500)) {
            let direct = Interval::mean(&values, 0.9);
            let sum = values.iter().sum::<f64>();
            let squares = values.iter().map(|v| v * v).sum::<f64>();
            let moments = Interval::mean_of_moments(values.len() as f64, sum, squares, 0.9);
            prop_assert!((direct.estimate - moments.estimate).abs() < 1e-12);
            prop_assert!((direct.low - moments.low).abs() < 1e-6 && (direct.high - moments.high).abs() < 1e-6);
        }

        #[test]
        fn periods_start_on_or_before_the_date_and_advance_by_one(days in 0i64..20_000) {
            let date = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap() + chrono::Days::new(days as u64);
            for period in [Period::Day, Period::Week, Period::Month] {
                let start = period.start(date);
                prop_assert!(start <= date && date < period.advance(start, 1));
                prop_assert_eq!(period.between(start, period.advance(start, 3)), 3);
            }
        }
    }
}
