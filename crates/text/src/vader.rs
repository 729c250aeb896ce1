//! A faithful port of VADER 3.3.2 (Hutto & Gilbert 2014; Python `vaderSentiment` 3.3.2, MIT):
//! the lexicon scorer that runs when the embedding model is absent, and a feature of the
//! calibrated lexicon head.
//!
//! It reproduces the Python package's scores exactly on all 23,703 Hutto texts, quirks
//! included: "but" rescales the *first* equal score (Python's `list.index`), `no` negates up
//! to three words ahead, and caps emphasis applies only when some words are not in capitals.
//! The crates.io `vader_sentiment` crate does not match Python, so this one is tested against
//! the Python package's own outputs (`tests/vader_matches_python.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

const LEXICON: &str = include_str!("../data/vader_lexicon.txt");
const EMOJI_LEXICON: &str = include_str!("../data/emoji_utf8_lexicon.txt");

/// Mean rating increase for a booster word, and decrease for a dampener.
const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
/// Mean rating increase for a word in capitals among words that are not.
const C_INCR: f64 = 0.733;
/// What a negation multiplies a valence by.
const N_SCALAR: f64 = -0.74;

const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

const BOOSTERS: &[&str] = &[
    "absolutely",
    "amazingly",
    "awfully",
    "completely",
    "considerable",
    "considerably",
    "decidedly",
    "deeply",
    "effing",
    "enormous",
    "enormously",
    "entirely",
    "especially",
    "exceptional",
    "exceptionally",
    "extreme",
    "extremely",
    "fabulously",
    "flipping",
    "flippin",
    "frackin",
    "fracking",
    "fricking",
    "frickin",
    "frigging",
    "friggin",
    "fully",
    "fuckin",
    "fucking",
    "fuggin",
    "fugging",
    "greatly",
    "hella",
    "highly",
    "hugely",
    "incredible",
    "incredibly",
    "intensely",
    "major",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "total",
    "totally",
    "tremendous",
    "tremendously",
    "uber",
    "unbelievably",
    "unusually",
    "utter",
    "utterly",
    "very",
];

const DAMPENERS: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "just enough",
    "kind of",
    "kinda",
    "kindof",
    "kind-of",
    "less",
    "little",
    "marginal",
    "marginally",
    "occasional",
    "occasionally",
    "partly",
    "scarce",
    "scarcely",
    "slight",
    "slightly",
    "somewhat",
    "sort of",
    "sorta",
    "sortof",
    "sort-of",
];

/// Idioms and phrases that contain lexicon words but mean something else together.
const SPECIAL_CASES: &[(&str, f64)] = &[
    ("the shit", 3.0),
    ("the bomb", 3.0),
    ("bad ass", 1.5),
    ("badass", 1.5),
    ("bus stop", 0.0),
    ("yeah right", -2.0),
    ("kiss of death", -1.5),
    ("to die for", 3.0),
    ("beating heart", 3.5),
];

/// VADER's four numbers for one text, unrounded (Python rounds them on output; see
/// [`Polarity::rounded`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Polarity {
    /// Shares of the text's weight that are negative, neutral and positive (sum ≈ 1).
    pub neg: f64,
    pub neu: f64,
    pub pos: f64,
    /// The normalised sum of valences in [-1, 1].
    pub compound: f64,
}

impl Polarity {
    /// Rounded as the Python package prints them: shares to 3 places, compound to 4.
    pub fn rounded(self) -> Polarity {
        Polarity {
            neg: round_to(self.neg, 3),
            neu: round_to(self.neu, 3),
            pos: round_to(self.pos, 3),
            compound: round_to(self.compound, 4),
        }
    }
}

/// Correctly rounded to `places` decimals, ties to even on the exact binary value — what
/// Python's `round(x, n)` does (formatting is exact in Rust, so it agrees).
fn round_to(x: f64, places: usize) -> f64 {
    format!("{x:.places$}").parse().unwrap_or(x)
}

/// The lexicons, parsed once.
pub struct Vader {
    lexicon: HashMap<String, f64>,
    emojis: HashMap<char, String>,
    negations: HashSet<&'static str>,
    boosters: HashMap<&'static str, f64>,
    special: HashMap<&'static str, f64>,
}

/// The process-wide scorer (parsing the lexicons takes a few milliseconds).
pub fn vader() -> &'static Vader {
    static VADER: OnceLock<Vader> = OnceLock::new();
    VADER.get_or_init(Vader::new)
}

