//! Analytics in the product (SPEC ANA-2..6): the scoring job on seeded data, every analytics
//! endpoint's answer, insufficient-data answers as 200s, parameter errors as 422s naming the
//! field, and other organizations' ids as 404s.

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use crate::helpers::{get_as as get, register, send as post, token, TestApp};

/// Noon (UTC) of the day `days_ago` before today, or now if today's noon is still to come: each
/// record lands on its intended calendar day whatever the hour the test runs at.
fn at(days_ago: i64) -> String {
    let now = Utc::now();
    let day = (now - Duration::days(days_ago)).date_naive();
    let noon = day.and_hms_opt(12, 0, 0).unwrap().and_utc();
    noon.min(now).to_rfc3339()
}

/// What the seeded organization holds, to compare answers against.
struct Seeded {
    token: String,
    /// Sum of all order totals (none cancelled).
    revenue: f64,
    orders: usize,
    buyers: usize,
    /// Products by SKU.
    products: std::collections::HashMap<String, Uuid>,
}

/// An organization with 40 customers buying over a year (some gone quiet), products that are
/// always bought together, one product sold every day for 60 days, and a view → cart →
/// checkout funnel; scores computed.
async fn seeded(app: &TestApp, email: &str, organization: &str) -> Seeded {
    let session = register(app, email, organization).await;
    let token = token(&session);
    let products: Vec<Value> = [("MUG", "Mug", 4.0), ("LID", "Lid", 1.0), ("TEA", "Tea", 2.0), ("BREAD", "Bread", 1.5)]
        .iter()
        .map(|(sku, name, cost)| json!({ "sku": sku, "name": name, "category": if *sku == "BREAD" { "food" } else { "kitchen" }, "cost": cost, "price": cost * 3.0, "currency": "EUR" }))
        .collect();
    let (status, _) = post(
        app,
        &token,
        "/api/v1/products/batch",
        json!({ "records": products }),
    )
    .await;
    assert_eq!(status, 201);

    let mut orders = Vec::new();
    let mut revenue = 0.0;
    for i in 0..40i64 {
        let count = 1 + i % 5;
        // Every fourth customer went quiet half a year ago.
        let last = if i % 4 == 0 { 150 + i } else { i % 7 * 5 };
        for k in 0..count {
            let total = 20.0 + i as f64;
            revenue += total;
            let lines = if i % 2 == 0 {
                json!([{ "sku": "MUG", "quantity": 1, "unit_price": total - 5.0 }, { "sku": "LID", "quantity": 1, "unit_price": 5.0 }])
            } else {
                json!([{ "sku": "TEA", "quantity": 2, "unit_price": total / 2.0 }])
            };
            orders.push(json!({
                "external_id": format!("o-{i}-{k}"), "customer_external_id": format!("c-{i}"),
                "ordered_at": at(last + k * (20 + i)), "status": "paid", "currency": "EUR",
                "total": total, "channel": if i % 3 == 0 { "mobile" } else { "web" },
                "region": if i % 2 == 0 { "North" } else { "South" }, "lines": lines,
            }));
        }
    }
    for day in 1..=60i64 {
        let units = 3 + day % 7 / 3;
        let total = 1.5 * units as f64;
        revenue += total;
        orders.push(json!({
            "external_id": format!("bread-{day}"), "customer_external_id": "baker",
            "ordered_at": at(day), "status": "paid", "currency": "EUR", "total": total, "channel": "web",
            "lines": [{ "sku": "BREAD", "quantity": units, "unit_price": 1.5 }],
        }));
    }
    let count = orders.len();
    for chunk in orders.chunks(500) {
        let (status, body) = post(app, &token, "/api/v1/orders/batch", json!({ "records": chunk })).await;
        assert_eq!(status, 201, "{body}");
    }
    // A funnel: 10 customers view, 6 of them add to the cart, 3 of them check out.
    let mut events = Vec::new();
    for i in 0..10i64 {
        let steps: &[&str] = match i {
            0..=2 => &["view", "cart", "checkout"],
            3..=5 => &["view", "cart"],
            _ => &["view"],
        };
        for (n, step) in steps.iter().enumerate() {
            events.push(json!({
                "external_id": format!("e-{i}-{n}"), "customer_external_id": format!("c-{i}"),
                "occurred_at": (Utc::now() - Duration::days(3) + Duration::minutes(10 * n as i64)).to_rfc3339(),
                "channel": "web", "event_type": step,
            }));
        }
    }
    let (status, body) = post(
        app,
        &token,
        "/api/v1/interactions/batch",
        json!({ "records": events }),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    let (status, body) = post(app, &token, "/api/v1/analytics/refresh", json!({})).await;
    assert_eq!((status, &body["queued"]), (202, &json!(true)));
    app.run_jobs().await;
    let failed: Vec<(String, Option<String>)> = sqlx::query_as("select kind, last_error from jobs")
        .fetch_all(&app.admin_db)
        .await
        .unwrap();
    assert!(failed.is_empty(), "{failed:?}");

    let product_ids: Vec<(String, Uuid)> = sqlx::query_as("select sku, id from products")
        .fetch_all(&app.admin_db)
        .await
        .unwrap();
    Seeded {
        token,
        revenue,
        orders: count,
        buyers: 41,
        products: product_ids.into_iter().collect(),
    }
}

async fn customer_id(app: &TestApp, external_id: &str) -> Uuid {
    sqlx::query_scalar("select id from customers where external_id = $1")
        .bind(external_id)
        .fetch_one(&app.admin_db)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_scoring_run_stores_explained_scores_for_every_buyer(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let org = seeded(&app, "owner@example.com", "Acme").await;

    let scored: i64 = sqlx::query_scalar("select count(*) from customer_scores")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(scored as usize, org.buyers);

    for external in ["c-1", "c-4", "baker"] {
        let id = customer_id(&app, external).await;
        let (status, body) = get(&app, &org.token, &format!("/api/v1/customers/{id}/scores")).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("ready")), "{body}");
        let s = &body["result"];
        for score in ["r", "f", "m"] {
            let v = s["rfm"][score].as_i64().unwrap();
            assert!((1..=5).contains(&v), "{score} = {v}");
        }
        assert!(s["rfm"]["segment_label"].as_str().is_some_and(|l| !l.is_empty()));
        let p_alive = s["p_alive"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p_alive));
        let e = &s["expected_purchases"];
        let (low, mid, high) = (
            e["low"].as_f64().unwrap(),
            e["estimate"].as_f64().unwrap(),
            e["high"].as_f64().unwrap(),
        );
        assert!(0.0 <= low && low <= mid && mid <= high, "{e}");
        let clv = &s["clv"];
        assert!(clv["low"].as_f64().unwrap() <= clv["estimate"].as_f64().unwrap());
        assert!(clv["estimate"].as_f64().unwrap() <= clv["high"].as_f64().unwrap());
        let churn = &s["churn"];
        assert!(["low", "medium", "high"].contains(&churn["band"].as_str().unwrap()));
        assert!(["model", "p_alive"].contains(&churn["method"].as_str().unwrap()));
        assert!(s["model_version"].as_str().unwrap().starts_with("scores/"));
        assert!(s["computed_at"].is_string());
    }
    // The daily buyer is livelier than a customer who went quiet half a year ago.
    let score = |external: &'static str| {
        let app = &app;
        let token = org.token.clone();
        async move {
            let id = customer_id(app, external).await;
            get(app, &token, &format!("/api/v1/customers/{id}/scores"))
                .await
                .1["result"]
                .clone()
        }
    };
    let (baker, quiet) = (score("baker").await, score("c-4").await);
    assert!(
        baker["p_alive"].as_f64() > quiet["p_alive"].as_f64(),
        "{baker} vs {quiet}"
    );
    assert!(baker["churn"]["probability"].as_f64() < quiet["churn"]["probability"].as_f64());
    assert!(
        quiet["churn"]["reasons"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{quiet}"
    );
    assert!(baker["rfm"]["r"].as_i64() > quiet["rfm"]["r"].as_i64());
}

