//! Sending interactions in (SPEC ING-1, ING-4..6, ING-8, ING-9): single records, atomic and
//! partial batches, idempotency, customer aggregates, scoring queue, permissions.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use server::tenant::{OrgId, TenantTx};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{get_as, register, send, TestApp};

fn interaction(external_id: &str, customer: &str, at: &str) -> Value {
    json!({ "external_id": external_id, "customer_external_id": customer, "occurred_at": at,
            "channel": "chat", "event_type": "message", "content": format!("hello from {external_id}") })
}

async fn count(db: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn one_interaction_creates_its_customer_and_the_same_record_again_creates_nothing(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let record = interaction("i-1", "cust-9", "2026-10-01T09:00:00Z");

    let (first_status, first) = send(&app, token, "/api/v1/interactions", record.clone()).await;
    let (again_status, again) = send(&app, token, "/api/v1/interactions", record).await;
    let (customer, count_, first_seen): (String, i64, DateTime<Utc>) =
        sqlx::query_as("select external_id, interaction_count, first_seen_at from customers")
            .fetch_one(&app.admin_db)
            .await
            .unwrap();

    assert_eq!((first_status, again_status), (201, 200));
    assert_eq!(first["id"], again["id"], "the response names the existing id");
    assert_eq!(first["customer_id"], again["customer_id"]);
    assert_eq!((customer.as_str(), count_), ("cust-9", 1));
    assert_eq!(first_seen, Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 0).unwrap());
    assert_eq!(count(&app.admin_db, "select count(*) from interactions").await, 1);
    assert_eq!(
        count(&app.admin_db, "select count(*) from scoring_queue").await,
        1,
        "queued once"
    );
}

