//! Complaint patterns: negative texts grouped by what they complain about — an aspect
//! (delivery, support, …) when they name one, otherwise a word many of them share — and ranked
//! by frequency and recency, with the words that recur inside each group.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::aspects::{AspectDef, ASPECTS};
use super::words::{clauses, content_words, stem, tone, words, TONE_NEUTRAL};
use super::{rank, Doc, Pattern};

/// A word shared by texts naming no aspect becomes a pattern when at least this many…
pub const SHARED_MIN_TEXTS: usize = 3;
/// …and this share of those texts use it.
pub const SHARED_MIN_SHARE: f64 = 0.02;
/// At most this many such word patterns.
pub const SHARED_MAX: usize = 5;
/// Recurring words shown per pattern.
const PHRASES: usize = 5;

/// Groups negative texts (the caller chose them: scored negative, or low ratings) into
/// complaint patterns, ranked by recency-weighted frequency. A text is put under each aspect
/// its negative clauses name (all it names, if no clause reads negative on its own); texts
/// naming none are grouped by a word they share. Texts that fit nowhere are left out.
pub fn complaint_patterns(docs: &[Doc]) -> Vec<Pattern> {
    let mut by_aspect: BTreeMap<&'static str, Vec<usize>> = BTreeMap::new();
    let mut unclaimed: Vec<usize> = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let all = clauses(doc.text);
        let negative: Vec<&str> = all.iter().copied().filter(|c| tone(c) <= -TONE_NEUTRAL).collect();
        let mut named = aspects_in(&negative);
        if named.is_empty() {
            named = aspects_in(&all);
        }
        if named.is_empty() {
            unclaimed.push(i);
        }
        for aspect in named {
            by_aspect.entry(aspect.key).or_default().push(i);
        }
    }
    let mut patterns: Vec<Pattern> = by_aspect
        .into_iter()
        .map(|(key, members)| {
            let aspect = ASPECTS.iter().find(|a| a.key == key).expect("a known aspect");
            Pattern {
                key: key.to_owned(),
                label: aspect.label.to_owned(),
                phrases: recurring_words(docs, &members, Some(aspect)),
                docs: members,
                score: 0.0,
            }
        })
        .collect();
    patterns.extend(shared_words(docs, &unclaimed));
    rank(patterns, docs)
}

fn aspects_in(clauses: &[&str]) -> Vec<&'static AspectDef> {
    let mut found: Vec<&'static AspectDef> = Vec::new();
    for clause in clauses {
        let w = words(clause);
        for aspect in ASPECTS.iter().filter(|a| a.named_in(&w)) {
            if !found.iter().any(|f| f.key == aspect.key) {
                found.push(aspect);
            }
        }
    }
    found
}

/// Each text's content words, singular, once per text, with the most common spelling of each.
fn vocabulary(docs: &[Doc], members: &[usize]) -> (HashMap<String, HashSet<usize>>, HashMap<String, String>) {
    let mut texts_of: HashMap<String, HashSet<usize>> = HashMap::new();
    let mut spellings: HashMap<String, HashMap<String, usize>> = HashMap::new();
    for &i in members {
        for word in content_words(docs[i].text) {
            let s = stem(&word);
            texts_of.entry(s.clone()).or_default().insert(i);
            *spellings.entry(s).or_default().entry(word).or_default() += 1;
        }
    }
    let shown = spellings
        .into_iter()
        .map(|(s, forms)| {
            let best = forms
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|f| f.0)
                .unwrap_or_default();
            (s, best)
        })
        .collect();
    (texts_of, shown)
}

