//! Aspect-level sentiment of reviews: what each review says about price, quality, delivery,
//! support, usability, packaging, size and fit, and billing — plus subjects the reviews
//! themselves keep mentioning ("battery", "lid"), found by counting.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::words::{clauses, content_words, is_sentiment_word, stem, tone, words, TONE_NEUTRAL};
use super::Doc;

/// A fixed aspect and the words that name it. A cue ending in `*` matches words starting
/// with it; a cue with a space matches those words in a row.
#[derive(Debug)]
pub struct AspectDef {
    pub key: &'static str,
    pub label: &'static str,
    cues: &'static [&'static str],
}

/// The aspects every shop has.
pub const ASPECTS: &[AspectDef] = &[
    AspectDef {
        key: "price",
        label: "Price and value",
        cues: &[
            "price*",
            "pricing",
            "pricey",
            "cost",
            "costs",
            "costly",
            "expensive",
            "overpriced",
            "cheaper",
            "cheapest",
            "value",
            "money",
            "penny",
            "worth",
            "afford*",
            "bargain",
            "discount*",
            "deal",
        ],
    },
    AspectDef {
        key: "quality",
        label: "Quality",
        cues: &[
            "quality",
            "material*",
            "build",
            "built",
            "made",
            "well made",
            "sturdy",
            "solid",
            "flimsy",
            "durable",
            "broke",
            "broken",
            "breaks",
            "fell apart",
            "falls apart",
            "stitch*",
            "defective",
            "faulty",
            "craftsmanship",
            "ripped",
            "torn",
            "lasted",
            "lasts",
            "cheaply",
        ],
    },
    AspectDef {
        key: "delivery",
        label: "Delivery",
        cues: &[
            "deliver*",
            "shipping",
            "shipped",
            "ship",
            "shipment",
            "arrive*",
            "arrival",
            "parcel",
            "package",
            "courier",
            "tracking",
            "tracked",
            "dispatch*",
            "postage",
            "transit",
        ],
    },
    AspectDef {
        key: "support",
        label: "Customer support",
        cues: &[
            "support",
            "customer service",
            "service",
            "staff",
            "team",
            "replied",
            "reply",
            "replies",
            "respond*",
            "response",
            "answer*",
            "agent",
            "contacted",
            "helpful",
            "unhelpful",
            "helped",
            "refund*",
            "emails",
            "email",
        ],
    },
    AspectDef {
        key: "usability",
        label: "Ease of use",
        cues: &[
            "easy to use",
            "hard to use",
            "user friendly",
            "usability",
            "intuitive",
            "setup",
            "set up",
            "install*",
            "instruction*",
            "manual",
            "convenient",
            "inconvenient",
            "confusing",
            "complicated",
            "difficult",
            "easy",
        ],
    },
    AspectDef {
        key: "packaging",
        label: "Packaging",
        cues: &[
            "packaging",
            "packaged",
            "packed",
            "packing",
            "box",
            "boxes",
            "wrapped",
            "wrapping",
            "plastic",
        ],
    },
    AspectDef {
        key: "size_fit",
        label: "Size and fit",
        cues: &[
            "size*", "sizing", "fit", "fits", "fitted", "fitting", "small", "large", "big", "tight", "loose",
            "length", "width",
        ],
    },
    AspectDef {
        key: "billing",
        label: "Billing and payment",
        cues: &[
            "charged",
            "charge",
            "charges",
            "billing",
            "billed",
            "invoice*",
            "payment*",
            "pay",
            "paid",
            "instalment*",
            "installment*",
            "overcharged",
        ],
    },
];

impl AspectDef {
    /// Whether the clause's words (lower-case, in order) name this aspect.
    pub fn named_in(&self, words: &[String]) -> bool {
        self.cues.iter().any(|cue| cue_in(cue, words))
    }

    /// Whether one word names this aspect on its own (so it is never a "discovered" subject).
    pub fn names_word(&self, word: &str) -> bool {
        self.cues
            .iter()
            .any(|cue| !cue.contains(' ') && word_matches(cue, word))
    }
}

fn word_matches(cue: &str, word: &str) -> bool {
    match cue.strip_suffix('*') {
        Some(prefix) => word.starts_with(prefix),
        None => word == cue,
    }
}

fn cue_in(cue: &str, words: &[String]) -> bool {
    let parts: Vec<&str> = cue.split(' ').collect();
    words
        .windows(parts.len())
        .any(|w| w.iter().zip(&parts).all(|(word, part)| word_matches(part, word)))
}

/// One clause of a review about one aspect.
#[derive(Clone, Debug, PartialEq)]
pub struct Mention {
    pub doc: usize,
    pub clause: String,
    pub tone: f64,
}

