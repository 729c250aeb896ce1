//! The VADER port gives Python `vaderSentiment` 3.3.2's scores, to the digits it prints, on
//! every Hutto & Gilbert text and on hand-written sentences that exercise each rule. The
//! expected values were written once by `scripts/vader_fixture.py` with the Python package.

use std::io::Read;
use std::path::PathBuf;

use proptest::prelude::*;
use text::vader::{vader, Polarity};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(name)
}

fn parse_scores(fields: &[&str]) -> Polarity {
    let f = |i: usize| fields[i].parse::<f64>().expect("a number");
    Polarity {
        neg: f(0),
        neu: f(1),
        pos: f(2),
        compound: f(3),
    }
}

#[test]
fn every_hutto_text_scores_as_python_vader() {
    let texts = text::hutto::read_dir(&text::hutto::checkout_dir()).expect("Hutto texts");
    let mut gz = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixture("vader_hutto.tsv.gz")).unwrap())
        .read_to_string(&mut gz)
        .unwrap();
    let expected: Vec<Vec<&str>> = gz
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(texts.len(), 23_703);
    assert_eq!(expected.len(), texts.len());

    let mut mismatches = Vec::new();
    for (text, row) in texts.iter().zip(&expected) {
        assert_eq!((text.source.as_str(), text.id.as_str()), (row[0], row[1]));
        let ours = vader().polarity_scores(&text.text).rounded();
        let python = parse_scores(&row[2..]);
        if ours != python {
            mismatches.push(format!(
                "{} {}: ours {ours:?} python {python:?} — {}",
                row[0], row[1], text.text
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} differ, e.g.\n{}",
        mismatches.len(),
        texts.len(),
        mismatches[..mismatches.len().min(10)].join("\n")
    );
}

#[test]
fn hand_written_sentences_score_as_python_vader() {
    let sentences = std::fs::read_to_string(fixture("vader_extra.txt")).unwrap();
    let expected = std::fs::read_to_string(fixture("vader_extra_expected.tsv")).unwrap();
    let sentences: Vec<&str> = sentences.split('\n').filter(|s| !s.is_empty()).collect();
    let expected: Vec<Polarity> = expected
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| parse_scores(&l.split('\t').collect::<Vec<_>>()))
        .collect();
    assert_eq!(sentences.len(), expected.len());
    for (sentence, python) in sentences.iter().zip(expected) {
        assert_eq!(vader().polarity_scores(sentence).rounded(), python, "{sentence}");
    }
}

proptest! {
    #[test]
    fn scores_stay_in_range_for_any_text(text in "\\PC{0,200}") {
        let p = vader().polarity_scores(&text);
        prop_assert!((-1.0..=1.0).contains(&p.compound));
        let shares = p.neg + p.neu + p.pos;
        prop_assert!(shares == 0.0 || (shares - 1.0).abs() < 1e-9, "{p:?}");
        prop_assert!(p.neg >= 0.0 && p.neu >= 0.0 && p.pos >= 0.0);
    }

    #[test]
    fn negating_a_lone_positive_word_makes_it_negative(word in prop::sample::select(vec!["good", "great", "love", "excellent", "happy"])) {
        let plain = vader().polarity_scores(&format!("it is {word}")).compound;
        let negated = vader().polarity_scores(&format!("it is not {word}")).compound;
        prop_assert!(plain > 0.0 && negated < 0.0);
    }
}
