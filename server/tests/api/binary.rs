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
    let session: serde_json::Value = client
        .post(format!("{address}/api/v1/auth/register"))
        .json(&serde_json::json!({"email": "owner@no-model.test", "password": crate::helpers::PASSWORD, "organization": "No model"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
