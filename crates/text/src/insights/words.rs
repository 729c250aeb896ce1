//! Words, clauses and the tone of a clause, shared by the insight summaries.

use std::collections::HashSet;
use std::sync::OnceLock;

use crate::vader::{vader, Vader};

/// Words that carry no topic: function words, and words every shop text uses.
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "done",
    "down",
    "during",
    "each",
    "even",
    "ever",
    "every",
    "few",
    "for",
    "from",
    "further",
    "get",
    "gets",
    "getting",
    "got",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "let",
    "like",
    "me",
    "more",
    "most",
    "much",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "out",
    "over",
    "own",
    "please",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "im",
    "ive",
    "id",
    "dont",
    "didnt",
    "doesnt",
    "isnt",
    "wasnt",
    "cant",
    "wont",
    "couldnt",
    "wouldnt",
    "shouldnt",
    "really",
    "still",
    "yet",
    "way",
    "thing",
    "things",
    "lot",
    "bit",
    "make",
    "made",
    "came",
    "come",
    "comes",
    "went",
    "go",
    "goes",
    "going",
    "want",
    "wanted",
    "need",
    "needs",
    "needed",
    "say",
    "said",
    "know",
    "think",
    "see",
    "look",
    "looks",
    "use",
    "used",
    "using",
    "well",
    "ok",
    "okay",
    "product",
    "products",
    "item",
    "items",
    "order",
    "ordered",
    "orders",
    "buy",
    "bought",
    "purchase",
    "purchased",
    "shop",
    "store",
    "review",
    "star",
    "stars",
    "time",
    "times",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "hi",
    "hello",
    "thanks",
    "thank",
    "two",
    "three",
    "first",
    "second",
    "new",
    "option",
    "options",
    "ability",
    "feature",
    "features",
    "able",
    "maybe",
    "possible",
    "something",
    "anything",
    "anyone",
    "everything",
    "add",
    "added",
    "adding",
    "wish",
    "hope",
    "love",
    "nice",
    "great",
    "good",
    "whether",
];

fn stopwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| STOPWORDS.iter().copied().collect())
}

/// Whether `word` (lower-case, apostrophes removed) carries no topic.
pub fn is_stopword(word: &str) -> bool {
    stopwords().contains(word)
}

/// The text's words, lower-case, apostrophes dropped ("didn't" → "didnt").
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .map(|w| {
            w.chars()
                .filter(|c| *c != '\'' && *c != '’')
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// A word reduced so plurals and possessives meet their singular ("boxes" → "box",
/// "colours" → "colour", "batteries" → "battery"); deliberately light, so labels stay words.
pub fn stem(word: &str) -> String {
    let w = word;
    if w.len() > 4 && w.ends_with("ies") {
        return format!("{}y", &w[..w.len() - 3]);
    }
    for suffix in ["ches", "shes", "sses", "xes", "zes"] {
        if w.len() > suffix.len() + 1 && w.ends_with(suffix) {
            return w[..w.len() - 2].to_owned();
        }
    }
    if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        return w[..w.len() - 1].to_owned();
    }
    w.to_owned()
}

/// Words worth counting as a topic: not stop words, at least three letters, not numbers.
pub fn content_words(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .filter(|w| w.chars().count() >= 3 && w.chars().all(char::is_alphabetic) && !is_stopword(w))
        .collect()
}

/// Words that start a new clause: what follows often turns the tone or changes the subject.
const CLAUSE_BREAKS: &[&str] = &["but", "however", "although", "though", "whereas", "except", "yet"];

/// The text cut into clauses: at sentence ends, commas, semicolons, line breaks and before
/// [`CLAUSE_BREAKS`]. Clauses without a letter are dropped.
pub fn clauses(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for piece in text.split(['.', '!', '?', ';', ',', '\n', '\r', ':']) {
        let mut start = 0;
        let mut offset = 0;
        for word in piece.split_inclusive(char::is_whitespace) {
            let bare = word.trim().to_lowercase();
            if offset > start && CLAUSE_BREAKS.contains(&bare.as_str()) {
                out.push(&piece[start..offset]);
                start = offset;
            }
            offset += word.len();
        }
        out.push(&piece[start..]);
    }
    out.into_iter()
        .map(|c| {
            let c = c.trim();
            // A list's "…, and the box was crushed": the clause is what follows "and".
            match c.split_once(char::is_whitespace) {
                Some((first, rest)) if first.eq_ignore_ascii_case("and") => rest.trim_start(),
                _ => c,
            }
        })
        .filter(|c| c.chars().any(char::is_alphabetic))
        .collect()
}

/// Commerce words the general lexicon lacks or reads differently, on VADER's −4..4 scale.
const COMMERCE_WORDS: &[(&str, f64)] = &[
    ("late", -1.6),
    ("later", 0.0),
    ("slow", -1.5),
    ("slowly", -1.2),
    ("delayed", -1.6),
    ("delay", -1.3),
    ("delays", -1.3),
    ("overdue", -1.5),
    ("expensive", -1.4),
    ("overpriced", -2.0),
    ("pricey", -1.0),
    ("overcharged", -2.0),
    ("flimsy", -1.8),
    ("defective", -2.2),
    ("faulty", -2.0),
    ("leaks", -1.5),
    ("leaking", -1.5),
    ("torn", -1.5),
    ("ripped", -1.5),
    ("dented", -1.5),
    ("scratched", -1.4),
    ("unresponsive", -1.8),
    ("missing", -1.2),
    ("refund", -0.6),
    ("undone", -1.2),
    ("fast", 1.3),
    ("quick", 1.3),
    ("quickly", 1.1),
    ("speedy", 1.4),
    ("early", 1.0),
    ("sturdy", 1.6),
    ("durable", 1.6),
    ("intuitive", 1.5),
    ("cheaper", 1.0),
    ("bargain", 1.5),
    ("affordable", 1.4),
];

/// VADER with [`COMMERCE_WORDS`], built once.
pub fn commerce_vader() -> &'static Vader {
    static SCORER: OnceLock<Vader> = OnceLock::new();
    SCORER.get_or_init(|| Vader::new().with_words(COMMERCE_WORDS))
}