#[sqlx::test(migrations = false)]
async fn segments_cohorts_funnel_revenue_basket_and_forecast_answer_from_the_data(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let org = seeded(&app, "owner@example.com", "Acme").await;
    let token = &org.token;

    let (status, body) = get(&app, token, "/api/v1/segments/rfm").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")), "{body}");
    let segments = body["result"]["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 10, "every segment, empty ones included");
    let counted: i64 = segments.iter().map(|s| s["customers"].as_i64().unwrap()).sum();
    assert_eq!(counted as usize, org.buyers);
    let money: f64 = segments.iter().map(|s| s["revenue"].as_f64().unwrap()).sum();
    assert!((money - org.revenue).abs() < 1e-6, "{money} vs {}", org.revenue);
    let movement = body["result"]["movement"].as_array().unwrap();
    assert!(
        movement.iter().all(|m| m["from"].is_null()),
        "first run: everyone is new"
    );

    let (status, body) = get(&app, token, "/api/v1/analytics/cohorts?interval=month").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")), "{body}");
    let cohorts = body["result"]["cohorts"].as_array().unwrap();
    let members: u64 = cohorts.iter().map(|c| c["customers"].as_u64().unwrap()).sum();
    assert!(members as usize <= org.buyers && members > 0);
    for cohort in cohorts {
        let first = &cohort["retention"][0];
        assert_eq!(
            first["active"], cohort["customers"],
            "everyone is active in their first period"
        );
    }

    let (status, body) = get(&app, token, "/api/v1/analytics/funnel?steps=view,cart,checkout").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")), "{body}");
    let steps: Vec<u64> = body["result"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["customers"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [10, 6, 3]);

    let (status, body) = get(&app, token, "/api/v1/analytics/revenue?interval=month&by=channel").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")), "{body}");
    let periods = body["result"]["periods"].as_array().unwrap();
    let total: f64 = periods
        .iter()
        .map(|p| p["total"]["revenue"].as_f64().unwrap())
        .sum();
    let orders: u64 = periods
        .iter()
        .map(|p| p["total"]["orders"].as_u64().unwrap())
        .sum();
    // Orders older than a year fall outside the default range.
    let (in_range, in_range_orders): (f64, i64) = sqlx::query_as(
        "select sum(total)::float8, count(*) from orders where ordered_at >= date_trunc('day', now()) - interval '364 days'",
    )
    .fetch_one(&app.admin_db)
    .await
    .unwrap();
    assert!((total - in_range).abs() < 1e-6, "{total} vs {in_range}");
    assert_eq!(orders as i64, in_range_orders);
    assert!(orders as usize <= org.orders);
    let groups = periods.last().unwrap()["total"].clone();
    assert!(
        groups["margin"].as_f64().is_some(),
        "every product has a cost: {groups}"
    );

    let (status, body) = get(&app, token, "/api/v1/analytics/basket").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")), "{body}");
    let rules = body["result"]["rules"].as_array().unwrap();
    let mug_lid = rules
        .iter()
        .find(|r| r["antecedent"][0]["sku"] == "MUG" && r["consequent"][0]["sku"] == "LID")
        .unwrap_or_else(|| panic!("mugs come with lids: {body}"));
    assert!((mug_lid["confidence"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    let mug = org.products["MUG"];
    let (status, body) = get(&app, token, &format!("/api/v1/analytics/basket?product_id={mug}")).await;
    assert_eq!(status, 200);
    let together = body["result"]["rules"].as_array().unwrap();
    assert!(!together.is_empty());
    assert!(together.iter().all(|r| r["antecedent"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["sku"] == "MUG")));

    let bread = org.products["BREAD"];
    let (status, body) = get(
        &app,
        token,
        &format!("/api/v1/products/{bread}/forecast?horizon=7"),
    )
    .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")), "{body}");
    let points = body["result"]["points"].as_array().unwrap();
    assert_eq!(points.len(), 7);
    for p in points {
        let (low, units, high) = (
            p["low"].as_f64().unwrap(),
            p["units"].as_f64().unwrap(),
            p["high"].as_f64().unwrap(),
        );
        assert!(low <= units && units <= high && units > 1.0 && units < 6.0, "{p}");
    }
    let (_, longer) = get(
        &app,
        token,
        &format!("/api/v1/products/{bread}/forecast?horizon=90"),
    )
    .await;
    assert_eq!(longer["result"]["points"].as_array().unwrap().len(), 90);
    assert_eq!(
        longer["result"]["points"][0], points[0],
        "a shorter horizon is the longer one's start"
    );
}

#[sqlx::test(migrations = false)]
async fn too_little_data_is_a_200_that_says_what_is_missing(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let session = register(&app, "owner@example.com", "Empty").await;
    let token = session["access_token"].as_str().unwrap();

    for path in [
        "/api/v1/segments/rfm",
        "/api/v1/analytics/cohorts",
        "/api/v1/analytics/funnel?steps=view,cart",
        "/api/v1/analytics/revenue",
        "/api/v1/analytics/basket",
    ] {
        let (status, body) = get(&app, token, path).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("insufficient_data")),
            "{path}: {body}"
        );
        assert!(
            body["result"]["hint"].as_str().is_some_and(|h| !h.is_empty()),
            "{path}: {body}"
        );
    }
    let (_, one_step) = get(&app, token, "/api/v1/analytics/funnel?steps=view").await;
    assert_eq!(one_step["status"], "insufficient_data");

    // Two buyers: scored runs store why there are no model scores yet.
    let orders: Vec<Value> = (0..2)
        .map(|i| json!({ "external_id": format!("o{i}"), "customer_external_id": format!("c{i}"), "ordered_at": at(3),
                          "status": "paid", "currency": "EUR", "total": 10, "lines": [{ "sku": "X", "quantity": 1, "unit_price": 10 }] }))
        .collect();
    assert_eq!(
        post(&app, token, "/api/v1/orders/batch", json!({ "records": orders }))
            .await
            .0,
        201
    );
    let (_, interaction) = post(
        &app,
        token,
        "/api/v1/interactions",
        json!({ "external_id": "i1", "customer_external_id": "browser",
        "occurred_at": at(1), "channel": "web", "event_type": "view" }),
    )
    .await;
    post(&app, token, "/api/v1/analytics/refresh", json!({})).await;
    app.run_jobs().await;

    let buyer = customer_id(&app, "c0").await;
    let (status, body) = get(&app, token, &format!("/api/v1/customers/{buyer}/scores")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("insufficient_data")),
        "{body}"
    );
    let browser = interaction["customer_id"].as_str().unwrap();
    let (status, body) = get(&app, token, &format!("/api/v1/customers/{browser}/scores")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("insufficient_data"))
    );
    assert!(
        body["result"]["needed"].as_str().unwrap().contains("order"),
        "{body}"
    );
    let (status, body) = get(&app, token, "/api/v1/segments/rfm").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("insufficient_data")),
        "{body}"
    );
}

