//! Live events over server-sent events (SPEC UI-3): a write reaches the connected browsers of
//! its organization and no other; a browser needs to be signed in; one that reconnects gets
//! exactly what it missed, once; one too far behind, or resuming from an id it cannot have
//! seen, is told to reload.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use crate::helpers::{register, send, TestApp};

/// One open event stream, read frame by frame.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

/// One server-sent message.
#[derive(Debug)]
struct Message {
    event: String,
    id: Option<i64>,
    data: Value,
}

async fn connect(app: &TestApp, token: &str, last_id: Option<i64>) -> Stream {
    let mut request = app
        .client
        .get(format!("{}/api/v1/events", app.address))
        .bearer_auth(token);
    if let Some(id) = last_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    Stream {
        response,
        buffer: String::new(),
    }
}

impl Stream {
    /// The next message within `wait`, skipping keep-alive comments; `None` if none came.
    async fn next(&mut self, wait: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), None, String::new());
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if !event.is_empty() {
                    return Some(Message {
                        event,
                        id,
                        data: serde_json::from_str(&data).unwrap_or(Value::Null),
                    });
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

fn interactions(prefix: &str, n: usize) -> Value {
    let records: Vec<Value> = (0..n)
        .map(|i| {
            json!({ "external_id": format!("{prefix}-{i}"), "customer_external_id": format!("c{}", i % 3),
                         "occurred_at": "2026-10-01T09:00:00Z", "channel": "web", "event_type": "view" })
        })
        .collect();
    json!({ "records": records })
}

/// The ids of the events of `message`.
fn ids(message: &Message) -> Vec<i64> {
    message
        .data
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect()
}

#[sqlx::test(migrations = false)]
async fn a_write_reaches_its_organizations_browsers_and_no_others(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let ours = register(&app, "owner@example.com", "Acme").await;
    let theirs = register(&app, "other@example.com", "Other").await;
    let (ours, theirs) = (
        ours["access_token"].as_str().unwrap(),
        theirs["access_token"].as_str().unwrap(),
    );
    let mut our_feed = connect(&app, ours, None).await;
    let mut their_feed = connect(&app, theirs, None).await;

    let sent = Instant::now();
    let (status, _) = send(&app, ours, "/api/v1/interactions/batch", interactions("a", 5)).await;
    assert_eq!(status, 201);
    let message = our_feed
        .next(Duration::from_secs(5))
        .await
        .expect("the write is announced");
    let latency = sent.elapsed();
    assert_eq!(message.event, "events");
    let event = &message.data[0];
    assert_eq!(event["kind"], "interactions_created");
    assert_eq!(event["payload"]["count"], 5);
    assert_eq!(event["payload"]["customers"], 3);
    assert_eq!(
        message.id,
        event["id"].as_i64(),
        "the message id is the event's, to resume from"
    );
    assert!(latency < Duration::from_secs(2), "announced in {latency:?}");
    assert!(
        their_feed.next(Duration::from_millis(1500)).await.is_none(),
        "another organization hears nothing"
    );

    let anonymous = app.get("/api/v1/events").await.status().as_u16();
    assert_eq!(anonymous, 401);
}

/// The job worker's housekeeping removes every organization's day-old events, and only those.
#[sqlx::test(migrations = false)]
async fn events_older_than_a_day_are_pruned(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    for slug in ["first", "second"] {
        sqlx::query(
            "with o as (insert into organizations (slug, name) values ($1, $1) returning id)
             insert into live_events (org_id, kind, created_at)
             select id, 'test', now() - make_interval(hours => h) from o, unnest(array[1, 23, 25, 48]) h",
        )
        .bind(slug)
        .execute(&app.admin_db)
        .await
        .unwrap();
    }
    let pruned = app::backend::live::prune(&app.app_db).await.unwrap();
    let left: i64 =
        sqlx::query_scalar("select count(*) from live_events where created_at > now() - interval '1 day'")
            .fetch_one(&app.admin_db)
            .await
            .unwrap();
    let all: i64 = sqlx::query_scalar("select count(*) from live_events")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(
        (pruned, left, all),
        (4, 4, 4),
        "two old events of each organization went"
    );
}

#[sqlx::test(migrations = false)]
async fn a_reconnecting_browser_gets_what_it_missed_exactly_once(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let org: Uuid = sqlx::query_scalar("select id from organizations where slug = 'acme'")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();

    let mut feed = connect(&app, token, None).await;
    send(
        &app,
        token,
        "/api/v1/interactions/batch",
        interactions("first", 2),
    )
    .await;
    let seen = feed.next(Duration::from_secs(5)).await.unwrap().id.unwrap();
    drop(feed);

    // Missed while away: two more batches of interactions and one of orders.
    send(
        &app,
        token,
        "/api/v1/interactions/batch",
        interactions("second", 2),
    )
    .await;
    let order = json!({ "records": [{ "external_id": "o1", "customer_external_id": "c1", "ordered_at": "2026-10-02T10:00:00Z",
        "status": "paid", "currency": "EUR", "total": "12.00", "lines": [{ "sku": "S", "quantity": 1, "unit_price": "12.00" }] }] });
    send(&app, token, "/api/v1/orders/batch", order).await;
    send(
        &app,
        token,
        "/api/v1/interactions/batch",
        interactions("third", 2),
    )
    .await;
    let missed: Vec<i64> =
        sqlx::query_scalar("select id from live_events where org_id = $1 and id > $2 order by id")
            .bind(org)
            .bind(seen)
            .fetch_all(&app.admin_db)
            .await
            .unwrap();
    assert_eq!(missed.len(), 3, "each write was logged");

    let mut feed = connect(&app, token, Some(seen)).await;
    let caught_up = feed.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(ids(&caught_up), missed, "exactly the missed events, in order");
    let kinds: Vec<&str> = caught_up
        .data
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["interactions_created", "orders_created", "interactions_created"]
    );
    send(
        &app,
        token,
        "/api/v1/interactions/batch",
        interactions("fourth", 1),
    )
    .await;
    let live = feed.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(ids(&live).len(), 1);
    assert!(
        ids(&live)[0] > *missed.last().unwrap(),
        "then only new events, none twice"
    );
    assert!(feed.next(Duration::from_millis(500)).await.is_none());

    // An id this organization never had, and a gap longer than the catch-up: reload.
    let mut stranger = connect(&app, token, Some(seen + 1_000_000)).await;
    assert!(
        stranger.next(Duration::from_millis(500)).await.is_none(),
        "nothing after it yet"
    );
    let mut unknown = connect(&app, token, Some(seen - 1)).await;
    assert_eq!(
        unknown.next(Duration::from_secs(5)).await.unwrap().event,
        "reload",
        "{seen}"
    );
    sqlx::query("select publish_event($1, 'test', '{}') from generate_series(1, 1001)")
        .bind(org)
        .execute(&app.admin_db)
        .await
        .unwrap();
    let last = ids(&live)[0];
    let mut behind = connect(&app, token, Some(last)).await;
    assert_eq!(behind.next(Duration::from_secs(5)).await.unwrap().event, "reload");
}

