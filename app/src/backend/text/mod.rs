//! Text intelligence in the product (SPEC TXT-1): which scorer reads a text, the model
//! registry, and the worker that scores every text marked at ingest.

pub mod registry;
pub mod scoring;
pub mod search;

use std::sync::OnceLock;

use serde::Serialize;
use text::sentiment::{LexiconScorer, Sentiment};

/// A text's sentiment with what produced it (stored on every score, shown by the API).
#[derive(Clone, Debug, Serialize)]
pub struct Scored {
    #[serde(flatten)]
    pub sentiment: Sentiment,
    /// `model` (embeddings + trained head) or `lexicon` (VADER + trained head).
    pub scorer: &'static str,
    pub model_name: &'static str,
    pub model_version: &'static str,
}

/// The scorers this process loaded. The embedding model is not wired in yet, so every text
/// goes to the lexicon scorer; `scorer` on each score says which one it was.
pub struct Scorers {
    lexicon: LexiconScorer,
}

/// Loaded once per process.
pub fn scorers() -> &'static Scorers {
    static SCORERS: OnceLock<Scorers> = OnceLock::new();
    SCORERS.get_or_init(|| Scorers {
        lexicon: LexiconScorer::shipped(),
    })
}

impl Scorers {
    /// Scores texts on the calling thread: call it from a blocking task, never the executor.
    pub fn score(&'static self, texts: &[&str]) -> Vec<Scored> {
        texts
            .iter()
            .map(|text| Scored {
                sentiment: self.lexicon.score(text),
                scorer: "lexicon",
                model_name: &self.lexicon.head.name,
                model_version: &self.lexicon.head.version,
            })
            .collect()
    }

    /// Every head a score may name, for the model registry.
    pub fn heads(&'static self) -> Vec<&'static text::sentiment::Head> {
        vec![&self.lexicon.head]
    }
}

/// At most this many texts per ad hoc request.
pub const MAX_TEXTS: usize = 100;

/// At most this many characters per text (a long review; ingest takes the same).
pub const MAX_TEXT_CHARS: usize = 20_000;

/// `POST /api/v1/text/sentiment`: scores texts without storing them, for users and checks.
/// Rate-limited like every request (per person and per API key).
pub async fn score_adhoc(
    caller: crate::backend::caller::Caller,
    texts: Vec<String>,
) -> Result<Vec<Scored>, crate::backend::error::ApiError> {
    use crate::backend::error::{ApiError, FieldError};
    caller
        .require(domain::access::Permission::ReadData, "text.sentiment")
        .await?;
    if texts.is_empty() || texts.len() > MAX_TEXTS {
        return Err(ApiError::Validation(vec![FieldError::new(
            "texts",
            "out_of_range",
            format!("send between 1 and {MAX_TEXTS} texts (got {})", texts.len()),
        )]));
    }
    let too_long: Vec<FieldError> = texts
        .iter()
        .enumerate()
        .filter(|(_, t)| t.chars().count() > MAX_TEXT_CHARS)
        .map(|(i, _)| {
            FieldError::new(
                &format!("texts[{i}]"),
                "too_long",
                format!("at most {MAX_TEXT_CHARS} characters"),
            )
        })
        .collect();
    if !too_long.is_empty() {
        return Err(ApiError::Validation(too_long));
    }
    tokio::task::spawn_blocking(move || {
        let borrowed: Vec<&str> = texts.iter().map(String::as_str).collect();
        scorers().score(&borrowed)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string().into()))
}
