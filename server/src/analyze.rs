//! `sightline analyze …`: the statistical core on a CSV file, for analysts and for checking
//! Sightline against other tools. Reads a CSV with a header row; prints a human table, or one
//! JSON document with `--format json` (fitted parameters, fit statistics, timings, and
//! per-entity results with `--per-entity`). Needs no database or settings.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use analytics::basket::{mine, BasketSettings};
use analytics::churn::{ChurnModel, Column};
use analytics::clv::{
    customer_value, summarize, BgNbd, ClvSettings, CustomerValue, GammaGamma, TimeUnit, Transaction,
};
use analytics::forecast::{forecast, mape, ForecastSettings};
use analytics::metrics::{auc, is_test_row};
use analytics::Analysis;
use chrono::NaiveDate;
use serde_json::{json, Value};

#[derive(clap::Subcommand, Clone, Debug)]
pub enum AnalyzeCommand {
    /// BG/NBD + Gamma-Gamma lifetime value from transactions.
    Clv(ClvArgs),
    /// Churn model (logistic regression) with AUC on a held-out part.
    Churn(ChurnArgs),
    /// Holt-Winters forecast of a dated series.
    Forecast(ForecastArgs),
    /// Frequent itemsets and association rules from order lines.
    Basket(BasketArgs),
}

#[derive(clap::Args, Clone, Debug)]
pub struct Common {
    /// The CSV file (with a header row).
    #[arg(long)]
    input: PathBuf,
    /// `table` for people, `json` for programs.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also print one result per customer, row or step.
    #[arg(long)]
    per_entity: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(clap::Args, Clone, Debug)]
pub struct ClvArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long)]
    customer_col: String,
    #[arg(long)]
    date_col: String,
    #[arg(long)]
    amount_col: String,
    /// chrono format of the dates, e.g. %Y%m%d (default: ISO dates or timestamps).
    #[arg(long)]
    date_format: Option<String>,
    /// Last day of the calibration period (default: the last transaction's day).
    #[arg(long)]
    calibration_end: Option<NaiveDate>,
    #[arg(long, value_enum, default_value_t = Unit::Week)]
    time_unit: Unit,
    /// CLV horizon in months.
    #[arg(long, default_value_t = 12)]
    months: u32,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Week,
    Day,
}

#[derive(clap::Args, Clone, Debug)]
pub struct ChurnArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long)]
    label_col: String,
    /// The label value meaning "churned".
    #[arg(long)]
    positive: String,
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Row i is held out when SplitMix64(seed·2³² xor i) / 2⁶⁴ < test fraction.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(clap::Args, Clone, Debug)]
pub struct ForecastArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long)]
    date_col: String,
    #[arg(long)]
    value_col: String,
    /// Hold out the last N points and report the MAPE on them.
    #[arg(long)]
    holdout: Option<usize>,
    /// Steps to forecast (default: the hold-out, or 12).
    #[arg(long)]
    horizon: Option<usize>,
    /// Season length in observations (default: detected).
    #[arg(long)]
    period: Option<usize>,
}

#[derive(clap::Args, Clone, Debug)]
pub struct BasketArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long)]
    order_col: String,
    #[arg(long)]
    item_col: String,
    #[arg(long, default_value_t = 0.005)]
    min_support: f64,
    #[arg(long, default_value_t = 0.0)]
    min_confidence: f64,
    /// Rules below this lift are left out (1.0: positive associations only).
    #[arg(long, default_value_t = 1.0)]
    min_lift: f64,
    /// Rules to print.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

/// What went wrong, said so that the command line user can fix it.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, csv::Error),
    #[error("column {0:?} is not in the header (columns: {1})")]
    MissingColumn(String, String),
    #[error("line {line}: {message}")]
    Value { line: u64, message: String },
    #[error("{0}")]
    Insufficient(String),
}

/// Runs one analysis and returns what to print.
pub fn run(command: &AnalyzeCommand) -> Result<String, AnalyzeError> {
    match command {
        AnalyzeCommand::Clv(args) => clv(args),
        AnalyzeCommand::Churn(args) => churn(args),
        AnalyzeCommand::Forecast(args) => forecast_series(args),
        AnalyzeCommand::Basket(args) => basket(args),
    }
}

