//! The Gamma-Gamma model of spend (Fader, Hardie & Lee 2005, JMR; Fader & Hardie 2013): a
//! customer's transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ), independent of how often
//! they buy. Fitted on repeat customers with a positive average spend, as the literature does.

use serde::Serialize;
use statrs::function::gamma::{digamma, ln_gamma};

use super::{delta_se, fit_log_parameters, standard_errors, CustomerSummary, REGULARISE_BELOW};
use crate::{Analysis, Interval, Sample};

/// Fitted Gamma-Gamma parameters (`v` is the paper's γ).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GammaGammaFit {
    pub params: GammaGamma,
    pub log_likelihood: f64,
    /// Repeat customers the fit used.
    pub sample: Sample,
    /// Priors were used: fewer than [`REGULARISE_BELOW`] customers, or a plain fit that ran
    /// off to a boundary.
    pub regularised: bool,
    #[serde(skip)]
    pub log_covariance: Option<Vec<Vec<f64>>>,
    pub standard_errors: Option<[f64; 3]>,
    pub iterations: u64,
}

/// The terms that depend on the parameters and x only, once per distinct purchase count.
struct ByFrequency {
    constant: f64,
    d_p: f64,
    d_q: f64,
}

impl ByFrequency {
    fn new(g: &GammaGamma, x: f64) -> Self {
        let GammaGamma { p, q, v } = *g;
        let px = p * x;
        ByFrequency {
            constant: ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q) + q * v.ln() + px * x.ln(),
            d_p: x * (digamma(px + q) - digamma(px) + x.ln()),
            d_q: digamma(px + q) - digamma(q) + v.ln(),
        }
    }
}

#[cfg(test)]
fn customer_log_likelihood(g: &GammaGamma, x: f64, m: f64) -> (f64, [f64; 3]) {
    spender_log_likelihood(g, &ByFrequency::new(g, x), x, m, m.ln())
}

fn spender_log_likelihood(
    g: &GammaGamma,
    shared: &ByFrequency,
    x: f64,
    m: f64,
    ln_m: f64,
) -> (f64, [f64; 3]) {
    let GammaGamma { p, q, v } = *g;
    let px = p * x;
    let ln_total = (x * m + v).ln();
    let ll = shared.constant + (px - 1.0) * ln_m - (px + q) * ln_total;
    let d_p = shared.d_p + x * (ln_m - ln_total);
    let d_q = shared.d_q - ln_total;
    let d_v = q / v - (px + q) / (x * m + v);
    (ll, [d_p, d_q, d_v])
}

impl GammaGamma {
    fn from_log(theta: &[f64]) -> Self {
        GammaGamma {
            p: theta[0].exp(),
            q: theta[1].exp(),
            v: theta[2].exp(),
        }
    }

    fn to_log(self) -> [f64; 3] {
        [self.p.ln(), self.q.ln(), self.v.ln()]
    }

    /// Fits on the repeat customers with a positive average spend among `customers`.
    pub fn fit(customers: &[CustomerSummary]) -> Analysis<GammaGammaFit> {
        // (index of x among the distinct counts, x, m, ln m)
        let mut distinct: Vec<f64> = Vec::new();
        let repeat: Vec<(usize, f64, f64, f64)> = customers
            .iter()
            .filter(|c| c.frequency > 0 && c.monetary > 0.0 && c.monetary.is_finite())
            .map(|c| {
                let x = f64::from(c.frequency);
                let index = distinct.iter().position(|d| *d == x).unwrap_or_else(|| {
                    distinct.push(x);
                    distinct.len() - 1
                });
                (index, x, c.monetary, c.monetary.ln())
            })
            .collect();
        if repeat.len() < 2 {
            return Analysis::insufficient(
                "at least 2 customers with a repeat purchase of positive value",
                repeat.len(),
                "import more orders: spend per purchase is learnt from repeat purchases",
            );
        }
        let n = repeat.len() as f64;
        let regularised = repeat.len() < REGULARISE_BELOW;
        let mean_spend = repeat.iter().map(|(_, _, m, _)| m).sum::<f64>() / n;
        // Prior: moderate heterogeneity (p = 6, q = 4) with a population mean equal to the data's.
        let centre = GammaGamma {
            p: 6.0,
            q: 4.0,
            v: mean_spend * 3.0 / 6.0,
        }
        .to_log();
        let negative = |theta: &[f64]| -> (f64, Vec<f64>) {
            let g = GammaGamma::from_log(theta);
            let shared: Vec<ByFrequency> = distinct.iter().map(|&x| ByFrequency::new(&g, x)).collect();
            let (mut value, mut gradient) = (0.0, [0.0; 3]);
            for &(index, x, m, ln_m) in &repeat {
                let (ll, d) = spender_log_likelihood(&g, &shared[index], x, m, ln_m);
                value -= ll;
                for (total, part) in gradient.iter_mut().zip(d) {
                    *total -= part;
                }
            }
            let scale = [g.p, g.q, g.v];
            (value, gradient.iter().zip(scale).map(|(d, s)| d * s).collect())
        };
        let fit = fit_log_parameters(negative, &centre, repeat.len(), regularised);
        let params = GammaGamma::from_log(&fit.point);
        let standard_errors = standard_errors([params.p, params.q, params.v], fit.covariance.as_ref());
        Analysis::Ready(GammaGammaFit {
            params,
            log_likelihood: fit.log_likelihood,
            sample: Sample::new(repeat.len()),
            regularised: fit.regularised,
            log_covariance: fit.covariance,
            standard_errors,
            iterations: fit.iterations,
        })
    }

