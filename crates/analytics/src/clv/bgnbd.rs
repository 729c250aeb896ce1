//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way"):
//! while alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after each
//! purchase they drop out with probability p ~ Beta(a, b).
//!
//! Fitted by maximum likelihood on the log-parameters with the analytic gradient (L-BFGS);
//! customers with the same (x, tₓ, T) are counted once with a weight, which on real data
//! (many one-time buyers who started on the same day) shrinks the work several-fold.

use std::collections::HashMap;

use serde::Serialize;
use statrs::function::gamma::{digamma, ln_gamma};

use super::{delta_se, fit_log_parameters, hyp2f1, standard_errors, CustomerSummary, REGULARISE_BELOW};
use crate::{Analysis, Interval, Sample};

/// Fitted BG/NBD parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// A fit with what it stands on and how sure it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BgNbdFit {
    pub params: BgNbd,
    /// The log-likelihood of the data at the estimate (without the prior when regularised).
    pub log_likelihood: f64,
    pub sample: Sample,
    /// Pulled towards weak priors because there were fewer than [`REGULARISE_BELOW`] customers.
    pub regularised: bool,
    /// Covariance of (ln r, ln α, ln a, ln b); `None` when the likelihood is too flat to tell.
    #[serde(skip)]
    pub log_covariance: Option<Vec<Vec<f64>>>,
    /// Standard errors of r, α, a, b (delta method), when the covariance exists.
    pub standard_errors: Option<[f64; 4]>,
    pub iterations: u64,
}

/// Customers sharing (x, tₓ, T), and how many of them there are.
struct Group {
    /// Index into the distinct purchase counts.
    frequency: usize,
    x: f64,
    recency: f64,
    age: f64,
    count: f64,
}

/// The groups and the distinct purchase counts they refer to.
fn group(customers: &[CustomerSummary]) -> (Vec<Group>, Vec<f64>) {
    let mut seen: HashMap<(u32, u64, u64), usize> = HashMap::new();
    let mut frequencies: HashMap<u32, usize> = HashMap::new();
    let mut distinct: Vec<f64> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    for c in customers {
        let key = (c.frequency, c.recency.to_bits(), c.age.to_bits());
        match seen.get(&key) {
            Some(&i) => groups[i].count += 1.0,
            None => {
                seen.insert(key, groups.len());
                let frequency = *frequencies.entry(c.frequency).or_insert_with(|| {
                    distinct.push(f64::from(c.frequency));
                    distinct.len() - 1
                });
                groups.push(Group {
                    frequency,
                    x: f64::from(c.frequency),
                    recency: c.recency,
                    age: c.age,
                    count: 1.0,
                });
            }
        }
    }
    (groups, distinct)
}

/// The terms of the log-likelihood that depend on the parameters and x only: computed once
/// per distinct purchase count instead of once per customer.
struct ByFrequency {
    ln_gammas: f64,
    d_r: f64,
    d_a: f64,
    d_b: f64,
}

impl ByFrequency {
    fn new(p: &BgNbd, x: f64) -> Self {
        let BgNbd { r, alpha, a, b } = *p;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_gamma(a + b) + ln_gamma(b + x) - ln_gamma(b) - ln_gamma(a + b + x);
        let common = digamma(a + b) - digamma(a + b + x);
        ByFrequency {
            ln_gammas: a1 + a2,
            d_r: digamma(r + x) - digamma(r) + alpha.ln(),
            d_a: if x > 0.0 { common } else { 0.0 },
            d_b: if x > 0.0 {
                common + digamma(b + x) - digamma(b)
            } else {
                0.0
            },
        }
    }
}

/// The log-likelihood of one customer and its gradient with respect to (r, α, a, b).
#[cfg(test)]
fn customer_log_likelihood(p: &BgNbd, x: f64, recency: f64, age: f64) -> (f64, [f64; 4]) {
    group_log_likelihood(p, &ByFrequency::new(p, x), x, recency, age)
}

fn group_log_likelihood(p: &BgNbd, shared: &ByFrequency, x: f64, recency: f64, age: f64) -> (f64, [f64; 4]) {
    let BgNbd { r, alpha, a, b } = *p;
    let ln_alpha_age = (alpha + age).ln();
    let a3 = -(r + x) * ln_alpha_age;
    let (tail, w3, w4, ln_alpha_recency) = if x > 0.0 {
        let ln_alpha_recency = (alpha + recency).ln();
        let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * ln_alpha_recency;
        let top = a3.max(a4);
        let tail = top + ((a3 - top).exp() + (a4 - top).exp()).ln();
        (tail, (a3 - tail).exp(), (a4 - tail).exp(), ln_alpha_recency)
    } else {
        (a3, 1.0, 0.0, 0.0)
    };
    let ll = shared.ln_gammas + tail;
    let d_r = shared.d_r - w3 * ln_alpha_age - w4 * ln_alpha_recency;
    let d_alpha = r / alpha - w3 * (r + x) / (alpha + age) - w4 * (r + x) / (alpha + recency);
    let (d_a, d_b) = if x > 0.0 {
        (shared.d_a + w4 / a, shared.d_b - w4 / (b + x - 1.0))
    } else {
        (0.0, 0.0)
    };
    (ll, [d_r, d_alpha, d_a, d_b])
}

