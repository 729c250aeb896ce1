//! Training and evaluating sentiment heads on the Hutto & Gilbert texts (`sightline ml
//! train-sentiment`). Reproducible: a fixed split, a deterministic optimiser, no sampling.
//!
//! Split: within each source file, every fifth text (lines 0, 5, 10, … of the file's rated
//! texts) is held out for evaluation; the rest trains. Labels: [`Label::of_rating`].

use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2};
use serde::Serialize;

use crate::hutto::RatedText;
use crate::sentiment::{Head, Label};

/// Held out: every `HOLD_OUT_EVERY`-th text of each source.
pub const HOLD_OUT_EVERY: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("fitting the head failed: {0}")]
    Fit(String),
    #[error("no texts to train on")]
    Empty,
}

/// (train, test) indexes into `texts`, by the documented rule.
pub fn split(texts: &[RatedText]) -> (Vec<usize>, Vec<usize>) {
    let (mut train, mut test) = (Vec::new(), Vec::new());
    let mut position_in_source = 0;
    for (i, text) in texts.iter().enumerate() {
        if i > 0 && texts[i - 1].source != text.source {
            position_in_source = 0;
        }
        if position_in_source % HOLD_OUT_EVERY == 0 {
            test.push(i);
        } else {
            train.push(i);
        }
        position_in_source += 1;
    }
    (train, test)
}

/// How well predicted labels match the reference ones.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    pub texts: usize,
    pub accuracy: f64,
    /// The unweighted mean of the three classes' F1.
    pub macro_f1: f64,
    /// Rows: reference class; columns: predicted class (negative, neutral, positive).
    pub confusion: [[usize; 3]; 3],
}

pub fn evaluate(truth: &[Label], predicted: &[Label]) -> Evaluation {
    let mut confusion = [[0usize; 3]; 3];
    for (t, p) in truth.iter().zip(predicted) {
        confusion[*t as usize][*p as usize] += 1;
    }
    let correct: usize = (0..3).map(|c| confusion[c][c]).sum();
    let f1 = |c: usize| {
        let tp = confusion[c][c] as f64;
        let predicted: usize = (0..3).map(|r| confusion[r][c]).sum();
        let actual: usize = confusion[c].iter().sum();
        if tp == 0.0 {
            0.0
        } else {
            let precision = tp / predicted as f64;
            let recall = tp / actual as f64;
            2.0 * precision * recall / (precision + recall)
        }
    };
    Evaluation {
        texts: truth.len(),
        accuracy: if truth.is_empty() {
            0.0
        } else {
            correct as f64 / truth.len() as f64
        },
        macro_f1: (0..3).map(f1).sum::<f64>() / 3.0,
        confusion,
    }
}

/// Fits a softmax head on standardised features. `alpha` is the L2 penalty.
pub fn fit_head(
    name: &str,
    version: &str,
    feature_names: &[&str],
    x: &[Vec<f64>],
    y: &[Label],
    alpha: f64,
    trained_at: &str,
) -> Result<Head, TrainError> {
    let (rows, cols) = (x.len(), feature_names.len());
    if rows == 0 {
        return Err(TrainError::Empty);
    }
    let mut mean = vec![0.0; cols];
    for row in x {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v / rows as f64;
        }
    }
    let mut scale = vec![0.0; cols];
    for row in x {
        for ((s, v), m) in scale.iter_mut().zip(row).zip(&mean) {
            *s += (v - m).powi(2) / rows as f64;
        }
    }
    let scale: Vec<f64> = scale
        .into_iter()
        .map(|v| if v > 1e-12 { v.sqrt() } else { 1.0 })
        .collect();
    let matrix = Array2::from_shape_fn((rows, cols), |(r, c)| (x[r][c] - mean[c]) / scale[c]);
    let targets: Array1<usize> = y.iter().map(|l| *l as usize).collect();
    let fitted = MultiLogisticRegression::default()
        .alpha(alpha)
        .max_iterations(300)
        .fit(&Dataset::new(matrix, targets))
        .map_err(|e| TrainError::Fit(e.to_string()))?;
    // linfa orders its columns by its sorted classes; put them in Label order.
    let mut weights = vec![[0.0; 3]; cols];
    let mut intercept = [0.0; 3];
    for (column, &class) in fitted.classes().iter().enumerate() {
        intercept[class] = fitted.intercept()[column];
        for (f, row) in weights.iter_mut().enumerate() {
            row[class] = fitted.params()[(f, column)];
        }
    }
    Ok(Head {
        name: name.to_owned(),
        version: version.to_owned(),
        features: feature_names.iter().map(|f| f.to_string()).collect(),
        weights,
        intercept,
        mean,
        scale,
        trained_at: trained_at.to_owned(),
        evaluation: serde_json::Value::Null,
    })
}

/// A head's and VADER's scores on the held-out texts, overall and per source.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub split: String,
    pub labels: String,
    pub train_texts: usize,
    pub rows: Vec<ReportRow>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReportRow {
    /// `all` or a source name.
    pub texts: String,
    pub head: Evaluation,
    /// Python VADER's compound read with its ±0.05 thresholds (our port gives the same).
    pub vader: Evaluation,
}

impl Report {
    pub fn markdown(&self, head_name: &str) -> String {
        let mut out = format!(
            "Split: {}. Labels: {}. Trained on {} texts.\n\n| held-out texts | n | {head_name} accuracy | {head_name} macro-F1 | VADER accuracy | VADER macro-F1 |\n|---|---|---|---|---|---|\n",
            self.split, self.labels, self.train_texts
        );
        for row in &self.rows {
            out += &format!(
                "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
                row.texts,
                row.head.texts,
                row.head.accuracy,
                row.head.macro_f1,
                row.vader.accuracy,
                row.vader.macro_f1
            );
        }
        out
    }
}

