//! CSV imports (SPEC ING-5): upload, header checks, the background job, exact counts, the
//! error report, resuming after a stop or a crash, and isolation between organizations.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{register, TestApp};

async fn upload(app: &TestApp, token: &str, query: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/api/v1/imports?{query}", app.address))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn status_of(app: &TestApp, token: &str, id: &str) -> Value {
    get(app, token, &format!("/api/v1/imports/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

async fn count(db: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

const INTERACTIONS_HEADER: &str = "external_id,customer_external_id,occurred_at,channel,event_type,content\n";

fn interaction_row(n: usize) -> String {
    format!(
        "i-{n},c-{},2026-10-{:02}T09:00:00Z,chat,message,\"hello, number {n}\"\n",
        n % 97,
        n % 28 + 1
    )
}

#[sqlx::test(migrations = false)]
async fn a_file_with_bad_rows_imports_the_rest_and_reports_each_bad_line(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let mut file = String::from(INTERACTIONS_HEADER);
    file += &interaction_row(1); // line 2
    file += "i-2,c-1,2026-10-01T09:00:00Z,fax,message,hi\n"; // line 3: unknown channel
    file += "i-3,c-1,2026-10-01T09:00:00Z,chat\n"; // line 4: too few columns
    file += "i-4,c-1,2026-10-01T09:00:00Z,chat,message,broken \"quote\n"; // line 5
    file += "i-5,c-1,2999-01-01T09:00:00Z,chat,message,from the future\n"; // line 6
    file += "i-6,c-2,2026-10-02T09:00:00Z,chat,message,\"two\nlines\"\n"; // lines 7-8
    let mut bytes = file.into_bytes();
    bytes.extend_from_slice(b"i-7,c-2,2026-10-02T09:00:00Z,chat,message,\xff\xfe\n"); // line 9
    bytes.extend_from_slice(interaction_row(8).as_bytes()); // line 10

    let (status, body) = upload(
        &app,
        token,
        "entity=interactions&file_name=october.csv",
        "text/csv",
        bytes,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["import_id"].as_str().unwrap().to_owned();
    assert_eq!(status_of(&app, token, &id).await["status"], "pending");
    app.run_jobs().await;

    let done = status_of(&app, token, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        (
            done["rows_done"].as_i64(),
            done["rows_accepted"].as_i64(),
            done["rows_rejected"].as_i64()
        ),
        (Some(8), Some(3), Some(5))
    );
    assert_eq!(done["bytes_done"], done["bytes_total"]);
    assert_eq!(count(&app.admin_db, "select count(*) from interactions").await, 3);
    let lines: Vec<i64> = sqlx::query_scalar("select source_line from interactions order by source_line")
        .fetch_all(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(lines, [2, 7, 10], "every row knows the line it came from");
    assert_eq!(
        count(&app.admin_db, "select count(*) from import_chunks").await,
        0,
        "the stored file is dropped"
    );

    let report = get(&app, token, &format!("/api/v1/imports/{id}/errors.csv")).await;
    assert_eq!(report.status(), 200);
    assert!(report.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = report.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<(i64, String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].parse().unwrap(), r[1].to_owned(), r[2].to_owned())
        })
        .collect();
    assert_eq!(
        rows,
        [
            (3, "channel".into(), "unknown_channel".into()),
            (4, "".into(), "wrong_column_count".into()),
            (5, "".into(), "broken_quoting".into()),
            (6, "occurred_at".into(), "in_future".into()),
            (9, "".into(), "invalid_utf8".into()),
        ]
    );
}

#[sqlx::test(migrations = false)]
async fn a_bad_header_or_content_type_is_refused_before_anything_is_stored(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();

    let (unknown, body) = upload(
        &app,
        token,
        "entity=interactions",
        "text/csv",
        b"id,when,what\n1,2,3\n".to_vec(),
    )
    .await;
    let (json_type, _) = upload(
        &app,
        token,
        "entity=interactions",
        "application/json",
        b"{}".to_vec(),
    )
    .await;
    let (no_entity, entity_body) = upload(
        &app,
        token,
        "",
        "text/csv",
        INTERACTIONS_HEADER.as_bytes().to_vec(),
    )
    .await;
    let (empty, _) = upload(&app, token, "entity=interactions", "text/csv", Vec::new()).await;

    assert_eq!((unknown, json_type, no_entity, empty), (422, 415, 422, 422));
    let fields = body["error"]["details"]["fields"].as_array().unwrap();
    assert!(fields.iter().any(|f| f["code"] == "unknown_column"
        && f["message"]
            .as_str()
            .unwrap()
            .contains("external_id, customer_external_id, occurred_at")));
    assert!(fields.iter().any(|f| f["code"] == "missing_column"));
    assert_eq!(entity_body["error"]["details"]["fields"][0]["field"], "entity");
    assert_eq!(
        count(&app.admin_db, "select count(*) from import_batches").await,
        0
    );
    assert_eq!(count(&app.admin_db, "select count(*) from jobs").await, 0);
}

/// A `multipart/form-data` body as `curl -F` sends it: text parts, then parts with a file name.
fn multipart(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, content) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(file_name) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                     Content-Type: text/csv\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

#[sqlx::test(migrations = false)]
async fn a_multipart_upload_imports_its_file_part_with_the_form_fields(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    // A file big enough to arrive in many pieces, with its columns renamed by the mapping.
    let mut file = INTERACTIONS_HEADER.replacen("external_id,", "Event ID,", 1);
    for n in 0..3_000 {
        file += &interaction_row(n);
    }
    file += "i-bad,c-1,2026-10-01T09:00:00Z,fax,message,hi\n";
    let boundary = "----sightline-test-7MA4YWxkTrZu0gW";
    let body = multipart(
        boundary,
        &[
            ("entity", None, b"interactions"),
            ("mapping", None, br#"{"Event ID":"external_id"}"#),
            ("file", Some("week 42.csv"), file.as_bytes()),
        ],
    );
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let (status, answer) = upload(&app, token, "", &content_type, body).await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["import_id"].as_str().unwrap().to_owned();
    app.run_jobs().await;
    let done = status_of(&app, token, &id).await;
    assert_eq!(
        (
            done["status"].as_str(),
            done["rows_accepted"].as_i64(),
            done["rows_rejected"].as_i64(),
            done["file_name"].as_str()
        ),
        (Some("succeeded"), Some(3_000), Some(1), Some("week 42.csv")),
        "{done}"
    );
    assert_eq!(
        count(&app.admin_db, "select count(*) from interactions").await,
        3_000
    );

    // No file part, a part too big to be a parameter, and a body that is not multipart at all.
    let (no_file, no_file_body) = upload(
        &app,
        token,
        "",
        &content_type,
        multipart(boundary, &[("entity", None, b"interactions")]),
    )
    .await;
    assert_eq!(no_file, 422);
    assert_eq!(no_file_body["error"]["details"]["fields"][0]["field"], "file");
    let huge = vec![b'x'; 70_000];
    let (too_big, _) = upload(
        &app,
        token,
        "",
        &content_type,
        multipart(boundary, &[("mapping", None, &huge)]),
    )
    .await;
    assert_eq!(too_big, 413);
    let (malformed, _) = upload(
        &app,
        token,
        "entity=interactions",
        "multipart/form-data",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(malformed, 400, "a multipart body without a boundary");
    assert_eq!(
        count(&app.admin_db, "select count(*) from import_batches").await,
        1,
        "only the good upload was stored"
    );
}

#[sqlx::test(migrations = false)]
async fn orders_are_read_one_row_per_line_and_a_bad_line_rejects_its_order(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let file = "Order,customer_external_id,ordered_at,currency,total,Note,sku,quantity,unit_price\n\
                o-1,c-1,2026-10-01T10:00:00Z,EUR,30.00,gift,A-1,1,10.00\n\
                o-1,c-1,2026-10-01T10:00:00Z,EUR,30.00,gift,B-2,2,10.00\n\
                o-2,c-2,2026-10-02T10:00:00Z,EUR,5.00,,A-1,1,5.00\n\
                o-2,c-2,2026-10-02T10:00:00Z,EUR,5.00,,B-2,-3,5.00\n\
                o-3,c-2,2026-10-03T10:00:00Z,EUR,7.50,,C-3,3,2.50\n";
    let mapping = urlencode(r#"{"Order":"external_id","Note":""}"#);
    let (status, body) = upload(
        &app,
        token,
        &format!("entity=orders&mapping={mapping}"),
        "text/csv",
        file.into(),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["import_id"].as_str().unwrap().to_owned();
    app.run_jobs().await;

    let done = status_of(&app, token, &id).await;
    assert_eq!(
        (done["rows_accepted"].as_i64(), done["rows_rejected"].as_i64()),
        (Some(3), Some(2)),
        "{done}"
    );
    let orders: Vec<(String, i64)> = sqlx::query_as(
        "select o.external_id, count(l.*) from orders o join order_lines l on l.order_id = o.id
         group by o.external_id order by 1",
    )
    .fetch_all(&app.admin_db)
    .await
    .unwrap();
    assert_eq!(orders, [("o-1".to_owned(), 2), ("o-3".to_owned(), 1)]);
    let text = get(&app, token, &format!("/api/v1/imports/{id}/errors.csv"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("\n5,quantity,negative,"),
        "the error names the line of the bad order line: {text}"
    );
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn big_file(rows: usize) -> Vec<u8> {
    let mut file = String::from(INTERACTIONS_HEADER);
    for n in 0..rows {
        file += &interaction_row(n);
    }
    file.into_bytes()
}

#[sqlx::test(migrations = false)]
async fn an_import_stopped_mid_file_resumes_where_it_stopped_without_duplicates(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let rows = 45_000;
    let file = big_file(rows);
    assert!(
        file.len() > 2 * 1024 * 1024,
        "the file spans several stored chunks"
    );
    let (_, body) = upload(&app, token, "entity=interactions", "text/csv", file).await;
    let id = body["import_id"].as_str().unwrap().to_owned();

    // A worker asked to stop as soon as the first batches are in hands the job back.
    let (stop_worker, stop) = tokio::sync::watch::channel(false);
    let job = app::backend::jobs::claim(&app.app_db, app.state.job_lease)
        .await
        .unwrap()
        .unwrap();
    let state = app.state.clone();
    let worker = tokio::spawn(async move { app::backend::jobs::run_claimed(&state, job, &stop).await });
    loop {
        if status_of(&app, token, &id).await["rows_done"].as_i64().unwrap() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop_worker.send(true).unwrap();
    worker.await.unwrap().unwrap();
    let halfway = status_of(&app, token, &id).await;
    let done_then = halfway["rows_done"].as_i64().unwrap();
    assert_eq!(halfway["status"], "running");
    assert!(
        done_then > 0 && done_then < rows as i64,
        "stopped mid-file: {halfway}"
    );
    assert_eq!(
        count(&app.admin_db, "select count(*) from interactions").await,
        done_then
    );
    let attempts = count(&app.admin_db, "select attempts::bigint from jobs").await;
    assert_eq!(attempts, 0, "a requested stop does not spend an attempt");

    // A worker killed mid-batch (no goodbye): its transaction dies with it, its lease lapses,
    // and the next worker carries on from the last committed batch.
    let job = app::backend::jobs::claim(&app.app_db, app.state.job_lease)
        .await
        .unwrap()
        .unwrap();
    let state = app.state.clone();
    let (_keep, stop) = tokio::sync::watch::channel(false);
    let killed = tokio::spawn(async move { app::backend::jobs::run_claimed(&state, job, &stop).await });
    loop {
        if status_of(&app, token, &id).await["rows_done"].as_i64().unwrap() > done_then {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    killed.abort();
    let _ = killed.await;
    sqlx::query("update jobs set locked_until = now() - interval '1 second'")
        .execute(&app.admin_db)
        .await
        .unwrap();
    app.run_jobs().await;

    let done = status_of(&app, token, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_done"].as_i64(), Some(rows as i64));
    assert_eq!(done["rows_accepted"].as_i64(), Some(rows as i64));
    assert_eq!(
        count(&app.admin_db, "select count(*) from interactions").await,
        rows as i64
    );
    assert_eq!(
        count(
            &app.admin_db,
            "select count(distinct source_line) from interactions"
        )
        .await,
        rows as i64,
        "no row written twice"
    );
    assert_eq!(count(&app.admin_db, "select count(*) from jobs").await, 0);
}

#[sqlx::test(migrations = false)]
async fn another_organizations_import_is_not_found_and_readers_cannot_import(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let acme = register(&app, "owner@acme.example", "Acme").await;
    let globex = register(&app, "owner@globex.example", "Globex").await;
    let acme_token = acme["access_token"].as_str().unwrap();
    let globex_token = globex["access_token"].as_str().unwrap();
    let (_, body) = upload(&app, acme_token, "entity=interactions", "text/csv", big_file(3)).await;
    let id = body["import_id"].as_str().unwrap();

    let status = get(&app, globex_token, &format!("/api/v1/imports/{id}"))
        .await
        .status();
    let report = get(&app, globex_token, &format!("/api/v1/imports/{id}/errors.csv"))
        .await
        .status();
    let unknown = get(&app, acme_token, &format!("/api/v1/imports/{}", Uuid::new_v4()))
        .await
        .status();
    assert_eq!(
        (status.as_u16(), report.as_u16(), unknown.as_u16()),
        (404, 404, 404)
    );

    let key = app
        .client
        .post(format!("{}/api/v1/api-keys", app.address))
        .bearer_auth(acme_token)
        .json(&json!({ "name": "reader", "scopes": ["read"] }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let (refused, _) = upload(
        &app,
        key["key"].as_str().unwrap(),
        "entity=interactions",
        "text/csv",
        big_file(1),
    )
    .await;
    assert_eq!(refused, 403);
}
