//! Forecasting (SPEC ANA-8): Holt-Winters exponential smoothing with an additive trend and
//! additive or multiplicative seasonality, the season length found from the data, prediction
//! intervals that widen with the horizon, and a flag when the fit is poor.
//!
//! Why our own: augurs' ETS (the well-kept Rust option) has no seasonal models; MSTL + ETS
//! would not reproduce the Holt-Winters figures analysts compare against. Smoothing weights
//! and initial states are estimated together by minimising the one-step squared error, as
//! statsmodels' `ExponentialSmoothing(..., initialization_method="estimated")` does; the
//! candidate models are compared by AICc.

use serde::Serialize;

use crate::optimise::minimise_plain;
use crate::{normal_quantile, Analysis, Sample};

/// How the season enters the series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Seasonality {
    None,
    Additive,
    /// The seasonal swing grows with the level (e.g. air passengers).
    Multiplicative,
}

/// What to fit: `None` fields are chosen from the data.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ForecastSettings {
    pub period: Option<usize>,
    /// With (`Some(true)`) or without an additive trend; `None` lets AICc choose.
    pub trend: Option<bool>,
    pub seasonality: Option<Seasonality>,
    /// Prediction interval level (default 0.9).
    pub level: Option<f64>,
}

/// The fitted model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Model {
    pub trend: bool,
    pub seasonality: Seasonality,
    /// Season length in observations (`None` without a season).
    pub period: Option<usize>,
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub sse: f64,
    pub aicc: f64,
    /// Mean absolute percentage error of the one-step fits, in percent.
    pub in_sample_mape: f64,
    /// Mean absolute error scaled by the (seasonal) naive forecast's: below 1 beats it.
    pub mase: f64,
}

