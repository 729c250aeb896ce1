//! The human-rated texts of Hutto & Gilbert (2014), used to test the VADER port and to train
//! and evaluate the sentiment heads. They are not shipped: the set-up step fetches them from
//! the PyPI `vaderSentiment` 3.3.2 source package (see `scripts/lib.sh`).

use std::path::{Path, PathBuf};

/// Where the set-up step puts the texts in this checkout (`.local/text/`), unless
/// `SIGHTLINE_HUTTO_DIR` says otherwise: for tests and benchmarks.
pub fn checkout_dir() -> PathBuf {
    std::env::var_os("SIGHTLINE_HUTTO_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../.local/text/hutto_ICWSM_2014"
            ))
        })
}

/// One rated text: the mean of about ten human ratings on [-4, 4].
#[derive(Clone, Debug, PartialEq)]
pub struct RatedText {
    /// `tweets`, `movieReviewSnippets`, `amazonReviewSnippets` or `nytEditorialSnippets`.
    pub source: String,
    pub id: String,
    pub mean_rating: f64,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HuttoError {
    #[error("cannot read {path}: {source} (the set-up step fetches the Hutto texts; run `make test` or `scripts/fetch-text-data.sh`)")]
    Read { path: String, source: std::io::Error },
    #[error("{path} line {line}: expected `id<TAB>score<TAB>text`")]
    Malformed { path: String, line: usize },
    #[error("no *_GroundTruth.txt files in {0}")]
    Empty(String),
}

/// Every `*_GroundTruth.txt` in `dir`, sources in name order, texts in file order. Lines are
/// split on "\n" with one trailing "\r" dropped (the files have CRLF endings), exactly as the
/// Python fixture script reads them.
pub fn read_dir(dir: &Path) -> Result<Vec<RatedText>, HuttoError> {
    let read_err = |source| HuttoError::Read {
        path: dir.display().to_string(),
        source,
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("_GroundTruth.txt"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(HuttoError::Empty(dir.display().to_string()));
    }
    let mut texts = Vec::new();
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let source = name.trim_end_matches("_GroundTruth.txt").to_owned();
        let content = std::fs::read_to_string(&path).map_err(|source| HuttoError::Read {
            path: path.display().to_string(),
            source,
        })?;
        for (n, line) in content.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let malformed = || HuttoError::Malformed {
                path: path.display().to_string(),
                line: n + 1,
            };
            let mut fields = line.splitn(3, '\t');
            let (Some(id), Some(score), Some(text)) = (fields.next(), fields.next(), fields.next()) else {
                return Err(malformed());
            };
            texts.push(RatedText {
                source: source.clone(),
                id: id.to_owned(),
                mean_rating: score.trim().parse().map_err(|_| malformed())?,
                text: text.to_owned(),
            });
        }
    }
    Ok(texts)
}
