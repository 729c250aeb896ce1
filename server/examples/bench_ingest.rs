//! Ingest benchmark (issue: ingestion): loads the same N synthetic interactions three ways on
//! one fresh database and prints rows/s for each — `COPY` into the interactions table (the
//! baseline, as the database owner would), the batch REST API over HTTP with several
//! concurrent clients, and a CSV import (upload + background job) — then imports N order lines
//! as CSV into four new organizations: with the triggers that keep each order's categories off
//! (the baseline), on, on and off. Each load is timed twice: to its last row committed, and to the
//! dashboard's rollups holding it (the writes log their rollup changes; a folder applies them
//! after commit). Run it with `scripts/bench-ingest.sh`.
//!
//!   BENCH_ROWS=1000000 BENCH_CLIENTS=4 cargo run --release -p server --example bench_ingest

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

const WORDS: &[&str] = &[
    "parcel", "late", "delivery", "great", "quality", "price", "refund", "support", "size", "colour",
    "arrived", "broken", "love", "fast", "slow", "order", "again", "thanks", "help", "where", "is", "my",
    "the", "very",
];

/// A small deterministic generator (xorshift), so every run loads the same rows.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Row {
    external_id: String,
    customer: String,
    occurred_at: DateTime<Utc>,
    channel: &'static str,
    content: Option<String>,
}