/// One forecast step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Point {
    pub step: usize,
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// Good enough to act on, or why not.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "quality", content = "reason", rename_all = "snake_case")]
pub enum FitQuality {
    Good,
    Poor(String),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Forecast {
    pub model: Model,
    pub level: f64,
    pub points: Vec<Point>,
    pub fit: FitQuality,
    pub sample: Sample,
}

/// State of the recursions: level, trend and the last `period` seasonal factors.
#[derive(Clone, Debug)]
struct Spec {
    trend: bool,
    seasonality: Seasonality,
    period: usize,
}

/// Parameters in the optimiser's unconstrained space.
struct Decoded {
    alpha: f64,
    beta: f64,
    gamma: f64,
    level: f64,
    slope: f64,
    seasons: Vec<f64>,
}

fn logistic(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

impl Spec {
    fn seasonal(&self) -> bool {
        self.seasonality != Seasonality::None
    }

    fn parameter_count(&self) -> usize {
        2 + 2 * usize::from(self.trend) + if self.seasonal() { 1 + self.period } else { 0 }
    }

    /// Unconstrained vector layout: [α, β/α?, γ/(1−α)?, level, slope?], states scaled by
    /// `scale`. β ≤ α and γ ≤ 1 − α keep the model in its usual admissible region (as in
    /// statsmodels and Hyndman et al.). The seasonal start is not optimised: it comes from a
    /// classical decomposition of the first seasons, which is both steadier and far cheaper
    /// than searching over one more dimension per season.
    fn decode(&self, v: &[f64], scale: f64, seasons: &[f64]) -> Decoded {
        let mut i = 0;
        let mut next = || {
            i += 1;
            v[i - 1]
        };
        let alpha = logistic(next());
        let beta = if self.trend { alpha * logistic(next()) } else { 0.0 };
        let gamma = if self.seasonal() {
            (1.0 - alpha) * logistic(next())
        } else {
            0.0
        };
        let level = next() * scale;
        let slope = if self.trend { next() * scale } else { 0.0 };
        Decoded {
            alpha,
            beta,
            gamma,
            level,
            slope,
            seasons: seasons.to_vec(),
        }
    }

    fn encode(&self, d: &Decoded, scale: f64) -> Vec<f64> {
        let mut v = vec![logit(d.alpha)];
        if self.trend {
            v.push(logit(d.beta / d.alpha));
        }
        if self.seasonal() {
            v.push(logit(d.gamma / (1.0 - d.alpha)));
        }
        v.push(d.level / scale);
        if self.trend {
            v.push(d.slope / scale);
        }
        v
    }

    /// Runs the recursions over `y`: one-step fits and the final state.
    fn run(&self, d: &Decoded, y: &[f64]) -> (Vec<f64>, f64, f64, Vec<f64>) {
        let (mut level, mut slope) = (d.level, d.slope);
        let mut seasons = d.seasons.clone();
        let mut fitted = Vec::with_capacity(y.len());
        for (t, &value) in y.iter().enumerate() {
            let base = level + slope;
            let season = if self.seasonal() {
                seasons[t % self.period]
            } else {
                0.0
            };
            let (prediction, deseasoned) = match self.seasonality {
                Seasonality::None => (base, value),
                Seasonality::Additive => (base + season, value - season),
                Seasonality::Multiplicative => (base * season, value / season),
            };
            fitted.push(prediction);
            let new_level = d.alpha * deseasoned + (1.0 - d.alpha) * base;
            if self.trend {
                slope = d.beta * (new_level - level) + (1.0 - d.beta) * slope;
            }
            if self.seasonal() {
                seasons[t % self.period] = match self.seasonality {
                    Seasonality::Additive => d.gamma * (value - base) + (1.0 - d.gamma) * season,
                    _ => d.gamma * (value / base) + (1.0 - d.gamma) * season,
                };
            }
            level = new_level;
        }
        // Rotate so that seasons[0] belongs to the first step after the data.
        let offset = if self.seasonal() { y.len() % self.period } else { 0 };
        seasons.rotate_left(offset);
        (fitted, level, slope, seasons)
    }

    /// Starting states by classical decomposition (Hyndman et al. 2008, §2.6.1): a centred
    /// moving average over the first seasons gives the trend, the average ratio (or difference)
    /// to it per position gives the seasonal start, and a line through the first deseasoned
    /// values gives the starting level and slope.
    fn initial(&self, y: &[f64]) -> Decoded {
        let m = self.period;
        let seasons = if self.seasonal() {
            let span = y.len().min(4 * m).max(2 * m);
            let window = &y[..span];
            let half = m / 2;
            let mut totals = vec![0.0; m];
            let mut counts = vec![0usize; m];
            for t in half..span.saturating_sub(half) {
                let average = if m.is_multiple_of(2) {
                    (0.5 * window[t - half]
                        + window[t + 1 - half..t + half].iter().sum::<f64>()
                        + 0.5 * window[t + half])
                        / m as f64
                } else {
                    window[t - half..=t + half].iter().sum::<f64>() / m as f64
                };
                if t + half >= span {
                    break;
                }
                totals[t % m] += match self.seasonality {
                    Seasonality::Multiplicative => window[t] / average,
                    _ => window[t] - average,
                };
                counts[t % m] += 1;
            }
            let raw: Vec<f64> = totals
                .iter()
                .zip(&counts)
                .map(|(t, c)| t / (*c).max(1) as f64)
                .collect();
            let centre = raw.iter().sum::<f64>() / m as f64;
            match self.seasonality {
                Seasonality::Multiplicative => raw.iter().map(|s| s / centre).collect(),
                _ => raw.iter().map(|s| s - centre).collect(),
            }
        } else {
            Vec::new()
        };
        let deseasoned: Vec<f64> = y
            .iter()
            .take(10.max(m).min(y.len()))
            .enumerate()
            .map(|(t, v)| match self.seasonality {
                Seasonality::None => *v,
                Seasonality::Additive => v - seasons[t % m],
                Seasonality::Multiplicative => v / seasons[t % m],
            })
            .collect();
        let (intercept, slope) = line(&deseasoned);
        let slope = if self.trend { slope } else { 0.0 };
        let level = if self.trend {
            intercept - slope
        } else {
            deseasoned.iter().sum::<f64>() / deseasoned.len() as f64
        };
        Decoded {
            alpha: 0.3,
            beta: 0.03,
            gamma: 0.1,
            level,
            slope,
            seasons,
        }
    }

    fn fit(&self, y: &[f64]) -> Option<(Decoded, f64)> {
        if self.seasonality == Seasonality::Multiplicative && y.iter().any(|v| *v <= 0.0) {
            return None;
        }
        let scale = y.iter().map(|v| v.abs()).sum::<f64>() / y.len() as f64;
        let scale = if scale > 0.0 { scale } else { 1.0 };
        let start = self.initial(y);
        let sse = |v: &[f64]| {
            let d = self.decode(v, scale, &start.seasons);
            let (fitted, ..) = self.run(&d, y);
            let total: f64 = fitted.iter().zip(y).map(|(f, v)| (v - f).powi(2)).sum();
            // Scaled to order one, so the simplex's tolerance means the same for every series.
            let scaled = total / (y.len() as f64 * scale * scale);
            if scaled.is_finite() {
                scaled
            } else {
                f64::MAX
            }
        };
        let mut best = minimise_plain(sse, self.encode(&start, scale), 0.5);
        // A restart from the best point escapes the simplex's premature collapse.
        let again = minimise_plain(sse, best.point.clone(), 0.1);
        if again.value < best.value {
            best = again;
        }
        Some((
            self.decode(&best.point, scale, &start.seasons),
            best.value * y.len() as f64 * scale * scale,
        ))
    }
}

/// Least-squares line through `values` at t = 1, 2, …: (intercept at t = 0, slope).
fn line(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.len() < 2 {
        return (values.first().copied().unwrap_or(0.0), 0.0);
    }
    let mean_t = (n + 1.0) / 2.0;
    let mean_v = values.iter().sum::<f64>() / n;
    let (mut covariance, mut variance) = (0.0, 0.0);
    for (i, v) in values.iter().enumerate() {
        let t = (i + 1) as f64 - mean_t;
        covariance += t * (v - mean_v);
        variance += t * t;
    }
    let slope = covariance / variance;
    (mean_v - slope * mean_t, slope)
}

/// Finds the season length: the candidate lag with the strongest autocorrelation of the
/// differenced series, if that is clearly significant.
pub fn detect_period(y: &[f64]) -> Option<usize> {
    let diff: Vec<f64> = y.windows(2).map(|w| w[1] - w[0]).collect();
    let n = diff.len();
    let mean = diff.iter().sum::<f64>() / n.max(1) as f64;
    let variance: f64 = diff.iter().map(|v| (v - mean).powi(2)).sum();
    if variance <= 0.0 {
        return None;
    }
    let acf = |lag: usize| {
        (lag..n)
            .map(|t| (diff[t] - mean) * (diff[t - lag] - mean))
            .sum::<f64>()
            / variance
    };
    [4, 7, 12, 24, 52]
        .into_iter()
        .filter(|&m| y.len() >= 2 * m + 2)
        .map(|m| (m, acf(m)))
        .filter(|&(_, r)| r > 0.3 && r > 2.0 / (n as f64).sqrt())
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(m, _)| m)
}

/// Fits the best Holt-Winters model to `y` and forecasts `horizon` steps ahead.
pub fn forecast(y: &[f64], horizon: usize, settings: ForecastSettings) -> Analysis<Forecast> {
    let level = settings.level.unwrap_or(0.9);
    if y.len() < 6 || y.iter().any(|v| !v.is_finite()) {
        return Analysis::insufficient(
            "at least 6 observations, all numbers",
            y.len(),
            "wait for more history: a forecast needs at least six periods",
        );
    }
    let period = settings
        .period
        .or_else(|| detect_period(y))
        .filter(|&m| m >= 2 && y.len() >= 2 * m);
    let seasonalities: Vec<Seasonality> = match (settings.seasonality, period) {
        (Some(s), Some(_)) => vec![s],
        (_, None) => vec![Seasonality::None],
        (None, Some(_)) => vec![Seasonality::Additive, Seasonality::Multiplicative],
    };
    let n = y.len() as f64;
    let mut best: Option<(Spec, Decoded, f64, f64)> = None;
    for seasonality in seasonalities {
        let trends = match settings.trend {
            Some(trend) => vec![trend],
            None => vec![false, true],
        };
        for &trend in &trends {
            let spec = Spec {
                trend,
                seasonality,
                period: period.unwrap_or(1),
            };
            let Some((decoded, sse)) = spec.fit(y) else {
                continue;
            };
            let k = spec.parameter_count() as f64;
            let aicc = n * (sse / n).max(1e-300).ln()
                + 2.0 * k
                + if n - k - 1.0 > 0.0 {
                    2.0 * k * (k + 1.0) / (n - k - 1.0)
                } else {
                    f64::INFINITY
                };
            if best.as_ref().is_none_or(|b| aicc < b.3) {
                best = Some((spec, decoded, sse, aicc));
            }
        }
    }
    let Some((spec, decoded, sse, aicc)) = best else {
        return Analysis::insufficient(
            "a series that a model can be fitted to",
            y.len(),
            "check the values",
        );
    };
    let (fitted, last_level, last_slope, seasons) = spec.run(&decoded, y);
    let in_sample_mape = mape(y, &fitted);
    let naive_lag = if spec.seasonal() { spec.period } else { 1 };
    let naive_error = y
        .windows(naive_lag + 1)
        .map(|w| (w[naive_lag] - w[0]).abs())
        .sum::<f64>()
        / (y.len() - naive_lag) as f64;
    let model_error = y.iter().zip(&fitted).map(|(v, f)| (v - f).abs()).sum::<f64>() / n;
    let mase = if naive_error > 0.0 {
        model_error / naive_error
    } else {
        f64::INFINITY
    };

    // Prediction intervals: the additive-error variance multipliers of Hyndman et al. (2008,
    // table 6.1), on relative errors for the multiplicative model.
    let k = spec.parameter_count() as f64;
    let relative = spec.seasonality == Seasonality::Multiplicative;
    let residual_variance = if relative {
        y.iter()
            .zip(&fitted)
            .map(|(v, f)| ((v - f) / f).powi(2))
            .sum::<f64>()
            / (n - k).max(1.0)
    } else {
        sse / (n - k).max(1.0)
    };
    let z = normal_quantile(0.5 + level / 2.0);
    let mut spread = 0.0;
    let points = (1..=horizon)
        .map(|h| {
            let season = if spec.seasonal() {
                seasons[(h - 1) % spec.period]
            } else {
                0.0
            };
            let base = last_level + h as f64 * last_slope;
            let value = match spec.seasonality {
                Seasonality::None => base,
                Seasonality::Additive => base + season,
                Seasonality::Multiplicative => base * season,
            };
            if h > 1 {
                let j = (h - 1) as f64;
                let seasonal_hit = spec.seasonal() && (h - 1) % spec.period == 0;
                let c =
                    decoded.alpha * (1.0 + j * decoded.beta) + if seasonal_hit { decoded.gamma } else { 0.0 };
                spread += c * c;
            }
            let sd = (residual_variance * (1.0 + spread)).sqrt() * if relative { value.abs() } else { 1.0 };
            Point {
                step: h,
                value,
                low: value - z * sd,
                high: value + z * sd,
            }
        })
        .collect();
    let fit = if mase >= 1.0 {
        FitQuality::Poor(format!(
            "no better than repeating the {} (scaled error {mase:.2})",
            if spec.seasonal() {
                "last season"
            } else {
                "last value"
            }
        ))
    } else if in_sample_mape > 25.0 {
        FitQuality::Poor(format!("one-step errors average {in_sample_mape:.1} %"))
    } else {
        FitQuality::Good
    };
    Analysis::Ready(Forecast {
        model: Model {
            trend: spec.trend,
            seasonality: spec.seasonality,
            period: spec.seasonal().then_some(spec.period),
            alpha: decoded.alpha,
            beta: decoded.beta,
            gamma: decoded.gamma,
            sse,
            aicc,
            in_sample_mape,
            mase,
        },
        level,
        points,
        fit,
        sample: Sample::new(y.len()),
    })
}

/// Mean absolute percentage error, in percent, over the pairs whose actual value is not zero.
pub fn mape(actual: &[f64], predicted: &[f64]) -> f64 {
    let (total, count) = actual
        .iter()
        .zip(predicted)
        .filter(|(a, _)| **a != 0.0)
        .fold((0.0, 0usize), |(total, count), (a, p)| {
            (total + ((a - p) / a).abs(), count + 1)
        });
    if count == 0 {
        f64::NAN
    } else {
        100.0 * total / count as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seasonal_series(n: usize, period: usize, growth: f64, noise_seed: u64) -> Vec<f64> {
        let mut state = noise_seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..n)
            .map(|t| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5;
                let season = 1.0 + 0.3 * (2.0 * std::f64::consts::PI * t as f64 / period as f64).sin();
                (100.0 + growth * t as f64) * season + noise * 4.0
            })
            .collect()
    }

