//! Lifetime value per customer: expected purchases month by month (BG/NBD) times expected
//! spend (Gamma-Gamma), discounted — `lifetimes`' construction — with an interval from both
//! models' parameter uncertainty (delta method on the log scale).

use serde::Serialize;

use super::{BgNbdFit, CustomerSummary, GammaGammaFit, TimeUnit};
use crate::Interval;

/// How far ahead and how value is discounted.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ClvSettings {
    pub months: u32,
    /// Discount per month (e.g. 0.01).
    pub monthly_discount: f64,
    /// The unit the models were fitted in.
    pub unit: TimeUnit,
    /// Interval level, e.g. 0.9.
    pub level: f64,
}

impl Default for ClvSettings {
    fn default() -> Self {
        ClvSettings {
            months: 12,
            monthly_discount: 0.01,
            unit: TimeUnit::Week,
            level: 0.9,
        }
    }
}

/// Everything the product shows about one customer's value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomerValue {
    pub p_alive: f64,
    /// Expected purchases over the settings' horizon.
    pub expected_purchases: Interval,
    pub expected_spend: Option<Interval>,
    /// Discounted value over the horizon; `None` when spend cannot be modelled.
    pub clv: Option<Interval>,
}

/// Average month, in days.
const MONTH_DAYS: f64 = 365.25 / 12.0;

fn discounted_value(purchases: impl Fn(f64) -> f64, spend: f64, settings: &ClvSettings) -> f64 {
    let month = MONTH_DAYS / settings.unit.days();
    let mut previous = 0.0;
    let mut total = 0.0;
    for i in 1..=settings.months {
        let cumulative = purchases(f64::from(i) * month);
        total += spend * (cumulative - previous) / (1.0 + settings.monthly_discount).powi(i as i32);
        previous = cumulative;
    }
    total
}

/// One customer's P(alive), expected purchases, spend and CLV.
pub fn customer_value(
    frequency: &BgNbdFit,
    spend: Option<&GammaGammaFit>,
    c: &CustomerSummary,
    settings: &ClvSettings,
) -> CustomerValue {
    let horizon = f64::from(settings.months) * MONTH_DAYS / settings.unit.days();
    let expected_purchases = frequency.expected_purchases(c, horizon, settings.level);
    let expected_spend = spend.and_then(|g| g.expected_spend(c, settings.level));
    let clv = spend.zip(expected_spend).map(|(g, money)| {
        let estimate = discounted_value(
            |t| frequency.params.expected_purchases(c, t),
            money.estimate,
            settings,
        );
        // ln CLV = ln(discounted purchases) + ln(spend): the two models are fitted on separate
        // likelihoods, so their variances add.
        let purchase_se = frequency.log_se(|p| {
            discounted_value(|t| p.expected_purchases(c, t), 1.0, settings)
                .max(1e-300)
                .ln()
        });
        let spend_se = g.log_se(|gg| gg.expected_spend(c).unwrap_or(f64::NAN).ln());
        Interval::log_normal(
            estimate,
            (purchase_se.powi(2) + spend_se.powi(2)).sqrt(),
            settings.level,
        )
    });
    CustomerValue {
        p_alive: frequency.params.p_alive(c),
        expected_purchases,
        expected_spend,
        clv,
    }
}
