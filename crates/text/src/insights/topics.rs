//! Topic clusters: k-means (linfa) on sentence embeddings — or on TF-IDF vectors when the
//! embedding model is not installed — with the number of topics chosen by silhouette, each
//! topic labelled by the words that set it apart (class-based TF-IDF) and shown by the texts
//! nearest its centre.

use std::collections::{HashMap, HashSet};

use linfa::metrics::SilhouetteScore;
use linfa::prelude::*;
use linfa::DatasetBase;
use linfa_clustering::KMeans;
use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::words::{content_words, stem};

/// Fewer texts than this are not clustered.
pub const MIN_TEXTS: usize = 20;
/// Each topic should hold at least this many texts on average, which bounds k.
const TEXTS_PER_TOPIC: usize = 5;
/// Keywords per topic.
const KEYWORDS: usize = 3;

#[derive(Clone, Debug, PartialEq)]
pub struct Topic {
    /// The words that set this topic apart, most telling first.
    pub keywords: Vec<String>,
    /// Its texts, nearest the centre first (the first few represent it).
    pub members: Vec<usize>,
    /// Mean cosine similarity of its texts to its centre, in [−1, 1].
    pub cohesion: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Topics {
    /// Largest first.
    pub topics: Vec<Topic>,
    /// Mean silhouette of the chosen clustering, in [−1, 1]: near 0 means the topics overlap.
    pub silhouette: f64,
}

/// Clusters texts given one unit-length vector per text (row `i` for `texts[i]`), trying
/// 2..=`max_topics` topics and keeping the best-separated. `None` below [`MIN_TEXTS`].
pub fn topics(vectors: ArrayView2<f64>, texts: &[&str], max_topics: usize) -> Option<Topics> {
    let n = vectors.nrows();
    assert_eq!(n, texts.len(), "one vector per text");
    if n < MIN_TEXTS {
        return None;
    }
    let records = centred(vectors);
    let vectors = records.view();
    let data = DatasetBase::from(records.clone());
    let mut best: Option<(f64, Array1<usize>, Array2<f64>)> = None;
    for k in 2..=max_topics.min(n / TEXTS_PER_TOPIC).max(2) {
        let Ok(model) = KMeans::params(k)
            .n_runs(3)
            .max_n_iterations(200)
            .tolerance(1e-5)
            .fit(&data)
        else {
            continue;
        };
        let labels = model.predict(&records);
        let distinct: HashSet<usize> = labels.iter().copied().collect();
        if distinct.len() < 2 {
            continue;
        }
        let Ok(silhouette) = DatasetBase::new(records.clone(), labels.clone()).silhouette_score() else {
            continue;
        };
        if best.as_ref().is_none_or(|b| silhouette > b.0 + 1e-9) {
            best = Some((silhouette, labels, model.centroids().clone()));
        }
    }
    let (silhouette, labels, centroids) = best?;
    let docs_words: Vec<HashSet<String>> = texts
        .iter()
        .map(|t| content_words(t).iter().map(|w| stem(w)).collect())
        .collect();
    let mut found: Vec<Topic> = (0..centroids.nrows())
        .filter_map(|c| {
            let mut members: Vec<usize> = (0..n).filter(|i| labels[*i] == c).collect();
            if members.is_empty() {
                return None;
            }
            let centre = centroids.row(c);
            let norm = centre.dot(&centre).sqrt().max(f64::MIN_POSITIVE);
            let cosine = |i: usize| vectors.row(i).dot(&centre) / norm;
            members.sort_by(|a, b| cosine(*b).total_cmp(&cosine(*a)).then(a.cmp(b)));
            let cohesion = members.iter().map(|i| cosine(*i)).sum::<f64>() / members.len() as f64;
            Some(Topic {
                keywords: keywords(&docs_words, &members, texts),
                members,
                cohesion,
            })
        })
        .collect();
    found.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then(a.members[0].cmp(&b.members[0]))
    });
    Some(Topics {
        topics: found,
        silhouette,
    })
}

/// Rows minus their mean, scaled back to unit length: sentence encoders give every text a
/// common direction, which would otherwise pass for similarity in the cohesion figures.
fn centred(vectors: ArrayView2<f64>) -> Array2<f64> {
    let Some(mean) = vectors.mean_axis(Axis(0)) else {
        return vectors.to_owned();
    };
    let mut rows = &vectors - &mean;
    for mut row in rows.rows_mut() {
        let norm = row.dot(&row).sqrt();
        if norm > 1e-12 {
            row /= norm;
        }
    }
    rows
}

