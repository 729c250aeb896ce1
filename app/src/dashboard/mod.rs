//! The dashboard (SPEC UI-2): the organization's key numbers for a chosen range, each beside
//! the range before it, with the charts behind them. The numbers are read from rollups kept
//! exact by the database (migration 0009), so a year costs as little as a week. The same
//! `Dashboard` is the page's data and the answer of `GET /api/v1/dashboard`.

mod charts;
mod page;

use serde::{Deserialize, Serialize};

pub use charts::TrendChart;
pub use page::DashboardPage;

/// Everything the dashboard shows for one range and filter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    /// The chosen inclusive range of UTC days (ISO dates).
    pub from: String,
    pub to: String,
    /// Days in the range.
    pub days: i64,
    /// The range just before it, of the same length: what every change compares with.
    pub previous_from: String,
    pub previous_to: String,
    /// The channel every figure is limited to, if one was chosen.
    pub channel: Option<String>,
    /// The RFM segment (key) every figure is limited to, if one was chosen: its customers as of
    /// the last scoring run.
    pub segment: Option<String>,
    /// The product category every figure is limited to, if one was chosen: its order lines and
    /// reviews (interactions are not tied to products).
    pub category: Option<String>,
    /// The organization's product categories, to choose from.
    pub categories: Vec<String>,
    /// The currency revenue is in (the organization's most recent order's).
    pub currency: Option<String>,
    pub kpis: Vec<Kpi>,
    /// `day`, `week` or `month`: how `series` is bucketed (by the range's length).
    pub bucket: String,
    pub series: Vec<Bucket>,
    pub channels: Vec<ChannelTotals>,
    /// RFM segments of the last scoring run (not limited by range or channel).
    pub segments: Vec<SegmentTotals>,
    /// The same run's customers by recency and frequency score (1–5 each): the RFM map.
    pub rfm_grid: Vec<RfmCell>,
}

/// One key figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kpi {
    /// `revenue`, `orders`, `active_customers`, `sentiment`, `high_churn_risk` or `open_alerts`.
    pub key: String,
    pub label: String,
    /// Absent when it cannot be known (`explanation` says why).
    pub value: Option<f64>,
    /// The same figure over the previous range, when it has one.
    pub previous: Option<f64>,
    /// A 90 % interval around `value`, for figures estimated from a sample.
    pub interval: Option<(f64, f64)>,
    /// How it is computed and from how much data.
    pub explanation: String,
    /// What to do when there is nothing to show yet.
    pub empty_hint: Option<String>,
}

impl Kpi {
    /// The change against the previous range: relative for amounts and counts (`None` when
    /// the previous range had none), in points for sentiment.
    pub fn change(&self) -> Option<Change> {
        let (value, previous) = (self.value?, self.previous?);
        if self.key == "sentiment" {
            return Some(Change::Points(value - previous));
        }
        (previous > 0.0).then(|| Change::Relative((value - previous) / previous))
    }
}

/// How a figure moved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Change {
    /// A fraction: 0.12 is 12 % more.
    Relative(f64),
    /// A difference on the figure's own scale.
    Points(f64),
}

/// One bucket of the time series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// The bucket's first day.
    pub start: String,
    pub interactions: i64,
    pub orders: i64,
    pub revenue: f64,
    pub texts: i64,
    /// Average polarity (−1 … 1) of the bucket's scored texts, when it has any.
    pub sentiment: Option<f64>,
}

/// One channel's totals over the range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelTotals {
    pub channel: String,
    pub interactions: i64,
    pub orders: i64,
    pub revenue: f64,
    pub texts: i64,
}

/// One RFM segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentTotals {
    pub segment: String,
    pub label: String,
    pub customers: i64,
    pub revenue: f64,
}

/// Customers with one recency and frequency score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RfmCell {
    pub r: i16,
    pub f: i16,
    pub customers: i64,
    pub revenue: f64,
}

/// Range presets offered by the picker, in days.
pub const PRESETS: [u32; 4] = [7, 30, 90, 365];

/// Channels the filter offers (`review` limits to review texts).
pub const CHANNELS: [&str; 6] = ["web", "mobile", "email", "chat", "phone", "review"];
