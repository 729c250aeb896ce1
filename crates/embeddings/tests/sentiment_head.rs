//! The committed embedding head, run on real embeddings of the held-out Amazon review
//! snippets (the documented split), scores at least what its report says and beats Python
//! VADER's reading of the same texts.

use embeddings::{Embedder, ModelFiles};
use text::hutto::{checkout_dir, read_dir};
use text::sentiment::{embedding_head, Label};
use text::train::{evaluate, split};
use text::vader::vader;

#[test]
fn the_committed_head_scores_its_report_and_beats_vader_on_held_out_amazon_snippets() {
    let text_dir = checkout_dir().parent().unwrap().to_owned();
    let model =
        Embedder::load(&ModelFiles::in_dir(&text_dir), 2).expect("the set-up step installed the model");
    let head = embedding_head();
    assert_eq!(head.features.len(), embeddings::DIMENSIONS);

    let texts = read_dir(&checkout_dir()).unwrap();
    let (_, test) = split(&texts);
    let amazon: Vec<usize> = test
        .into_iter()
        .filter(|&i| texts[i].source == "amazonReviewSnippets")
        .collect();
    assert!(amazon.len() > 700);
    let truth: Vec<Label> = amazon
        .iter()
        .map(|&i| Label::of_rating(texts[i].mean_rating))
        .collect();
    let mut ours = Vec::new();
    for chunk in amazon.chunks(32) {
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].text.as_str()).collect();
        for vector in model.embed(&batch).unwrap() {
            ours.push(
                head.predict(&vector.into_iter().map(f64::from).collect::<Vec<_>>())
                    .label,
            );
        }
    }
    let vader: Vec<Label> = amazon
        .iter()
        .map(|&i| Label::of_compound(vader().polarity_scores(&texts[i].text).compound))
        .collect();
    let (ours, vader) = (evaluate(&truth, &ours), evaluate(&truth, &vader));
    let reported = head.evaluation["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["texts"] == "amazonReviewSnippets")
        .expect("the report has the Amazon rows")["head"]
        .clone();
    assert_eq!(reported["texts"], amazon.len());
    for (measure, value) in [("accuracy", ours.accuracy), ("macro_f1", ours.macro_f1)] {
        let claimed = reported[measure].as_f64().unwrap();
        assert!(
            value >= claimed - 1e-12,
            "{measure}: {value} here, {claimed} in the report"
        );
    }
    assert!(ours.accuracy > vader.accuracy, "ours {ours:?} vader {vader:?}");
    assert!(ours.macro_f1 > vader.macro_f1, "ours {ours:?} vader {vader:?}");
}