impl Default for Vader {
    fn default() -> Self {
        Self::new()
    }
}

impl Vader {
    pub fn new() -> Vader {
        // Parsed as the Python package does: strip the line, take the first two tab fields.
        let mut lexicon = HashMap::new();
        for line in LEXICON.trim_end_matches('\n').split('\n') {
            if line.is_empty() {
                continue;
            }
            let mut fields = py_strip(line).split('\t');
            if let (Some(word), Some(measure)) = (fields.next(), fields.next()) {
                if let Ok(value) = measure.parse::<f64>() {
                    lexicon.insert(word.to_owned(), value);
                }
            }
        }
        // The Python scorer looks emojis up one code point at a time, so only single code
        // point entries can ever match.
        let mut emojis = HashMap::new();
        for line in EMOJI_LEXICON.trim_end_matches('\n').split('\n') {
            let mut fields = py_strip(line).split('\t');
            if let (Some(emoji), Some(description)) = (fields.next(), fields.next()) {
                let mut chars = emoji.chars();
                if let (Some(c), None) = (chars.next(), chars.next()) {
                    emojis.insert(c, description.to_owned());
                }
            }
        }
        let boosters = BOOSTERS
            .iter()
            .map(|w| (*w, B_INCR))
            .chain(DAMPENERS.iter().map(|w| (*w, B_DECR)))
            .collect();
        Vader {
            lexicon,
            emojis,
            negations: NEGATE.iter().copied().collect(),
            boosters,
            special: SPECIAL_CASES.iter().copied().collect(),
        }
    }

    /// The same scorer with `words` added to (or overriding) the lexicon, e.g. words whose
    /// tone depends on the domain ("late", "fast"); the rules are VADER's.
    pub fn with_words(mut self, words: &[(&str, f64)]) -> Vader {
        self.lexicon
            .extend(words.iter().map(|(word, valence)| ((*word).to_owned(), *valence)));
        self
    }

    /// Whether `word` (lower-case) carries a valence in the lexicon.
    pub fn is_sentiment_word(&self, word: &str) -> bool {
        self.lexicon.get(word).is_some_and(|v| *v != 0.0)
    }

    /// Scores one text as `SentimentIntensityAnalyzer.polarity_scores` does.
    pub fn polarity_scores(&self, text: &str) -> Polarity {
        let text = self.describe_emojis(text);
        let text = py_strip(&text);
        let words: Vec<&str> = text
            .split(py_is_space)
            .filter(|w| !w.is_empty())
            .map(strip_punctuation_if_word)
            .collect();
        let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
        let is_cap_diff = allcap_differential(&words);

        let mut sentiments = Vec::with_capacity(words.len());
        for i in 0..words.len() {
            let neutral_modifier = self.boosters.contains_key(lower[i].as_str())
                || (i + 1 < words.len() && lower[i] == "kind" && lower[i + 1] == "of");
            sentiments.push(if neutral_modifier {
                0.0
            } else {
                self.valence(&words, &lower, i, is_cap_diff)
            });
        }
        but_check(&lower, &mut sentiments);
        score_valence(&sentiments, text)
    }

    /// Emojis replaced by their descriptions, separated from a preceding word.
    fn describe_emojis(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut prev_space = true;
        for c in text.chars() {
            match self.emojis.get(&c) {
                Some(description) => {
                    if !prev_space {
                        out.push(' ');
                    }
                    out.push_str(description);
                    prev_space = false;
                }
                None => {
                    out.push(c);
                    prev_space = c == ' ';
                }
            }
        }
        out
    }

    fn in_lexicon(&self, word: &str) -> bool {
        self.lexicon.contains_key(word)
    }

