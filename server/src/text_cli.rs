//! `sightline text …` and `sightline ml …`: scoring texts from the shell and training the
//! sentiment heads (no database or settings needed).

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use text::sentiment::LexiconScorer;

#[derive(clap::Subcommand)]
pub enum TextCommand {
    /// Score one text per line of stdin; write one JSON object per line to stdout.
    Sentiment(SentimentArgs),
}

#[derive(clap::Args)]
pub struct SentimentArgs {
    /// Which scorer to use.
    #[arg(long, value_enum, default_value_t = ScorerChoice::Model)]
    scorer: ScorerChoice,
    /// Where the set-up step put the embedding model and ONNX Runtime.
    #[arg(long, env = "SIGHTLINE_TEXT_DIR", default_value = ".local/text")]
    text_dir: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScorerChoice {
    /// all-MiniLM-L6-v2 embeddings read by the trained head (needs the model files).
    Model,
    /// VADER 3.3.2 read through the trained lexicon head.
    Lexicon,
}

#[derive(clap::Subcommand)]
pub enum MlCommand {
    /// Train a sentiment head on the Hutto & Gilbert texts and write it with its report.
    TrainSentiment(TrainArgs),
}

#[derive(clap::Args)]
pub struct TrainArgs {
    /// The folder with the `*_GroundTruth.txt` files (fetched by the set-up step).
    #[arg(long, default_value = ".local/text/hutto_ICWSM_2014")]
    data: PathBuf,
    /// Where the head (`sentiment-lexicon.json`) and its report (`.md`) are written.
    #[arg(long, default_value = "crates/text/models")]
    out: PathBuf,
    /// The version recorded in the model registry and on every score.
    #[arg(long, default_value = "1")]
    version: String,
    /// Which head: over VADER's scores, or over sentence embeddings.
    #[arg(long, value_enum, default_value_t = HeadChoice::Lexicon)]
    head: HeadChoice,
    /// Where the set-up step put the embedding model and ONNX Runtime.
    #[arg(long, default_value = ".local/text")]
    text_dir: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HeadChoice {
    Lexicon,
    Embedding,
}

/// Cores one inference may use: all of them (these commands run alone).
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[derive(Debug, thiserror::Error)]
pub enum TextCliError {
    #[error(transparent)]
    Hutto(#[from] text::hutto::HuttoError),
    #[error(transparent)]
    Train(#[from] text::train::TrainError),
    #[error(transparent)]
    Embedding(#[from] embeddings::EmbeddingError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One output line: the sentiment's fields first, then what produced it.
#[derive(Serialize)]
struct CliScore<'a> {
    #[serde(flatten)]
    sentiment: text::sentiment::Sentiment,
    scorer: &'static str,
    model_version: &'a str,
}

pub fn run_text(command: &TextCommand) -> Result<(), TextCliError> {
    match command {
        TextCommand::Sentiment(args) => {
            let lexicon = LexiconScorer::shipped();
            let model = match args.scorer {
                ScorerChoice::Lexicon => None,
                ScorerChoice::Model => Some(embeddings::ModelScorer::load(
                    &embeddings::ModelFiles::in_dir(&args.text_dir),
                    threads(),
                )?),
            };
            let (scorer, head) = match &model {
                Some(model) => ("model", &model.head),
                None => ("lexicon", &lexicon.head),
            };
            let model_version = format!("{}/{}", head.name, head.version);
            let stdin = std::io::stdin().lock();
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for line in stdin.lines() {
                let line = line?;
                let sentiment = match &model {
                    Some(model) => model.score(&[line.as_str()])?.remove(0),
                    None => lexicon.score(&line),
                };
                let row = CliScore {
                    sentiment,
                    scorer,
                    model_version: &model_version,
                };
                serde_json::to_writer(&mut out, &row).map_err(std::io::Error::other)?;
                writeln!(out)?;
            }
            out.flush()?;
            Ok(())
        }
    }
}

pub fn run_ml(command: &MlCommand) -> Result<(), TextCliError> {
    match command {
        MlCommand::TrainSentiment(args) => {
            let began = Instant::now();
            let texts = text::hutto::read_dir(&args.data)?;
            let trained_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let (head, report) = match args.head {
                HeadChoice::Lexicon => text::train::train_lexicon_head(&texts, &args.version, &trained_at)?,
                HeadChoice::Embedding => {
                    let model = embeddings::ModelScorer::load(
                        &embeddings::ModelFiles::in_dir(&args.text_dir),
                        threads(),
                    )?;
                    eprintln!("embedding {} texts…", texts.len());
                    // Held-out texts are embedded among themselves, as the head's test does:
                    // int8 activations are scaled per batch, so batch-mates count.
                    let (train, test) = text::train::split(&texts);
                    let mut features = vec![Vec::new(); texts.len()];
                    for part in [train, test] {
                        let chosen: Vec<&str> = part.iter().map(|&i| texts[i].text.as_str()).collect();
                        for (i, vector) in part.into_iter().zip(model.embed_all_f64(&chosen)?) {
                            features[i] = vector;
                        }
                    }
                    let names: Vec<String> = (0..embeddings::DIMENSIONS).map(|i| format!("e{i}")).collect();
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    text::train::train_head(
                        "sentiment-minilm",
                        &args.version,
                        &names,
                        &texts,
                        &features,
                        1e-2,
                        &trained_at,
                    )?
                }
            };
            std::fs::create_dir_all(&args.out)?;
            let model = args.out.join(format!("{}.json", head.name));
            let mut file = std::fs::File::create(&model)?;
            serde_json::to_writer_pretty(&mut file, &head).map_err(std::io::Error::other)?;
            writeln!(file)?;
            let features = match args.head {
                HeadChoice::Lexicon => "Features: VADER's scores of the text.".to_owned(),
                HeadChoice::Embedding => format!(
                    "Features: embeddings by `minilm/sentiment-encoder.onnx` (all-MiniLM-L6-v2's first 3 \
                     layers, dynamic int8; see scripts/derive-sentiment-encoder.py) in batches of {} \
                     sorted by length, training and held-out texts embedded apart.",
                    embeddings::BATCH
                ),
            };
            let markdown = format!(
                "# {} {}\n\n{features}\n\n{}",
                head.name,
                head.version,
                report.markdown(&head.name)
            );
            std::fs::write(args.out.join(format!("{}.md", head.name)), &markdown)?;
            print!("{markdown}");
            println!(
                "\nwrote {} in {:.1} s",
                model.display(),
                began.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}
