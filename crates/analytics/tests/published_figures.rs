//! The published figures the statistical core must reproduce (fixtures and their sources in
//! `tests/fixtures/README.md`).

use analytics::clv::{summarize, BgNbd, CustomerSummary, GammaGamma, TimeUnit, Transaction};
use chrono::NaiveDate;

fn fixture(name: &str) -> csv::Reader<std::fs::File> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    csv::Reader::from_path(path).expect("fixture exists")
}

fn within(value: f64, published: f64, relative: f64) -> bool {
    (value - published).abs() <= relative * published.abs()
}

fn cdnow_transactions() -> Vec<Transaction<u32>> {
    fixture("cdnow_transactions.csv")
        .records()
        .map(|row| {
            let row = row.unwrap();
            Transaction {
                customer: row[1].parse().unwrap(),
                date: NaiveDate::parse_from_str(&row[2], "%Y%m%d").unwrap(),
                amount: row[4].parse().unwrap(),
            }
        })
        .collect()
}

fn cdnow_calibration_end() -> NaiveDate {
    NaiveDate::from_ymd_opt(1997, 9, 30).unwrap()
}

#[test]
fn the_cdnow_summary_built_from_transactions_equals_the_packaged_one() {
    let built = summarize(&cdnow_transactions(), cdnow_calibration_end(), TimeUnit::Week);
    let packaged: Vec<(u32, u32, f64, f64)> = fixture("cdnow_customers_summary.csv")
        .records()
        .map(|row| {
            let row = row.unwrap();
            (
                row[0].parse().unwrap(),
                row[1].parse().unwrap(),
                row[2].parse().unwrap(),
                row[3].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(built.len(), packaged.len());
    let round = |v: f64| (v * 100.0).round() / 100.0;
    for ((id, s), (pid, frequency, recency, age)) in built.iter().zip(&packaged) {
        assert_eq!(
            (id, s.frequency, round(s.recency), round(s.age)),
            (pid, *frequency, *recency, *age)
        );
    }
}

#[test]
fn bgnbd_on_cdnow_reproduces_fader_hardie_lee_2005() {
    let customers: Vec<CustomerSummary> =
        summarize(&cdnow_transactions(), cdnow_calibration_end(), TimeUnit::Week)
            .into_iter()
            .map(|(_, s)| s)
            .collect();
    let fit = BgNbd::fit(&customers).ready().expect("enough data");
    let p = fit.params;
    assert!(within(p.r, 0.243, 0.005), "r = {}", p.r);
    assert!(within(p.alpha, 4.414, 0.005), "alpha = {}", p.alpha);
    assert!(within(p.a, 0.793, 0.005), "a = {}", p.a);
    assert!(within(p.b, 2.426, 0.005), "b = {}", p.b);
    assert!(
        (fit.log_likelihood - -9582.4).abs() <= 0.5,
        "log-likelihood = {}",
        fit.log_likelihood
    );
    assert!(!fit.regularised);
    let errors = fit.standard_errors.expect("curved likelihood");
    assert!(errors.iter().all(|e| e.is_finite() && *e > 0.0));
}

#[test]
fn gamma_gamma_on_cdnow_repeat_buyers_reproduces_the_published_figures() {
    let customers: Vec<CustomerSummary> =
        summarize(&cdnow_transactions(), cdnow_calibration_end(), TimeUnit::Week)
            .into_iter()
            .map(|(_, s)| s)
            .collect();
    let fit = GammaGamma::fit(&customers).ready().expect("enough data");
    assert_eq!(fit.sample.size, 946);
    let g = fit.params;
    assert!(within(g.p, 6.25, 0.005), "p = {}", g.p);
    assert!(within(g.q, 3.74, 0.005), "q = {}", g.q);
    assert!(within(g.v, 15.44, 0.005), "v = {}", g.v);
}

#[test]
fn holt_winters_on_air_passengers_beats_statsmodels_on_the_last_12_months() {
    use analytics::forecast::{forecast, mape, ForecastSettings, Seasonality};
    let passengers: Vec<f64> = fixture("AirPassengers.csv")
        .records()
        .map(|row| row.unwrap()[1].parse().unwrap())
        .collect();
    assert_eq!(passengers.len(), 144);
    let (train, test) = passengers.split_at(132);
    let automatic = forecast(train, 12, ForecastSettings::default())
        .ready()
        .expect("enough data");
    assert_eq!(automatic.model.period, Some(12), "the yearly season is found");
    assert_eq!(
        automatic.model.seasonality,
        Seasonality::Multiplicative,
        "the growing swing is seen"
    );
    let predicted: Vec<f64> = automatic.points.iter().map(|p| p.value).collect();
    let error = mape(test, &predicted);
    assert!(error <= 2.21, "MAPE {error:.3} % (statsmodels: 2.21 %)");
    let covered = automatic
        .points
        .iter()
        .zip(test)
        .filter(|(p, v)| p.low <= **v && **v <= p.high)
        .count();
    assert!(covered >= 9, "90 % intervals cover {covered} of 12");
}

fn superstore_baskets() -> Vec<Vec<String>> {
    let mut by_order: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for row in fixture("superstore_lines.csv").records() {
        let row = row.unwrap();
        by_order
            .entry(row[0].to_string())
            .or_default()
            .push(row[6].to_string());
    }
    by_order.into_values().collect()
}

#[test]
fn market_basket_on_superstore_finds_exactly_mlxtends_itemsets_and_rules() {
    use analytics::basket::{bought_together, mine, BasketSettings};
    let baskets = superstore_baskets();
    assert_eq!(baskets.len(), 5009);
    let everything = BasketSettings {
        min_support: 0.005,
        min_confidence: 0.0,
        min_lift: 0.0,
        max_len: None,
    };
    let all = mine(&baskets, everything).ready().unwrap();
    assert_eq!(all.itemsets.len(), 138);
    assert_eq!(all.itemsets.iter().filter(|s| s.items.len() == 1).count(), 17);

    // Every rule mlxtend 0.25.0 derives from those itemsets, with the same figures.
    let mut expected: Vec<(String, String, f64, f64, f64)> = fixture("mlxtend_rules.csv")
        .records()
        .map(|row| {
            let row = row.unwrap();
            (
                row[0].to_string(),
                row[1].to_string(),
                row[2].parse().unwrap(),
                row[3].parse().unwrap(),
                row[4].parse().unwrap(),
            )
        })
        .collect();
    let mut ours: Vec<(String, String, f64, f64, f64)> = all
        .rules
        .iter()
        .map(|r| {
            (
                r.antecedent.join("|"),
                r.consequent.join("|"),
                r.support,
                r.confidence,
                r.lift,
            )
        })
        .collect();
    expected.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    ours.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(ours.len(), 390);
    for (o, e) in ours.iter().zip(&expected) {
        assert_eq!((&o.0, &o.1), (&e.0, &e.1));
        for (x, y) in [(o.2, e.2), (o.3, e.3), (o.4, e.4)] {
            assert!((x - y).abs() < 1e-9, "{o:?} vs {e:?}");
        }
    }

    // Positive associations only: mlxtend's `association_rules(metric="lift", min_threshold=1)`
    // keeps 274 here; the 272 quoted in the planning notes are the rules with lift ≥ 1.01
    // (the two left out, Tables ↔ Storage, have lift 1.008).
    let positive = mine(
        &baskets,
        BasketSettings {
            min_lift: 1.0,
            ..everything
        },
    )
    .ready()
    .unwrap();
    assert_eq!(positive.rules.len(), 274);
    let clear = mine(
        &baskets,
        BasketSettings {
            min_lift: 1.01,
            ..everything
        },
    )
    .ready()
    .unwrap();
    assert_eq!(clear.rules.len(), 272);
    let top = &clear.rules[0];
    assert_eq!(
        (top.antecedent.clone(), top.consequent.clone()),
        (
            vec!["Appliances".to_string(), "Storage".to_string()],
            vec!["Binders".to_string()]
        )
    );
    assert!(
        (top.support - 0.006).abs() < 0.0005
            && (top.confidence - 0.536).abs() < 0.0005
            && (top.lift - 2.04).abs() < 0.005
    );

    let with_chairs = bought_together(&clear, "Chairs", 3);
    assert!(!with_chairs.is_empty() && with_chairs.windows(2).all(|w| w[0].lift >= w[1].lift));
}

#[test]
fn churn_on_wa_churn_reaches_scikit_learns_auc_on_a_fixed_split() {
    use analytics::churn::{ChurnModel, Column};
    use analytics::metrics::{auc, is_test_row};
    let mut reader = fixture("wa_churn.csv");
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 7032);
    // The documented split: seed 42, 20 % held out by SplitMix64 per row (README).
    let test: Vec<bool> = (0..rows.len()).map(|i| is_test_row(i, 42, 0.2)).collect();
    let part = |held: bool| -> (Vec<Column>, Vec<bool>) {
        let keep: Vec<&csv::StringRecord> = rows
            .iter()
            .zip(&test)
            .filter(|(_, t)| **t == held)
            .map(|(r, _)| r)
            .collect();
        let labels = keep.iter().map(|r| &r[0] == "Yes").collect();
        let columns = (1..headers.len())
            .map(|j| Column::from_text(&headers[j], keep.iter().map(|r| r[j].to_string()).collect()))
            .collect();
        (columns, labels)
    };
    let (train_columns, train_labels) = part(false);
    let (test_columns, test_labels) = part(true);
    let model = ChurnModel::train(&train_columns, &train_labels)
        .ready()
        .expect("enough of both classes");
    let score = auc(&model.probabilities(&test_columns), &test_labels).unwrap();
    assert!(
        score >= 0.845,
        "AUC {score:.4} on {} held-out customers",
        test_labels.len()
    );
    let explained = model.score(&test_columns);
    assert!(explained
        .iter()
        .filter(|s| s.probability > 0.5)
        .all(|s| !s.reasons.is_empty()));
}
