//! The model scorer (real embeddings + the committed head) answers a distribution for any
//! text: empty, emoji only, any Unicode, or far longer than the model reads (it truncates).

use embeddings::{ModelFiles, ModelScorer};
use proptest::prelude::*;
use std::sync::OnceLock;
use text::sentiment::Sentiment;

fn scorer() -> &'static ModelScorer {
    static SCORER: OnceLock<ModelScorer> = OnceLock::new();
    SCORER.get_or_init(|| {
        let dir = text::hutto::checkout_dir().parent().unwrap().to_owned();
        ModelScorer::load(&ModelFiles::in_dir(&dir), 2).expect("the set-up step installed the model")
    })
}

fn assert_distribution(s: &Sentiment, text: &str) {
    let sum = s.positive + s.neutral + s.negative;
    assert!((sum - 1.0).abs() < 1e-9, "{sum} for {text:?}");
    for p in [s.positive, s.neutral, s.negative] {
        assert!((0.0..=1.0).contains(&p), "{s:?} for {text:?}");
    }
    assert_eq!(s.confidence, s.positive.max(s.neutral).max(s.negative));
}

#[test]
fn edge_texts_get_a_distribution() {
    let long = "I hate this, it is terrible and broken. ".repeat(2_600);
    assert!(long.len() > 100_000);
    let texts = ["", " ", "😀😀😀", "🙁", "\u{0}\u{200b}", "👍🏽👍🏽 ok", long.as_str()];
    let scores = scorer().score(&texts).unwrap();
    assert_eq!(scores.len(), texts.len());
    for (s, text) in scores.iter().zip(texts) {
        assert_distribution(s, text);
    }
    assert_eq!(
        scores[6].label.as_str(),
        "negative",
        "a long complaint is read from its start"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn any_unicode_gets_a_distribution(
        texts in proptest::collection::vec(
            prop_oneof!["\\PC{0,200}", "[\u{1F300}-\u{1FAFF}]{1,20}", ".{0,40}"], 1..6)
    ) {
        let borrowed: Vec<&str> = texts.iter().map(String::as_str).collect();
        let scores = scorer().score(&borrowed).unwrap();
        prop_assert_eq!(scores.len(), texts.len());
        for (s, text) in scores.iter().zip(&texts) {
            assert_distribution(s, text);
        }
    }
}