    /// `sentiment_valence`: the word's lexicon valence adjusted by the three words before it.
    fn valence(&self, words: &[&str], lower: &[String], i: usize, is_cap_diff: bool) -> f64 {
        let Some(&base) = self.lexicon.get(lower[i].as_str()) else {
            return 0.0;
        };
        let mut valence = base;
        // "no" before a lexicon word negates it rather than counting itself.
        if lower[i] == "no" && i + 1 != words.len() && self.in_lexicon(&lower[i + 1]) {
            valence = 0.0;
        }
        if (i > 0 && lower[i - 1] == "no")
            || (i > 1 && lower[i - 2] == "no")
            || (i > 2 && lower[i - 3] == "no" && (lower[i - 1] == "or" || lower[i - 1] == "nor"))
        {
            valence = base * N_SCALAR;
        }
        if py_is_upper(words[i]) && is_cap_diff {
            valence += if valence > 0.0 { C_INCR } else { -C_INCR };
        }
        for start_i in 0..3 {
            if i > start_i && !self.in_lexicon(&lower[i - (start_i + 1)]) {
                let before = i - (start_i + 1);
                let mut s = self.scalar_inc_dec(words[before], &lower[before], valence, is_cap_diff);
                if start_i == 1 && s != 0.0 {
                    s *= 0.95;
                }
                if start_i == 2 && s != 0.0 {
                    s *= 0.9;
                }
                valence += s;
                valence = self.negation_check(valence, lower, start_i, i);
                if start_i == 2 {
                    valence = self.special_idioms_check(valence, lower, i);
                }
            }
        }
        self.least_check(valence, lower, i)
    }

    /// What a booster or dampener before the word adds, with caps emphasis.
    fn scalar_inc_dec(&self, word: &str, word_lower: &str, valence: f64, is_cap_diff: bool) -> f64 {
        let Some(&boost) = self.boosters.get(word_lower) else {
            return 0.0;
        };
        let mut scalar = if valence < 0.0 { -boost } else { boost };
        if py_is_upper(word) && is_cap_diff {
            scalar += if valence > 0.0 { C_INCR } else { -C_INCR };
        }
        scalar
    }

    fn negated(&self, word: &str) -> bool {
        self.negations.contains(word) || word.contains("n't")
    }

    fn negation_check(&self, valence: f64, lower: &[String], start_i: usize, i: usize) -> f64 {
        let w = |back: usize| lower[i - back].as_str();
        match start_i {
            0 if self.negated(w(1)) => valence * N_SCALAR,
            1 if w(2) == "never" && (w(1) == "so" || w(1) == "this") => valence * 1.25,
            1 if w(2) == "without" && w(1) == "doubt" => valence,
            1 if self.negated(w(2)) => valence * N_SCALAR,
            2 if (w(3) == "never" && (w(2) == "so" || w(2) == "this"))
                || (w(1) == "so" || w(1) == "this") =>
            {
                valence * 1.25
            }
            2 if w(3) == "without" && (w(2) == "doubt" || w(1) == "doubt") => valence,
            2 if self.negated(w(3)) => valence * N_SCALAR,
            _ => valence,
        }
    }

    /// Special-case idioms around the word, and two- and three-word dampeners before it.
    /// Only reached with three words before `i`.
    fn special_idioms_check(&self, mut valence: f64, lower: &[String], i: usize) -> f64 {
        let join = |range: std::ops::RangeInclusive<usize>| lower[range].join(" ");
        let onezero = join(i - 1..=i);
        let twoonezero = join(i - 2..=i);
        let twoone = join(i - 2..=i - 1);
        let threetwoone = join(i - 3..=i - 1);
        let threetwo = join(i - 3..=i - 2);
        for seq in [&onezero, &twoonezero, &twoone, &threetwoone, &threetwo] {
            if let Some(&v) = self.special.get(seq.as_str()) {
                valence = v;
                break;
            }
        }
        if lower.len() - 1 > i {
            if let Some(&v) = self.special.get(join(i..=i + 1).as_str()) {
                valence = v;
            }
        }
        if lower.len() - 1 > i + 1 {
            if let Some(&v) = self.special.get(join(i..=i + 2).as_str()) {
                valence = v;
            }
        }
        for n_gram in [&threetwoone, &threetwo, &twoone] {
            if let Some(&boost) = self.boosters.get(n_gram.as_str()) {
                valence += boost;
            }
        }
        valence
    }

    /// "least" before a word negates it, except in "at least" and "very least".
    fn least_check(&self, valence: f64, lower: &[String], i: usize) -> f64 {
        if i > 1 && !self.in_lexicon(&lower[i - 1]) && lower[i - 1] == "least" {
            if lower[i - 2] != "at" && lower[i - 2] != "very" {
                return valence * N_SCALAR;
            }
            valence
        } else if i > 0 && !self.in_lexicon(&lower[i - 1]) && lower[i - 1] == "least" {
            valence * N_SCALAR
        } else {
            valence
        }
    }
}

