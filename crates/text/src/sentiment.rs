//! Three-class sentiment (SPEC TXT-1): a trained softmax head over features of a text — the
//! VADER scores for the lexicon scorer, sentence embeddings for the model scorer — giving
//! probabilities that sum to 1 and a confidence that is the largest of them.

use serde::{Deserialize, Serialize};

use crate::vader::{vader, Polarity};

/// The class of a text. The reference labels come from the human mean rating on [-4, 4]:
/// above [`NEUTRAL_BAND`] positive, below its negative negative, otherwise neutral.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Negative,
    Neutral,
    Positive,
}

impl Label {
    pub const ALL: [Label; 3] = [Label::Negative, Label::Neutral, Label::Positive];

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Negative => "negative",
            Label::Neutral => "neutral",
            Label::Positive => "positive",
        }
    }

    /// The reference class of a human mean rating.
    pub fn of_rating(mean_rating: f64) -> Label {
        if mean_rating > NEUTRAL_BAND {
            Label::Positive
        } else if mean_rating < -NEUTRAL_BAND {
            Label::Negative
        } else {
            Label::Neutral
        }
    }

    /// VADER's own documented reading of its compound score (±0.05): the baseline the heads
    /// must beat.
    pub fn of_compound(compound: f64) -> Label {
        if compound >= 0.05 {
            Label::Positive
        } else if compound <= -0.05 {
            Label::Negative
        } else {
            Label::Neutral
        }
    }
}

/// Human mean ratings within ±0.5 of zero (on the −4..4 scale) count as neutral.
pub const NEUTRAL_BAND: f64 = 0.5;

/// What a scorer says about one text.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Sentiment {
    pub label: Label,
    pub positive: f64,
    pub neutral: f64,
    pub negative: f64,
    /// The largest of the three probabilities.
    pub confidence: f64,
}

impl Sentiment {
    /// From class probabilities ordered negative, neutral, positive.
    pub fn from_probabilities(p: [f64; 3]) -> Sentiment {
        let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(1);
        Sentiment {
            label: Label::ALL[best],
            negative: p[0],
            neutral: p[1],
            positive: p[2],
            confidence: p[best],
        }
    }

    /// One number in [-1, 1] for averages and trends: P(positive) − P(negative).
    pub fn polarity(&self) -> f64 {
        self.positive - self.negative
    }
}

/// A multinomial logistic regression stored as plain numbers, so scoring needs no ML crate
/// and the file is small enough to commit (`crates/text/models/`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Head {
    /// Registry name and version (`ml_models`); every stored score names them.
    pub name: String,
    pub version: String,
    /// What each weight row multiplies, in order.
    pub features: Vec<String>,
    /// One row per feature, one column per class (negative, neutral, positive).
    pub weights: Vec<[f64; 3]>,
    pub intercept: [f64; 3],
    /// Feature standardisation learned on the training split: (x − mean) / scale.
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub trained_at: String,
    /// How the head was trained and how it scored on its held-out split.
    pub evaluation: serde_json::Value,
}

impl Head {
    /// Class probabilities for one feature vector (its length must equal `features`).
    pub fn predict(&self, x: &[f64]) -> Sentiment {
        debug_assert_eq!(x.len(), self.features.len());
        let mut logits = self.intercept;
        for (j, (&value, row)) in x.iter().zip(&self.weights).enumerate() {
            let z = (value - self.mean[j]) / self.scale[j];
            for (logit, w) in logits.iter_mut().zip(row) {
                *logit += z * w;
            }
        }
        Sentiment::from_probabilities(softmax(logits))
    }
}

fn softmax(logits: [f64; 3]) -> [f64; 3] {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp = logits.map(|l| (l - max).exp());
    let sum: f64 = exp.iter().sum();
    exp.map(|e| e / sum)
}

/// The features the lexicon head reads: VADER's compound, its three shares, and |compound|
/// (how far from neutral, which a linear model cannot make from compound alone).
pub const LEXICON_FEATURES: [&str; 5] = ["compound", "pos", "neu", "neg", "abs_compound"];

/// A text without words gives VADER nothing to share out (all three shares 0, which no
/// training text has); it is read as what it is, entirely neutral.
pub fn lexicon_features(p: Polarity) -> [f64; 5] {
    let neu = if p.pos + p.neu + p.neg == 0.0 { 1.0 } else { p.neu };
    [p.compound, p.pos, neu, p.neg, p.compound.abs()]
}

const LEXICON_HEAD: &str = include_str!("../models/sentiment-lexicon.json");
const EMBEDDING_HEAD: &str = include_str!("../models/sentiment-minilm.json");

/// The head over all-MiniLM-L6-v2 sentence embeddings committed with the source (the
/// embedder itself lives in the `embeddings` crate: it needs files and a runtime).
pub fn embedding_head() -> Head {
    serde_json::from_str(EMBEDDING_HEAD).expect("models/sentiment-minilm.json is a valid head")
}

/// The lexicon scorer: VADER, read through a head trained on human ratings, so its
/// probabilities are calibrated and its label is not just a sign.
pub struct LexiconScorer {
    pub head: Head,
}

impl LexiconScorer {
    /// The head committed with the source.
    pub fn shipped() -> LexiconScorer {
        let head = serde_json::from_str(LEXICON_HEAD).expect("models/sentiment-lexicon.json is a valid head");
        LexiconScorer { head }
    }

    pub fn score(&self, text: &str) -> Sentiment {
        self.head
            .predict(&lexicon_features(vader().polarity_scores(text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn probabilities_sum_to_one_and_confidence_is_the_largest(
            logits in prop::array::uniform3(-50.0f64..50.0)
        ) {
            let s = Sentiment::from_probabilities(softmax(logits));
            prop_assert!((s.positive + s.neutral + s.negative - 1.0).abs() < 1e-9);
            prop_assert!(s.confidence >= s.positive && s.confidence >= s.neutral && s.confidence >= s.negative);
            prop_assert_eq!(s.confidence, [s.negative, s.neutral, s.positive][s.label as usize]);
        }

        #[test]
        fn lexicon_scores_are_probabilities_for_any_text(text in "\\PC{0,120}") {
            let s = LexiconScorer::shipped().score(&text);
            prop_assert!((s.positive + s.neutral + s.negative - 1.0).abs() < 1e-9);
            prop_assert!((-1.0..=1.0).contains(&s.polarity()));
        }
    }

    #[test]
    fn the_shipped_lexicon_head_reads_clear_texts_right() {
        let scorer = LexiconScorer::shipped();
        assert_eq!(
            scorer.score("I love it, works great and arrived early!").label,
            Label::Positive
        );
        assert_eq!(
            scorer
                .score("Terrible quality, broke after a day. Awful support.")
                .label,
            Label::Negative
        );
        assert_eq!(scorer.head.features, LEXICON_FEATURES);
        for empty in ["", "   ", "123 456", "..."] {
            assert_eq!(scorer.score(empty).label, Label::Neutral, "{empty:?}");
        }
    }

    #[test]
    fn human_ratings_map_to_classes_at_the_band() {
        assert_eq!(Label::of_rating(0.5), Label::Neutral);
        assert_eq!(Label::of_rating(0.51), Label::Positive);
        assert_eq!(Label::of_rating(-0.51), Label::Negative);
    }
}
