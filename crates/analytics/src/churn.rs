//! Churn risk (SPEC ANA-4): a logistic regression (linfa) on behaviour features, every score
//! explained by the features that pushed it up, in plain words.
//!
//! The model reads any table: numeric columns are standardised, text columns one-hot encoded
//! (so the same code trains on the IBM Telco sample and on Sightline's own behaviour features,
//! [`behaviour_features`]). A feature's contribution to one score is its weight times the
//! customer's standardised distance from the average customer, so "reasons" say what makes
//! this customer riskier than a typical one.

use chrono::NaiveDate;
use linfa::prelude::*;
use linfa_logistic::{FittedLogisticRegression, LogisticRegression};
use ndarray::{Array1, Array2};
use serde::Serialize;

use crate::{median, Analysis, Sample};

/// One column of training or scoring data.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    Numeric { name: String, values: Vec<f64> },
    Categorical { name: String, values: Vec<String> },
}

impl Column {
    pub fn name(&self) -> &str {
        match self {
            Column::Numeric { name, .. } | Column::Categorical { name, .. } => name,
        }
    }

    fn len(&self) -> usize {
        match self {
            Column::Numeric { values, .. } => values.len(),
            Column::Categorical { values, .. } => values.len(),
        }
    }

    /// A column from text cells: numeric when every cell parses as a number.
    pub fn from_text(name: &str, cells: Vec<String>) -> Column {
        let numbers: Option<Vec<f64>> = cells
            .iter()
            .map(|c| c.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
            .collect();
        match numbers {
            Some(values) => Column::Numeric {
                name: name.to_string(),
                values,
            },
            None => Column::Categorical {
                name: name.to_string(),
                values: cells,
            },
        }
    }
}

/// One model input derived from a column.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Encoded {
    Numeric {
        column: String,
        mean: f64,
        sd: f64,
    },
    /// 1 when the column has this value.
    Level {
        column: String,
        level: String,
        share: f64,
        sd: f64,
    },
}

impl Encoded {
    fn label(&self) -> String {
        match self {
            Encoded::Numeric { column, .. } => column.clone(),
            Encoded::Level { column, level, .. } => format!("{column} = {level}"),
        }
    }
}

/// A feature's weight in the fitted model (per standard deviation).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Weight {
    pub feature: String,
    pub weight: f64,
}