fn rows(n: usize, prefix: &str) -> Vec<Row> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap();
    let customers = (n / 20).max(1) as u64;
    (0..n)
        .map(|i| {
            let channel = ["web", "mobile", "email", "chat", "phone"][rng.below(5) as usize];
            let content = (channel != "web" && channel != "mobile").then(|| {
                let words = 10 + rng.below(30);
                (0..words)
                    .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            Row {
                external_id: format!("{prefix}-{i}"),
                customer: format!("cust-{}", rng.below(customers)),
                occurred_at: start + chrono::Duration::seconds(rng.below(330 * 24 * 3600) as i64),
                channel,
                content,
            }
        })
        .collect()
}

fn record(row: &Row) -> Value {
    let mut value = json!({
        "external_id": row.external_id, "customer_external_id": row.customer,
        "occurred_at": row.occurred_at.to_rfc3339(), "channel": row.channel, "event_type": "message",
        "metadata": { "source": "bench" },
    });
    if let Some(content) = &row.content {
        value["content"] = json!(content);
    }
    value
}

/// Sends `request` and reads the JSON answer (the benchmark stops on any failure).
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Uploads `file` as a CSV import of `entity` and waits for the job to finish; answers the time
/// from the first byte sent to the import's end, and the upload's share of it.
async fn import(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    entity: &str,
    file: String,
) -> (Duration, Duration) {
    let started = Instant::now();
    let response: Value = json_of(
        http.post(format!("{base}/api/v1/imports?entity={entity}"))
            .bearer_auth(key)
            .header("content-type", "text/csv")
            .body(file),
    )
    .await;
    let uploaded = started.elapsed();
    let id = response["import_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{response}"))
        .to_owned();
    loop {
        let status: Value = json_of(http.get(format!("{base}/api/v1/imports/{id}")).bearer_auth(key)).await;
        match status["status"].as_str() {
            Some("succeeded") => {
                assert_eq!(status["rows_rejected"], 0, "{status}");
                return (started.elapsed(), uploaded);
            }
            Some("failed") => panic!("the import failed: {status}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Folds what the organization's writes logged, as the dashboard's next read would: from then
/// on its rollups hold every row loaded so far.
async fn fold_rollups(admin: &mut PgConnection, org: Uuid) {
    app::backend::rollups::fold_on(admin, org).await.unwrap();
}

/// Registers an organization and makes it an ingest key through the API, as a merchant would;
/// answers the key and the organization.
async fn merchant(http: &reqwest::Client, base: &str, email: &str, organization: &str) -> (String, Uuid) {
    let session: Value = json_of(http.post(format!("{base}/api/v1/auth/register")).json(
        &json!({ "email": email, "password": "a long and unusual passphrase", "organization": organization }),
    ))
    .await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let key: Value = json_of(
        http.post(format!("{base}/api/v1/api-keys"))
            .bearer_auth(&token)
            .json(&json!({ "name": "bench", "scopes": ["ingest", "read"] })),
    )
    .await;
    let org = session["organization"]["id"].as_str().unwrap().parse().unwrap();
    (key["key"].as_str().unwrap().to_owned(), org)
}

/// Gives the organization the 500 products the order lines name, each in one of ten
/// categories, so every line counts in the category view's table (migration 0023).
async fn categorized_products(admin: &mut PgConnection, org: Uuid) {
    sqlx::query(
        "insert into products (org_id, sku, normalized_sku, name, category)
         select $1, 'SKU-' || g, 'SKU' || g, 'Product ' || g, 'Category ' || g % 10 from generate_series(0, 499) g",
    )
    .bind(org)
    .execute(&mut *admin)
    .await
    .unwrap();
}

/// Registers organization `name` with categorized products and imports `orders` (CSV) into it;
/// answers the time to the last row accepted, to the rollups holding it, and the organization.
async fn orders_import(
    http: &reqwest::Client,
    base: &str,
    admin: &mut PgConnection,
    name: &str,
    orders: String,
) -> (Duration, Duration, Uuid) {
    let email = format!("{}@example.com", name.to_lowercase().replace([' ', ','], ""));
    let (key, org) = merchant(http, base, &email, name).await;
    categorized_products(admin, org).await;
    let started = Instant::now();
    let (accepted, _) = import(http, base, &key, "orders", orders).await;
    fold_rollups(admin, org).await;
    (accepted, started.elapsed(), org)
}

/// Turns the triggers that keep `order_categories` off or on, for the baseline import.
async fn category_triggers(admin: &mut PgConnection, on: bool) {
    let statements = if on {
        [
            "alter table order_lines enable trigger order_lines_categories_inserted",
            "alter table orders enable trigger orders_categories_updated",
        ]
    } else {
        [
            "alter table order_lines disable trigger order_lines_categories_inserted",
            "alter table orders disable trigger orders_categories_updated",
        ]
    };
    for statement in statements {
        sqlx::query(statement).execute(&mut *admin).await.unwrap();
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let n = env("BENCH_ROWS", 200_000);
    let clients = env("BENCH_CLIENTS", 4);
    let base = std::env::var("BENCH_URL").expect("BENCH_URL: the server to load");
    let admin_url =
        std::env::var("BENCH_DATABASE_URL").expect("BENCH_DATABASE_URL: superuser URL of its database");
    let http = reqwest::Client::new();

    let (key, bench_org) = merchant(&http, &base, "bench@example.com", "Bench").await;

    // Baseline: COPY into a second organization, customers made first (untimed).
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    let baseline_org: Uuid =
        sqlx::query_scalar("insert into organizations (slug, name) values ('copy', 'Copy') returning id")
            .fetch_one(&mut admin)
            .await
            .unwrap();
    let copy_rows = rows(n, "copy");
    sqlx::query(
        "insert into customers (org_id, external_id) select $1, 'cust-' || g from generate_series(0, $2) g",
    )
    .bind(baseline_org)
    .bind((n / 20).max(1) as i64)
    .execute(&mut admin)
    .await
    .unwrap();
    let customer_ids: std::collections::HashMap<String, Uuid> =
        sqlx::query_as::<_, (String, Uuid)>("select external_id, id from customers where org_id = $1")
            .bind(baseline_org)
            .fetch_all(&mut admin)
            .await
            .unwrap()
            .into_iter()
            .collect();
    for month in 0..12 {
        sqlx::query("select ensure_interactions_partition($1)")
            .bind(Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap() + chrono::Months::new(month))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let mut text = String::with_capacity(n * 200);
    for row in &copy_rows {
        use std::fmt::Write;
        let content = row.content.as_deref().unwrap_or("\\N");
        writeln!(
            text,
            "{baseline_org}\t{}\t{}\t{}\t{}\t{}\tmessage\t{content}\t{{\"source\": \"bench\"}}",
            Uuid::new_v4(),
            customer_ids[&row.customer],
            row.external_id,
            row.occurred_at.to_rfc3339(),
            row.channel
        )
        .unwrap();
    }
    let started = Instant::now();
    let mut copy = admin
        .copy_in_raw(
            "copy interactions (org_id, id, customer_id, external_id, occurred_at, channel, event_type, content, metadata) from stdin",
        )
        .await
        .unwrap();
    copy.send(text.into_bytes()).await.unwrap();
    copy.finish().await.unwrap();
    let copy_accepted = started.elapsed();
    fold_rollups(&mut admin, baseline_org).await;
    let copy_time = started.elapsed();

    // Ours: the batch API, `clients` requests in flight, 1,000 records each.
    let api_rows = rows(n, "api");
    let bodies: Vec<String> = api_rows
        .chunks(1_000)
        .map(|chunk| json!({ "records": chunk.iter().map(record).collect::<Vec<_>>() }).to_string())
        .collect();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(bodies));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (queue, http, key, base) = (queue.clone(), http.clone(), key.clone(), base.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let Some(body) = queue.lock().unwrap().pop() else {
                    break;
                };
                let sent = Instant::now();
                let response = http
                    .post(format!("{base}/api/v1/interactions/batch"))
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let api_accepted = started.elapsed();
    fold_rollups(&mut admin, bench_org).await;
    let api_time = started.elapsed();
    latencies.sort();
    // CSV: the same rows as a file, uploaded and imported by the server's job worker.
    let csv_rows = rows(n, "csv");
    let mut file =
        String::from("external_id,customer_external_id,occurred_at,channel,event_type,content,metadata\n");
    for row in &csv_rows {
        use std::fmt::Write;
        let content = row.content.as_deref().unwrap_or("");
        writeln!(
            file,
            "{},{},{},{},message,{content},\"{{\"\"source\"\": \"\"bench\"\"}}\"",
            row.external_id,
            row.customer,
            row.occurred_at.to_rfc3339(),
            row.channel
        )
        .unwrap();
    }
    let started = Instant::now();
    let (csv_accepted, upload_time) = import(&http, &base, &key, "interactions", file).await;
    fold_rollups(&mut admin, bench_org).await;
    let csv_time = started.elapsed();

    // Orders as CSV, one row per line: N lines over N/3 orders.
    let mut orders = String::from("external_id,customer_external_id,ordered_at,currency,total,country,channel,sku,quantity,unit_price\n");
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    let start = Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap();
    let mut line = 0;
    let mut order = 0;
    while line < n {
        let lines = (1 + rng.below(5) as usize).min(n - line);
        let at = (start + chrono::Duration::seconds(rng.below(330 * 24 * 3600) as i64)).to_rfc3339();
        let customer = rng.below((n / 20).max(1) as u64);
        let items: Vec<(u64, u64, u64)> = (0..lines)
            .map(|_| (rng.below(500), 1 + rng.below(3), 5 + rng.below(95)))
            .collect();
        let total: u64 = items.iter().map(|(_, q, p)| q * p).sum();
        for (sku, quantity, price) in items {
            use std::fmt::Write;
            writeln!(
                orders,
                "o-{order},cust-{customer},{at},EUR,{total}.00,DE,web,SKU-{sku},{quantity},{price}.00"
            )
            .unwrap();
        }
        line += lines;
        order += 1;
    }
    // The order lines into four new organizations alike, none holding the interactions loaded
    // above: with the triggers that keep the orders' categories off (the baseline: what writing
    // them cost before migration 0023), on, on and off again, so that a database growing over
    // the run weighs on both sides alike; each side's figure is its two imports' mean.
    // Per side (categories not kept, kept): the mean time to the last row accepted and to
    // the rollups holding it.
    let mut means = [(Duration::ZERO, Duration::ZERO); 2];
    let mut categorized_orgs = Vec::new();
    let mut rounds = Vec::new();
    for (round, kept) in [false, true, true, false].into_iter().enumerate() {
        category_triggers(&mut admin, kept).await;
        let name = format!(
            "Orders {round}, categories {}",
            if kept { "kept" } else { "not kept" }
        );
        let (accepted, time, org) = orders_import(&http, &base, &mut admin, &name, orders.clone()).await;
        rounds.push(format!(
            "{} {:.1} s",
            if kept { "on" } else { "off" },
            time.as_secs_f64()
        ));
        means[kept as usize].0 += accepted / 2;
        means[kept as usize].1 += time / 2;
        if kept {
            categorized_orgs.push(org);
        }
    }
    category_triggers(&mut admin, true).await;
    let [(uncategorized_accepted, uncategorized_time), (orders_accepted, orders_time)] = means;
    let kept: Vec<(Uuid, i64)> =
        sqlx::query_as("select org_id, count(*) from order_categories group by org_id order by 1")
            .fetch_all(&mut admin)
            .await
            .unwrap();
    categorized_orgs.sort();
    assert!(
        kept.iter().map(|k| k.0).eq(categorized_orgs.iter().copied())
            && kept.iter().all(|k| k.1 >= order as i64),
        "the categories are kept for ours alone, every order in at least one: {kept:?}"
    );

    let stored: i64 = sqlx::query_scalar("select count(*) from interactions")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(stored as usize, 3 * n, "every row of the three loads is stored");
    let stored_lines: i64 = sqlx::query_scalar("select count(*) from order_lines")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(
        stored_lines as usize,
        4 * n,
        "every order line of the four imports is stored"
    );
    let pool = PgPoolOptions::new().connect(&admin_url).await.unwrap();
    let size: String = sqlx::query_scalar(
        "select pg_size_pretty(sum(pg_total_relation_size(c.oid))) from pg_class c
         where c.relname like 'interactions%' and c.relkind = 'r'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();

    let rate = |time: Duration| n as f64 / time.as_secs_f64();
    let copy_rate = rate(copy_time);
    let p = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_millis();
    println!();
    println!(
        "Ingest benchmark: {n} interactions each way, {} cores, {clients} API clients",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("Accepted: the load's last row committed. Rollups current: also folded into the dashboard's rollups, as its next read would; the ratio compares these.");
    println!();
    println!("| load | rows/s accepted | rows/s rollups current | vs its baseline |");
    println!("|---|---|---|---|");
    println!(
        "| COPY into interactions (baseline, superuser, customers pre-made) | {:.0} | {copy_rate:.0} | 1.00 |",
        rate(copy_accepted)
    );
    println!(
        "| batch REST API, 1,000 records/request (validation, customers on first sight, idempotency keys, aggregates, scoring queue, lineage) | {:.0} | {:.0} | {:.2} |",
        rate(api_accepted),
        rate(api_time),
        rate(api_time) / copy_rate
    );
    println!(
        "| CSV import of the same rows (upload {:.1} s + background job; same write path) | {:.0} | {:.0} | {:.2} |",
        upload_time.as_secs_f64(),
        rate(csv_accepted),
        rate(csv_time),
        rate(csv_time) / copy_rate
    );
    println!(
        "| CSV import of {n} order lines ({order} orders), upload to last row, in lines/s, categories not kept (triggers of 0023 off, so 0025's log nothing; baseline; mean of 2) | {:.0} ({:.1} s) | {:.0} ({:.1} s) | — |",
        rate(uncategorized_accepted),
        uncategorized_accepted.as_secs_f64(),
        rate(uncategorized_time),
        uncategorized_time.as_secs_f64()
    );
    println!(
        "| the same, each order's revenue per category kept by 0023's triggers and folded into the categories' rollups (0025; ours; mean of 2) | {:.0} ({:.1} s) | {:.0} ({:.1} s) | {:.2} of the baseline |",
        rate(orders_accepted),
        orders_accepted.as_secs_f64(),
        rate(orders_time),
        orders_time.as_secs_f64(),
        rate(orders_time) / rate(uncategorized_time)
    );
    println!();
    println!(
        "Order imports in the order run, categories kept or not, to the rollups holding them: {}.",
        rounds.join(", ")
    );
    println!("Batch request latency: p50 {} ms, p95 {} ms, p99 {} ms. Interactions on disk (both loads, with indexes): {size}.", p(0.5), p(0.95), p(0.99));
}
