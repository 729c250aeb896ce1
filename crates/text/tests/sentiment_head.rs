//! The committed lexicon head is what `sightline ml train-sentiment` reproduces from the Hutto
//! texts, and it beats plain VADER on the held-out Amazon snippets.

use text::sentiment::LexiconScorer;

#[test]
fn retraining_reproduces_the_committed_head_which_beats_vader_on_amazon() {
    let texts = text::hutto::read_dir(&text::hutto::checkout_dir()).expect("Hutto texts");
    let shipped = LexiconScorer::shipped().head;
    let (head, report) =
        text::train::train_lexicon_head(&texts, &shipped.version, &shipped.trained_at).unwrap();
    for (ours, committed) in head
        .weights
        .iter()
        .flatten()
        .zip(shipped.weights.iter().flatten())
    {
        assert!(
            (ours - committed).abs() < 1e-6,
            "retrained {ours} vs committed {committed}"
        );
    }
    let amazon = report
        .rows
        .iter()
        .find(|r| r.texts == "amazonReviewSnippets")
        .unwrap();
    assert!(amazon.head.texts > 700);
    assert!(amazon.head.accuracy > amazon.vader.accuracy, "{amazon:?}");
    assert!(amazon.head.macro_f1 > amazon.vader.macro_f1, "{amazon:?}");
}