/// Evaluates `predict` (one label per held-out text) against the reference and against VADER.
pub fn report(
    texts: &[RatedText],
    train: usize,
    test: &[usize],
    predicted: &[Label],
    vader_compound: &[f64],
) -> Report {
    let mut sources: Vec<&str> = test.iter().map(|&i| texts[i].source.as_str()).collect();
    sources.dedup();
    let mut rows = Vec::new();
    for scope in std::iter::once("all").chain(sources) {
        let keep: Vec<usize> = (0..test.len())
            .filter(|&k| scope == "all" || texts[test[k]].source == scope)
            .collect();
        let truth: Vec<Label> = keep
            .iter()
            .map(|&k| Label::of_rating(texts[test[k]].mean_rating))
            .collect();
        let ours: Vec<Label> = keep.iter().map(|&k| predicted[k]).collect();
        let vader: Vec<Label> = keep
            .iter()
            .map(|&k| Label::of_compound(vader_compound[k]))
            .collect();
        rows.push(ReportRow {
            texts: scope.to_owned(),
            head: evaluate(&truth, &ours),
            vader: evaluate(&truth, &vader),
        });
    }
    Report {
        split: format!(
            "every {HOLD_OUT_EVERY}th text of each source held out (lines 0, {HOLD_OUT_EVERY}, …)"
        ),
        labels: format!(
            "human mean rating > {0} positive, < −{0} negative, else neutral",
            crate::sentiment::NEUTRAL_BAND
        ),
        train_texts: train,
        rows,
    }
}

/// Trains the lexicon head (VADER features) and reports it against plain VADER.
pub fn train_lexicon_head(
    texts: &[RatedText],
    version: &str,
    trained_at: &str,
) -> Result<(Head, Report), TrainError> {
    use crate::sentiment::{lexicon_features, LEXICON_FEATURES};
    use crate::vader::vader;
    let features: Vec<Vec<f64>> = texts
        .iter()
        .map(|t| lexicon_features(vader().polarity_scores(&t.text)).to_vec())
        .collect();
    train_head(
        "sentiment-lexicon",
        version,
        &LEXICON_FEATURES,
        texts,
        &features,
        1e-3,
        trained_at,
    )
}

/// Trains a head on given features (one row per text, e.g. sentence embeddings) with the
/// documented split, and reports it against plain VADER on the same held-out texts.
pub fn train_head(
    name: &str,
    version: &str,
    feature_names: &[&str],
    texts: &[RatedText],
    features: &[Vec<f64>],
    alpha: f64,
    trained_at: &str,
) -> Result<(Head, Report), TrainError> {
    use crate::vader::vader;
    let (train, test) = split(texts);
    let x: Vec<Vec<f64>> = train.iter().map(|&i| features[i].clone()).collect();
    let y: Vec<Label> = train
        .iter()
        .map(|&i| Label::of_rating(texts[i].mean_rating))
        .collect();
    let mut head = fit_head(name, version, feature_names, &x, &y, alpha, trained_at)?;
    let predicted: Vec<Label> = test.iter().map(|&i| head.predict(&features[i]).label).collect();
    let compound: Vec<f64> = test
        .iter()
        .map(|&i| vader().polarity_scores(&texts[i].text).compound)
        .collect();
    let report = report(texts, train.len(), &test, &predicted, &compound);
    head.evaluation = serde_json::to_value(&report).unwrap_or_default();
    Ok((head, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn label() -> impl Strategy<Value = Label> {
        prop::sample::select(Label::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn a_perfect_prediction_scores_one_and_accuracy_counts_agreements(truth in prop::collection::vec(label(), 1..200), other in prop::collection::vec(label(), 200)) {
            let perfect = evaluate(&truth, &truth);
            prop_assert_eq!(perfect.accuracy, 1.0);
            let predicted = &other[..truth.len()];
            let e = evaluate(&truth, predicted);
            let agree = truth.iter().zip(predicted).filter(|(a, b)| a == b).count();
            prop_assert!((e.accuracy - agree as f64 / truth.len() as f64).abs() < 1e-12);
            prop_assert!((0.0..=1.0).contains(&e.macro_f1));
            prop_assert_eq!(e.confusion.iter().flatten().sum::<usize>(), truth.len());
        }
    }

    #[test]
    fn the_split_holds_out_every_fifth_text_of_each_source() {
        let texts: Vec<RatedText> = (0..12)
            .map(|i| RatedText {
                source: if i < 7 { "a" } else { "b" }.into(),
                id: i.to_string(),
                mean_rating: 0.0,
                text: String::new(),
            })
            .collect();
        let (train, test) = split(&texts);
        assert_eq!(test, vec![0, 5, 7]);
        assert_eq!(train.len() + test.len(), 12);
    }

    #[test]
    fn a_head_learns_a_separable_problem() {
        let x: Vec<Vec<f64>> = (0..300)
            .map(|i| vec![(i % 3) as f64 + 0.1 * ((i * 7) % 5) as f64])
            .collect();
        let y: Vec<Label> = (0..300).map(|i| Label::ALL[i % 3]).collect();
        let head = fit_head("t", "1", &["x"], &x, &y, 1e-4, "now").unwrap();
        let predicted: Vec<Label> = x.iter().map(|row| head.predict(row).label).collect();
        assert!(evaluate(&y, &predicted).accuracy > 0.95);
    }
}
