//! Dashboard and live-update benchmark (issue: live dashboard). Against a running server whose
//! database holds a generated organization (`scripts/bench-dashboard.sh` seeds it):
//!
//! 1. every dashboard request (`GET /api/v1/dashboard`, 30 and 365 days) over HTTP, p50/p95,
//!    next to the same figures computed from the raw tables in SQL in the same run;
//! 2. the time from an API write to its event arriving at connected browsers (server-sent
//!    events), with 1 and with 1,000 clients connected, p50/p99;
//! 3. the server's memory per connected client, with 5,000 clients.
//!
//!   BENCH_URL=http://127.0.0.1:3000 BENCH_DATABASE_URL=postgres://… BENCH_SERVER_PID=… \
//!     cargo run --release -p server --example bench_dashboard

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 0.5), percentile(&ms, 0.95), percentile(&ms, 0.99))
}

/// The raw-table equivalents of the dashboard's range queries, for `days` ending today and the
/// customers of segment $3 (all when null).
const RAW: [(&str, &str); 4] = [
    (
        "revenue and orders",
        "select coalesce(sum(total), 0)::float8, count(*)::float8 from orders
         where org_id = $1 and status not in ('refunded', 'cancelled')
           and ordered_at >= (now() at time zone 'UTC')::date - $2
           and ($3::text is null or customer_id in (select customer_id from customer_scores
                                                    where org_id = $1 and segment = $3))",
    ),
    (
        "interactions per day and channel",
        "select count(*)::float8, 0::float8 from (
             select (occurred_at at time zone 'UTC')::date, channel, count(*) from interactions
             where org_id = $1 and occurred_at >= (now() at time zone 'UTC')::date - $2
               and ($3::text is null or customer_id in (select customer_id from customer_scores
                                                        where org_id = $1 and segment = $3))
             group by 1, 2) x",
    ),
    (
        "active customers",
        "select count(distinct customer_id)::float8, 0::float8 from (
             select customer_id from interactions where org_id = $1 and occurred_at >= (now() at time zone 'UTC')::date - $2
             union all
             select customer_id from orders where org_id = $1 and ordered_at >= (now() at time zone 'UTC')::date - $2) x
         where $3::text is null or customer_id in (select customer_id from customer_scores
                                                   where org_id = $1 and segment = $3)",
    ),
    (
        "average sentiment",
        "select coalesce(avg(positive - negative), 0)::float8, count(*)::float8 from text_scores
         where org_id = $1 and written_at >= (now() at time zone 'UTC')::date - $2
           and ($3::text is null or customer_id in (select customer_id from customer_scores
                                                    where org_id = $1 and segment = $3))",
    ),
];

/// The counted orders' lines in product category $3 of the `$2` days ending today, as
/// `from … where …` over `o`, `l` and `p`: an order belongs to a category through its lines.
macro_rules! category_lines {
    () => {
        " from orders o
         join order_lines l on l.org_id = o.org_id and l.order_id = o.id
         join products p on p.org_id = l.org_id and p.id = l.product_id
         where o.org_id = $1 and p.category = $3 and o.status not in ('refunded', 'cancelled')
           and o.ordered_at >= (now() at time zone 'UTC')::date - $2"
    };
}

/// The same questions for product category $3's orders and its products' reviews, from the
/// raw tables.
const RAW_CATEGORY: [(&str, &str); 4] = [
    (
        "category revenue and orders",
        concat!(
            "select coalesce(sum(l.quantity * l.unit_price), 0)::float8, count(distinct o.id)::float8",
            category_lines!()
        ),
    ),
    (
        "category orders per day and channel",
        concat!(
            "select count(*)::float8, 0::float8 from (
                 select (o.ordered_at at time zone 'UTC')::date, o.channel, count(distinct o.id)",
            category_lines!(),
            " group by 1, 2) x"
        ),
    ),
    (
        "category buyers",
        concat!(
            "select count(distinct o.customer_id)::float8, 0::float8",
            category_lines!()
        ),
    ),
    (
        "category reviews' sentiment",
        "select coalesce(avg(t.positive - t.negative), 0)::float8, count(*)::float8
         from text_scores t
         join reviews r on r.org_id = t.org_id and r.id = t.subject_id
         join products p on p.org_id = r.org_id and p.id = r.product_id
         where t.org_id = $1 and t.subject = 'review' and p.category = $3
           and t.written_at >= (now() at time zone 'UTC')::date - $2",
    ),
];

