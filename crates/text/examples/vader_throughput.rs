//! Texts per second of the VADER port on one core, over every Hutto text (used by
//! `scripts/bench-text.sh`, which times Python `vaderSentiment` on the same texts).
//! Usage: vader_throughput <hutto dir> [passes]

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(text::hutto::checkout_dir);
    let passes: usize = args.next().and_then(|p| p.parse().ok()).unwrap_or(5);
    let texts = text::hutto::read_dir(&dir).expect("Hutto texts");
    let vader = text::vader::vader();
    let mut best = f64::INFINITY;
    let mut checksum = 0.0;
    for _ in 0..passes {
        let began = Instant::now();
        for t in &texts {
            checksum += vader.polarity_scores(&t.text).compound;
        }
        best = best.min(began.elapsed().as_secs_f64());
    }
    let scorer = text::sentiment::LexiconScorer::shipped();
    let began = Instant::now();
    for t in &texts {
        checksum += scorer.score(&t.text).confidence;
    }
    let head = began.elapsed().as_secs_f64();
    println!("{{\"texts\": {}, \"vader_texts_per_s\": {:.0}, \"lexicon_head_texts_per_s\": {:.0}, \"checksum\": {checksum:.3}}}", texts.len(), texts.len() as f64 / best, texts.len() as f64 / head);
}
