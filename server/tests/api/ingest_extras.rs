//! Around the write path: monthly quotas (SPEC TEN-4), `Idempotency-Key` (ING-6), Shopify's
//! signed order webhook (ING-4) and the job queue's retries and dead letters (ING-5).

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use crate::helpers::{register, TestApp};

async fn send(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}{path}", app.address))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn interactions(from: usize, n: usize) -> Value {
    let records: Vec<Value> = (from..from + n)
        .map(|i| {
            json!({ "external_id": format!("i-{i}"), "customer_external_id": "c", "occurred_at": "2026-10-01T09:00:00Z",
                    "channel": "web", "event_type": "page_view" })
        })
        .collect();
    json!({ "records": records })
}

#[sqlx::test(migrations = false)]
async fn the_quota_warns_from_eighty_percent_and_refuses_past_it(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    sqlx::query("update organizations set quota_events_per_month = 10")
        .execute(&app.admin_db)
        .await
        .unwrap();

    let under = send(&app, token, "/api/v1/interactions/batch", interactions(0, 7)).await;
    assert_eq!(under.status(), 201);
    assert!(under.headers().get("x-sightline-quota-warning").is_none());
    let near = send(&app, token, "/api/v1/interactions/batch", interactions(7, 1)).await;
    assert_eq!(near.status(), 201);
    let warning = near.headers()["x-sightline-quota-warning"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(warning.starts_with("80%"), "{warning}");
    // Products are not events: they pass even with the quota nearly gone.
    let products = json!({ "records": [{ "sku": "A-1", "name": "Mug" }] });
    assert_eq!(
        send(&app, token, "/api/v1/products/batch", products)
            .await
            .status(),
        201
    );

    let over = send(&app, token, "/api/v1/interactions/batch", interactions(8, 3)).await;
    assert_eq!(over.status(), 429);
    assert!(over.headers().contains_key("retry-after"));
    let body: Value = over.json().await.unwrap();
    assert_eq!(body["error"]["code"], "quota_exceeded");
    assert_eq!(body["error"]["details"]["used"], 8);
    let stored: i64 = sqlx::query_scalar("select count(*) from interactions")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(stored, 8, "the refused batch wrote nothing");
    assert_eq!(
        send(&app, token, "/api/v1/interactions/batch", interactions(8, 2))
            .await
            .status(),
        201
    );
}

#[sqlx::test(migrations = false)]
async fn an_idempotency_key_answers_a_retry_with_the_first_answer(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let record = json!({ "external_id": "i-1", "customer_external_id": "c", "occurred_at": "2026-10-01T09:00:00Z",
                         "channel": "chat", "event_type": "message", "content": "hello" });
    let post = |body: Value, key: &'static str| {
        app.client
            .post(format!("{}/api/v1/interactions", app.address))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };

    let first = post(record.clone(), "key-1").await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let retry = post(record.clone(), "key-1").await.unwrap();
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    let mut other = record.clone();
    other["external_id"] = json!("i-2");
    let reused = post(other, "key-1").await.unwrap();
    assert_eq!(reused.status(), 409);

    let stored: i64 = sqlx::query_scalar("select count(*) from interactions")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(stored, 1);
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[sqlx::test(migrations = false)]
async fn a_shopify_order_is_stored_only_when_its_signature_verifies(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let slug = owner["organization"]["slug"].as_str().unwrap().to_owned();
    let secret = "shpss_0123456789abcdef0123456789";
    let set = app
        .client
        .put(format!("{}/api/v1/webhooks/shopify/secret", app.address))
        .bearer_auth(token)
        .json(&json!({ "secret": secret }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 204);
    let payload = json!({
        "id": 5208334008572u64, "created_at": "2026-10-13T12:00:00-04:00", "currency": "USD",
        "total_price": "59.90", "financial_status": "paid", "cancelled_at": null,
        "line_items": [{ "sku": "HS-TSHIRT-L", "quantity": 2, "price": "29.95" }],
        "customer": { "id": 7777777777u64, "email": "jane@example.com" },
        "shipping_address": { "country_code": "US", "province_code": "NY" }
    });
    let body = serde_json::to_vec(&payload).unwrap();
    let deliver = |signature: String, org: String| {
        app.client
            .post(format!(
                "{}/api/v1/webhooks/shopify/orders?org={org}",
                app.address
            ))
            .header("content-type", "application/json")
            .header("x-shopify-hmac-sha256", signature)
            .body(body.clone())
            .send()
    };
    let orders = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from orders")
            .fetch_one(&app.admin_db)
            .await
            .unwrap()
    };

    let forged = deliver(sign("not the secret at all!", &body), slug.clone())
        .await
        .unwrap();
    let unknown = deliver(sign(secret, &body), "nobody".into()).await.unwrap();
    assert_eq!((forged.status().as_u16(), unknown.status().as_u16()), (401, 401));
    assert_eq!(orders().await, 0, "a bad signature writes nothing");

    let genuine = deliver(sign(secret, &body), slug.clone()).await.unwrap();
    assert_eq!(genuine.status(), 200);
    let again = deliver(sign(secret, &body), slug).await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(
        orders().await,
        1,
        "Shopify's retry of the same order stores it once"
    );
    let (external, total, country, source): (String, rust_decimal::Decimal, String, String) = sqlx::query_as(
        "select o.external_id, o.total, o.country, b.source from orders o
         join import_batches b on b.org_id = o.org_id and b.id = o.batch_id",
    )
    .fetch_one(&app.admin_db)
    .await
    .unwrap();
    assert_eq!(
        (external.as_str(), country.as_str(), source.as_str()),
        ("5208334008572", "US", "webhook")
    );
    assert_eq!(total, rust_decimal::Decimal::new(5990, 2));
}

#[sqlx::test(migrations = false)]
async fn a_failing_job_backs_off_then_dies_and_an_admin_can_replay_it(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let org_id: Uuid = sqlx::query_scalar("select id from organizations")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    // An import job naming no import cannot succeed.
    let job_id: Uuid = sqlx::query_scalar(
        "insert into jobs (org_id, kind, payload) values ($1, 'import', '{}') returning id",
    )
    .bind(org_id)
    .fetch_one(&app.admin_db)
    .await
    .unwrap();

    for attempt in 1..=3 {
        app.run_jobs().await;
        if attempt < 3 {
            let (attempts, delay): (i32, f64) = sqlx::query_as(
                "select attempts, extract(epoch from run_after - now())::float8 from jobs where id = $1",
            )
            .bind(job_id)
            .fetch_one(&app.admin_db)
            .await
            .unwrap();
            let base = 10.0 * f64::from(1 << (attempt - 1));
            assert_eq!(attempts, attempt);
            assert!(
                delay > base * 0.5 - 1.0 && delay < base * 1.5,
                "attempt {attempt}: retry in {delay} s"
            );
            sqlx::query("update jobs set run_after = now() where id = $1")
                .bind(job_id)
                .execute(&app.admin_db)
                .await
                .unwrap();
        }
    }

    let (_, dead) = crate::helpers::get_as(&app, token, "/api/v1/admin/dead-jobs").await;
    assert_eq!(dead["data"][0]["id"], job_id.to_string());
    assert_eq!(dead["data"][0]["attempts"], 3);
    assert!(dead["data"][0]["last_error"]
        .as_str()
        .unwrap()
        .contains("names no import"));

    let replayed = send(
        &app,
        token,
        &format!("/api/v1/admin/dead-jobs/{job_id}/replay"),
        json!({}),
    )
    .await;
    assert_eq!(replayed.status(), 202);
    let (queued, attempts): (i64, i32) =
        sqlx::query_as("select count(*), max(attempts) from jobs group by id")
            .fetch_one(&app.admin_db)
            .await
            .unwrap();
    assert_eq!((queued, attempts), (1, 0));
    let again = send(
        &app,
        token,
        &format!("/api/v1/admin/dead-jobs/{job_id}/replay"),
        json!({}),
    )
    .await;
    assert_eq!(again.status(), 404);
}