/// Why one customer's risk is what it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reason {
    pub feature: String,
    /// Change in log-odds against an average customer.
    pub contribution: f64,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChurnScore {
    pub probability: f64,
    pub band: RiskBand,
    /// The strongest reasons raising the risk, strongest first (at most three).
    pub reasons: Vec<Reason>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskBand {
    Low,
    Medium,
    High,
}

impl RiskBand {
    pub fn of(probability: f64) -> RiskBand {
        if probability >= 0.6 {
            RiskBand::High
        } else if probability >= 0.3 {
            RiskBand::Medium
        } else {
            RiskBand::Low
        }
    }
}

/// A trained model and what it was trained on.
#[derive(Debug)]
pub struct ChurnModel {
    pub inputs: Vec<Encoded>,
    pub sample: Sample,
    /// Share of positive labels in training.
    pub base_rate: f64,
    fitted: FittedLogisticRegression<f64, bool>,
}

/// Customers of each class needed before a supervised model is trusted.
pub const MIN_PER_CLASS: usize = 10;

impl ChurnModel {
    /// Trains on `columns` (all of equal length) and `churned` labels, with L2 regularisation.
    pub fn train(columns: &[Column], churned: &[bool]) -> Analysis<ChurnModel> {
        let positives = churned.iter().filter(|c| **c).count();
        let fewest = positives.min(churned.len() - positives);
        if fewest < MIN_PER_CLASS {
            return Analysis::insufficient(
                format!("at least {MIN_PER_CLASS} customers who churned and {MIN_PER_CLASS} who stayed"),
                fewest,
                "with more history Sightline learns what precedes churn; until then risk is 1 − P(alive)",
            );
        }
        if columns.iter().any(|c| c.len() != churned.len()) {
            return Analysis::insufficient(
                "one value per customer in every column",
                0,
                "check the input table",
            );
        }
        let inputs = encode(columns);
        let x = design(&inputs, columns);
        let y = Array1::from_vec(churned.to_vec());
        let fitted = LogisticRegression::default()
            .alpha(1.0)
            .max_iterations(200)
            .gradient_tolerance(1e-4)
            .fit(&Dataset::new(x, y));
        match fitted {
            Ok(fitted) => Analysis::Ready(ChurnModel {
                inputs,
                sample: Sample::new(churned.len()),
                base_rate: positives as f64 / churned.len() as f64,
                fitted,
            }),
            Err(error) => Analysis::insufficient(
                format!("data a logistic model can fit ({error})"),
                churned.len(),
                "check for constant or empty columns",
            ),
        }
    }

    /// The model's weights, largest effect first.
    pub fn weights(&self) -> Vec<Weight> {
        let mut weights: Vec<Weight> = self
            .inputs
            .iter()
            .zip(self.churn_weights())
            .map(|(input, weight)| Weight {
                feature: input.label(),
                weight,
            })
            .collect();
        weights.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
        weights
    }

    /// Probabilities of churn for every row of `columns` (same columns as in training).
    pub fn probabilities(&self, columns: &[Column]) -> Vec<f64> {
        self.churn_probabilities(&design(&self.inputs, columns)).to_vec()
    }

    /// linfa reports the probability of whichever label it saw first: turn it into P(churn),
    /// and the weights into weights towards churn.
    fn churn_probabilities(&self, x: &Array2<f64>) -> Array1<f64> {
        let p = self.fitted.predict_probabilities(x);
        if self.fitted.labels().pos.class {
            p
        } else {
            p.mapv(|v| 1.0 - v)
        }
    }

    fn churn_weights(&self) -> Array1<f64> {
        let w = self.fitted.params().clone();
        if self.fitted.labels().pos.class {
            w
        } else {
            -w
        }
    }

    /// Scores with reasons for every row of `columns`.
    pub fn score(&self, columns: &[Column]) -> Vec<ChurnScore> {
        let x = design(&self.inputs, columns);
        let probabilities = self.churn_probabilities(&x);
        let weights = self.churn_weights();
        x.outer_iter()
            .zip(probabilities.iter())
            .enumerate()
            .map(|(row, (standardised, &probability))| {
                let mut reasons: Vec<Reason> = self
                    .inputs
                    .iter()
                    .zip(standardised.iter().zip(weights.iter()))
                    .map(|(input, (z, w))| (input, z * w))
                    .filter(|(_, contribution)| *contribution > 0.05)
                    .map(|(input, contribution)| Reason {
                        feature: input.label(),
                        contribution,
                        text: explain(input, columns, row),
                    })
                    .collect();
                reasons.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
                reasons.truncate(3);
                ChurnScore {
                    probability,
                    band: RiskBand::of(probability),
                    reasons,
                }
            })
            .collect()
    }
}

fn encode(columns: &[Column]) -> Vec<Encoded> {
    let mut inputs = Vec::new();
    for column in columns {
        match column {
            Column::Numeric { name, values } => {
                let n = values.len().max(1) as f64;
                let mean = values.iter().sum::<f64>() / n;
                let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
                if sd > 0.0 {
                    inputs.push(Encoded::Numeric {
                        column: name.clone(),
                        mean,
                        sd,
                    });
                }
            }
            Column::Categorical { name, values } => {
                let mut levels: Vec<&String> = values.iter().collect();
                levels.sort();
                levels.dedup();
                let n = values.len().max(1) as f64;
                for level in levels {
                    let share = values.iter().filter(|v| *v == level).count() as f64 / n;
                    let sd = (share * (1.0 - share)).sqrt();
                    if sd > 0.0 {
                        inputs.push(Encoded::Level {
                            column: name.clone(),
                            level: level.clone(),
                            share,
                            sd,
                        });
                    }
                }
            }
        }
    }
    inputs
}

fn find<'a>(columns: &'a [Column], name: &str) -> Option<&'a Column> {
    columns.iter().find(|c| c.name() == name)
}

