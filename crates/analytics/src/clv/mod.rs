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
pub(crate) fn log_parameter_covariance<G>(gradient: G, at: &[f64]) -> Option<Vec<Vec<f64>>>
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
pub(crate) fn quadratic_form(gradient: &[f64], covariance: &[Vec<f64>]) -> f64 {
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

/// A weak normal prior on a log-parameter: its negative log density (up to a constant) and
/// that density's derivative.
pub(crate) fn log_prior_penalty(log_value: f64, centre: f64, sd: f64) -> (f64, f64) {
    let z = (log_value - centre) / sd;
    (0.5 * z * z, z / sd)
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
