//! Sightline's statistical core (SPEC ANA-2..8): plain data in, plain results out — no
//! database, HTTP or async. The server fetches a tenant's rows, calls these functions and
//! stores or serves what they return; the `sightline analyze` command runs them on CSV files.
//!
//! Every result says how much data it stands on ([`Sample`]) and how sure it is (an
//! [`Interval`], a confidence, a fit statistic), or is an explicit [`Insufficient`] answer
//! saying what is missing — never a silent guess.

//pub mod anomaly;
pub mod basket;
pub mod churn;
pub mod clv;
//pub mod cohorts;
pub mod forecast;
//pub mod funnel;
pub mod metrics;
mod optimise;
//pub mod revenue;
//pub mod rfm;

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
        Sample { size, from: None, to: None }
    }

    pub fn dated(size: usize, from: NaiveDate, to: NaiveDate) -> Self {
        Sample { size, from: Some(from), to: Some(to) }
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
        Interval { estimate, low: estimate / spread, high: estimate * spread, level }
    }

    /// `estimate ± z·se`.
    pub fn normal(estimate: f64, se: f64, level: f64) -> Self {
        let half = normal_quantile(0.5 + level / 2.0) * se.max(0.0);
        Interval { estimate, low: estimate - half, high: estimate + half, level }
    }

    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
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
        Analysis::InsufficientData(Insufficient { needed: needed.into(), have, hint: hint.into() })
    }

    pub fn ready(self) -> Option<T> {
        match self {
            Analysis::Ready(value) => Some(value),
            Analysis::InsufficientData(_) => None,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Analysis<U> {
        match self {
            Analysis::Ready(value) => Analysis::Ready(f(value)),
            Analysis::InsufficientData(why) => Analysis::InsufficientData(why),
        }
    }
}

/// The standard normal quantile function (for interval half-widths).
pub fn normal_quantile(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().inverse_cdf(p)
}

/// Quantile by linear interpolation between order statistics (numpy's default), on sorted data.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let position = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let below = position.floor() as usize;
            let above = (below + 1).min(n - 1);
            let weight = position - below as f64;
            sorted[below] * (1.0 - weight) + sorted[above] * weight
        }
    }
}

/// The median of unsorted values (NaN for none).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile_sorted(&sorted, 0.5)
}