impl BgNbd {
    fn from_log(theta: &[f64]) -> Self {
        BgNbd {
            r: theta[0].exp(),
            alpha: theta[1].exp(),
            a: theta[2].exp(),
            b: theta[3].exp(),
        }
    }

    fn to_log(self) -> [f64; 4] {
        [self.r.ln(), self.alpha.ln(), self.a.ln(), self.b.ln()]
    }

    /// Fits the model by maximum likelihood (regularised below [`REGULARISE_BELOW`] customers).
    pub fn fit(customers: &[CustomerSummary]) -> Analysis<BgNbdFit> {
        let repeaters = customers.iter().filter(|c| c.frequency > 0).count();
        if customers.len() < 2 || repeaters == 0 {
            return Analysis::insufficient(
                "at least 2 customers, one of them with a repeat purchase",
                repeaters,
                "import more orders: the model learns buying rates from repeat purchases",
            );
        }
        if customers
            .iter()
            .any(|c| !(c.age.is_finite() && c.recency.is_finite() && 0.0 <= c.recency && c.recency <= c.age))
        {
            return Analysis::insufficient(
                "recency between 0 and the customer's age for every customer",
                0,
                "check the calibration end date: it must not be before a customer's purchases",
            );
        }
        let (groups, frequencies) = group(customers);
        let regularised = customers.len() < REGULARISE_BELOW;
        // Prior centres: CDNOW-like dropout, and a buying rate matching the data's own.
        let total_purchases: f64 = customers.iter().map(|c| f64::from(c.frequency)).sum();
        let total_age: f64 = customers.iter().map(|c| c.age).sum::<f64>().max(1e-9);
        let rate = (total_purchases / total_age).max(1e-6);
        let centre = BgNbd {
            r: 0.25,
            alpha: 0.25 / rate,
            a: 0.8,
            b: 2.5,
        }
        .to_log();
        let negative = |theta: &[f64]| -> (f64, Vec<f64>) {
            let p = BgNbd::from_log(theta);
            let shared: Vec<ByFrequency> = frequencies.iter().map(|&x| ByFrequency::new(&p, x)).collect();
            let (mut value, mut gradient) = (0.0, [0.0; 4]);
            for g in &groups {
                let (ll, d) = group_log_likelihood(&p, &shared[g.frequency], g.x, g.recency, g.age);
                value -= g.count * ll;
                for (total, part) in gradient.iter_mut().zip(d) {
                    *total -= g.count * part;
                }
            }
            let scale = [p.r, p.alpha, p.a, p.b];
            (value, gradient.iter().zip(scale).map(|(g, s)| g * s).collect())
        };
        let fit = fit_log_parameters(negative, &centre, customers.len(), regularised);
        let params = BgNbd::from_log(&fit.point);
        let standard_errors = standard_errors(
            [params.r, params.alpha, params.a, params.b],
            fit.covariance.as_ref(),
        );
        Analysis::Ready(BgNbdFit {
            params,
            log_likelihood: fit.log_likelihood,
            sample: Sample::new(customers.len()),
            regularised: fit.regularised,
            log_covariance: fit.covariance,
            standard_errors,
            iterations: fit.iterations,
        })
    }

    /// The probability that the customer has not yet dropped out.
    pub fn p_alive(&self, c: &CustomerSummary) -> f64 {
        if c.frequency == 0 {
            return 1.0;
        }
        let x = f64::from(c.frequency);
        let ln_odds = self.a.ln() - (self.b + x - 1.0).ln()
            + (self.r + x) * ((self.alpha + c.age).ln() - (self.alpha + c.recency).ln());
        1.0 / (1.0 + ln_odds.exp())
    }

    /// Expected purchases in the next `horizon` time units, given the customer's history.
    pub fn expected_purchases(&self, c: &CustomerSummary, horizon: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        let BgNbd { r, alpha, b, .. } = *self;
        // The closed form divides by a − 1: step off a = 1 exactly.
        let a = if (self.a - 1.0).abs() < 1e-9 {
            1.0 + 1e-9
        } else {
            self.a
        };
        let x = f64::from(c.frequency);
        let ends = alpha + c.age + horizon;
        let shrink = ((r + x) * ((alpha + c.age).ln() - ends.ln())).exp();
        let hyper = hyp2f1(r + x, b + x, a + b + x - 1.0, horizon / ends);
        let numerator = (a + b + x - 1.0) / (a - 1.0) * (1.0 - shrink * hyper);
        let denominator = if x > 0.0 {
            1.0 + a / (b + x - 1.0) * ((r + x) * ((alpha + c.age).ln() - (alpha + c.recency).ln())).exp()
        } else {
            1.0
        };
        (numerator / denominator).max(0.0)
    }
}

