//! Customer lifetime value (SPEC ANA-3): the BG/NBD model of how often customers buy and when
//! they silently leave, the Gamma-Gamma model of how much they spend, and their combination
//! into expected purchases, P(alive) and CLV with intervals.
//!
//! Time is measured in days or in weeks (days / 7, the convention of Fader, Hardie & Lee 2005);
//! transactions are first aggregated per customer and day.

mod bgnbd;
mod gamma_gamma;
mod summary;
mod value;

use crate::optimise::minimise_smooth;

pub use bgnbd::{BgNbd, BgNbdFit};
pub use gamma_gamma::{GammaGamma, GammaGammaFit};
pub use summary::{summarize, CustomerSummary, TimeUnit, Transaction};
pub use value::{customer_value, ClvSettings, CustomerValue};

/// Below this many customers the fits are regularised towards weak priors (and their
/// intervals widen accordingly) instead of failing or over-fitting; Klaviyo's predictive
/// analytics refuses to run below 500.
pub const REGULARISE_BELOW: usize = 500;

/// The covariance of the log-parameters from the observed information (the inverse Hessian
/// of the total negative log-likelihood), or `None` when the surface is not curved enough
/// to invert (the interval is then left unbounded rather than invented).
fn log_parameter_covariance<G>(gradient: G, at: &[f64]) -> Option<Vec<Vec<f64>>>
where
    G: Fn(&[f64]) -> Vec<f64>,
{
    let n = at.len();
    let step = 1e-5;
    let mut hessian = vec![vec![0.0; n]; n];
    for j in 0..n {
        let mut up = at.to_vec();
        let mut down = at.to_vec();
        up[j] += step;
        down[j] -= step;
        let (g_up, g_down) = (gradient(&up), gradient(&down));
        for i in 0..n {
            hessian[i][j] = (g_up[i] - g_down[i]) / (2.0 * step);
        }
    }
    let symmetric: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| (hessian[i][j] + hessian[j][i]) / 2.0).collect())
        .collect();
    let inverse = invert(symmetric)?;
    let positive = (0..n).all(|i| inverse[i][i].is_finite() && inverse[i][i] > 0.0);
    positive.then_some(inverse)
}

/// Gauss-Jordan inversion with partial pivoting of a small matrix.
pub(crate) fn invert(mut matrix: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let n = matrix.len();
    let mut inverse: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for column in 0..n {
        let pivot =
            (column..n).max_by(|&a, &b| matrix[a][column].abs().total_cmp(&matrix[b][column].abs()))?;
        if matrix[pivot][column].abs() < 1e-300 {
            return None;
        }
        matrix.swap(column, pivot);
        inverse.swap(column, pivot);
        let scale = matrix[column][column];
        for j in 0..n {
            matrix[column][j] /= scale;
            inverse[column][j] /= scale;
        }
        for row in 0..n {
            if row != column {
                let factor = matrix[row][column];
                if factor != 0.0 {
                    for j in 0..n {
                        matrix[row][j] -= factor * matrix[column][j];
                        inverse[row][j] -= factor * inverse[column][j];
                    }
                }
            }
        }
    }
    Some(inverse)
}

/// `gᵀ Σ g`: the delta method's variance of a function with gradient `g` at the estimate.
fn quadratic_form(gradient: &[f64], covariance: &[Vec<f64>]) -> f64 {
    let mut total = 0.0;
    for (i, gi) in gradient.iter().enumerate() {
        for (j, gj) in gradient.iter().enumerate() {
            total += gi * covariance[i][j] * gj;
        }
    }
    total
}

/// Gauss's hypergeometric function ₂F₁(a, b; c; z) for 0 ≤ z < 1 by its power series
/// (the BG/NBD expectation needs it with z = t / (α + T + t)).
pub(crate) fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 0..200_000u32 {
        let k = f64::from(k);
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-15 * sum.abs() {
            break;
        }
    }
    sum
}

/// Spread of the weak normal priors on the log-parameters used when regularising.
const PRIOR_SD: f64 = 1.5;

/// A maximum-likelihood fit on log-parameters: what the BG/NBD and Gamma-Gamma fits share.
pub(crate) struct LogFit {
    pub point: Vec<f64>,
    /// Without the prior, when regularised.
    pub log_likelihood: f64,
    pub covariance: Option<Vec<Vec<f64>>>,
    pub iterations: u64,
    /// Whether the priors were used: asked for, or needed because the plain fit ran away.
    pub regularised: bool,
}

/// How far (in log units, a factor of e¹² ≈ 160,000) a plain fit may move from the prior
/// centre before it counts as running off to a boundary of the parameter space.
const RUNAWAY: f64 = 12.0;