/// Standardised design matrix; a column missing at scoring time reads as average.
fn design(inputs: &[Encoded], columns: &[Column]) -> Array2<f64> {
    let rows = columns.first().map_or(0, Column::len);
    let mut x = Array2::zeros((rows, inputs.len()));
    for (j, input) in inputs.iter().enumerate() {
        match input {
            Encoded::Numeric { column, mean, sd } => {
                if let Some(Column::Numeric { values, .. }) = find(columns, column) {
                    for (i, v) in values.iter().enumerate() {
                        x[[i, j]] = (v - mean) / sd;
                    }
                }
            }
            Encoded::Level {
                column,
                level,
                share,
                sd,
            } => {
                if let Some(Column::Categorical { values, .. }) = find(columns, column) {
                    for (i, v) in values.iter().enumerate() {
                        x[[i, j]] = (f64::from(u8::from(v == level)) - share) / sd;
                    }
                }
            }
        }
    }
    x
}

fn explain(input: &Encoded, columns: &[Column], row: usize) -> String {
    match input {
        Encoded::Numeric { column, mean, .. } => {
            let value = match find(columns, column) {
                Some(Column::Numeric { values, .. }) => values[row],
                _ => *mean,
            };
            let direction = if value < *mean { "lower" } else { "higher" };
            format!(
                "{} is {} ({}), {direction} than the typical {}",
                words(column),
                short(value),
                direction_word(value, *mean),
                short(*mean)
            )
        }
        Encoded::Level {
            column, level, share, ..
        } => {
            format!(
                "{} is \"{level}\" (true of {:.0} % of customers)",
                words(column),
                share * 100.0
            )
        }
    }
}

fn direction_word(value: f64, mean: f64) -> &'static str {
    if value < mean {
        "below average"
    } else {
        "above average"
    }
}

fn words(name: &str) -> String {
    name.replace('_', " ")
}

fn short(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e9 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// What Sightline knows of one customer's behaviour up to a date.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Activity {
    /// Order days and values.
    pub orders: Vec<(NaiveDate, f64)>,
    /// Interaction days, whether each was a support contact, and its sentiment if scored.
    pub interactions: Vec<(NaiveDate, bool, Option<f64>)>,
    /// From the BG/NBD model, when fitted.
    pub p_alive: Option<f64>,
}

/// Names of [`behaviour_features`]' values, in order, as a merchant reads them in a score's
/// reasons.
pub const BEHAVIOUR_FEATURES: [&str; 8] = [
    "days since the last order",
    "silence against their usual gap between orders",
    "change in orders (last 90 days against the 90 before)",
    "change in spend (log, last 90 days against the 90 before)",
    "change in sentiment (last 90 days against the 90 before)",
    "support contacts in the last 90 days",
    "chance still active (P(alive))",
    "days as a customer",
];