/// One dashboard request, read to its end.
async fn fetch_dashboard(client: &reqwest::Client, base: &str, token: &str, days: i32, filter: &str) {
    let response = client
        .get(format!("{base}/api/v1/dashboard?days={days}{filter}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();
}

#[tokio::main]
async fn main() {
    let base = env("BENCH_URL");
    let db = PgPoolOptions::new()
        .max_connections(2)
        .connect(&env("BENCH_DATABASE_URL"))
        .await
        .unwrap();
    let requests: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": "demo@sightline.local", "password": "demo-insights-2026", "organization": "demo" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"]
        .as_str()
        .expect("the demo login works")
        .to_owned();
    let org: uuid::Uuid = sqlx::query_scalar("select id from organizations where slug = 'demo'")
        .fetch_one(&db)
        .await
        .unwrap();
    // One cold measurement (the script restarted Postgres and dropped the page cache first):
    // `dashboard:<days>` or `raw:<days>`, printed as milliseconds alone.
    if let Ok(step) = std::env::var("BENCH_COLD_STEP") {
        let (what, days) = step.split_once(':').expect("BENCH_COLD_STEP is what:days");
        let days: i32 = days.parse().expect("days is a number");
        let started = Instant::now();
        if what == "dashboard" {
            fetch_dashboard(&client, &base, &token, days, "").await;
        } else {
            for (_, sql) in RAW {
                let _: (f64, f64) = sqlx::query_as(sql)
                    .bind(org)
                    .bind(days)
                    .bind(None::<&str>)
                    .fetch_one(&db)
                    .await
                    .unwrap();
            }
        }
        println!("{:.1}", started.elapsed().as_secs_f64() * 1000.0);
        return;
    }
    // The demo's scoring run (queued by the generator) starts with the server and moves most
    // customers to new segments; measure once it and the folder are done, not against them.
    let settling = Instant::now();
    loop {
        let pending: i64 = sqlx::query_scalar(
            "select (select count(*) from jobs) + (select count(*) from segment_moves)
                  + (select count(*) from rollup_deltas) + (select count(*) from category_deltas)",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        if pending == 0 || settling.elapsed() > Duration::from_secs(900) {
            println!(
                "waited {:.1} s for the scoring run and the folder ({pending} left)",
                settling.elapsed().as_secs_f64()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (interactions, size): (i64, String) = sqlx::query_as(
        "select (select count(*) from interactions),
                (select pg_size_pretty(sum(pg_total_relation_size(t::regclass)))
                 from unnest(array['daily_rollups', 'customer_days', 'active_gaps', 'segment_days', 'segment_gaps',
                                   'score_cells', 'order_categories', 'category_days', 'category_gaps',
                                   'category_score_cells']) as t)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let data_size: String = sqlx::query_scalar(
        "select pg_size_pretty(sum(pg_total_relation_size(c.oid))) from pg_class c
         where c.relkind in ('r', 'p') and c.relname in (select relname from pg_class where relname like 'interactions%'
               or relname in ('orders', 'order_lines', 'text_scores', 'customers', 'reviews'))",
    )
    .fetch_one(&db)
    .await
    .unwrap_or_default();
    println!("\n{interactions} interactions; raw tables {data_size}; rollups {size}\n");

    println!("| request | range | first (ms) | p50 (ms) | p95 (ms) | raw SQL p50 (ms) | raw SQL p95 (ms) | p50 raw ÷ dashboard |");
    println!("|---|---|---|---|---|---|---|---|");
    // The segment filter reads the segment's rollups (migration 0021), the category filter the
    // category's (0025).
    let views = [
        (30, ""),
        (365, ""),
        (30, "&segment=champions"),
        (365, "&segment=champions"),
        (30, "&category=Apparel"),
        (365, "&category=Apparel"),
    ];
    for (days, filter) in views {
        let mut times = Vec::new();
        for _ in 0..requests {
            let started = Instant::now();
            fetch_dashboard(&client, &base, &token, days, filter).await;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let first = times[0];
        let (p50, p95, _) = summary(times);
        // The raw equivalent: the same questions, one after the other, as one request would.
        let (questions, chosen) = match filter.strip_prefix("&category=") {
            Some(category) => (RAW_CATEGORY, Some(category)),
            None => (RAW, filter.strip_prefix("&segment=")),
        };
        let mut raw = Vec::new();
        for _ in 0..requests.min(10) {
            let started = Instant::now();
            for (_, sql) in questions {
                let _: (f64, f64) = sqlx::query_as(sql)
                    .bind(org)
                    .bind(days)
                    .bind(chosen)
                    .fetch_one(&db)
                    .await
                    .unwrap();
            }
            raw.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let (raw50, raw95, _) = summary(raw);
        println!(
            "| GET /api/v1/dashboard{filter} | {days} days | {first:.1} | {p50:.1} | {p95:.1} | {raw50:.1} | {raw95:.1} | {:.1}× |",
            raw50 / p50
        );
    }
    // Each raw question alone, 365 days, to show where raw time goes.
    let each = RAW
        .iter()
        .map(|q| (q, None))
        .chain(RAW_CATEGORY.iter().map(|q| (q, Some("Apparel"))));
    for ((name, sql), chosen) in each {
        let started = Instant::now();
        let _: (f64, f64) = sqlx::query_as(*sql)
            .bind(org)
            .bind(365)
            .bind(chosen)
            .fetch_one(&db)
            .await
            .unwrap();
        println!(
            "raw {name}, 365 days: {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }

    println!(
        "\n| clients connected | writes | write answered p50 (ms) | event at client p50 (ms) | p99 (ms) |"
    );
    println!("|---|---|---|---|---|");
    for clients in [1usize, 1000] {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (client, base, token, tx) = (client.clone(), base.clone(), token.clone(), tx.clone());
            tasks.push(tokio::spawn(async move {
                let mut response = client
                    .get(format!("{base}/api/v1/events"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                let mut buffer = String::new();
                while let Ok(Some(chunk)) = response.chunk().await {
                    buffer.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(end) = buffer.find("\n\n") {
                        let frame: String = buffer.drain(..end + 2).collect();
                        if frame.contains("event: events") && frame.contains("interactions_created") {
                            let _ = tx.send(Instant::now());
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500 + clients as u64)).await;
        let (mut answered, mut arrived) = (Vec::new(), Vec::new());
        let writes = 20;
        for n in 0..writes {
            let started = Instant::now();
            let record = json!({ "external_id": format!("bench-live-{clients}-{n}"), "customer_external_id": "bench-live",
                "occurred_at": chrono::Utc::now().to_rfc3339(), "channel": "web", "event_type": "view",
                "metadata": { "kind": "bench-live" } });
            let response = client
                .post(format!("{base}/api/v1/interactions/batch"))
                .bearer_auth(&token)
                .json(&json!({ "records": [record] }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
            answered.push(started.elapsed().as_secs_f64() * 1000.0);
            let mut got = 0;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while got < clients {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(at)) => {
                        arrived.push((at - started).as_secs_f64() * 1000.0);
                        got += 1;
                    }
                    _ => break,
                }
            }
            // The next write after the batching gap, so each is its own message.
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        for task in tasks {
            task.abort();
        }
        let received = arrived.len();
        let (w50, _, _) = summary(answered);
        let (a50, _, a99) = summary(arrived);
        println!(
            "| {clients} | {writes} ({received} deliveries of {}) | {w50:.1} | {a50:.1} | {a99:.1} |",
            writes * clients
        );
    }

    if let Ok(pid) = std::env::var("BENCH_SERVER_PID") {
        let rss = || {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("VmRSS:"))
                        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
                })
                .unwrap_or(0.0)
        };
        let clients: usize = std::env::var("BENCH_CAPACITY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5000);
        let before = rss();
        let mut tasks = Vec::new();
        let opened = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for _ in 0..clients {
            let (client, base, token, opened) = (client.clone(), base.clone(), token.clone(), opened.clone());
            tasks.push(tokio::spawn(async move {
                if let Ok(mut response) = client
                    .get(format!("{base}/api/v1/events"))
                    .bearer_auth(&token)
                    .send()
                    .await
                {
                    if response.status() == 200 {
                        opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        while let Ok(Some(_)) = response.chunk().await {}
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        let after = rss();
        let open = opened.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "\n{open} of {clients} clients connected at once; server memory {:.0} MB → {:.0} MB: {:.1} KB per client",
            before / 1024.0,
            after / 1024.0,
            (after - before) / open.max(1) as f64
        );
        for task in tasks {
            task.abort();
        }
    }
    let _ = db_close(db).await;
}

async fn db_close(db: PgPool) {
    db.close().await;
}