/// The words most texts of a pattern use, besides the words naming its aspect (if it has one).
fn recurring_words(docs: &[Doc], members: &[usize], naming: Option<&AspectDef>) -> Vec<(String, usize)> {
    let (texts_of, shown) = vocabulary(docs, members);
    let mut words: Vec<(String, usize)> = texts_of
        .into_iter()
        .filter(|(_, texts)| texts.len() >= 2)
        .filter(|(s, _)| !naming.is_some_and(|a| a.names_word(&shown[s]) || a.names_word(s)))
        .map(|(s, texts)| (shown[&s].clone(), texts.len()))
        .collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    words.truncate(PHRASES);
    words
}

/// Patterns for texts naming no aspect: the word most of them share, then the word most of
/// the rest share, and so on, so each text is in one such pattern at most.
fn shared_words(docs: &[Doc], unclaimed: &[usize]) -> Vec<Pattern> {
    let (mut texts_of, shown) = vocabulary(docs, unclaimed);
    let needed = SHARED_MIN_TEXTS.max((SHARED_MIN_SHARE * unclaimed.len() as f64).ceil() as usize);
    let mut patterns = Vec::new();
    while patterns.len() < SHARED_MAX {
        let Some((word, texts)) = texts_of
            .iter()
            .filter(|(_, texts)| texts.len() >= needed)
            .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(a.0)))
            .map(|(w, t)| (w.clone(), t.clone()))
        else {
            break;
        };
        for others in texts_of.values_mut() {
            others.retain(|t| !texts.contains(t));
        }
        let mut members: Vec<usize> = texts.into_iter().collect();
        members.sort_unstable();
        patterns.push(Pattern {
            key: format!("word:{word}"),
            label: shown[&word].clone(),
            phrases: recurring_words(docs, &members, None)
                .into_iter()
                .filter(|(w, _)| stem(w) != word)
                .collect(),
            docs: members,
            score: 0.0,
        });
    }
    patterns
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn complaints_group_by_aspect_and_rank_recent_ones_first() {
        let texts = [
            ("The parcel arrived two weeks late", 1.0),
            ("Delivery was very slow and late", 2.0),
            ("My package came late again, awful", 3.0),
            ("Far too expensive for what it is", 80.0),
            ("Overpriced compared to other shops", 90.0),
            ("Not worth the money", 85.0),
            ("Overpriced and far too expensive", 100.0),
            ("The app keeps crashing", 5.0),
            ("App crashing every morning", 6.0),
            ("Crashing app, terrible", 7.0),
            ("Meh", 0.0),
        ];
        let docs = crate::insights::docs(&texts);
        let found = complaint_patterns(&docs);
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys[0], "delivery", "{found:#?}");
        assert_eq!(found[0].docs, [0, 1, 2]);
        assert_eq!(found[0].phrases[0], ("late".to_string(), 3));
        let price = found.iter().position(|p| p.key == "price").unwrap();
        let app = found.iter().position(|p| p.key == "word:app").unwrap();
        assert!(
            app < price,
            "three recent complaints outrank four old ones: {keys:?}"
        );
        assert_eq!(found[price].docs.len(), 4);
        assert!(
            found.iter().all(|p| !p.docs.contains(&10)),
            "a text about nothing fits nowhere"
        );
    }

    proptest! {
        #[test]
        fn every_text_in_a_pattern_is_one_of_the_inputs_once(
            texts in proptest::collection::vec(
                prop_oneof![".{0,80}", "(late|slow|rude|broken) (delivery|support|box|zip)"],
                0..40),
        ) {
            let docs: Vec<Doc> = texts.iter().enumerate().map(|(i, t)| Doc { text: t, age_days: i as f64 }).collect();
            let found = complaint_patterns(&docs);
            for pair in found.windows(2) {
                prop_assert!(pair[0].score >= pair[1].score);
            }
            for p in &found {
                prop_assert!(!p.docs.is_empty());
                prop_assert!(p.docs.iter().all(|d| *d < docs.len()));
                prop_assert_eq!(p.docs.iter().collect::<HashSet<_>>().len(), p.docs.len());
                prop_assert!(p.phrases.len() <= PHRASES);
            }
        }
    }
}
