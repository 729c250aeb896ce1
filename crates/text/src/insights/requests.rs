//! Feature requests: clauses that ask for something ("will you add more colours?", "I wish it
//! had a lid"), grouped by what they ask for and ranked by frequency and recency.

use std::collections::{BTreeMap, HashMap};

use super::words::{clauses, content_words, stem, words};
use super::{rank, Doc, Pattern};

/// Word sequences that open a request; what follows is what is asked for.
const CUES: &[&str] = &[
    "i wish",
    "wish it",
    "wish there",
    "wish you",
    "would be nice",
    "would be great",
    "would be good",
    "would be better",
    "would be helpful",
    "would be awesome",
    "would love",
    "id love",
    "would like",
    "id like",
    "please add",
    "please make",
    "please offer",
    "please bring back",
    "can you add",
    "could you add",
    "will you add",
    "can you make",
    "could you make",
    "you should add",
    "you should offer",
    "should come with",
    "should have",
    "add an option",
    "feature request",
    "hope you add",
    "hope you will add",
    "is there a way",
    "any plans",
    "do you plan",
    "it would help",
    "bring back",
];

/// What a request may not be about: these are complaints or questions, not requests.
const NOT_REQUESTS: &[&str] = &[
    "return", "cancel", "refund", "know", "speak", "talk", "ask", "complain", "exchange", "change", "get",
    "money",
];

/// Words stripped from the front of what is asked for, so the label reads as a thing.
const LEADING: &[&str] = &[
    "to", "if", "you", "a", "an", "the", "there", "was", "were", "is", "it", "had", "have", "could", "would",
    "be", "added", "add", "offered", "offer", "made", "make", "some", "me", "us", "for",
];

/// What one clause asks for: its words after the cue, and the key (first three content words,
/// singular) requests are grouped by.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub asked: String,
    pub key: String,
}

/// The request a clause makes, if it makes one.
pub fn request_in(clause: &str) -> Option<Request> {
    let w = words(clause);
    let (at, len) = CUES.iter().find_map(|cue| {
        let parts: Vec<&str> = cue.split(' ').collect();
        w.windows(parts.len())
            .position(|win| win.iter().zip(&parts).all(|(a, b)| a == b))
            .map(|at| (at, parts.len()))
    })?;
    let rest: Vec<&String> = w[at + len..].iter().collect();
    let start = rest.iter().position(|r| !LEADING.contains(&r.as_str()))?;
    let asked: Vec<&str> = rest[start..].iter().map(|s| s.as_str()).collect();
    let asked = asked.join(" ");
    let content = content_words(&asked);
    if content
        .first()
        .is_some_and(|first| NOT_REQUESTS.contains(&first.as_str()))
    {
        return None;
    }
    let key: Vec<String> = content.iter().take(3).map(|w| stem(w)).collect();
    if key.is_empty() {
        return None;
    }
    Some(Request {
        asked,
        key: key.join(" "),
    })
}

/// A PostgreSQL regular expression (for `~*`) matching every text that holds a cue, so the
/// database hands over only texts that may ask for something.
pub fn cue_pattern() -> &'static str {
    static PATTERN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATTERN.get_or_init(|| {
        let cues: Vec<String> = CUES
            .iter()
            .map(|cue| {
                cue.split(' ')
                    .map(|w| if w == "id" { "i['’]?d" } else { w })
                    .collect::<Vec<_>>()
                    .join("[[:space:]]+")
            })
            .collect();
        format!("\\m(?:{})\\M", cues.join("|"))
    })
}

/// Requests in the texts, grouped by what they ask for, ranked by recency-weighted frequency;
/// each pattern's label is the wording most texts use, `phrases` every wording with its count.
pub fn feature_requests(docs: &[Doc]) -> Vec<Pattern> {
    let mut groups: BTreeMap<String, (Vec<usize>, HashMap<String, usize>)> = BTreeMap::new();
    for (i, doc) in docs.iter().enumerate() {
        let mut seen_keys = Vec::new();
        for clause in clauses(doc.text) {
            if let Some(request) = request_in(clause) {
                if seen_keys.contains(&request.key) {
                    continue;
                }
                let group = groups.entry(request.key.clone()).or_default();
                group.0.push(i);
                *group.1.entry(request.asked).or_default() += 1;
                seen_keys.push(request.key);
            }
        }
    }
    let patterns = groups
        .into_iter()
        .map(|(key, (docs, wordings))| {
            let mut phrases: Vec<(String, usize)> = wordings.into_iter().collect();
            phrases.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.len().cmp(&b.0.len())).then(a.0.cmp(&b.0)));
            Pattern {
                label: phrases[0].0.clone(),
                key,
                docs,
                score: 0.0,
                phrases,
            }
        })
        .collect();
    rank(patterns, docs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn requests_are_what_follows_the_cue() {
        let asked = |c: &str| request_in(c).map(|r| (r.asked, r.key));
        assert_eq!(
            asked("will you add more colours?"),
            Some(("more colours".into(), "colour".into()))
        );
        assert_eq!(
            asked("Could you add an option to pay in instalments?"),
            Some(("option to pay in instalments".into(), "pay instalment".into()))
        );
        assert_eq!(
            asked("It would be great if you added a dark mode"),
            Some(("dark mode".into(), "dark mode".into()))
        );
        assert_eq!(asked("I wish it had a lid"), Some(("lid".into(), "lid".into())));
        assert_eq!(asked("I'd like to return this"), None);
        assert_eq!(asked("Where is my order"), None);
        assert_eq!(asked("would be nice"), None);
    }

    #[test]
    fn requests_group_by_what_they_ask_and_rank_by_recency() {
        let texts = [
            ("Please add more colours!", 40.0),
            ("Will you add more colours?", 50.0),
            ("Lovely. I wish it had a lid", 1.0),
            ("It would be nice to have a lid.", 2.0),
            ("Would love a dark mode", 0.0),
            ("Great shoes, arrived on time", 0.0),
        ];
        let docs = crate::insights::docs(&texts);
        let found = feature_requests(&docs);
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["lid", "dark mode", "colour"]);
        assert_eq!(found[0].docs, [2, 3]);
        assert_eq!(found[2].docs, [0, 1], "newest first");
        assert_eq!(found[2].label, "more colours");
        assert_eq!(found[2].phrases, [("more colours".to_string(), 2)]);
    }

    proptest! {
        /// Patterns are sorted by score; each text is in a pattern at most once; every text in
        /// a pattern really asks for something.
        #[test]
        fn ranking_holds_for_any_texts(
            texts in proptest::collection::vec(
                prop_oneof![".{0,80}", "(please add|i wish it had|would love) (a lid|more colours|dark mode)"],
                0..40),
            ages in proptest::collection::vec(0.0f64..400.0, 40),
        ) {
            let docs: Vec<Doc> = texts.iter().zip(&ages).map(|(t, a)| Doc { text: t, age_days: *a }).collect();
            let found = feature_requests(&docs);
            for pair in found.windows(2) {
                prop_assert!(pair[0].score >= pair[1].score);
            }
            for p in &found {
                let mut docs_in = p.docs.clone();
                docs_in.dedup();
                prop_assert_eq!(docs_in.len(), p.docs.len());
                for d in &p.docs {
                    prop_assert!(clauses(docs[*d].text).iter().any(|c| request_in(c).is_some_and(|r| r.key == p.key)));
                }
                for pair in p.docs.windows(2) {
                    prop_assert!(docs[pair[0]].age_days <= docs[pair[1]].age_days);
                }
            }
        }
    }
}