/// Size words after "too" ("too small", "too tight"): a complaint however the lexicon reads them.
const TOO_WHAT: &[&str] = &[
    "small",
    "big",
    "large",
    "tight",
    "loose",
    "short",
    "long",
    "narrow",
    "wide",
    "heavy",
    "thin",
    "bright",
    "dark",
    "loud",
    "hard",
    "soft",
    "stiff",
    "complicated",
    "fiddly",
];

/// A clause's tone in [−1, 1] (VADER compound with commerce words; "too small" and "doesn't fit"
/// count as complaints).
pub fn tone(clause: &str) -> f64 {
    let compound = commerce_vader().polarity_scores(clause).compound;
    if compound.abs() >= TONE_NEUTRAL {
        return compound;
    }
    let w = words(clause);
    let misfit = w.windows(2).any(|p| {
        (p[0] == "too" && TOO_WHAT.contains(&p[1].as_str()))
            || (["doesnt", "didnt", "dont", "wont", "not"].contains(&p[0].as_str())
                && p[1].starts_with("fit"))
    });
    if misfit {
        -0.4
    } else {
        compound
    }
}

/// Tones closer to 0 than this are neutral (VADER's own threshold).
pub const TONE_NEUTRAL: f64 = 0.05;

/// Whether `word` is a sentiment word rather than a subject ("great", "broken").
pub fn is_sentiment_word(word: &str) -> bool {
    vader().is_sentiment_word(word) || COMMERCE_WORDS.iter().any(|(w, v)| *w == word && *v != 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_split_at_turns_and_punctuation() {
        assert_eq!(
            clauses("Fast delivery, but the size is wrong. Love it!"),
            vec!["Fast delivery", "but the size is wrong", "Love it"]
        );
        assert_eq!(clauses("..., !"), Vec::<&str>::new());
        assert_eq!(
            clauses("Cheap, and Excellent build"),
            vec!["Cheap", "Excellent build"]
        );
        assert_eq!(clauses("and"), vec!["and"]);
        assert_eq!(clauses("however good"), vec!["however good"]);
    }

    #[test]
    fn stems_meet_singulars() {
        for (word, expected) in [
            ("boxes", "box"),
            ("colours", "colour"),
            ("batteries", "battery"),
            ("glass", "glass"),
            ("status", "status"),
            ("lids", "lid"),
        ] {
            assert_eq!(stem(word), expected, "{word}");
        }
    }

    #[test]
    fn commerce_words_turn_the_tone() {
        assert!(tone("the parcel arrived two weeks late") < -TONE_NEUTRAL);
        assert!(tone("super fast delivery") > TONE_NEUTRAL);
        assert!(tone("delivery was not fast") < -TONE_NEUTRAL);
        assert!(tone("way too small") < -TONE_NEUTRAL);
        assert!(tone("it doesn't fit") < -TONE_NEUTRAL);
        assert!(tone("it came in a box").abs() < TONE_NEUTRAL);
    }
}
