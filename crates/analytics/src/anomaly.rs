//! Anomaly statistics for alerting (SPEC ANA-7): robust z-scores (median and MAD, so one
//! outlier cannot hide itself by inflating the spread), event velocity over sliding windows,
//! and outliers among the residuals of a seasonal series.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::{median, Analysis, Sample};

/// The MAD of normal data is 0.6745 σ: scaling by 1.4826 makes robust z-scores comparable to
/// ordinary ones.
const MAD_TO_SD: f64 = 1.4826;

/// Robust z-scores of `values`: (x − median) / (1.4826 · MAD). When more than half of the
/// values are equal the MAD is 0; the mean absolute deviation stands in (×1.2533), and if that
/// is 0 too every score is 0.
pub fn robust_z(values: &[f64]) -> Vec<f64> {
    let centre = median(values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - centre).abs()).collect();
    let mad = median(&deviations);
    let spread = if mad > 0.0 {
        MAD_TO_SD * mad
    } else {
        1.2533 * deviations.iter().sum::<f64>() / values.len().max(1) as f64
    };
    values
        .iter()
        .map(|v| if spread > 0.0 { (v - centre) / spread } else { 0.0 })
        .collect()
}

/// For each event (sorted or not), how many events of the same series happened in the
/// `window` ending at it, itself included: the basis of "5 orders from one card in 10 minutes".
pub fn velocity(times: &[DateTime<Utc>], window: Duration) -> Vec<usize> {
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by_key(|&i| times[i]);
    let mut counts = vec![0; times.len()];
    let (mut start, mut end) = (0, 0);
    for &i in &order {
        // Events at the same instant all count each other.
        while end < order.len() && times[order[end]] <= times[i] {
            end += 1;
        }
        while times[order[start]] <= times[i] - window {
            start += 1;
        }
        counts[i] = end - start;
    }
    counts
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outlier {
    pub index: usize,
    pub value: f64,
    /// What the trend and season lead one to expect.
    pub expected: f64,
    pub z: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outliers {
    pub sample: Sample,
    pub period: usize,
    pub threshold: f64,
    pub outliers: Vec<Outlier>,
}

/// Points whose residual, after a centred moving-average trend and a per-phase median season,
/// has a robust z-score beyond `threshold` (e.g. 3.5). As in STL's robustness iterations, the
/// suspects of a first pass are replaced by their expected values and the trend estimated
/// again, so a spike cannot drag its neighbours' expectations with it. The first and
/// last half season are judged against an extrapolated trend and so less surely.
pub fn seasonal_outliers(y: &[f64], period: usize, threshold: f64) -> Analysis<Outliers> {
    if period < 2 || y.len() < 2 * period + 2 {
        return Analysis::insufficient(
            format!("at least two seasons ({} points)", 2 * period.max(2) + 2),
            y.len(),
            "wait for more history",
        );
    }
    let first_pass = expected_values(y, period);
    let suspects = flag(y, &first_pass, threshold);
    // Only a suspect standing out most within half a season is replaced: its neighbours are
    // suspect only because its own weight bent their trend.
    let half = period / 2;
    let peak = |t: usize| {
        let z = suspects[t].map_or(0.0, f64::abs);
        let around = t.saturating_sub(half)..(t + half + 1).min(y.len());
        z > 0.0 && around.into_iter().all(|u| suspects[u].map_or(0.0, f64::abs) <= z)
    };
    let cleaned: Vec<f64> = y
        .iter()
        .enumerate()
        .map(|(t, v)| {
            if peak(t) {
                unbent(first_pass[t], *v, period)
            } else {
                *v
            }
        })
        .collect();
    let expected = expected_values(&cleaned, period);
    let flagged = flag(y, &expected, threshold);
    let outliers = flagged
        .into_iter()
        .enumerate()
        .filter_map(|(index, z)| {
            z.map(|z| Outlier {
                index,
                value: y[index],
                expected: expected[index],
                z,
            })
        })
        .collect();
    Analysis::Ready(Outliers {
        sample: Sample::new(y.len()),
        period,
        threshold,
        outliers,
    })
}

/// The value a point would need to sit on its own expectation, given that the point itself
/// pulled its season-long trend window by (value − x) / m: x = (m·e − value) / (m − 1).
fn unbent(expected: f64, value: f64, period: usize) -> f64 {
    let m = period as f64;
    (m * expected - value) / (m - 1.0)
}

fn flag(y: &[f64], expected: &[f64], threshold: f64) -> Vec<Option<f64>> {
    let residuals: Vec<f64> = y.iter().zip(expected).map(|(v, e)| v - e).collect();
    robust_z(&residuals)
        .into_iter()
        .map(|z| (z.abs() > threshold).then_some(z))
        .collect()
}

/// Trend (centred moving average over one season, 2×m for even m, extended linearly over the
/// half season at each end) plus the median seasonal effect of each phase.
fn expected_values(y: &[f64], period: usize) -> Vec<f64> {
    let n = y.len();
    let half = period / 2;
    let (first, last) = (half, n - 1 - half);
    let mut trend = vec![0.0; n];
    for t in first..=last {
        trend[t] = if period.is_multiple_of(2) {
            (0.5 * y[t - half] + y[t + 1 - half..t + half].iter().sum::<f64>() + 0.5 * y[t + half])
                / period as f64
        } else {
            y[t - half..=t + half].iter().sum::<f64>() / period as f64
        };
    }
    let reach = period.min(last - first).max(1);
    let start_slope = (trend[first + reach] - trend[first]) / reach as f64;
    let end_slope = (trend[last] - trend[last - reach]) / reach as f64;
    for t in 0..first {
        trend[t] = trend[first] - start_slope * (first - t) as f64;
    }
    for t in last + 1..n {
        trend[t] = trend[last] + end_slope * (t - last) as f64;
    }
    let detrended: Vec<f64> = y.iter().zip(&trend).map(|(v, t)| v - t).collect();
    let season: Vec<f64> = (0..period)
        .map(|phase| {
            median(
                &detrended
                    .iter()
                    .skip(phase)
                    .step_by(period)
                    .copied()
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    (0..n).map(|t| trend[t] + season[t % period]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn robust_z_ignores_one_wild_value(base in prop::collection::vec(90.0f64..110.0, 20..100), wild in 1e4f64..1e6) {
            let mut values = base.clone();
            values.push(wild);
            let z = robust_z(&values);
            prop_assert!(*z.last().unwrap() > 10.0);
            prop_assert!(z[..base.len()].iter().all(|v| v.abs() < 10.0));
        }

        #[test]
        fn velocity_counts_match_a_direct_count(offsets in prop::collection::vec(0i64..1000, 1..80), window in 1i64..200) {
            let base = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
            let times: Vec<DateTime<Utc>> = offsets.iter().map(|s| base + Duration::seconds(*s)).collect();
            let counts = velocity(&times, Duration::seconds(window));
            for (i, t) in times.iter().enumerate() {
                let direct = times.iter().filter(|u| **u <= *t && **u > *t - Duration::seconds(window)).count();
                prop_assert_eq!(counts[i], direct);
            }
        }
    }

    #[test]
    fn a_spike_in_a_seasonal_series_is_found_and_the_season_is_not() {
        for seed in 0..20u64 {
            // Away from the first and last season, whose trend is extrapolated.
            for spike in [7usize, 12, 20, 41, 50, 70, 76] {
                let noise =
                    |t: u64| (crate::metrics::splitmix64(seed * 1000 + t) % 1000) as f64 / 100.0 - 5.0;
                let mut y: Vec<f64> = (0..84)
                    .map(|t| 100.0 + t as f64 + 20.0 * ((t % 7) as f64 - 3.0).abs() + noise(t as u64))
                    .collect();
                y[spike] += 80.0;
                let found = seasonal_outliers(&y, 7, 3.5).ready().unwrap();
                let found: Vec<usize> = found.outliers.iter().map(|o| o.index).collect();
                assert!(found.contains(&spike), "seed {seed}: {found:?}");
                // Nothing else, but for the extrapolated last or first half season.
                assert!(
                    found.iter().all(|&t| t == spike || !(3..81).contains(&t)),
                    "seed {seed}: {found:?}"
                );
            }
        }
    }
}
