//! From raw transactions to the per-customer summary the models read: frequency (repeat
//! purchase days), recency (first to last purchase) and age T (first purchase to the end of
//! the calibration period), the same construction as Fader & Hardie and `lifetimes`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One purchase.
#[derive(Clone, Debug, PartialEq)]
pub struct Transaction<K> {
    pub customer: K,
    pub date: NaiveDate,
    pub amount: f64,
}

/// The unit recency and T are measured in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    Day,
    /// Days / 7: the unit of the published CDNOW figures.
    #[default]
    Week,
}

impl TimeUnit {
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
        }
    }
}

/// What the BG/NBD and Gamma-Gamma models know of one customer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerSummary {
    /// Purchase days after the first one (repeat purchases).
    pub frequency: u32,
    /// Time from the first to the last purchase.
    pub recency: f64,
    /// Time from the first purchase to the end of the calibration period ("T").
    pub age: f64,
    /// Mean value of the repeat purchase days (0 without repeats).
    pub monetary: f64,
}

/// Summarises transactions up to and including `calibration_end`, per customer, in key order.
/// Purchases on the same day count as one purchase of their total value; customers whose
/// first purchase is later are left out.
pub fn summarize<K: Ord + Clone>(
    transactions: &[Transaction<K>],
    calibration_end: NaiveDate,
    unit: TimeUnit,
) -> Vec<(K, CustomerSummary)> {
    let mut days: BTreeMap<&K, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    for transaction in transactions.iter().filter(|t| t.date <= calibration_end) {
        *days
            .entry(&transaction.customer)
            .or_default()
            .entry(transaction.date)
            .or_default() += transaction.amount;
    }
    days.into_iter()
        .filter_map(|(customer, purchases)| {
            let (&first, _) = purchases.first_key_value()?;
            let (&last, _) = purchases.last_key_value()?;
            let frequency = purchases.len() - 1;
            let repeat_total: f64 = purchases.values().skip(1).sum();
            let since = |date: NaiveDate| (date - first).num_days() as f64 / unit.days();
            let summary = CustomerSummary {
                frequency: frequency as u32,
                recency: since(last),
                age: since(calibration_end),
                monetary: if frequency > 0 {
                    repeat_total / frequency as f64
                } else {
                    0.0
                },
            };
            Some((customer.clone(), summary))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn same_day_purchases_are_one_purchase_and_the_first_is_not_a_repeat() {
        let t = |d: &str, amount| Transaction {
            customer: 1,
            date: day(d),
            amount,
        };
        let rows = [
            t("1997-01-01", 10.0),
            t("1997-01-08", 5.0),
            t("1997-01-08", 7.0),
            t("1997-01-22", 30.0),
            t("1997-02-01", 99.0),
        ];
        let summary = summarize(&rows, day("1997-01-29"), TimeUnit::Week);
        assert_eq!(summary.len(), 1);
        let (_, s) = summary[0];
        assert_eq!(s.frequency, 2);
        assert_eq!(s.recency, 3.0);
        assert_eq!(s.age, 4.0);
        assert_eq!(s.monetary, 21.0);
    }
}