#[sqlx::test(migrations = false)]
async fn an_atomic_batch_with_one_bad_record_writes_nothing_and_names_every_error(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let mut bad = interaction("i-2", "c", "2026-10-01T09:00:00Z");
    bad["channel"] = json!("fax");
    bad["occurred_at"] = json!("2999-01-01T00:00:00Z");
    let records = json!([
        interaction("i-1", "c", "2026-10-01T09:00:00Z"),
        bad,
        interaction("i-3", "c", "2026-10-02T09:00:00Z")
    ]);

    let (status, body) = send(
        &app,
        token,
        "/api/v1/interactions/batch",
        json!({ "records": records }),
    )
    .await;

    assert_eq!(status, 422);
    let fields = body["error"]["details"]["fields"].as_array().unwrap();
    let named: Vec<(u64, &str, &str)> = fields
        .iter()
        .map(|f| {
            (
                f["index"].as_u64().unwrap(),
                f["field"].as_str().unwrap(),
                f["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        named,
        vec![(1, "occurred_at", "in_future"), (1, "channel", "unknown_channel")]
    );
    for table in [
        "interactions",
        "customers",
        "import_batches",
        "scoring_queue",
        "interaction_keys",
    ] {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
            .fetch_one(&app.admin_db)
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table}: nothing is half-written");
    }
}

#[sqlx::test(migrations = false)]
async fn a_partial_batch_keeps_the_valid_records_and_reports_the_rest(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let mut bad = interaction("i-2", "c", "2026-10-01T09:00:00Z");
    bad.as_object_mut().unwrap().remove("content");
    let records = json!([
        interaction("i-1", "c", "2026-10-01T09:00:00Z"),
        bad,
        interaction("i-3", "d", "2026-09-02T09:00:00Z")
    ]);

    let (status, body) = send(
        &app,
        token,
        "/api/v1/interactions/batch",
        json!({ "records": records, "mode": "partial" }),
    )
    .await;
    let (total, accepted, rejected): (i64, i64, i64) =
        sqlx::query_as("select rows_total, rows_accepted, rows_rejected from import_batches")
            .fetch_one(&app.admin_db)
            .await
            .unwrap();
    let lineage: Vec<(String, i64)> = sqlx::query_as(
        "select i.external_id, i.source_line from interactions i join import_batches b on b.id = i.batch_id
         order by 1",
    )
    .fetch_all(&app.admin_db)
    .await
    .unwrap();

    assert_eq!(status, 200);
    assert_eq!(body["accepted"], 2);
    assert_eq!(
        body["rejected"],
        json!([{ "index": 1, "field": "content", "code": "required",
        "message": "required for email, chat and phone interactions" }])
    );
    assert_eq!((total, accepted, rejected), (3, 2, 1));
    assert_eq!(count(&app.admin_db, "select count(*) from customers").await, 2);
    assert_eq!(lineage.len(), 2, "every row knows its batch and line");
}

#[sqlx::test(migrations = false)]
async fn only_callers_allowed_to_ingest_may_send_data(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let mut keys = HashMap::new();
    for scope in ["read", "ingest"] {
        let (_, key) = send(
            &app,
            token,
            "/api/v1/api-keys",
            json!({ "name": scope, "scopes": [scope] }),
        )
        .await;
        keys.insert(scope, key["key"].as_str().unwrap().to_owned());
    }
    let record = interaction("i-1", "c", "2026-10-01T09:00:00Z");

    let (read_status, _) = send(&app, &keys["read"], "/api/v1/interactions", record.clone()).await;
    let (ingest_status, _) = send(&app, &keys["ingest"], "/api/v1/interactions", record.clone()).await;
    let anonymous = app.post("/api/v1/interactions", record).await.status();
    let too_many = json!({ "records": vec![interaction("x", "c", "2026-10-01T09:00:00Z"); 1001] });
    let (too_many_status, too_many_body) = send(&app, token, "/api/v1/interactions/batch", too_many).await;

    assert_eq!((read_status, ingest_status, anonymous.as_u16()), (403, 201, 401));
    assert_eq!(too_many_status, 422);
    assert_eq!(too_many_body["error"]["details"]["fields"][0]["field"], "records");
}

/// One generated interaction: which id, customer and time (hours after a base), sent when.
#[derive(Clone, Debug)]
struct Sent {
    external: u8,
    customer: u8,
    hour: u16,
}

fn sends() -> impl Strategy<Value = Vec<Vec<Sent>>> {
    let sent = (0u8..12, 0u8..4, 0u16..2000).prop_map(|(external, customer, hour)| Sent {
        external,
        customer,
        hour,
    });
    proptest::collection::vec(proptest::collection::vec(sent, 1..15), 1..6)
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// 64 generated sequences of batches (ids repeating within and across batches, with earlier
/// and later times) leave exactly one row per external id — its latest version — and
/// customer aggregates equal to a recomputation from the rows.
#[sqlx::test(migrations = false)]
async fn any_sequence_of_batches_keeps_the_latest_version_and_exact_aggregates(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    let strategy = sends();
    for case in 0..64 {
        let batches = strategy.new_tree(&mut runner).unwrap().current();
        let org: Uuid =
            sqlx::query_scalar("insert into organizations (slug, name) values ($1, 'x') returning id")
                .bind(format!("case-{case}"))
                .fetch_one(&app.admin_db)
                .await
                .unwrap();
        let mut expected: HashMap<u8, (u8, u16)> = HashMap::new();
        for batch in &batches {
            let records: Vec<domain::records::Interaction> = batch
                .iter()
                .map(|s| {
                    let record = json!({ "external_id": format!("i{}", s.external), "customer_external_id": format!("c{}", s.customer),
                        "occurred_at": (base() + Duration::hours(i64::from(s.hour))).to_rfc3339(), "channel": "web", "event_type": "view" });
                    domain::records::Interaction::parse(&record, Utc::now()).unwrap()
                })
                .collect();
            app::backend::ingest::interactions::prepare_months(
                &app.app_db,
                records.iter().map(|r| r.occurred_at),
            )
            .await
            .unwrap();
            let mut tenant = TenantTx::begin(&app.app_db, OrgId(org)).await.unwrap();
            app::backend::ingest::interactions::write(
                &mut tenant,
                &records,
                app::backend::ingest::Lineage::default(),
            )
            .await
            .unwrap();
            tenant.commit().await.unwrap();
            for s in batch {
                let entry = expected.entry(s.external).or_insert((s.customer, s.hour));
                if s.hour > entry.1 {
                    *entry = (s.customer, s.hour);
                }
            }
        }

        let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
            "select external_id, occurred_at from interactions where org_id = $1 order by external_id",
        )
        .bind(org)
        .fetch_all(&app.admin_db)
        .await
        .unwrap();
        let mut wanted: Vec<(String, DateTime<Utc>)> = expected
            .iter()
            .map(|(id, (_, hour))| (format!("i{id}"), base() + Duration::hours(i64::from(*hour))))
            .collect();
        wanted.sort();
        assert_eq!(rows, wanted, "case {case}: one row per id, the latest version");
        let drift: i64 = sqlx::query_scalar(
            "select count(*) from customers c
             left join lateral (select count(*) as n, min(occurred_at) as first_at, max(occurred_at) as last_at
                                from interactions i where i.org_id = c.org_id and i.customer_id = c.id) r on true
             where c.org_id = $1 and (c.interaction_count <> r.n
                   or c.first_seen_at is distinct from r.first_at or c.last_seen_at is distinct from r.last_at)",
        )
        .bind(org)
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
        assert_eq!(drift, 0, "case {case}: aggregates equal a recomputation");
        let keys: i64 = sqlx::query_scalar("select count(*) from interaction_keys where org_id = $1")
            .bind(org)
            .fetch_one(&app.admin_db)
            .await
            .unwrap();
        assert_eq!(keys as usize, expected.len(), "case {case}: one key per id");
    }
}

#[sqlx::test(migrations = false)]
async fn unreadable_bodies_get_400_415_or_413_and_write_nothing(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let post = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(format!("{}/api/v1/interactions/batch", app.address))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let malformed = post(b"{\"records\": [".to_vec(), "application/json")
        .await
        .unwrap();
    let wrong_type = post(b"external_id,channel\n1,web".to_vec(), "text/csv")
        .await
        .unwrap();
    let huge = post(vec![b' '; 40 * 1024 * 1024], "application/json")
        .await
        .unwrap();
    let codes: Vec<(u16, String)> = {
        let mut out = Vec::new();
        for response in [malformed, wrong_type, huge] {
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            out.push((status, body["error"]["code"].as_str().unwrap().to_owned()));
        }
        out
    };

    assert_eq!(
        codes,
        vec![
            (400, "bad_request".to_owned()),
            (415, "unsupported_media_type".to_owned()),
            (413, "payload_too_large".to_owned())
        ]
    );
    assert_eq!(
        count(&app.admin_db, "select count(*) from import_batches").await,
        0
    );
}

fn order(external_id: &str, customer: &str, at: &str, status: &str, lines: Value) -> Value {
    json!({ "external_id": external_id, "customer_external_id": customer, "ordered_at": at, "status": status,
            "currency": "EUR", "total": "59.80", "country": "DE", "channel": "web", "lines": lines })
}

#[sqlx::test(migrations = false)]
async fn orders_make_customers_and_products_and_a_refund_takes_the_revenue_back(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let lines = json!([{ "sku": "mug-01", "quantity": 2, "unit_price": "19.90" }, { "sku": "TEA 7", "quantity": 1, "unit_price": 20 }]);
    let batch = json!({ "records": [
        order("o-1", "c-1", "2026-10-01T09:00:00Z", "paid", lines.clone()),
        order("o-2", "c-1", "2026-10-05T09:00:00Z", "paid", json!([{ "sku": "MUG_01", "quantity": 3, "unit_price": "19.93" }])),
    ]});

    let (status, _) = send(&app, token, "/api/v1/orders/batch", batch.clone()).await;
    let (again, _) = send(&app, token, "/api/v1/orders/batch", batch).await;
    let before: (i64, rust_decimal::Decimal) = sqlx::query_as("select order_count, revenue from customers")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    let products: Vec<String> = sqlx::query_scalar("select normalized_sku from products order by 1")
        .fetch_all(&app.admin_db)
        .await
        .unwrap();
    let refund = json!({ "records": [order("o-2", "c-1", "2026-10-05T09:00:00Z", "refunded", json!([]))] });
    let (refunded, _) = send(&app, token, "/api/v1/orders/batch", refund).await;
    let after: (i64, rust_decimal::Decimal) = sqlx::query_as("select order_count, revenue from customers")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    let lines_left: i64 = count(&app.admin_db, "select count(*) from order_lines").await;

    assert_eq!((status, again, refunded), (201, 201, 201));
    assert_eq!(
        before,
        (2, rust_decimal::Decimal::new(11960, 2)),
        "two orders, sent twice, count once"
    );
    assert_eq!(
        products,
        vec!["MUG01", "TEA7"],
        "SKU spellings meet in one product"
    );
    assert_eq!(
        after,
        (1, rust_decimal::Decimal::new(5980, 2)),
        "the refund leaves revenue"
    );
    assert_eq!(
        lines_left, 2,
        "the refunded version's lines replaced the old ones"
    );
    assert_eq!(count(&app.admin_db, "select count(*) from orders").await, 2);
}

#[sqlx::test(migrations = false)]
async fn a_product_sent_again_under_another_spelling_updates_the_same_row(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();

    let first =
        json!({ "records": [{ "sku": "ab-123", "name": "Mug", "price": "12.90", "currency": "EUR" }] });
    let second = json!({ "records": [{ "sku": "AB 123", "name": "Big mug", "price": 14, "currency": "EUR", "category": "Kitchen" }] });
    let (a, _) = send(&app, token, "/api/v1/products/batch", first).await;
    let (b, _) = send(&app, token, "/api/v1/products/batch", second).await;
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("select normalized_sku, name, category from products")
            .fetch_all(&app.admin_db)
            .await
            .unwrap();

    assert_eq!((a, b), (201, 201));
    assert_eq!(
        rows,
        vec![("AB123".into(), "Big mug".into(), Some("Kitchen".into()))]
    );
}

#[sqlx::test(migrations = false)]
async fn customers_sent_explicitly_get_their_profile_without_losing_what_is_stored(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    // c1 is first seen through an interaction, so it has aggregates and no profile yet.
    let (status, _) = send(
        &app,
        token,
        "/api/v1/interactions",
        interaction("i-1", "c1", "2026-10-01T09:00:00Z"),
    )
    .await;
    assert_eq!(status, 201);

    let first = json!({ "records": [
        { "external_id": "c1", "email": "Ada@Example.com", "name": "Ada", "country": "de",
          "segment": "wholesale", "metadata": { "plan": "gold", "source": "fair" } },
        { "external_id": "c2", "name": "Bo" },
    ]});
    let (status, body) = send(&app, token, "/api/v1/customers/batch", first).await;
    assert_eq!((status, &body["accepted"]), (201, &json!(2)), "{body}");
    // Only a new name and one metadata key: the rest stays as it was.
    let second =
        json!({ "records": [{ "external_id": "c1", "name": "Ada L.", "metadata": { "plan": "platinum" } }] });
    let (status, _) = send(&app, token, "/api/v1/customers/batch", second).await;
    assert_eq!(status, 201);

    /// external id, email, name, country, segment, metadata, interactions
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Value,
        i64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "select external_id, email, name, country::text, segment, metadata, interaction_count
             from customers order by external_id",
    )
    .fetch_all(&app.admin_db)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                "c1".into(),
                Some("ada@example.com".into()),
                Some("Ada L.".into()),
                Some("DE".into()),
                Some("wholesale".into()),
                json!({ "plan": "platinum", "source": "fair" }),
                1
            ),
            ("c2".into(), None, Some("Bo".into()), None, None, json!({}), 0),
        ]
    );

    // A bad e-mail and country are named with their record; nothing of that batch is written.
    let bad = json!({ "records": [
        { "external_id": "c3", "name": "Cy" },
        { "external_id": "c4", "email": "not-an-address", "country": "XX" },
        { "name": "no id" },
    ]});
    let (status, body) = send(&app, token, "/api/v1/customers/batch", bad).await;
    assert_eq!(status, 422, "{body}");
    let errors: Vec<(i64, String)> = body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_i64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (1, "email".to_owned()),
            (1, "country".to_owned()),
            (2, "external_id".to_owned())
        ]
    );
    assert_eq!(count(&app.admin_db, "select count(*) from customers").await, 2);

    // The same profiles as a CSV file.
    let csv = "external_id,email,name,country,segment\nc5,eve@example.com,Eve,FR,retail\nc6,bad-mail,Fay,,\n";
    let response = app.import_csv(token, "customers", csv).await;
    assert_eq!(response.status(), 202);
    app.run_jobs().await;
    let imported: Vec<(String, Option<String>)> =
        sqlx::query_as("select external_id, email from customers where external_id in ('c5', 'c6')")
            .fetch_all(&app.admin_db)
            .await
            .unwrap();
    assert_eq!(imported, vec![("c5".into(), Some("eve@example.com".into()))]);
    let rejected: Vec<(i64, String)> = sqlx::query_as("select line, field from import_errors")
        .fetch_all(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(rejected, vec![(3, "email".to_owned())]);
}