#[sqlx::test(migrations = false)]
async fn buyers_without_repeat_purchases_are_told_what_the_value_model_needs(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let session = register(&app, "owner@example.com", "Once").await;
    let token = session["access_token"].as_str().unwrap();
    // Enough buyers for RFM segments, none of them back for a second order.
    let orders: Vec<Value> = (0..8)
        .map(|i| json!({ "external_id": format!("o{i}"), "customer_external_id": format!("c{i}"), "ordered_at": at(3 + 10 * i),
                          "status": "paid", "currency": "EUR", "total": 10 + i, "lines": [{ "sku": "X", "quantity": 1, "unit_price": 10 + i }] }))
        .collect();
    assert_eq!(
        post(&app, token, "/api/v1/orders/batch", json!({ "records": orders }))
            .await
            .0,
        201
    );
    post(&app, token, "/api/v1/analytics/refresh", json!({})).await;
    app.run_jobs().await;

    let buyer = customer_id(&app, "c0").await;
    for path in [
        format!("/api/v1/customers/{buyer}/scores"),
        "/api/v1/segments/rfm".to_owned(),
    ] {
        let (status, body) = get(&app, token, &path).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("insufficient_data")),
            "{path}: {body}"
        );
        assert!(
            body["result"]["needed"].as_str().unwrap().contains("repeat"),
            "{path}: {body}"
        );
    }
}

