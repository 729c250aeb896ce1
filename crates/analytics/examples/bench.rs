//! The analytics side of `scripts/bench-analytics.sh`: times each model on the reference data
//! (median of repeated runs, release build) and scores a synthetic organization of N customers
//! end to end. Prints one JSON object per line; the script sets them beside the Python peers.
//!
//! `cargo run --release -p analytics --example bench -- <fixtures dir> [customers]`

use std::collections::BTreeMap;
use std::time::Instant;

use analytics::basket::{mine, BasketSettings};
use analytics::churn::{ChurnModel, Column};
use analytics::clv::{customer_value, summarize, BgNbd, ClvSettings, GammaGamma, TimeUnit, Transaction};
use analytics::forecast::{forecast, mape, ForecastSettings, Seasonality};
use analytics::metrics::{auc, is_test_row, splitmix64};
use analytics::rfm::{self, Purchases};
use chrono::NaiveDate;

fn median_ms<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        last = Some(f());
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    (times[runs / 2], last.expect("at least one run"))
}

fn read(dir: &str, name: &str) -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_path(format!("{dir}/{name}")).expect("fixture");
    let header = reader.headers().unwrap().iter().map(str::to_string).collect();
    (header, reader.records().map(Result::unwrap).collect())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .map_or("crates/analytics/tests/fixtures", String::as_str);
    let synthetic: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1_000_000);

    // CLV on CDNOW.
    let (_, rows) = read(dir, "cdnow_transactions.csv");
    let transactions: Vec<Transaction<u32>> = rows
        .iter()
        .map(|r| Transaction {
            customer: r[1].parse().unwrap(),
            date: NaiveDate::parse_from_str(&r[2], "%Y%m%d").unwrap(),
            amount: r[4].parse().unwrap(),
        })
        .collect();
    let end = NaiveDate::from_ymd_opt(1997, 9, 30).unwrap();
    let customers: Vec<_> = summarize(&transactions, end, TimeUnit::Week)
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let (bgnbd_ms, fit) = median_ms(21, || BgNbd::fit(&customers).ready().unwrap());
    let (gg_ms, gg) = median_ms(21, || GammaGamma::fit(&customers).ready().unwrap());
    let p = fit.params;
    println!(
        "{}",
        serde_json::json!({"task": "clv", "bgnbd_ms": bgnbd_ms, "gamma_gamma_ms": gg_ms, "r": p.r, "alpha": p.alpha, "a": p.a, "b": p.b, "log_likelihood": fit.log_likelihood, "p": gg.params.p, "q": gg.params.q, "v": gg.params.v})
    );

    // Holt-Winters on AirPassengers, the statsmodels configuration and the automatic choice.
    let (_, rows) = read(dir, "AirPassengers.csv");
    let y: Vec<f64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    let (train, test) = y.split_at(132);
    let fixed = ForecastSettings {
        period: Some(12),
        trend: Some(true),
        seasonality: Some(Seasonality::Multiplicative),
        level: None,
    };
    let (hw_ms, hw) = median_ms(21, || forecast(train, 12, fixed).ready().unwrap());
    let (auto_ms, auto) = median_ms(21, || {
        forecast(train, 12, ForecastSettings::default()).ready().unwrap()
    });
    let values = |f: &analytics::forecast::Forecast| f.points.iter().map(|p| p.value).collect::<Vec<_>>();
    println!(
        "{}",
        serde_json::json!({"task": "forecast", "holt_winters_ms": hw_ms, "mape": mape(test, &values(&hw)), "auto_ms": auto_ms, "auto_mape": mape(test, &values(&auto))})
    );

    // Market basket on superstore (order × sub-category).
    let (_, rows) = read(dir, "superstore_lines.csv");
    let mut orders: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &rows {
        orders.entry(r[0].to_string()).or_default().push(r[6].to_string());
    }
    let baskets: Vec<Vec<String>> = orders.into_values().collect();
    let settings = BasketSettings {
        min_support: 0.005,
        min_confidence: 0.0,
        min_lift: 0.0,
        max_len: None,
    };
    let (basket_ms, basket) = median_ms(51, || mine(&baskets, settings).ready().unwrap());
    println!(
        "{}",
        serde_json::json!({"task": "basket", "basket_ms": basket_ms, "itemsets": basket.itemsets.len(), "rules": basket.rules.len()})
    );

    // Churn on wa_churn with the documented split.
    let (header, rows) = read(dir, "wa_churn.csv");
    let held: Vec<bool> = (0..rows.len()).map(|i| is_test_row(i, 42, 0.2)).collect();
    let part = |want: bool| {
        let keep: Vec<&csv::StringRecord> = rows
            .iter()
            .zip(&held)
            .filter(|(_, h)| **h == want)
            .map(|(r, _)| r)
            .collect();
        let labels: Vec<bool> = keep.iter().map(|r| &r[0] == "Yes").collect();
        let columns: Vec<Column> = (1..header.len())
            .map(|j| Column::from_text(&header[j], keep.iter().map(|r| r[j].to_string()).collect()))
            .collect();
        (columns, labels)
    };
    let (train_x, train_y) = part(false);
    let (test_x, test_y) = part(true);
    let (churn_ms, model) = median_ms(5, || ChurnModel::train(&train_x, &train_y).ready().unwrap());
    let score = auc(&model.probabilities(&test_x), &test_y).unwrap();
    println!(
        "{}",
        serde_json::json!({"task": "churn", "train_ms": churn_ms, "auc": score, "n_test": test_y.len()})
    );

    // A synthetic organization: customers buying as the CDNOW model says, over two years.
    let started = Instant::now();
    let first_day = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let as_of = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
    let mut state = 7u64;
    let mut uniform = || {
        state = splitmix64(state);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut synthetic_transactions = Vec::with_capacity(synthetic * 3);
    for customer in 0..synthetic as u32 {
        let start = (uniform() * 700.0) as u64;
        let rate = -uniform().max(1e-12).ln() * 0.02 + 0.002; // purchases per day
        let dropout = 0.1 + 0.4 * uniform();
        let mut day = start as f64;
        loop {
            let date = first_day + chrono::Days::new(day as u64);
            if date > as_of {
                break;
            }
            synthetic_transactions.push(Transaction {
                customer,
                date,
                amount: 10.0 + 90.0 * uniform(),
            });
            if uniform() < dropout {
                break;
            }
            day += -uniform().max(1e-12).ln() / rate;
        }
    }
    let generate_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let summaries = summarize(&synthetic_transactions, as_of, TimeUnit::Week);
    let summarize_s = started.elapsed().as_secs_f64();
    let just: Vec<_> = summaries.iter().map(|(_, s)| *s).collect();
    let started = Instant::now();
    let fit = BgNbd::fit(&just).ready().unwrap();
    let gg = GammaGamma::fit(&just).ready().unwrap();
    let fit_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let clv_settings = ClvSettings::default();
    let total_clv: f64 = just
        .iter()
        .map(|c| {
            customer_value(&fit, Some(&gg), c, &clv_settings)
                .clv
                .map_or(0.0, |v| v.estimate)
        })
        .sum();
    let score_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut per_customer: BTreeMap<u32, Purchases<u32>> = BTreeMap::new();
    for t in &synthetic_transactions {
        let entry = per_customer.entry(t.customer).or_insert(Purchases {
            customer: t.customer,
            last_order: t.date,
            orders: 0,
            revenue: 0.0,
        });
        entry.orders += 1;
        entry.revenue += t.amount;
        entry.last_order = entry.last_order.max(t.date);
    }
    let purchases: Vec<Purchases<u32>> = per_customer.into_values().collect();
    let segments = rfm::score(&purchases, as_of).ready().unwrap();
    let rfm_s = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"task": "synthetic", "customers": summaries.len(), "transactions": synthetic_transactions.len(), "generate_s": generate_s, "summarize_s": summarize_s, "fit_s": fit_s, "bgnbd_iterations": fit.iterations, "gg_iterations": gg.iterations, "score_clv_with_intervals_s": score_s, "rfm_s": rfm_s, "total_s": summarize_s + fit_s + score_s + rfm_s, "total_clv": total_clv, "segments": segments.segments.iter().filter(|s| s.customers > 0).count()})
    );
}