#[sqlx::test(migrations = false)]
async fn reviews_prices_and_stock_levels_are_stored_once_with_spam_flagged(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let reviews = json!({ "records": [
        { "external_id": "r1", "sku": "mug-01", "customer_external_id": "c1", "rating": 5,
          "content": "Lovely mug, keeps the tea warm.", "reviewed_at": "2026-10-01T09:00:00Z" },
        { "external_id": "r2", "sku": "MUG01", "rating": 1, "content": "Visit www.cheap-mugs.test now",
          "reviewed_at": "2026-10-02T09:00:00Z", "marketplace": "amazon" },
    ]});
    let prices = json!({ "records": [
        { "sku": "mug-01", "competitor": "Rival", "price": "17.50", "currency": "EUR", "observed_at": "2026-10-01T00:00:00Z", "promotion": "-10%" },
        { "competitor_sku": "B07X", "competitor": "Amazon", "price": 18, "currency": "EUR", "observed_at": "2026-10-01T00:00:00Z" },
    ]});
    let stock = json!({ "records": [
        { "sku": "mug-01", "on_hand": 12, "observed_at": "2026-10-01T00:00:00Z" },
        { "sku": "mug-01", "on_hand": 9, "observed_at": "2026-10-01T00:00:00Z" },
    ]});

    let mut statuses = Vec::new();
    for _ in 0..2 {
        statuses.push(
            send(&app, token, "/api/v1/reviews/batch", reviews.clone())
                .await
                .0,
        );
        statuses.push(
            send(&app, token, "/api/v1/competitor-prices/batch", prices.clone())
                .await
                .0,
        );
        statuses.push(
            send(&app, token, "/api/v1/inventory/batch", stock.clone())
                .await
                .0,
        );
    }
    let spam: Vec<(String, Option<String>)> =
        sqlx::query_as("select external_id, spam_reason from reviews order by 1")
            .fetch_all(&app.admin_db)
            .await
            .unwrap();
    let on_hand: i32 = sqlx::query_scalar("select on_hand from inventory_levels")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    let linked: i64 = count(
        &app.admin_db,
        "select count(*) from reviews where product_id is not null",
    )
    .await;

    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(
        spam,
        vec![("r1".into(), None), ("r2".into(), Some("contains a link".into()))]
    );
    assert_eq!(
        count(&app.admin_db, "select count(*) from competitor_prices").await,
        2,
        "sent twice, stored once"
    );
    assert_eq!(on_hand, 9, "the last level for one moment wins");
    assert_eq!(
        count(&app.admin_db, "select count(*) from products").await,
        1,
        "one product for both spellings"
    );
    assert_eq!(linked, 2);
    assert_eq!(
        count(&app.admin_db, "select count(*) from scoring_queue").await,
        2,
        "each text queued once"
    );
}