#[sqlx::test(migrations = false)]
async fn bad_parameters_are_422s_naming_the_field(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let session = register(&app, "owner@example.com", "Acme").await;
    let token = session["access_token"].as_str().unwrap();
    let product = Uuid::new_v4();
    for (path, field) in [
        ("/api/v1/analytics/revenue?interval=year", "interval"),
        ("/api/v1/analytics/revenue?by=colour", "by"),
        ("/api/v1/analytics/revenue?from=yesterday", "from"),
        ("/api/v1/analytics/cohorts?from=2026-05-01&to=2026-01-01", "from"),
        ("/api/v1/analytics/funnel", "steps"),
        (
            "/api/v1/analytics/funnel?steps=a,b&window_hours=0",
            "window_hours",
        ),
        ("/api/v1/analytics/basket?limit=0", "limit"),
        ("/api/v1/analytics/basket?product_id=mug", "product_id"),
    ] {
        let (status, body) = get(&app, token, path).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(
            body["error"]["details"]["fields"][0]["field"], field,
            "{path}: {body}"
        );
    }
    // The horizon is checked before the product is looked up.
    let (status, body) = get(
        &app,
        token,
        &format!("/api/v1/products/{product}/forecast?horizon=14"),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["details"]["fields"][0]["field"]),
        (422, &json!("horizon"))
    );
}

