//! The `sightline` binary as an operator runs it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{closed_port, database_url, free_addr};

fn sightline() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sightline"));
    command
        .env_remove("REDIS_URL")
        .env("SIGHTLINE_LOG_FORMAT", "json")
        .stdout(Stdio::piped()) // logs
        .stderr(Stdio::piped()); // settings errors, before logging starts
    command
}

async fn wait_for_health(address: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(response) = reqwest::get(format!("{address}/health")).await {
            if response.status() == 200 {
                return;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut log = String::new();
            std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut log).ok();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log).ok();
            panic!("sightline exited during start-up with {status}:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("sightline did not become healthy within 60 s");
}

fn wait_for_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("sightline did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `sightline serve` process on a database of its own, healthy.
struct Served {
    child: Child,
    address: String,
    /// The database's name, and how to connect to it.
    database: String,
    options: PgConnectOptions,
}

/// Starts `sightline serve` on a brand-new database (named only by its URL) with `env` set,
/// and waits until it is healthy.
async fn serve_on_a_new_database(admin: &PgConnectOptions, env: &[(&str, &std::ffi::OsStr)]) -> Served {
    let database = format!("sightline_bin_{}", uuid::Uuid::new_v4().simple());
    serve_on(admin, database, env).await
}

/// Starts `sightline serve` on `database` (made if missing) with `env` set, healthy.
async fn serve_on(admin: &PgConnectOptions, database: String, env: &[(&str, &std::ffi::OsStr)]) -> Served {
    let options = admin.clone().database(&database);
    let addr = free_addr();
    let address = format!("http://{addr}");
    let mut child = sightline()
        .arg("serve")
        .env("DATABASE_URL", database_url(&options))
        .env("SIGHTLINE_ADDR", addr.to_string())
        .envs(env.iter().copied())
        .spawn()
        .unwrap();
    wait_for_health(&address, &mut child).await;
    Served {
        child,
        address,
        database,
        options,
    }
}

/// Registers an owner and organization on the server at `address`; answers the session.
async fn register_at(
    client: &reqwest::Client,
    address: &str,
    email: &str,
    organization: &str,
) -> serde_json::Value {
    client
        .post(format!("{address}/api/v1/auth/register"))
        .json(&serde_json::json!({"email": email, "password": crate::helpers::PASSWORD, "organization": organization}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sends SIGTERM, waits for the exit, and drops the database the test made for the process.
async fn stop_and_drop(
    child: &mut Child,
    admin: PgConnectOptions,
    database: &str,
) -> (std::process::ExitStatus, std::process::ExitStatus) {
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let exit = wait_for_exit(child, Duration::from_secs(10));
    let maintenance = PgPoolOptions::new()
        .connect_with(admin.database("postgres"))
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "drop database if exists \"{database}\" with (force)"
    )))
    .execute(&maintenance)
    .await
    .unwrap();
    (terminated, exit)
}

#[sqlx::test(migrations = false)]
async fn serve_prepares_a_brand_new_database_from_only_its_url_and_stops_cleanly_on_sigterm(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let Served {
        mut child,
        address,
        database,
        ..
    } = serve_on_a_new_database(&admin, &[]).await;
    let ready = reqwest::get(format!("{address}/ready")).await.unwrap();
    let ready_status = ready.status();
    let (terminated, exit) = stop_and_drop(&mut child, admin, &database).await;

    assert_eq!(ready_status, 200);
    assert!(terminated.success());
    assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
}

/// Without the model files the server still starts, says the model is degraded, and its
/// worker scores texts with the lexicon scorer.
#[sqlx::test(migrations = false)]
async fn serve_without_the_model_files_scores_texts_with_the_lexicon(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let empty = std::env::temp_dir().join(format!("sightline-no-model-{}", uuid::Uuid::new_v4().simple()));
    let Served {
        mut child,
        address,
        database,
        options,
    } = serve_on_a_new_database(&admin, &[("SIGHTLINE_TEXT_DIR", empty.as_os_str())]).await;

    let client = reqwest::Client::new();
    let ready = client.get(format!("{address}/ready")).send().await.unwrap();
    let ready_status = ready.status();
    let ready: serde_json::Value = ready.json().await.unwrap();
    let session = register_at(&client, &address, "owner@no-model.test", "No model").await;
    let written = client
        .post(format!("{address}/api/v1/interactions"))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .json(
            &serde_json::json!({"external_id": "m1", "customer_external_id": "c1",
            "occurred_at": chrono::Utc::now().to_rfc3339(), "channel": "chat", "event_type": "message",
            "content": "Terrible support, the parcel arrived broken. Awful."}),
        )
        .send()
        .await
        .unwrap()
        .status();
    let db = PgPoolOptions::new().connect_with(options).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let scored = loop {
        let row: Option<(String, String)> = sqlx::query_as("select label, scorer from text_scores")
            .fetch_optional(&db)
            .await
            .unwrap();
        if row.is_some() || Instant::now() > deadline {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    db.close().await;
    let (_, exit) = stop_and_drop(&mut child, admin, &database).await;

    assert_eq!(
        ready_status, 200,
        "a missing model does not make the server unready"
    );
    assert_eq!(
        ready["checks"]["sentiment_model"]["status"], "degraded",
        "{ready}"
    );
    assert!(
        ready["checks"]["sentiment_model"]["detail"]
            .as_str()
            .unwrap()
            .contains("sentiment-encoder.onnx"),
        "the missing file is named: {ready}"
    );
    assert_eq!(written, 201);
    assert_eq!(
        scored,
        Some(("negative".to_owned(), "lexicon".to_owned())),
        "the worker scored the text"
    );
    assert!(exit.success());
}

#[sqlx::test(migrations = false)]
async fn serve_fails_fast_with_a_clear_exit_when_the_database_is_unreachable(
    _: PgPoolOptions,
    _: PgConnectOptions,
) {
    let started = Instant::now();
    let mut child = sightline()
        .arg("serve")
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{}/sightline", closed_port()),
        )
        .env("SIGHTLINE_ADDR", free_addr().to_string())
        .spawn()
        .unwrap();

    let exit = wait_for_exit(&mut child, Duration::from_secs(30));

    assert!(!exit.success());
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_missing_database_url_stops_the_binary_with_the_variable_named() {
    let output = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .arg("migrate")
        .env_remove("DATABASE_URL")
        .current_dir(std::env::temp_dir()) // no .env to pick up
        .output()
        .unwrap();

    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("DATABASE_URL"));
}

#[test]
fn text_sentiment_reads_lines_and_writes_one_json_object_each_without_a_database() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["text", "sentiment", "--scorer", "lexicon"])
        .env_remove("DATABASE_URL")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("I love it, works great!\nArrived broken. Awful support.\n\n".as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let rows: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let labels: Vec<&str> = rows.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(
        labels,
        ["positive", "negative", "neutral"],
        "an empty line is a neutral text"
    );
    for row in &rows {
        let sum: f64 = ["positive", "neutral", "negative"]
            .iter()
            .map(|k| row[k].as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-9);
        assert_eq!(row["scorer"], "lexicon");
        assert_eq!(row["model_version"], "sentiment-lexicon/1");
    }
}

/// `kill -9` of the server while REST batches and a CSV import are being written: every batch
/// is stored whole or not at all, sending the batches again stores each record once, and the
/// import — resumed by the next process once the dead one's lease lapses — ends with exactly
/// the file's rows, none twice.
#[sqlx::test(migrations = false)]
async fn a_server_killed_mid_write_leaves_no_half_batch_and_no_duplicate_after_the_retry(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    const FILE_ROWS: usize = 100_000;
    const BATCHES: usize = 8;
    // A short lease, so the next process resumes the import soon; one signing key for both
    // processes, so the session outlives the first.
    let env = [
        ("SIGHTLINE_JOB_LEASE_SECONDS", std::ffi::OsStr::new("2")),
        (
            "SIGHTLINE_JWT_SECRET",
            std::ffi::OsStr::new("kill-test-secret-0123456789abcdef"),
        ),
    ];
    let Served {
        mut child,
        address,
        database,
        options,
    } = serve_on_a_new_database(&admin, &env).await;
    let client = reqwest::Client::new();
    let session = register_at(&client, &address, "owner@crash.test", "Crash").await;
    let token = session["access_token"].as_str().unwrap().to_owned();

    let mut file = String::from("external_id,customer_external_id,occurred_at,channel,event_type,content\n");
    for n in 0..FILE_ROWS {
        file += &format!(
            "f-{n},c-{},2026-10-{:02}T09:00:00Z,chat,message,row {n}\n",
            n % 500,
            n % 28 + 1
        );
    }
    let upload: serde_json::Value = client
        .post(format!("{address}/api/v1/imports?entity=interactions"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(file)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let import_id = upload["import_id"].as_str().unwrap().to_owned();
    let progress = |client: reqwest::Client, address: String| {
        let (token, import_id) = (token.clone(), import_id.clone());
        async move {
            client
                .get(format!("{address}/api/v1/imports/{import_id}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    // Once the import has committed some of its batches, REST batches start; the kill comes
    // while they and the import are being written.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = progress(client.clone(), address.clone()).await;
        if status["rows_done"].as_i64().unwrap_or(0) > 0 {
            assert_eq!(
                status["status"], "running",
                "the file is long enough to be cut: {status}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the import never started: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let batch = |k: usize| {
        let records: Vec<serde_json::Value> = (0..1_000)
            .map(|n| serde_json::json!({ "external_id": format!("b{k}-{n}"), "customer_external_id": format!("c-{}", n % 300),
                "occurred_at": "2026-10-15T10:00:00Z", "channel": "web", "event_type": "page_view" }))
            .collect();
        serde_json::json!({ "records": records })
    };
    // The kill comes as soon as the first batch is answered, with the others still in flight.
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sends: Vec<_> = (0..BATCHES)
        .map(|k| {
            let request = client
                .post(format!("{address}/api/v1/interactions/batch"))
                .bearer_auth(&token)
                .json(&batch(k));
            let answered = answered.clone();
            tokio::spawn(async move {
                if let Ok(201) = request.send().await.map(|r| r.status().as_u16()) {
                    answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered.load(std::sync::atomic::Ordering::SeqCst) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL: no shutdown, no rollback but PostgreSQL's own
    child.wait().unwrap();
    for send in sends {
        send.await.unwrap();
    }
    let answered = answered.load(std::sync::atomic::Ordering::SeqCst);
    assert!(answered >= 1, "a batch was answered before the kill");

    let db = PgPoolOptions::new().connect_with(options.clone()).await.unwrap();
    // Every REST batch the dead process committed holds all its records; the rest left nothing.
    let batch_sizes: Vec<i64> = sqlx::query_scalar(
        "select count(i.external_id) from import_batches b left join interactions i on i.batch_id = b.id
         where b.source = 'rest' group by b.id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(batch_sizes.iter().all(|n| *n == 1_000), "{batch_sizes:?}");
    assert!(batch_sizes.len() >= answered, "every answered batch is stored");
    // The import's committed rows are exactly the counts it committed with them.
    let (counted, stored): (i64, i64) = sqlx::query_as(
        "select (select rows_accepted from import_batches where source = 'csv'),
                (select count(*) from interactions where external_id like 'f-%')",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(counted, stored, "the import's counts match its rows at the kill");
    assert!(stored < FILE_ROWS as i64, "the kill came before the import's end");
    println!(
        "killed with {} of {BATCHES} batches stored ({answered} answered) and {stored} of {FILE_ROWS} file rows",
        batch_sizes.len()
    );

    // The next process: the batches sent again, the import resumed.
    let Served {
        child: mut second,
        address,
        ..
    } = serve_on(&admin, database.clone(), &env).await;
    for k in 0..BATCHES {
        let status = client
            .post(format!("{address}/api/v1/interactions/batch"))
            .bearer_auth(&token)
            .json(&batch(k))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 201);
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    let finished = loop {
        let status = progress(client.clone(), address.clone()).await;
        if status["status"] == "succeeded" || status["status"] == "failed" || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(finished["rows_accepted"], FILE_ROWS as i64, "{finished}");
    let (rows, distinct, from_batches): (i64, i64, i64) = sqlx::query_as(
        "select count(*), count(distinct external_id), count(*) filter (where external_id like 'b%') from interactions",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(rows, distinct, "no record is stored twice");
    assert_eq!(rows, (FILE_ROWS + BATCHES * 1_000) as i64);
    assert_eq!(from_batches, (BATCHES * 1_000) as i64);
    let interaction_count: i64 = sqlx::query_scalar("select sum(interaction_count)::int8 from customers")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        interaction_count, rows,
        "customer aggregates count each record once"
    );
    db.close().await;
    let (_, exit) = stop_and_drop(&mut second, admin, &database).await;
    assert!(exit.success());
}