/// Minimises `negative` — the total negative log-likelihood and its gradient in log-space —
/// from the prior centre (per customer, so tolerances mean the same at any size), adding weak
/// normal priors around that centre when `regularised`. A plain fit that runs off towards a
/// boundary (a parameter going to 0 or infinity, as Gamma-Gamma does when customers' spend
/// hardly differs) has no usable covariance; it is then redone with the priors, so the
/// estimates stay finite and the intervals honest, and says so.
pub(crate) fn fit_log_parameters<F>(
    negative: F,
    centre: &[f64],
    customers: usize,
    regularised: bool,
) -> LogFit
where
    F: Fn(&[f64]) -> (f64, Vec<f64>),
{
    let fit = fit_once(&negative, centre, customers, regularised);
    let ran_away =
        fit.covariance.is_none() || fit.point.iter().zip(centre).any(|(p, c)| (p - c).abs() > RUNAWAY);
    if !regularised && ran_away {
        fit_once(&negative, centre, customers, true)
    } else {
        fit
    }
}

fn fit_once<F>(negative: &F, centre: &[f64], customers: usize, regularised: bool) -> LogFit
where
    F: Fn(&[f64]) -> (f64, Vec<f64>),
{
    let penalised = |theta: &[f64]| {
        let (mut value, mut gradient) = negative(theta);
        if regularised {
            for ((g, t), c) in gradient.iter_mut().zip(theta).zip(centre) {
                let z = (t - c) / PRIOR_SD;
                value += 0.5 * z * z;
                *g += z / PRIOR_SD;
            }
        }
        if value.is_finite() {
            (value, gradient)
        } else {
            (f64::MAX, vec![0.0; theta.len()])
        }
    };
    let n = customers.max(1) as f64;
    let minimum = minimise_smooth(
        |theta| {
            let (value, gradient) = penalised(theta);
            (value / n, gradient.into_iter().map(|g| g / n).collect())
        },
        centre.to_vec(),
    );
    let covariance = log_parameter_covariance(|theta| penalised(theta).1, &minimum.point);
    LogFit {
        log_likelihood: -negative(&minimum.point).0,
        point: minimum.point,
        covariance,
        iterations: minimum.iterations,
        regularised,
    }
}

/// Standard errors of the parameters themselves (delta method from the log scale).
pub(crate) fn standard_errors<const N: usize>(
    values: [f64; N],
    covariance: Option<&Vec<Vec<f64>>>,
) -> Option<[f64; N]> {
    covariance.map(|cov| std::array::from_fn(|i| values[i] * cov[i][i].sqrt()))
}

/// The standard error of `f` of the log-parameters at `theta` by the delta method (infinite
/// when the covariance is unknown or the function is not finite there).
pub(crate) fn delta_se(theta: &[f64], covariance: Option<&Vec<Vec<f64>>>, f: impl Fn(&[f64]) -> f64) -> f64 {
    let Some(cov) = covariance else {
        return f64::INFINITY;
    };
    let step = 1e-5;
    let gradient: Vec<f64> = (0..theta.len())
        .map(|i| {
            let (mut up, mut down) = (theta.to_vec(), theta.to_vec());
            up[i] += step;
            down[i] -= step;
            (f(&up) - f(&down)) / (2.0 * step)
        })
        .collect();
    let variance = quadratic_form(&gradient, cov);
    if variance.is_finite() {
        variance.max(0.0).sqrt()
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // ₂F₁(1, 1; 2; z) = −ln(1 − z) / z
        for z in [0.1, 0.5, 0.9] {
            let expected = -(1.0f64 - z).ln() / z;
            assert!((hyp2f1(1.0, 1.0, 2.0, z) - expected).abs() < 1e-12);
        }
        // ₂F₁(a, b; b; z) = (1 − z)^−a
        assert!((hyp2f1(0.7, 2.0, 2.0, 0.6) - 0.4f64.powf(-0.7)).abs() < 1e-12);
    }

    #[test]
    fn inverting_then_multiplying_gives_the_identity() {
        let m = vec![vec![4.0, 1.0, 0.5], vec![1.0, 3.0, 0.2], vec![0.5, 0.2, 2.0]];
        let inv = invert(m.clone()).unwrap();
        for (i, row) in m.iter().enumerate() {
            for j in 0..3 {
                let product: f64 = row.iter().zip(&inv).map(|(a, inv_row)| a * inv_row[j]).sum();
                assert!((product - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert!(invert(vec![vec![1.0, 2.0], vec![2.0, 4.0]]).is_none());
    }
}