/// What the reviews say about one aspect.
#[derive(Clone, Debug, PartialEq)]
pub struct AspectSummary {
    pub key: String,
    pub label: String,
    /// `fixed` (one of [`ASPECTS`]) or `discovered` (a subject the reviews keep naming).
    pub discovered: bool,
    /// Reviews mentioning it, and how many of those are positive, neutral and negative about
    /// it (a review's clauses about the aspect are averaged).
    pub reviews: usize,
    pub positive: usize,
    pub neutral: usize,
    pub negative: usize,
    /// Mean tone over those reviews, in [−1, 1].
    pub mean_tone: f64,
    /// The newest clauses praising it and complaining about it (at most 3 each).
    pub praise: Vec<Mention>,
    pub complaints: Vec<Mention>,
}

/// A discovered subject must appear in at least this many reviews…
pub const DISCOVER_MIN_REVIEWS: usize = 3;
/// …and in at least this share of them.
pub const DISCOVER_MIN_SHARE: f64 = 0.05;
/// At most this many discovered subjects are reported.
pub const DISCOVER_MAX: usize = 5;

/// Sums up the reviews aspect by aspect: the fixed aspects any review names, then up to
/// [`DISCOVER_MAX`] subjects found in clauses that name no fixed aspect. `ignore`: words not
/// to report as subjects (the product's own name). Ordered by reviews mentioning, fixed first.
pub fn summarise(reviews: &[Doc], ignore: &[&str]) -> Vec<AspectSummary> {
    let mut by_aspect: BTreeMap<(bool, String), Vec<Mention>> = BTreeMap::new();
    let mut unclaimed: Vec<(usize, &str, Vec<String>)> = Vec::new();
    let ignore: Vec<String> = ignore.iter().map(|i| stem(&i.to_lowercase())).collect();
    for (doc, review) in reviews.iter().enumerate() {
        for clause in clauses(review.text) {
            let w = words(clause);
            let named: Vec<&AspectDef> = ASPECTS.iter().filter(|a| a.named_in(&w)).collect();
            if named.is_empty() {
                let subjects = content_words(clause)
                    .into_iter()
                    .filter(|w| !is_sentiment_word(w))
                    .map(|w| stem(&w))
                    .filter(|s| !ASPECTS.iter().any(|a| a.names_word(s)))
                    .filter(|s| !ignore.contains(s))
                    .collect();
                unclaimed.push((doc, clause, subjects));
                continue;
            }
            let t = tone(clause);
            for aspect in named {
                by_aspect
                    .entry((false, aspect.key.to_owned()))
                    .or_default()
                    .push(Mention {
                        doc,
                        clause: clause.to_owned(),
                        tone: t,
                    });
            }
        }
    }
    // Subjects: stems in enough distinct reviews.
    let mut reviews_of: HashMap<&str, HashSet<usize>> = HashMap::new();
    for (doc, _, subjects) in &unclaimed {
        for s in subjects {
            reviews_of.entry(s.as_str()).or_default().insert(*doc);
        }
    }
    let needed = DISCOVER_MIN_REVIEWS.max((DISCOVER_MIN_SHARE * reviews.len() as f64).ceil() as usize);
    let mut found: Vec<(&str, usize)> = reviews_of
        .iter()
        .filter(|(_, docs)| docs.len() >= needed)
        .map(|(s, docs)| (*s, docs.len()))
        .collect();
    found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    found.truncate(DISCOVER_MAX);
    let found: BTreeSet<&str> = found.into_iter().map(|(subject, _)| subject).collect();
    for (doc, clause, subjects) in &unclaimed {
        let named: BTreeSet<&str> = subjects
            .iter()
            .map(String::as_str)
            .filter(|s| found.contains(s))
            .collect();
        if named.is_empty() {
            continue;
        }
        let t = tone(clause);
        for subject in named {
            by_aspect
                .entry((true, subject.to_owned()))
                .or_default()
                .push(Mention {
                    doc: *doc,
                    clause: (*clause).to_owned(),
                    tone: t,
                });
        }
    }
    let mut out: Vec<AspectSummary> = by_aspect
        .into_iter()
        .map(|((discovered, key), mentions)| summary(key, discovered, mentions, reviews))
        .collect();
    out.sort_by(|a, b| {
        a.discovered
            .cmp(&b.discovered)
            .then(b.reviews.cmp(&a.reviews))
            .then(a.key.cmp(&b.key))
    });
    out
}

