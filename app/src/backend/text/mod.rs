//! Text intelligence in the product (SPEC TXT-1, TXT-3): which scorer reads a text, the model
//! registry, the worker that scores every text marked at ingest, and search.

pub mod insights;
pub mod registry;
pub mod scoring;
pub mod search;

use std::sync::OnceLock;

use serde::Serialize;
use text::sentiment::{Head, LexiconScorer, Sentiment};

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

/// The scorers this process loaded: the embedding model when its files are installed, the
/// lexicon scorer always (it takes over when the model is absent). `scorer` on each score
/// says which one read the text.
pub struct Scorers {
    lexicon: LexiconScorer,
    model: Option<embeddings::ModelScorer>,
    /// Why the model is not in use, when it is not.
    model_problem: Option<String>,
}

static SCORERS: OnceLock<Scorers> = OnceLock::new();

/// Loads the scorers once, with the embedding model from `text_dir` (the set-up step's
/// `.local/text`) if it is there; called when the server starts. `threads`: cores the model
/// may run on at once (one session each).
pub fn load_scorers(text_dir: &std::path::Path, threads: usize) -> &'static Scorers {
    SCORERS.get_or_init(|| {
        let (model, model_problem) = match embeddings::ModelScorer::load(&embeddings::ModelFiles::in_dir(text_dir), threads) {
            Ok(model) => (Some(model), None),
            Err(error) => {
                tracing::warn!(%error, "the sentiment model is not available; the lexicon scorer reads every text");
                (None, Some(error.to_string()))
            }
        };
        Scorers { lexicon: LexiconScorer::shipped(), model, model_problem }
    })
}

/// The loaded scorers; the lexicon scorer alone if `load_scorers` never ran.
pub fn scorers() -> &'static Scorers {
    SCORERS.get_or_init(|| Scorers {
        lexicon: LexiconScorer::shipped(),
        model: None,
        model_problem: Some("the model was not loaded in this process".into()),
    })
}

impl Scorers {
    /// Scores texts on the calling thread: call it from a blocking task, never the executor.
    pub fn score(&'static self, texts: &[&str]) -> Result<Vec<Scored>, embeddings::EmbeddingError> {
        Ok(match &self.model {
            Some(model) => model
                .score(texts)?
                .into_iter()
                .map(|sentiment| Scored {
                    sentiment,
                    scorer: "model",
                    model_name: &model.head.name,
                    model_version: &model.head.version,
                })
                .collect(),
            None => texts
                .iter()
                .map(|text| Scored {
                    sentiment: self.lexicon.score(text),
                    scorer: "lexicon",
                    model_name: &self.lexicon.head.name,
                    model_version: &self.lexicon.head.version,
                })
                .collect(),
        })
    }

    /// Unit-length sentence embeddings of the texts, when the model is loaded (`None`
    /// otherwise). Call it from a blocking task.
    pub fn embed(&'static self, texts: &[&str]) -> Option<Result<Vec<Vec<f64>>, embeddings::EmbeddingError>> {
        self.model.as_ref().map(|model| model.embed_all_f64(texts))
    }

    /// Every head a score may name, for the model registry.
    pub fn heads(&'static self) -> Vec<&'static Head> {
        std::iter::once(&self.lexicon.head)
            .chain(self.model.as_ref().map(|m| &m.head))
            .collect()
    }

    /// `None` when the model scores texts; otherwise why the lexicon scorer does.
    pub fn model_problem(&'static self) -> Option<&'static str> {
        self.model_problem.as_deref()
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
    .map_err(|e| ApiError::Internal(e.to_string().into()))?
    .map_err(|e| ApiError::Internal(Box::new(e)))
}