impl BgNbdFit {
    /// Expected purchases with an interval from the parameters' sampling uncertainty.
    pub fn expected_purchases(&self, c: &CustomerSummary, horizon: f64, level: f64) -> Interval {
        let estimate = self.params.expected_purchases(c, horizon);
        let log_se = self.log_se(|p| p.expected_purchases(c, horizon).max(1e-300).ln());
        Interval::log_normal(estimate, log_se, level)
    }

    /// The standard error of `f` of the parameters by the delta method (infinite when the
    /// covariance is unknown).
    pub(crate) fn log_se(&self, f: impl Fn(&BgNbd) -> f64) -> f64 {
        delta_se(&self.params.to_log(), self.log_covariance.as_ref(), |theta| {
            f(&BgNbd::from_log(theta))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The likelihood written out directly from equation (6) of the paper, without logs.
    fn naive_likelihood(p: &BgNbd, x: f64, tx: f64, t: f64) -> f64 {
        use statrs::function::gamma::gamma;
        let BgNbd { r, alpha, a, b } = *p;
        let beta = |u: f64, v: f64| gamma(u) * gamma(v) / gamma(u + v);
        let common = beta(a, b + x) / beta(a, b) * gamma(r + x) * alpha.powf(r) / gamma(r);
        let stays = common / (alpha + t).powf(r + x);
        let leaves = if x > 0.0 {
            beta(a + 1.0, b + x - 1.0) / beta(a, b) * gamma(r + x) * alpha.powf(r)
                / gamma(r)
                / (alpha + tx).powf(r + x)
        } else {
            0.0
        };
        stays + leaves
    }

    proptest! {
        #[test]
        fn log_likelihood_equals_the_naive_formula(
            r in 0.1f64..3.0, alpha in 0.5f64..20.0, a in 0.2f64..3.0, b in 0.5f64..5.0,
            x in 0u32..8, t in 1.0f64..50.0, share in 0.0f64..1.0,
        ) {
            let p = BgNbd { r, alpha, a, b };
            let tx = if x == 0 { 0.0 } else { t * share };
            let (ll, _) = customer_log_likelihood(&p, f64::from(x), tx, t);
            let naive = naive_likelihood(&p, f64::from(x), tx, t).ln();
            prop_assert!((ll - naive).abs() < 1e-8 * naive.abs().max(1.0), "{ll} vs {naive}");
        }

        #[test]
        fn the_gradient_matches_finite_differences(
            r in 0.1f64..3.0, alpha in 0.5f64..20.0, a in 0.2f64..3.0, b in 1.1f64..5.0,
            x in 0u32..8, t in 1.0f64..50.0, share in 0.0f64..1.0,
        ) {
            let p = BgNbd { r, alpha, a, b };
            let tx = if x == 0 { 0.0 } else { t * share };
            let (_, analytic) = customer_log_likelihood(&p, f64::from(x), tx, t);
            let values = [r, alpha, a, b];
            for i in 0..4 {
                let h = 1e-6 * values[i];
                let shifted = |delta: f64| {
                    let mut v = values;
                    v[i] += delta;
                    customer_log_likelihood(&BgNbd { r: v[0], alpha: v[1], a: v[2], b: v[3] }, f64::from(x), tx, t).0
                };
                let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
                prop_assert!((numeric - analytic[i]).abs() < 1e-4 * numeric.abs().max(1.0), "{i}: {numeric} vs {}", analytic[i]);
            }
        }

        #[test]
        fn p_alive_is_a_probability_that_falls_as_the_silence_grows(
            x in 1u32..20, recency in 0.0f64..30.0, gap in 0.0f64..30.0, more in 0.1f64..10.0,
        ) {
            let p = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
            let c = |age| CustomerSummary { frequency: x, recency, age, monetary: 0.0 };
            let now = p.p_alive(&c(recency + gap));
            let later = p.p_alive(&c(recency + gap + more));
            prop_assert!((0.0..=1.0).contains(&now));
            prop_assert!(later <= now + 1e-12);
        }

        #[test]
        fn expected_purchases_grow_with_the_horizon(
            x in 0u32..10, share in 0.0f64..1.0, age in 1.0f64..60.0, t in 0.5f64..50.0,
        ) {
            let p = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
            let c = CustomerSummary { frequency: x, recency: if x == 0 { 0.0 } else { age * share }, age, monetary: 0.0 };
            let short = p.expected_purchases(&c, t);
            let long = p.expected_purchases(&c, t * 2.0);
            prop_assert!(short >= 0.0 && long >= short - 1e-9, "{short} {long}");
        }
    }

    #[test]
    fn too_few_customers_is_an_explicit_answer() {
        let one = [CustomerSummary {
            frequency: 0,
            recency: 0.0,
            age: 10.0,
            monetary: 0.0,
        }];
        assert!(matches!(BgNbd::fit(&one), Analysis::InsufficientData(_)));
    }
}
