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
            (row[0].parse().unwrap(), row[1].parse().unwrap(), row[2].parse().unwrap(), row[3].parse().unwrap())
        })
        .collect();
    assert_eq!(built.len(), packaged.len());
    let round = |v: f64| (v * 100.0).round() / 100.0;
    for ((id, s), (pid, frequency, recency, age)) in built.iter().zip(&packaged) {
        assert_eq!((id, s.frequency, round(s.recency), round(s.age)), (pid, *frequency, *recency, *age));
    }
}

#[test]
fn bgnbd_on_cdnow_reproduces_fader_hardie_lee_2005() {
    let customers: Vec<CustomerSummary> =
        summarize(&cdnow_transactions(), cdnow_calibration_end(), TimeUnit::Week).into_iter().map(|(_, s)| s).collect();
    let fit = BgNbd::fit(&customers).ready().expect("enough data");
    let p = fit.params;
    assert!(within(p.r, 0.243, 0.005), "r = {}", p.r);
    assert!(within(p.alpha, 4.414, 0.005), "alpha = {}", p.alpha);
    assert!(within(p.a, 0.793, 0.005), "a = {}", p.a);
    assert!(within(p.b, 2.426, 0.005), "b = {}", p.b);
    assert!((fit.log_likelihood - -9582.4).abs() <= 0.5, "log-likelihood = {}", fit.log_likelihood);
    assert!(!fit.regularised);
    let errors = fit.standard_errors.expect("curved likelihood");
    assert!(errors.iter().all(|e| e.is_finite() && *e > 0.0));
}

#[test]
fn gamma_gamma_on_cdnow_repeat_buyers_reproduces_the_published_figures() {
    let customers: Vec<CustomerSummary> =
        summarize(&cdnow_transactions(), cdnow_calibration_end(), TimeUnit::Week).into_iter().map(|(_, s)| s).collect();
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
    let passengers: Vec<f64> = fixture("AirPassengers.csv").records().map(|row| row.unwrap()[1].parse().unwrap()).collect();
    assert_eq!(passengers.len(), 144);
    let (train, test) = passengers.split_at(132);
    let automatic = forecast(train, 12, ForecastSettings::default()).ready().expect("enough data");
    assert_eq!(automatic.model.period, Some(12), "the yearly season is found");
    assert_eq!(automatic.model.seasonality, Seasonality::Multiplicative, "the growing swing is seen");
    let predicted: Vec<f64> = automatic.points.iter().map(|p| p.value).collect();
    let error = mape(test, &predicted);
    assert!(error <= 2.21, "MAPE {error:.3} % (statsmodels: 2.21 %)");
    let covered = automatic.points.iter().zip(test).filter(|(p, v)| p.low <= **v && **v <= p.high).count();
    assert!(covered >= 9, "90 % intervals cover {covered} of 12");
}