#[sqlx::test(migrations = false)]
async fn another_organizations_customers_and_products_are_not_found(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let acme = seeded(&app, "owner@example.com", "Acme").await;
    let rival = register(&app, "rival@example.com", "Rival").await;
    let rival = rival["access_token"].as_str().unwrap();
    let customer = customer_id(&app, "c-1").await;
    let bread = acme.products["BREAD"];

    for path in [
        format!("/api/v1/customers/{customer}/scores"),
        format!("/api/v1/products/{bread}/forecast?horizon=7"),
        format!("/api/v1/analytics/basket?product_id={bread}"),
    ] {
        let (status, body) = get(&app, rival, &path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    // Nothing of Acme's shows in Rival's organization-wide answers.
    for path in [
        "/api/v1/segments/rfm",
        "/api/v1/analytics/revenue",
        "/api/v1/analytics/basket",
        "/api/v1/analytics/cohorts",
        "/api/v1/analytics/funnel?steps=view,cart",
    ] {
        let (status, body) = get(&app, rival, path).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("insufficient_data")),
            "{path}: {body}"
        );
    }
    let denied: i64 = sqlx::query_scalar("select count(*) from audit_log where outcome = 'denied'")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    assert!(denied >= 3, "each foreign id is audited");
}

#[sqlx::test(migrations = false)]
async fn imports_and_the_schedule_queue_one_scoring_run_at_a_time(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let session = register(&app, "owner@example.com", "Acme").await;
    let token = session["access_token"].as_str().unwrap();
    let pending = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from jobs where kind = 'score'")
            .fetch_one(&app.admin_db)
            .await
            .unwrap()
    };
    let schedule = || async {
        app::backend::analytics::scoring::schedule(&app.app_db)
            .await
            .unwrap()
    };

    assert_eq!(schedule().await, 0, "no orders, nothing to score");
    let mut csv = String::from(
        "external_id,customer_external_id,ordered_at,status,currency,total,sku,quantity,unit_price\n",
    );
    for i in 0..12 {
        csv.push_str(&format!(
            "o{i},c{},{},paid,EUR,{},S1,1,{}\n",
            i % 6,
            at(10 * i),
            10 + i,
            10 + i
        ));
    }
    let response = app.import_csv(token, "orders", csv).await;
    assert_eq!(response.status(), 202);
    app.run_jobs().await;
    let scored: i64 = sqlx::query_scalar("select count(*) from customer_scores")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(
        scored, 6,
        "the finished import queued a run, which scored every buyer"
    );

    assert_eq!(schedule().await, 0, "scores are fresh");
    // A day later the scores are due again, once.
    sqlx::query("update analytics_results set computed_at = computed_at - interval '25 hours'")
        .execute(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(schedule().await, 1);
    assert_eq!(schedule().await, 0, "one run waits; no second is queued");
    let (status, body) = post(&app, token, "/api/v1/analytics/refresh", json!({})).await;
    assert_eq!((status, &body["queued"]), (202, &json!(false)));
    assert_eq!(pending().await, 1);
    app.run_jobs().await;
    assert_eq!(pending().await, 0);
    let previous: i64 =
        sqlx::query_scalar("select count(*) from customer_scores where previous_segment is not null")
            .fetch_one(&app.admin_db)
            .await
            .unwrap();
    assert_eq!(
        previous, 6,
        "the second run remembers each customer's segment before"
    );
}

#[sqlx::test(migrations = false)]
async fn viewers_read_scores_but_only_analysts_ask_for_a_run(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let session = register(&app, "owner@example.com", "Acme").await;
    let token = session["access_token"].as_str().unwrap();
    let (status, body) = post(
        &app,
        token,
        "/api/v1/api-keys",
        json!({ "name": "ingest", "scopes": ["ingest"] }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let key = body["key"].as_str().unwrap();
    let (status, _) = post(&app, key, "/api/v1/analytics/refresh", json!({})).await;
    assert_eq!(status, 403);
    let (status, _) = get(&app, "not-a-token", "/api/v1/segments/rfm").await;
    assert_eq!(status, 401);
}
