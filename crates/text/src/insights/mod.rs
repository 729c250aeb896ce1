//! What customers say, summarised (SPEC TXT-2): aspect-level sentiment of reviews, complaint
//! patterns, feature requests and topic clusters. Texts in, indices into them out: the caller
//! keeps ids, customers and dates, and shows the examples.
//!
//! Sentences are cut into clauses (at punctuation and at "but", "however", …) so one review can
//! praise the delivery and complain about the size. A clause's tone is VADER's compound with a
//! few commerce words added ("late", "fast", "overpriced", …) that the general lexicon lacks.

pub mod aspects;
pub mod complaints;
pub mod requests;
pub mod topics;
pub mod words;

/// One text to summarise.
#[derive(Clone, Copy, Debug)]
pub struct Doc<'a> {
    pub text: &'a str,
    /// Days since it was written (for recency); negative values count as 0.
    pub age_days: f64,
}

/// Documents from `(text, age in days)` pairs, for tests.
#[cfg(test)]
pub(crate) fn docs<'a>(pairs: &[(&'a str, f64)]) -> Vec<Doc<'a>> {
    pairs
        .iter()
        .map(|&(text, age_days)| Doc { text, age_days })
        .collect()
}

/// Frequency counts texts from this many days ago half as much as today's.
pub const HALF_LIFE_DAYS: f64 = 30.0;

/// How much a text written `age_days` ago counts when patterns are ranked by frequency and
/// recency: 1 today, ½ after [`HALF_LIFE_DAYS`], ¼ after twice that.
pub fn recency_weight(age_days: f64) -> f64 {
    0.5f64.powf(age_days.max(0.0) / HALF_LIFE_DAYS)
}

/// A group of texts that say the same thing, ranked by `score` (recency-weighted count).
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    /// Stable key (an aspect name, or the words the texts share).
    pub key: String,
    /// What to call it, in the texts' own words.
    pub label: String,
    /// Indices of the texts in it, newest first.
    pub docs: Vec<usize>,
    /// Sum of the texts' [`recency_weight`]s.
    pub score: f64,
    /// The most frequent phrases inside it, with how many texts use each.
    pub phrases: Vec<(String, usize)>,
}

/// Orders patterns by score, then size, then key (so equal inputs give equal output), and
/// sorts each pattern's texts newest first.
fn rank(mut patterns: Vec<Pattern>, docs: &[Doc]) -> Vec<Pattern> {
    for pattern in &mut patterns {
        pattern
            .docs
            .sort_by(|a, b| docs[*a].age_days.total_cmp(&docs[*b].age_days).then(a.cmp(b)));
        pattern.docs.dedup();
        pattern.score = pattern
            .docs
            .iter()
            .map(|i| recency_weight(docs[*i].age_days))
            .sum();
    }
    patterns.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.docs.len().cmp(&a.docs.len()))
            .then(a.key.cmp(&b.key))
    });
    patterns
}