/// Class-based TF-IDF: words frequent in this topic and rare in the others.
fn keywords(docs_words: &[HashSet<String>], members: &[usize], texts: &[&str]) -> Vec<String> {
    let mut df: HashMap<&str, usize> = HashMap::new();
    for words in docs_words {
        for w in words {
            *df.entry(w.as_str()).or_default() += 1;
        }
    }
    let mut tf: HashMap<&str, usize> = HashMap::new();
    for &i in members {
        for w in &docs_words[i] {
            *tf.entry(w.as_str()).or_default() += 1;
        }
    }
    let n = docs_words.len() as f64;
    // Words shared by at least two of its texts, when there are any.
    let shared = tf.values().any(|count| *count >= 2);
    let mut scored: Vec<(&str, f64)> = tf
        .into_iter()
        .filter(|(_, count)| *count >= 2 || !shared)
        .map(|(w, count)| {
            (
                w,
                count as f64 / members.len() as f64 * (1.0 + n / df[w] as f64).ln(),
            )
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    scored
        .into_iter()
        .take(KEYWORDS)
        .map(|(stemmed, _)| spelling(stemmed, members, texts))
        .collect()
}

/// How the texts spell a stem most often.
fn spelling(stemmed: &str, members: &[usize], texts: &[&str]) -> String {
    let mut forms: HashMap<String, usize> = HashMap::new();
    for &i in members {
        for w in content_words(texts[i]) {
            if stem(&w) == stemmed {
                *forms.entry(w).or_default() += 1;
            }
        }
    }
    forms
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|f| f.0)
        .unwrap_or_else(|| stemmed.to_owned())
}

/// Unit-length TF-IDF vectors of the texts over the words at least two of them use (at most
/// `max_words`, the most widespread): what [`topics`] clusters when no embedding model is
/// installed.
pub fn tfidf_vectors(texts: &[&str], max_words: usize) -> Array2<f64> {
    let docs: Vec<Vec<String>> = texts
        .iter()
        .map(|t| content_words(t).iter().map(|w| stem(w)).collect())
        .collect();
    let mut df: HashMap<&str, usize> = HashMap::new();
    for words in &docs {
        for w in words.iter().collect::<HashSet<_>>() {
            *df.entry(w.as_str()).or_default() += 1;
        }
    }
    let mut vocabulary: Vec<(&str, usize)> = df.into_iter().filter(|(_, d)| *d >= 2).collect();
    vocabulary.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    vocabulary.truncate(max_words);
    let column: HashMap<&str, usize> = vocabulary.iter().enumerate().map(|(i, (w, _))| (*w, i)).collect();
    let n = texts.len() as f64;
    let mut out = Array2::<f64>::zeros((texts.len(), vocabulary.len()));
    for (row, words) in docs.iter().enumerate() {
        for w in words {
            if let Some(&col) = column.get(w.as_str()) {
                out[[row, col]] += (1.0 + n / vocabulary[col].1 as f64).ln();
            }
        }
        let norm = out.row(row).dot(&out.row(row)).sqrt();
        if norm > 0.0 {
            out.row_mut(row).mapv_inplace(|v| v / norm);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BATTERY: [&str; 4] = [
        "battery dies fast",
        "the battery drains overnight",
        "battery life is short",
        "charging the battery takes hours",
    ];

    /// 48 texts on two subjects, each with a word from a vocabulary both share, and vectors
    /// as an embedding would give them: near one of two directions, with some spread.
    fn two_subjects() -> (Vec<String>, Array2<f64>) {
        let shared = [
            "colour", "weight", "screen", "sound", "price", "gift", "daily", "travel", "office",
        ];
        let texts = (0..48)
            .map(|i| {
                let subject = if i % 2 == 0 {
                    "battery drains"
                } else {
                    "strap buckle"
                };
                format!("{subject} {}", shared[i % 9])
            })
            .collect();
        let mut vectors = Array2::<f64>::zeros((48, 8));
        for i in 0..48 {
            vectors[[i, i % 2]] = 1.0;
            for d in 2..8 {
                vectors[[i, d]] = 0.25 * (((i * 7 + d * 13) % 17) as f64 / 17.0 - 0.5);
            }
            let norm = vectors.row(i).dot(&vectors.row(i)).sqrt();
            vectors.row_mut(i).mapv_inplace(|v| v / norm);
        }
        (texts, vectors)
    }

    #[test]
    fn separate_subjects_become_separate_topics() {
        let (owned, vectors) = two_subjects();
        let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
        let found = topics(vectors.view(), &texts, 6).expect("48 texts are enough");
        assert_eq!(found.topics.len(), 2, "{found:#?}");
        assert!(found.silhouette > 0.5);
        for topic in &found.topics {
            let first = texts[topic.members[0]].contains("battery");
            assert!(topic
                .members
                .iter()
                .all(|i| texts[*i].contains("battery") == first));
            let expected = if first {
                ["battery", "drains"]
            } else {
                ["buckle", "strap"]
            };
            let mut top_two = topic.keywords[..2].to_vec();
            top_two.sort();
            assert_eq!(top_two, expected);
            assert_eq!(topic.members.len(), 24);
            assert!(topic.cohesion > 0.9);
        }
    }

    #[test]
    fn too_few_texts_are_not_clustered() {
        let texts = BATTERY.to_vec();
        assert_eq!(topics(tfidf_vectors(&texts, 10).view(), &texts, 4), None);
    }

    #[test]
    fn tfidf_rows_are_unit_length_or_empty() {
        let texts = ["battery battery", "battery strap", "nothing shared", "strap"];
        let v = tfidf_vectors(&texts, 10);
        assert_eq!(v.ncols(), 2);
        for (i, row) in v.rows().into_iter().enumerate() {
            let norm = row.dot(&row).sqrt();
            assert!((norm - if i == 2 { 0.0 } else { 1.0 }).abs() < 1e-12);
        }
    }
}
