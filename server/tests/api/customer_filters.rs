//! The customer list's filters, sorts and pages, and its CSV export (SPEC UI-4, UI-7): each
//! filter keeps exactly the matching customers, pages of any sort give every row once in
//! order, bad parameters name their field, and the export is the filtered list, streamed,
//! of the caller's organization only.

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{get_as, register, send, TestApp};

/// (external id, days since last seen, segment, churn band, churn probability, clv)
const CUSTOMERS: [(&str, i64, &str, &str, f64, f64); 6] = [
    ("ann", 1, "champions", "low", 0.05, 900.0),
    ("bob", 3, "champions", "low", 0.10, 450.0),
    ("cid", 20, "at_risk", "high", 0.81, 120.0),
    ("dee", 40, "at_risk", "high", 0.92, 60.0),
    ("eve", 60, "hibernating", "medium", 0.55, 10.0),
    ("fay", 5, "new_customers", "low", 0.20, 300.0),
];

async fn ids_of(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let (status, body) = get_as(app, token, &format!("/api/v1/customers?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["external_id"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrations = false)]
async fn filters_sorts_pages_and_the_export_keep_exactly_the_matching_customers(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let records: Vec<Value> = CUSTOMERS
        .iter()
        .map(|(id, days, ..)| json!({ "external_id": format!("visit-{id}"), "customer_external_id": id,
            "occurred_at": (Utc::now() - Duration::days(*days)).to_rfc3339(), "channel": "web", "event_type": "view" }))
        .collect();
    let (status, _) = send(
        &app,
        token,
        "/api/v1/interactions/batch",
        json!({ "records": records }),
    )
    .await;
    assert_eq!(status, 201);
    for (id, _, segment, band, probability, clv) in CUSTOMERS {
        sqlx::query(
            "insert into customer_scores (org_id, customer_id, computed_at, model_version, recency_days, frequency,
                 monetary, r_score, f_score, m_score, segment, horizon_days, p_alive, expected_purchases,
                 expected_purchases_low, expected_purchases_high, clv, clv_low, clv_high, churn_probability,
                 churn_band, churn_method)
             select org_id, id, now(), 'scores/1', 3, 1, 10, 3, 3, 3, $2, 365, 0.5, 1, 0.5, 2, $5, $5 * 0.8, $5 * 1.2,
                    $4, $3, 'p_alive'
             from customers where external_id = $1",
        )
        .bind(id)
        .bind(segment)
        .bind(band)
        .bind(probability)
        .bind(clv)
        .execute(&app.admin_db)
        .await
        .unwrap();
    }
    // Another organization's customer never appears.
    let other = register(&app, "other@example.com", "Other").await;
    let stranger = json!({ "external_id": "x", "customer_external_id": "zed", "occurred_at": Utc::now().to_rfc3339(),
                           "channel": "web", "event_type": "view" });
    send(
        &app,
        other["access_token"].as_str().unwrap(),
        "/api/v1/interactions",
        stranger,
    )
    .await;

    let mut champions = ids_of(&app, token, "segment=champions").await;
    champions.sort();
    assert_eq!(champions, ["ann", "bob"]);
    assert_eq!(ids_of(&app, token, "churn=high&sort=churn").await, ["dee", "cid"]);
    assert_eq!(
        ids_of(&app, token, "clv_min=100&clv_max=450&sort=clv").await,
        ["bob", "fay", "cid"]
    );
    assert_eq!(
        ids_of(&app, token, "seen_within_days=7&sort=last_seen").await,
        ["ann", "bob", "fay"]
    );
    assert_eq!(
        ids_of(&app, token, "sort=clv").await,
        ["ann", "bob", "fay", "cid", "dee", "eve"]
    );

    // Pages of two, in every sort, give every customer once and in the unpaged order.
    for sort in ["newest", "last_seen", "revenue", "clv", "churn"] {
        let whole = ids_of(&app, token, &format!("sort={sort}")).await;
        let (mut paged, mut cursor) = (Vec::new(), None::<String>);
        loop {
            let query = match &cursor {
                Some(c) => format!("sort={sort}&limit=2&cursor={c}"),
                None => format!("sort={sort}&limit=2"),
            };
            let (_, body) = get_as(&app, token, &format!("/api/v1/customers?{query}")).await;
            paged.extend(
                body["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["external_id"].as_str().unwrap().to_owned()),
            );
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(paged, whole, "{sort}");
        assert_eq!(whole.len(), 6, "{sort}");
    }

    for (query, field) in [
        ("segment=vips", "segment"),
        ("churn=extreme", "churn"),
        ("clv_min=lots", "clv_min"),
        ("clv_min=500&clv_max=100", "clv_min"),
        ("seen_within_days=0", "seen_within_days"),
        ("sort=name", "sort"),
        ("cursor=bm9wZQ", "cursor"),
    ] {
        let (status, body) = get_as(&app, token, &format!("/api/v1/customers?{query}")).await;
        assert_eq!(status, 422, "{query}");
        assert_eq!(
            body["error"]["details"]["fields"][0]["field"], field,
            "{query}: {body}"
        );
    }

    // The export is the filtered list in its order, every column, this organization only.
    let response = app
        .client
        .get(format!(
            "{}/api/v1/customers/export.csv?churn=low&sort=clv",
            app.address
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("customers.csv"));
    let csv = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header[..3], ["id", "external_id", "name"]);
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let exported: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(exported, ["ann", "bob", "fay"]);
    let clv_column = header.iter().position(|h| h == "clv").unwrap();
    assert_eq!(rows[0][clv_column], "900");
    let everything = app
        .client
        .get(format!("{}/api/v1/customers/export.csv", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        everything.lines().count(),
        1 + 6,
        "header and six customers, no stranger"
    );
    assert!(!everything.contains("zed"));
    let anonymous = app.get("/api/v1/customers/export.csv").await.status().as_u16();
    assert_eq!(anonymous, 401);
}