    /// The customer's expected spend per purchase: their own average shrunk towards the
    /// population mean, the less so the more purchases it rests on. `None` when q ≤ 1 (the
    /// population mean does not exist).
    pub fn expected_spend(&self, c: &CustomerSummary) -> Option<f64> {
        let x = f64::from(c.frequency);
        let m = if c.frequency > 0 { c.monetary } else { 0.0 };
        let denominator = self.p * x + self.q - 1.0;
        (self.q > 1.0 && denominator > 0.0).then(|| self.p * (self.v + x * m) / denominator)
    }
}

impl GammaGammaFit {
    pub fn expected_spend(&self, c: &CustomerSummary, level: f64) -> Option<Interval> {
        let estimate = self.params.expected_spend(c)?;
        let log_se = self.log_se(|g| g.expected_spend(c).unwrap_or(f64::NAN).ln());
        Some(Interval::log_normal(estimate, log_se, level))
    }

    pub(crate) fn log_se(&self, f: impl Fn(&GammaGamma) -> f64) -> f64 {
        delta_se(&self.params.to_log(), self.log_covariance.as_ref(), |theta| {
            f(&GammaGamma::from_log(theta))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Customers whose average spends differ no more than the noise of their own purchases
    /// would explain: the plain fit sends q and v to infinity. The fit must come back
    /// regularised, finite, with a usable interval around the population mean.
    #[test]
    fn spend_without_heterogeneity_falls_back_to_a_regularised_fit_with_finite_intervals() {
        let customers: Vec<CustomerSummary> = (0..1200u32)
            .map(|i| {
                let frequency = 1 + i % 6;
                // Averages of `frequency` draws around 100 with a spread of 30 per purchase.
                let noise = f64::from((i * 7919) % 1000) / 1000.0 - 0.5;
                let monetary = 100.0 + 30.0 * noise / f64::from(frequency).sqrt();
                CustomerSummary {
                    frequency,
                    recency: 10.0,
                    age: 20.0,
                    monetary,
                }
            })
            .collect();
        let fit = GammaGamma::fit(&customers).ready().unwrap();
        assert!(fit.regularised, "{fit:?}");
        assert!(fit.params.q.is_finite() && fit.params.q < 1e6, "{fit:?}");
        assert!(fit.standard_errors.is_some(), "{fit:?}");
        let spend = fit.expected_spend(&customers[0], 0.9).unwrap();
        assert!((spend.estimate - 100.0).abs() < 5.0, "{spend:?}");
        assert!(
            spend.low.is_finite()
                && spend.high.is_finite()
                && spend.low < spend.estimate
                && spend.estimate < spend.high
        );
    }

    proptest! {
        #[test]
        fn the_gradient_matches_finite_differences(
            p in 0.5f64..10.0, q in 0.5f64..10.0, v in 1.0f64..50.0, x in 1u32..10, m in 1.0f64..200.0,
        ) {
            let (_, analytic) = customer_log_likelihood(&GammaGamma { p, q, v }, f64::from(x), m);
            let values = [p, q, v];
            for i in 0..3 {
                let h = 1e-6 * values[i];
                let at = |delta: f64| {
                    let mut w = values;
                    w[i] += delta;
                    customer_log_likelihood(&GammaGamma { p: w[0], q: w[1], v: w[2] }, f64::from(x), m).0
                };
                let numeric = (at(h) - at(-h)) / (2.0 * h);
                prop_assert!((numeric - analytic[i]).abs() < 1e-4 * numeric.abs().max(1.0));
            }
        }

        #[test]
        fn expected_spend_lies_between_the_population_mean_and_the_own_average(
            x in 1u32..30, m in 1.0f64..500.0,
        ) {
            let g = GammaGamma { p: 6.25, q: 3.74, v: 15.44 };
            let c = CustomerSummary { frequency: x, recency: 1.0, age: 2.0, monetary: m };
            let population = g.p * g.v / (g.q - 1.0);
            let spend = g.expected_spend(&c).unwrap();
            prop_assert!(spend >= population.min(m) - 1e-9 && spend <= population.max(m) + 1e-9);
        }
    }
}