/// Behaviour features at `as_of`: recency against the customer's own buying cadence, trends
/// in frequency, spend and sentiment (last 90 days against the 90 before), recent support
/// contacts, P(alive) and age. Missing history reads as neutral (no trend, P(alive) 1).
pub fn behaviour_features(activity: &Activity, as_of: NaiveDate) -> [f64; 8] {
    let days_before = |d: NaiveDate| (as_of - d).num_days() as f64;
    let orders: Vec<&(NaiveDate, f64)> = activity.orders.iter().filter(|(d, _)| *d <= as_of).collect();
    let first = orders
        .iter()
        .map(|(d, _)| *d)
        .chain(activity.interactions.iter().map(|i| i.0))
        .filter(|d| *d <= as_of)
        .min();
    let age = first.map_or(0.0, days_before);
    let last = orders.iter().map(|(d, _)| *d).max();
    let since_last = last.map_or(age, days_before);
    let mut days: Vec<NaiveDate> = orders.iter().map(|(d, _)| *d).collect();
    days.sort();
    days.dedup();
    let gaps: Vec<f64> = days.windows(2).map(|w| (w[1] - w[0]).num_days() as f64).collect();
    let cadence = if gaps.is_empty() {
        age.max(30.0)
    } else {
        median(&gaps).max(1.0)
    };
    let window = |from: f64, to: f64| move |d: &NaiveDate| (from..to).contains(&days_before(*d));
    let recent = window(0.0, 90.0);
    let previous = window(90.0, 180.0);
    let count = |f: &dyn Fn(&NaiveDate) -> bool| orders.iter().filter(|(d, _)| f(d)).count() as f64;
    let spend =
        |f: &dyn Fn(&NaiveDate) -> bool| orders.iter().filter(|(d, _)| f(d)).map(|(_, v)| v).sum::<f64>();
    let sentiment = |f: &dyn Fn(&NaiveDate) -> bool| {
        let scores: Vec<f64> = activity
            .interactions
            .iter()
            .filter(|i| f(&i.0))
            .filter_map(|i| i.2)
            .collect();
        (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64)
    };
    let sentiment_trend = match (sentiment(&recent), sentiment(&previous)) {
        (Some(now), Some(before)) => now - before,
        _ => 0.0,
    };
    let support = activity
        .interactions
        .iter()
        .filter(|i| i.1 && recent(&i.0))
        .count() as f64;
    [
        since_last,
        since_last / cadence,
        count(&recent) - count(&previous),
        (1.0 + spend(&recent)).ln() - (1.0 + spend(&previous)).ln(),
        sentiment_trend,
        support,
        activity.p_alive.unwrap_or(1.0),
        age,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(n)
    }

    #[test]
    fn a_customer_silent_for_three_cadences_scores_three() {
        let activity = Activity {
            orders: vec![(day(0), 10.0), (day(10), 10.0), (day(20), 10.0)],
            ..Default::default()
        };
        let features = behaviour_features(&activity, day(50));
        assert_eq!(features[0], 30.0);
        assert_eq!(features[1], 3.0);
        assert_eq!(features[7], 50.0);
    }

    #[test]
    fn too_few_churners_is_an_explicit_answer() {
        let column = Column::Numeric {
            name: "x".into(),
            values: (0..30).map(f64::from).collect(),
        };
        let labels: Vec<bool> = (0..30).map(|i| i < 3).collect();
        assert!(matches!(
            ChurnModel::train(&[column], &labels),
            Analysis::InsufficientData(_)
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn scores_are_probabilities_and_reasons_raise_the_risk(seed in 0u64..500) {
            // Churn depends on x (up) and on plan = "monthly" (up); noise feature z does not.
            let n = 300;
            let mut state = seed;
            let mut next = || { state = crate::metrics::splitmix64(state); (state >> 11) as f64 / (1u64 << 53) as f64 };
            let x: Vec<f64> = (0..n).map(|_| next() * 10.0).collect();
            let z: Vec<f64> = (0..n).map(|_| next()).collect();
            let plan: Vec<String> = (0..n).map(|_| if next() < 0.5 { "monthly".to_string() } else { "yearly".to_string() }).collect();
            let labels: Vec<bool> = (0..n).map(|i| {
                let logit = -4.0 + 0.6 * x[i] + if plan[i] == "monthly" { 1.5 } else { 0.0 };
                next() < 1.0 / (1.0 + (-logit).exp())
            }).collect();
            let columns = vec![
                Column::Numeric { name: "x".into(), values: x },
                Column::Numeric { name: "z".into(), values: z },
                Column::Categorical { name: "plan".into(), values: plan },
            ];
            let model = ChurnModel::train(&columns, &labels).ready().unwrap();
            let weights = model.weights();
            prop_assert_eq!(weights[0].feature.as_str(), "x");
            for score in model.score(&columns) {
                prop_assert!((0.0..=1.0).contains(&score.probability));
                prop_assert!(score.reasons.len() <= 3);
                prop_assert!(score.reasons.iter().all(|r| r.contribution > 0.0 && !r.text.is_empty()));
                prop_assert!(score.reasons.windows(2).all(|w| w[0].contribution >= w[1].contribution));
            }
            let probabilities = model.probabilities(&columns);
            let auc = crate::metrics::auc(&probabilities, &labels).unwrap();
            prop_assert!(auc > 0.7, "auc {auc}");
        }
    }
}