/// The file's header and rows.
struct Table {
    header: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl Table {
    fn read(path: &PathBuf) -> Result<Table, AnalyzeError> {
        let error = |e| AnalyzeError::Read(path.clone(), e);
        let mut reader = csv::Reader::from_path(path).map_err(error)?;
        let header = reader
            .headers()
            .map_err(error)?
            .iter()
            .map(str::to_string)
            .collect();
        let rows = reader.records().collect::<Result<_, _>>().map_err(error)?;
        Ok(Table { header, rows })
    }

    fn column(&self, name: &str) -> Result<usize, AnalyzeError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| AnalyzeError::MissingColumn(name.to_string(), self.header.join(", ")))
    }

    /// Line number of row `i` in the file (the header is line 1).
    fn line(i: usize) -> u64 {
        i as u64 + 2
    }
}

fn parse_number(text: &str, line: u64, what: &str) -> Result<f64, AnalyzeError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| AnalyzeError::Value {
            line,
            message: format!("{what} {text:?} is not a number"),
        })
}

fn parse_date(text: &str, format: Option<&str>, line: u64) -> Result<NaiveDate, AnalyzeError> {
    let text = text.trim();
    let parsed = match format {
        Some(format) => NaiveDate::parse_from_str(text, format).ok(),
        None => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .or_else(|| {
                chrono::DateTime::parse_from_rfc3339(text)
                    .ok()
                    .map(|t| t.date_naive())
            })
            .or_else(|| NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").ok()),
    };
    parsed.ok_or_else(|| AnalyzeError::Value {
        line,
        message: format!(
            "date {text:?} does not match {}",
            format.unwrap_or("YYYY-MM-DD, YYYY-MM or RFC 3339")
        ),
    })
}

fn ready<T>(analysis: Analysis<T>) -> Result<T, AnalyzeError> {
    match analysis {
        Analysis::Ready(value) => Ok(value),
        Analysis::InsufficientData(why) => Err(AnalyzeError::Insufficient(format!(
            "not enough data: needs {} (has {}); {}",
            why.needed, why.have, why.hint
        ))),
    }
}

fn milliseconds(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

fn json_text(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values serialise")
}

/// Rows of cells as an aligned text table.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|j| {
            rows.iter()
                .map(|r| r[j].chars().count())
                .chain([header[j].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![
        line(header.to_vec()),
        line(
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect(),
        ),
    ];
    out.extend(rows.iter().map(|r| line(r.iter().map(String::as_str).collect())));
    out.join("\n")
}

fn clv(args: &ClvArgs) -> Result<String, AnalyzeError> {
    let started = Instant::now();
    let file = Table::read(&args.common.input)?;
    let (customer, date, amount) = (
        file.column(&args.customer_col)?,
        file.column(&args.date_col)?,
        file.column(&args.amount_col)?,
    );
    let transactions = file
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let line = Table::line(i);
            Ok(Transaction {
                customer: row[customer].to_string(),
                date: parse_date(&row[date], args.date_format.as_deref(), line)?,
                amount: parse_number(&row[amount], line, "amount")?,
            })
        })
        .collect::<Result<Vec<_>, AnalyzeError>>()?;
    let read_ms = milliseconds(started);
    let calibration_end = match args
        .calibration_end
        .or_else(|| transactions.iter().map(|t| t.date).max())
    {
        Some(day) => day,
        None => return Err(AnalyzeError::Insufficient("the file has no transactions".into())),
    };
    let unit = match args.time_unit {
        Unit::Week => TimeUnit::Week,
        Unit::Day => TimeUnit::Day,
    };
    let step = Instant::now();
    let summaries = summarize(&transactions, calibration_end, unit);
    let customers: Vec<_> = summaries.iter().map(|(_, s)| *s).collect();
    let summarize_ms = milliseconds(step);
    let step = Instant::now();
    let frequency = ready(BgNbd::fit(&customers))?;
    let bgnbd_ms = milliseconds(step);
    let step = Instant::now();
    let spend = GammaGamma::fit(&customers).ready();
    let gamma_gamma_ms = milliseconds(step);
    let p = frequency.params;
    let mut document = json!({
        "input": args.common.input,
        "customers": customers.len(),
        "transactions": transactions.len(),
        "calibration_end": calibration_end,
        "time_unit": unit,
        "bgnbd": {
            "r": p.r, "alpha": p.alpha, "a": p.a, "b": p.b,
            "log_likelihood": frequency.log_likelihood,
            "standard_errors": frequency.standard_errors,
            "regularised": frequency.regularised,
            "iterations": frequency.iterations,
        },
        "gamma_gamma": spend.as_ref().map(|g| json!({
            "p": g.params.p, "q": g.params.q, "v": g.params.v,
            "log_likelihood": g.log_likelihood,
            "customers": g.sample.size,
            "standard_errors": g.standard_errors,
            "regularised": g.regularised,
        })),
        "timings_ms": {"read": read_ms, "summarize": summarize_ms, "fit_bgnbd": bgnbd_ms, "fit_gamma_gamma": gamma_gamma_ms},
    });
    let settings = ClvSettings {
        months: args.months,
        unit,
        ..ClvSettings::default()
    };
    // Scored once, typed; the JSON and the table are both rendered from these.
    let per_entity = args.common.per_entity.then(|| {
        let step = Instant::now();
        let values: Vec<CustomerValue> = summaries
            .iter()
            .map(|(_, s)| customer_value(&frequency, spend.as_ref(), s, &settings))
            .collect();
        (values, milliseconds(step))
    });
    if let Some((values, ms)) = &per_entity {
        document["timings_ms"]["score"] = json!(ms);
        document["per_entity"] = summaries
            .iter()
            .zip(values)
            .map(|((id, s), value)| {
                json!({"customer": id, "frequency": s.frequency, "recency": s.recency, "T": s.age, "monetary": s.monetary, "value": value})
            })
            .collect();
    }
    if args.common.format == Format::Json {
        return Ok(json_text(&document));
    }
    let mut out = format!(
        "{} customers, {} transactions, calibration to {calibration_end}, time in {}s\n\nBG/NBD  r = {:.4}  alpha = {:.4}  a = {:.4}  b = {:.4}  log-likelihood = {:.2}  ({bgnbd_ms} ms)\n",
        customers.len(), transactions.len(), if unit == TimeUnit::Week { "week" } else { "day" }, p.r, p.alpha, p.a, p.b, frequency.log_likelihood
    );
    match &spend {
        Some(g) => {
            out += &format!(
            "Gamma-Gamma  p = {:.4}  q = {:.4}  v = {:.4}  on {} repeat customers  ({gamma_gamma_ms} ms)\n",
            g.params.p, g.params.q, g.params.v, g.sample.size
        )
        }
        None => out += "Gamma-Gamma  not fitted: fewer than 2 repeat customers with a positive spend\n",
    }
    if let Some((values, _)) = per_entity {
        let rows: Vec<Vec<String>> = summaries
            .iter()
            .zip(&values)
            .map(|((id, s), value)| {
                vec![
                    id.clone(),
                    s.frequency.to_string(),
                    format!("{:.3}", value.p_alive),
                    format!("{:.3}", value.expected_purchases.estimate),
                    value.clv.map_or("-".into(), |clv| {
                        format!("{:.2} [{:.2}, {:.2}]", clv.estimate, clv.low, clv.high)
                    }),
                ]
            })
            .collect();
        out += "\n";
        out += &table(
            &[
                "customer",
                "repeat purchases",
                "P(alive)",
                &format!("purchases next {} months", args.months),
                "CLV [90 % interval]",
            ],
            &rows,
        );
        out += "\n";
    }
    Ok(out)
}

fn churn(args: &ChurnArgs) -> Result<String, AnalyzeError> {
    let started = Instant::now();
    let file = Table::read(&args.common.input)?;
    let label = file.column(&args.label_col)?;
    let test: Vec<bool> = (0..file.rows.len())
        .map(|i| is_test_row(i, args.seed, args.test_fraction))
        .collect();
    let part = |held: bool| -> (Vec<Column>, Vec<bool>, Vec<usize>) {
        let rows: Vec<usize> = (0..file.rows.len()).filter(|&i| test[i] == held).collect();
        let labels = rows
            .iter()
            .map(|&i| file.rows[i][label] == args.positive)
            .collect();
        let columns = (0..file.header.len())
            .filter(|&j| j != label)
            .map(|j| {
                Column::from_text(
                    &file.header[j],
                    rows.iter().map(|&i| file.rows[i][j].to_string()).collect(),
                )
            })
            .collect();
        (columns, labels, rows)
    };
    let (train_columns, train_labels, _) = part(false);
    let (test_columns, test_labels, test_rows) = part(true);
    let read_ms = milliseconds(started);
    let step = Instant::now();
    let model = ready(ChurnModel::train(&train_columns, &train_labels))?;
    let train_ms = milliseconds(step);
    let scores = model.score(&test_columns);
    let probabilities: Vec<f64> = scores.iter().map(|s| s.probability).collect();
    let held_out_auc = auc(&probabilities, &test_labels);
    let weights = model.weights();
    let mut document = json!({
        "input": args.common.input,
        "auc": held_out_auc,
        "n_train": train_labels.len(),
        "n_test": test_labels.len(),
        "split": {"test_fraction": args.test_fraction, "seed": args.seed, "rule": "row i is held out when splitmix64((seed << 32) ^ i) / 2^64 < test_fraction"},
        "base_rate": model.base_rate,
        "top_features": weights.iter().take(10).collect::<Vec<_>>(),
        "timings_ms": {"read": read_ms, "train": train_ms},
    });
    if args.common.per_entity {
        document["per_entity"] = json!(test_rows
            .iter()
            .zip(&scores)
            .map(|(row, s)| json!({"line": Table::line(*row), "score": s}))
            .collect::<Vec<_>>());
    }
    if args.common.format == Format::Json {
        return Ok(json_text(&document));
    }
    let mut out = format!(
        "AUC on {} held-out rows: {}  (trained on {} rows in {train_ms} ms, churn rate {:.1} %)\n\nStrongest features (weight per standard deviation; positive raises churn risk):\n",
        test_labels.len(),
        held_out_auc.map_or("undefined (one class only)".to_string(), |a| format!("{a:.4}")),
        train_labels.len(),
        model.base_rate * 100.0
    );
    let rows: Vec<Vec<String>> = weights
        .iter()
        .take(10)
        .map(|w| vec![w.feature.clone(), format!("{:+.3}", w.weight)])
        .collect();
    out += &table(&["feature", "weight"], &rows);
    out += "\n";
    if args.common.per_entity {
        let rows: Vec<Vec<String>> = test_rows
            .iter()
            .zip(&scores)
            .map(|(row, s)| {
                vec![
                    Table::line(*row).to_string(),
                    format!("{:.3}", s.probability),
                    s.reasons
                        .iter()
                        .map(|r| r.text.clone())
                        .collect::<Vec<_>>()
                        .join("; "),
                ]
            })
            .collect();
        out += "\n";
        out += &table(&["line", "P(churn)", "why"], &rows);
        out += "\n";
    }
    Ok(out)
}

fn forecast_series(args: &ForecastArgs) -> Result<String, AnalyzeError> {
    let file = Table::read(&args.common.input)?;
    let (date, value) = (file.column(&args.date_col)?, file.column(&args.value_col)?);
    let mut series: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for (i, row) in file.rows.iter().enumerate() {
        let line = Table::line(i);
        *series.entry(parse_date(&row[date], None, line)?).or_default() +=
            parse_number(&row[value], line, "value")?;
    }
    let dates: Vec<NaiveDate> = series.keys().copied().collect();
    let values: Vec<f64> = series.values().copied().collect();
    let holdout = args.holdout.unwrap_or(0).min(values.len());
    let (train, test) = values.split_at(values.len() - holdout);
    let horizon = args.horizon.unwrap_or(if holdout > 0 { holdout } else { 12 });
    let step = Instant::now();
    let result = ready(forecast(
        train,
        horizon,
        ForecastSettings {
            period: args.period,
            ..Default::default()
        },
    ))?;
    let fit_ms = milliseconds(step);
    let predicted: Vec<f64> = result.points.iter().map(|p| p.value).collect();
    let holdout_mape = (holdout > 0).then(|| mape(test, &predicted[..holdout.min(predicted.len())]));
    let next_date = step_dates(&dates[..train.len()], horizon);
    let mut document = json!({
        "input": args.common.input,
        "observations": train.len(),
        "holdout": holdout,
        "mape": holdout_mape,
        "model": result.model,
        "fit": result.fit,
        "level": result.level,
        "forecast": result.points.iter().zip(&next_date).map(|(p, d)| json!({"step": p.step, "date": d, "value": p.value, "low": p.low, "high": p.high})).collect::<Vec<_>>(),
        "timings_ms": {"fit": fit_ms},
    });
    if args.common.per_entity {
        document["actual"] = json!(test);
    }
    if args.common.format == Format::Json {
        return Ok(json_text(&document));
    }
    let m = &result.model;
    let mut out = format!(
        "Holt-Winters: {} trend, {} seasonality{}; alpha {:.3} beta {:.3} gamma {:.3}; in-sample MAPE {:.2} %, MASE {:.2} ({fit_ms} ms)\n",
        if m.trend { "additive" } else { "no" },
        serde_json::to_value(m.seasonality).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
        m.period.map_or(String::new(), |p| format!(" every {p}")),
        m.alpha, m.beta, m.gamma, m.in_sample_mape, m.mase
    );
    if let Some(error) = holdout_mape {
        out += &format!("MAPE on the last {holdout}: {error:.3} %\n");
    }
    if let analytics::forecast::FitQuality::Poor(reason) = &result.fit {
        out += &format!("Poor fit: {reason}\n");
    }
    let rows: Vec<Vec<String>> = result
        .points
        .iter()
        .zip(&next_date)
        .enumerate()
        .map(|(i, (p, d))| {
            let mut row = vec![
                d.map_or(p.step.to_string(), |d| d.to_string()),
                format!("{:.2}", p.value),
                format!("[{:.2}, {:.2}]", p.low, p.high),
            ];
            row.push(test.get(i).map_or(String::new(), |a| format!("{a:.2}")));
            row
        })
        .collect();
    out += "\n";
    out += &table(
        &[
            "date",
            "forecast",
            &format!("{:.0} % interval", result.level * 100.0),
            "actual",
        ],
        &rows,
    );
    out += "\n";
    Ok(out)
}

/// The dates of the next `horizon` steps, when the series is monthly or evenly spaced in days.
fn step_dates(dates: &[NaiveDate], horizon: usize) -> Vec<Option<NaiveDate>> {
    use chrono::Datelike;
    let monthly = dates.len() >= 2
        && dates
            .windows(2)
            .all(|w| w[0].day() == w[1].day() && analytics::Period::Month.between(w[0], w[1]) == 1);
    let spacing = dates
        .windows(2)
        .map(|w| (w[1] - w[0]).num_days())
        .collect::<std::collections::BTreeSet<_>>();
    let last = dates.last().copied();
    (1..=horizon as u32)
        .map(|h| {
            let last = last?;
            if monthly {
                Some(last + chrono::Months::new(h))
            } else if spacing.len() == 1 {
                let days = *spacing.first()?;
                Some(last + chrono::Days::new((days.max(0) as u64) * u64::from(h)))
            } else {
                None
            }
        })
        .collect()
}

fn basket(args: &BasketArgs) -> Result<String, AnalyzeError> {
    let started = Instant::now();
    let file = Table::read(&args.common.input)?;
    let (order, item) = (file.column(&args.order_col)?, file.column(&args.item_col)?);
    let mut orders: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for row in &file.rows {
        orders
            .entry(row.get(order).unwrap_or_default())
            .or_default()
            .push(row[item].to_string());
    }
    let baskets: Vec<Vec<String>> = orders.into_values().collect();
    let read_ms = milliseconds(started);
    let settings = BasketSettings {
        min_support: args.min_support,
        min_confidence: args.min_confidence,
        min_lift: args.min_lift,
        max_len: None,
    };
    let step = Instant::now();
    let result = ready(mine(&baskets, settings))?;
    let mine_ms = milliseconds(step);
    let mut document = json!({
        "input": args.common.input,
        "baskets": result.sample.size,
        "settings": result.settings,
        "itemsets": result.itemsets.len(),
        "rules": result.rules.len(),
        "top_rules": result.rules.iter().take(args.top).collect::<Vec<_>>(),
        "timings_ms": {"read": read_ms, "mine": mine_ms},
    });
    if args.common.per_entity {
        document["all_itemsets"] = json!(result.itemsets);
        document["all_rules"] = json!(result.rules);
    }
    if args.common.format == Format::Json {
        return Ok(json_text(&document));
    }
    let mut out = format!(
        "{} baskets: {} frequent itemsets (support ≥ {}), {} rules (confidence ≥ {}, lift ≥ {}) in {mine_ms} ms\n\n",
        result.sample.size, result.itemsets.len(), args.min_support, result.rules.len(), args.min_confidence, args.min_lift
    );
    let shown = if args.common.per_entity {
        result.rules.len()
    } else {
        args.top
    };
    let rows: Vec<Vec<String>> = result
        .rules
        .iter()
        .take(shown)
        .map(|r| {
            vec![
                format!(
                    "{{{}}} → {{{}}}",
                    r.antecedent.join(", "),
                    r.consequent.join(", ")
                ),
                format!("{:.4}", r.support),
                format!("{:.3}", r.confidence),
                format!("{:.3}", r.lift),
            ]
        })
        .collect();
    out += &table(&["rule", "support", "confidence", "lift"], &rows);
    out += "\n";
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../crates/analytics/tests/fixtures")
            .join(name)
    }

    fn common(name: &str) -> Common {
        Common {
            input: fixture(name),
            format: Format::Json,
            per_entity: false,
        }
    }

    fn parsed(command: AnalyzeCommand) -> Value {
        serde_json::from_str(&run(&command).expect("analysis runs")).expect("JSON output")
    }

    #[test]
    fn clv_on_cdnow_prints_the_published_parameters_as_json() {
        let out = parsed(AnalyzeCommand::Clv(ClvArgs {
            common: common("cdnow_transactions.csv"),
            customer_col: "customer_index".into(),
            date_col: "date".into(),
            amount_col: "amount".into(),
            date_format: Some("%Y%m%d".into()),
            calibration_end: NaiveDate::from_ymd_opt(1997, 9, 30),
            time_unit: Unit::Week,
            months: 12,
        }));
        assert_eq!(out["customers"], 2357);
        assert!((out["bgnbd"]["r"].as_f64().unwrap() - 0.243).abs() < 0.0012);
        assert!((out["bgnbd"]["log_likelihood"].as_f64().unwrap() + 9582.4).abs() < 0.5);
        assert!((out["gamma_gamma"]["v"].as_f64().unwrap() - 15.44).abs() < 0.07);
    }

    #[test]
    fn forecast_on_air_passengers_reports_the_holdout_mape_and_dated_steps() {
        let out = parsed(AnalyzeCommand::Forecast(ForecastArgs {
            common: common("AirPassengers.csv"),
            date_col: "month".into(),
            value_col: "passengers".into(),
            holdout: Some(12),
            horizon: None,
            period: None,
        }));
        assert!(out["mape"].as_f64().unwrap() <= 2.21);
        assert_eq!(out["forecast"][0]["date"], "1960-01-01");
        assert_eq!(out["forecast"].as_array().unwrap().len(), 12);
    }

    #[test]
    fn basket_and_churn_report_their_headline_figures() {
        let basket = parsed(AnalyzeCommand::Basket(BasketArgs {
            common: common("superstore_lines.csv"),
            order_col: "order_id".into(),
            item_col: "sub_category".into(),
            min_support: 0.005,
            min_confidence: 0.0,
            min_lift: 1.01,
            top: 3,
        }));
        assert_eq!(
            (basket["itemsets"].as_u64(), basket["rules"].as_u64()),
            (Some(138), Some(272))
        );
        let churn = parsed(AnalyzeCommand::Churn(ChurnArgs {
            common: common("wa_churn.csv"),
            label_col: "churn".into(),
            positive: "Yes".into(),
            test_fraction: 0.2,
            seed: 42,
        }));
        assert!(churn["auc"].as_f64().unwrap() >= 0.845);
        assert_eq!(
            churn["n_train"].as_u64().unwrap() + churn["n_test"].as_u64().unwrap(),
            7032
        );
    }

    #[test]
    fn a_missing_column_and_a_bad_value_are_named() {
        let missing = run(&AnalyzeCommand::Basket(BasketArgs {
            common: common("superstore_lines.csv"),
            order_col: "order".into(),
            item_col: "sub_category".into(),
            min_support: 0.005,
            min_confidence: 0.0,
            min_lift: 1.0,
            top: 3,
        }));
        assert!(matches!(missing, Err(AnalyzeError::MissingColumn(ref c, _)) if c == "order"));
        let bad = run(&AnalyzeCommand::Forecast(ForecastArgs {
            common: common("superstore_lines.csv"),
            date_col: "order_date".into(),
            value_col: "segment".into(),
            holdout: None,
            horizon: None,
            period: None,
        }));
        assert!(matches!(bad, Err(AnalyzeError::Value { line: 2, .. })), "{bad:?}");
    }
}
