//! Speed and accuracy of the sentiment scorers on the held-out Hutto texts (every fifth text
//! of each source), for `scripts/bench-text.sh`, which adds Python `vaderSentiment` on the same
//! texts: the model scorer (embeddings + head, batched, on `threads` cores), the lexicon head
//! and the VADER port (one core each). Prints one JSON object.
//! Usage: sentiment_bench <text dir> [threads]

use std::time::Instant;

use embeddings::{ModelFiles, ModelScorer};
use text::sentiment::{Label, LexiconScorer};
use text::train::{evaluate, split};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| text::hutto::checkout_dir().parent().unwrap().to_owned());
    let threads: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(2);
    let texts = text::hutto::read_dir(&dir.join("hutto_ICWSM_2014")).expect("Hutto texts");
    let (_, held_out) = split(&texts);
    let chosen: Vec<&str> = held_out.iter().map(|&i| texts[i].text.as_str()).collect();
    let truth: Vec<Label> = held_out
        .iter()
        .map(|&i| Label::of_rating(texts[i].mean_rating))
        .collect();
    let amazon: Vec<usize> = held_out
        .iter()
        .enumerate()
        .filter(|(_, &i)| texts[i].source == "amazonReviewSnippets")
        .map(|(k, _)| k)
        .collect();

    let model = ModelScorer::load(&ModelFiles::in_dir(&dir), threads).expect("the model is installed");
    model.score(&chosen[..64]).expect("warm-up");
    let began = Instant::now();
    let by_model: Vec<Label> = model
        .score(&chosen)
        .expect("scores")
        .into_iter()
        .map(|s| s.label)
        .collect();
    let model_seconds = began.elapsed().as_secs_f64();

    let lexicon = LexiconScorer::shipped();
    let began = Instant::now();
    let by_lexicon: Vec<Label> = chosen.iter().map(|t| lexicon.score(t).label).collect();
    let lexicon_seconds = began.elapsed().as_secs_f64();

    let vader = text::vader::vader();
    let began = Instant::now();
    let by_vader: Vec<Label> = chosen
        .iter()
        .map(|t| Label::of_compound(vader.polarity_scores(t).compound))
        .collect();
    let vader_seconds = began.elapsed().as_secs_f64();

    let report = |labels: &[Label], seconds: f64| {
        let all = evaluate(&truth, labels);
        let pick = |v: &[Label]| amazon.iter().map(|&k| v[k]).collect::<Vec<_>>();
        let amazon_only = evaluate(&pick(&truth), &pick(labels));
        format!(
            "{{\"texts_per_s\": {:.0}, \"accuracy\": {:.6}, \"macro_f1\": {:.6}, \"amazon_accuracy\": {:.6}, \"amazon_macro_f1\": {:.6}}}",
            chosen.len() as f64 / seconds,
            all.accuracy,
            all.macro_f1,
            amazon_only.accuracy,
            amazon_only.macro_f1
        )
    };
    println!(
        "{{\"texts\": {}, \"amazon_texts\": {}, \"threads\": {threads}, \"model\": {}, \"lexicon\": {}, \"vader\": {}}}",
        chosen.len(),
        amazon.len(),
        report(&by_model, model_seconds),
        report(&by_lexicon, lexicon_seconds),
        report(&by_vader, vader_seconds)
    );
}