    #[test]
    fn the_season_length_is_found() {
        assert_eq!(detect_period(&seasonal_series(96, 12, 1.0, 7)), Some(12));
        assert_eq!(detect_period(&seasonal_series(70, 7, 0.5, 3)), Some(7));
        let flat: Vec<f64> = (0..50).map(|t| 10.0 + (t % 2) as f64 * 0.001).collect();
        assert_ne!(detect_period(&flat), Some(12));
    }

    #[test]
    fn a_short_series_is_an_explicit_answer() {
        assert!(matches!(
            forecast(&[1.0, 2.0, 3.0], 3, ForecastSettings::default()),
            Analysis::InsufficientData(_)
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn intervals_contain_the_forecast_and_widen_with_the_horizon(
            growth in 0.0f64..3.0, seed in 0u64..1000, period in prop::sample::select(vec![4usize, 7, 12]),
        ) {
            let y = seasonal_series(period * 5, period, growth, seed);
            let f = forecast(&y, period * 2, ForecastSettings { period: Some(period), ..Default::default() }).ready().unwrap();
            // Additive errors widen in absolute terms, multiplicative ones relative to the value.
            let relative = f.model.seasonality == Seasonality::Multiplicative;
            let mut previous_width = 0.0;
            for p in &f.points {
                prop_assert!(p.low <= p.value && p.value <= p.high);
                let width = (p.high - p.low) / if relative { p.value.abs().max(1e-9) } else { 1.0 };
                prop_assert!(width >= previous_width * (1.0 - 1e-9), "{width} < {previous_width}");
                previous_width = width;
            }
        }
    }
}