fn summary(key: String, discovered: bool, mentions: Vec<Mention>, reviews: &[Doc]) -> AspectSummary {
    let mut per_review: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for m in &mentions {
        per_review.entry(m.doc).or_default().push(m.tone);
    }
    let tones: Vec<f64> = per_review
        .values()
        .map(|t| t.iter().sum::<f64>() / t.len() as f64)
        .collect();
    let count = |keep: fn(f64) -> bool| tones.iter().filter(|t| keep(**t)).count();
    let newest = |keep: fn(f64) -> bool| {
        let mut chosen: Vec<Mention> = mentions.iter().filter(|m| keep(m.tone)).cloned().collect();
        chosen.sort_by(|a, b| {
            reviews[a.doc]
                .age_days
                .total_cmp(&reviews[b.doc].age_days)
                .then(a.doc.cmp(&b.doc))
        });
        // One clause per review, and each wording once.
        let (mut reviews_seen, mut wordings_seen) = (HashSet::new(), HashSet::new());
        chosen.retain(|m| reviews_seen.insert(m.doc) && wordings_seen.insert(m.clause.to_lowercase()));
        chosen.truncate(3);
        chosen
    };
    let label = ASPECTS
        .iter()
        .find(|a| !discovered && a.key == key)
        .map(|a| a.label.to_owned())
        .unwrap_or_else(|| key.clone());
    AspectSummary {
        label,
        discovered,
        reviews: tones.len(),
        positive: count(|t| t >= TONE_NEUTRAL),
        neutral: count(|t| t.abs() < TONE_NEUTRAL),
        negative: count(|t| t <= -TONE_NEUTRAL),
        mean_tone: tones.iter().sum::<f64>() / tones.len().max(1) as f64,
        praise: newest(|t| t >= TONE_NEUTRAL),
        complaints: newest(|t| t <= -TONE_NEUTRAL),
        key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn docs<'a>(texts: &[&'a str]) -> Vec<Doc<'a>> {
        texts
            .iter()
            .enumerate()
            .map(|(i, text)| Doc {
                text,
                age_days: i as f64,
            })
            .collect()
    }

    fn aspect<'a>(summaries: &'a [AspectSummary], key: &str) -> &'a AspectSummary {
        summaries
            .iter()
            .find(|s| s.key == key)
            .unwrap_or_else(|| panic!("no {key} in {summaries:#?}"))
    }

    #[test]
    fn one_review_can_praise_one_aspect_and_pan_another() {
        let reviews = docs(&[
            "Super fast delivery, but the size is completely wrong.",
            "Great value for the price. The parcel arrived two weeks late!",
            "Overpriced compared to other shops",
        ]);
        let s = summarise(&reviews, &[]);
        let delivery = aspect(&s, "delivery");
        assert_eq!(
            (delivery.reviews, delivery.positive, delivery.negative),
            (2, 1, 1)
        );
        assert_eq!(delivery.complaints[0].clause, "The parcel arrived two weeks late");
        let size = aspect(&s, "size_fit");
        assert_eq!((size.reviews, size.negative), (1, 1));
        let price = aspect(&s, "price");
        assert_eq!((price.reviews, price.positive, price.negative), (2, 1, 1));
        assert_eq!(price.praise[0].doc, 1);
        assert!(s.iter().all(|a| !a.discovered));
    }

    #[test]
    fn subjects_the_reviews_keep_naming_are_discovered() {
        let reviews = docs(&[
            "The battery dies within an hour",
            "Battery life is awful",
            "Lovely colour. The batteries are weak",
            "Nice lid",
            "The Infuser works. Infuser is great",
            "Infuser again",
        ]);
        let s = summarise(&reviews, &["Tea Infuser"]);
        let battery = aspect(&s, "battery");
        assert!(battery.discovered);
        assert_eq!(battery.reviews, 3);
        assert!(battery.negative >= 2, "{battery:#?}");
        assert!(s.iter().all(|a| a.key != "lid" && a.key != "infuser"), "{s:#?}");
    }

    proptest! {
        /// Counts add up and never exceed the reviews, whatever the text.
        #[test]
        fn counts_add_up(texts in proptest::collection::vec(".{0,200}", 0..30)) {
            let reviews: Vec<Doc> = texts.iter().map(|t| Doc { text: t, age_days: 1.0 }).collect();
            for a in summarise(&reviews, &[]) {
                prop_assert_eq!(a.positive + a.neutral + a.negative, a.reviews);
                prop_assert!(a.reviews <= reviews.len() && a.reviews > 0);
                prop_assert!((-1.0..=1.0).contains(&a.mean_tone));
                prop_assert!(a.praise.len() <= 3 && a.complaints.len() <= 3);
            }
        }
    }
}