/// A CSV import announces its progress as it runs and when it ends, with the counts its status
/// answers, so the upload page follows the server instead of polling it.
#[sqlx::test(migrations = false)]
async fn a_csv_import_announces_its_progress(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let mut feed = connect(&app, token, None).await;

    let mut csv = String::from("external_id,customer_external_id,occurred_at,channel,event_type\n");
    for n in 0..3 {
        csv.push_str(&format!("i{n},c{n},2026-10-01T09:00:00Z,web,view\n"));
    }
    csv.push_str("i9,c9,2026-10-01T09:00:00Z,fax,view\n");
    let response = app.import_csv(token, "interactions", csv).await;
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["import_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.run_jobs().await;

    let mut progress = Vec::new();
    while let Some(message) = feed.next(Duration::from_secs(5)).await {
        progress.extend(
            message
                .data
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["kind"] == "import_progress")
                .map(|e| e["payload"].clone()),
        );
        if progress.last().is_some_and(|p| p["status"] == "succeeded") {
            break;
        }
    }
    let statuses: Vec<&str> = progress.iter().map(|p| p["status"].as_str().unwrap()).collect();
    assert!(
        statuses.first() == Some(&"running") && statuses.last() == Some(&"succeeded"),
        "running, then succeeded: {progress:?}"
    );
    let last = progress.last().unwrap();
    assert_eq!(last["import_id"], id.as_str());
    assert_eq!(
        (&last["rows_done"], &last["rows_accepted"], &last["rows_rejected"]),
        (&json!(4), &json!(3), &json!(1))
    );
    assert_eq!(last["bytes_done"], last["bytes_total"], "{last}");
}