/// Contrastive "but": halves what comes before the first "but" and strengthens what follows.
/// Python finds each score's position with `list.index`, i.e. the *first* equal score, so a
/// repeated score is rescaled at its first position, again and again; kept for equal results.
fn but_check(lower: &[String], sentiments: &mut [f64]) {
    let Some(bi) = lower.iter().position(|w| w == "but") else {
        return;
    };
    for k in 0..sentiments.len() {
        let sentiment = sentiments[k];
        let si = sentiments.iter().position(|&s| s == sentiment).unwrap_or(k);
        if si < bi {
            sentiments[si] = sentiment * 0.5;
        } else if si > bi {
            sentiments[si] = sentiment * 1.5;
        }
    }
}

fn score_valence(sentiments: &[f64], text: &str) -> Polarity {
    if sentiments.is_empty() {
        return Polarity {
            neg: 0.0,
            neu: 0.0,
            pos: 0.0,
            compound: 0.0,
        };
    }
    let mut sum: f64 = sentiments.iter().fold(0.0, |acc, s| acc + s);
    let emphasis = punctuation_emphasis(text);
    if sum > 0.0 {
        sum += emphasis;
    } else if sum < 0.0 {
        sum -= emphasis;
    }
    let compound = normalize(sum);

    let (mut pos_sum, mut neg_sum, mut neu_count) = (0.0f64, 0.0f64, 0u32);
    for &s in sentiments {
        // ±1 compensates for neutral words being counted as 1.
        if s > 0.0 {
            pos_sum += s + 1.0;
        }
        if s < 0.0 {
            neg_sum += s - 1.0;
        }
        if s == 0.0 {
            neu_count += 1;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += emphasis;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= emphasis;
    }
    let total = pos_sum + neg_sum.abs() + f64::from(neu_count);
    Polarity {
        neg: (neg_sum / total).abs(),
        neu: (f64::from(neu_count) / total).abs(),
        pos: (pos_sum / total).abs(),
        compound,
    }
}

/// Emphasis from up to four "!" and from two or more "?".
fn punctuation_emphasis(text: &str) -> f64 {
    let exclamations = text.matches('!').count().min(4);
    let questions = text.matches('?').count();
    let qm = match questions {
        0 | 1 => 0.0,
        2 | 3 => questions as f64 * 0.18,
        _ => 0.96,
    };
    exclamations as f64 * 0.292 + qm
}

/// Maps a valence sum into [-1, 1] (alpha 15 approximates the largest expected sum).
fn normalize(score: f64) -> f64 {
    (score / (score * score + 15.0).sqrt()).clamp(-1.0, 1.0)
}

/// Some, but not all, words are in capitals.
fn allcap_differential(words: &[&str]) -> bool {
    let caps = words.iter().filter(|w| py_is_upper(w)).count();
    let differential = words.len() - caps;
    0 < differential && differential < words.len()
}

/// Python's `token.strip(string.punctuation)`, keeping the token when two or fewer
/// characters would remain (an emoticon such as ":)").
fn strip_punctuation_if_word(token: &str) -> &str {
    let stripped = token.trim_matches(|c: char| c.is_ascii_punctuation());
    if stripped.chars().count() <= 2 {
        token
    } else {
        stripped
    }
}

/// Python's `str.isspace` for one character (Unicode White_Space plus the ASCII separators
/// U+001C..U+001F that Python also splits on).
fn py_is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` with no arguments.
fn py_strip(s: &str) -> &str {
    s.trim_matches(py_is_space)
}

/// Python's `str.isupper`: at least one cased character, none lower or title case.
fn py_is_upper(word: &str) -> bool {
    let mut cased = false;
    for c in word.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

/// Unicode general category Lt (31 characters; std has no test for it).
fn is_titlecase(c: char) -> bool {
    matches!(c,
        '\u{01C5}' | '\u{01C8}' | '\u{01CB}' | '\u{01F2}'
        | '\u{1F88}'..='\u{1F8F}' | '\u{1F98}'..='\u{1F9F}' | '\u{1FA8}'..='\u{1FAF}'
        | '\u{1FBC}' | '\u{1FCC}' | '\u{1FFC}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_is_upper_needs_a_cased_character_and_no_lower_or_title_case() {
        assert!(py_is_upper("GOOD!"));
        assert!(!py_is_upper("Good"));
        assert!(!py_is_upper("123"));
        assert!(!py_is_upper("ǅ"));
        assert!(py_is_upper("ÇA"));
    }

    #[test]
    fn rounding_is_to_even_on_the_exact_value() {
        assert_eq!(round_to(0.0625, 3), 0.062);
        assert_eq!(round_to(0.8316499, 4), 0.8316);
    }
}
