//! The committed embedding head, run on real embeddings of its held-out texts (the documented
//! split, embedded among themselves as the training command does), scores at least what its
//! report says, overall and on the Amazon review snippets, and beats Python VADER's reading of
//! the same texts.

use embeddings::{ModelFiles, ModelScorer};
use text::hutto::{checkout_dir, read_dir};
use text::sentiment::Label;
use text::train::{evaluate, split};
use text::vader::vader;

#[test]
fn the_committed_head_scores_its_report_and_beats_vader_on_held_out_texts() {
    let text_dir = checkout_dir().parent().unwrap().to_owned();
    let model =
        ModelScorer::load(&ModelFiles::in_dir(&text_dir), 2).expect("the set-up step installed the model");
    assert_eq!(model.head.features.len(), embeddings::DIMENSIONS);

    let texts = read_dir(&checkout_dir()).unwrap();
    let (_, test) = split(&texts);
    let chosen: Vec<&str> = test.iter().map(|&i| texts[i].text.as_str()).collect();
    let scored: Vec<Label> = model
        .score(&chosen)
        .unwrap()
        .into_iter()
        .map(|s| s.label)
        .collect();
    let rows = model.head.evaluation["rows"].as_array().unwrap().clone();
    for source in ["all", "amazonReviewSnippets"] {
        let picked: Vec<usize> = (0..test.len())
            .filter(|&k| source == "all" || texts[test[k]].source == source)
            .collect();
        let truth: Vec<Label> = picked
            .iter()
            .map(|&k| Label::of_rating(texts[test[k]].mean_rating))
            .collect();
        let ours: Vec<Label> = picked.iter().map(|&k| scored[k]).collect();
        let vader: Vec<Label> = picked
            .iter()
            .map(|&k| Label::of_compound(vader().polarity_scores(chosen[k]).compound))
            .collect();
        let (ours, vader) = (evaluate(&truth, &ours), evaluate(&truth, &vader));
        let reported = &rows
            .iter()
            .find(|row| row["texts"] == source)
            .unwrap_or_else(|| panic!("the report has a {source} row"))["head"];
        assert_eq!(reported["texts"], picked.len(), "{source}");
        for (measure, value) in [("accuracy", ours.accuracy), ("macro_f1", ours.macro_f1)] {
            let claimed = reported[measure].as_f64().unwrap();
            assert!(
                value >= claimed - 1e-12,
                "{source} {measure}: {value} here, {claimed} in the report"
            );
        }
        assert!(
            ours.accuracy > vader.accuracy,
            "{source}: ours {ours:?} vader {vader:?}"
        );
        assert!(
            ours.macro_f1 > vader.macro_f1,
            "{source}: ours {ours:?} vader {vader:?}"
        );
    }
}