#[sqlx::test(migrations = false)]
async fn customers_are_searched_paged_and_shown_with_their_timeline_and_only_here(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let other = register(&app, "other@example.com", "Other").await;
    let records: Vec<Value> = (0..5)
        .map(|i| {
            interaction(
                &format!("i-{i}"),
                &format!("cust-{}", i % 3),
                &format!("2026-10-0{}T09:00:00Z", i + 1),
            )
        })
        .collect();
    send(
        &app,
        token,
        "/api/v1/interactions/batch",
        json!({ "records": records }),
    )
    .await;

    let (_, first) = get_as(&app, token, "/api/v1/customers?limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = get_as(&app, token, &format!("/api/v1/customers?limit=2&cursor={cursor}")).await;
    let (_, found) = get_as(&app, token, "/api/v1/customers?q=CUST-1").await;
    let id = found["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, profile) = get_as(&app, token, &format!("/api/v1/customers/{id}")).await;
    let (foreign, _) = get_as(
        &app,
        other["access_token"].as_str().unwrap(),
        &format!("/api/v1/customers/{id}"),
    )
    .await;
    let (bad_cursor, _) = get_as(&app, token, "/api/v1/customers?cursor=nonsense").await;
    let denied: i64 = count(
        &app.admin_db,
        "select count(*) from audit_log where action = 'customers.read' and outcome = 'denied'",
    )
    .await;

    let page_ids = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["external_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut all = page_ids(&first);
    all.extend(page_ids(&second));
    all.sort();
    assert_eq!(
        all,
        vec!["cust-0", "cust-1", "cust-2"],
        "two pages hold every customer once"
    );
    assert_eq!(second["next_cursor"], Value::Null);
    assert_eq!(page_ids(&found), vec!["cust-1"]);
    assert_eq!(status, 200);
    assert_eq!(profile["interaction_count"], 2);
    let timeline: Vec<&str> = profile["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(timeline, vec!["i-4", "i-1"], "newest first");
    assert_eq!(foreign, 404, "another organization's customer is not found");
    assert_eq!(denied, 1, "and the attempt is in that organization's audit log");
    assert_eq!(bad_cursor, 422);
}

/// One generated order: which id, customer, time, status and total, sent when.
#[derive(Clone, Debug)]
struct SentOrder {
    external: u8,
    customer: u8,
    hour: u16,
    refunded: bool,
    cents: u32,
}

/// 48 generated sequences of order batches, interleaved with interactions (ids and customers
/// repeating, resent with earlier and later versions, a later version refunding or moving to
/// another customer) leave customer aggregates equal to a recomputation from the rows.
#[sqlx::test(migrations = false)]
async fn any_sequence_of_order_batches_keeps_exact_customer_aggregates(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let mut runner = TestRunner::new(Config {
        cases: 48,
        ..Config::default()
    });
    let order = (0u8..8, 0u8..4, 0u16..2000, any::<bool>(), 100u32..100_000).prop_map(
        |(external, customer, hour, refunded, cents)| SentOrder {
            external,
            customer,
            hour,
            refunded,
            cents,
        },
    );
    let strategy = proptest::collection::vec(
        (
            proptest::collection::vec(order, 1..10),
            proptest::collection::vec(0u8..4, 0..4),
        ),
        1..6,
    );
    for case in 0..48 {
        let batches = strategy.new_tree(&mut runner).unwrap().current();
        let org: Uuid =
            sqlx::query_scalar("insert into organizations (slug, name) values ($1, 'x') returning id")
                .bind(format!("orders-{case}"))
                .fetch_one(&app.admin_db)
                .await
                .unwrap();
        for (n, (orders, visitors)) in batches.iter().enumerate() {
            let records: Vec<domain::records::Order> = orders
                .iter()
                .map(|s| {
                    let record = json!({ "external_id": format!("o{}", s.external), "customer_external_id": format!("c{}", s.customer),
                        "ordered_at": (base() + Duration::hours(i64::from(s.hour))).to_rfc3339(),
                        "status": if s.refunded { "refunded" } else { "paid" }, "currency": "EUR",
                        "total": format!("{}.{:02}", s.cents / 100, s.cents % 100),
                        "lines": [{ "sku": "A-1", "quantity": 1, "unit_price": "1.00" }] });
                    domain::records::Order::parse(&record, Utc::now()).unwrap()
                })
                .collect();
            let visits: Vec<domain::records::Interaction> = visitors
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let record = json!({ "external_id": format!("v{n}-{i}"), "customer_external_id": format!("c{c}"),
                        "occurred_at": (base() + Duration::hours(i64::from(*c) * 100 + n as i64)).to_rfc3339(),
                        "channel": "web", "event_type": "view" });
                    domain::records::Interaction::parse(&record, Utc::now()).unwrap()
                })
                .collect();
            app::backend::ingest::interactions::prepare_months(
                &app.app_db,
                visits.iter().map(|r| r.occurred_at),
            )
            .await
            .unwrap();
            let mut tenant = TenantTx::begin(&app.app_db, OrgId(org)).await.unwrap();
            app::backend::ingest::orders::write(
                &mut tenant,
                &records,
                app::backend::ingest::Lineage::default(),
            )
            .await
            .unwrap();
            app::backend::ingest::interactions::write(
                &mut tenant,
                &visits,
                app::backend::ingest::Lineage::default(),
            )
            .await
            .unwrap();
            tenant.commit().await.unwrap();
        }
        let drift: i64 = sqlx::query_scalar(
            "select count(*) from customers c
             left join lateral (select count(*) as n, min(occurred_at) as first_at, max(occurred_at) as last_at
                                from interactions i where i.org_id = c.org_id and i.customer_id = c.id) i on true
             left join lateral (select count(*) filter (where status not in ('refunded', 'cancelled')) as n,
                                       coalesce(sum(total) filter (where status not in ('refunded', 'cancelled')), 0) as revenue,
                                       min(ordered_at) as first_at, max(ordered_at) as last_at
                                from orders o where o.org_id = c.org_id and o.customer_id = c.id) o on true
             where c.org_id = $1 and (c.order_count <> o.n or c.revenue <> o.revenue or c.interaction_count <> i.n
                   or c.first_seen_at is distinct from least(i.first_at, o.first_at)
                   or c.last_seen_at is distinct from greatest(i.last_at, o.last_at))",
        )
        .bind(org)
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
        assert_eq!(
            drift, 0,
            "case {case}: aggregates equal a recomputation: {batches:?}"
        );
    }
}
