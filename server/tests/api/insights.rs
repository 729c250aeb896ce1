//! Review and conversation insights (SPEC TXT-2) through the API: a product's reviews summed
//! up by aspect and topic, complaints and feature requests ranked by frequency and recency —
//! each from the caller's organization only, with parameters validated.

use app::backend::text::scoring::register_models;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use crate::helpers::{drain_scoring, get_as, register, send as post, token, TestApp};

async fn organization(app: &TestApp, email: &str, name: &str) -> String {
    token(&register(app, email, name).await)
}

fn days_ago(days: i64) -> String {
    (Utc::now() - Duration::days(days)).to_rfc3339()
}

/// Interactions `(text, days ago, channel)` of one customer each.
async fn interactions(app: &TestApp, token: &str, prefix: &str, texts: &[(&str, i64, &str)]) {
    let records: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, (text, days, channel))| {
            json!({"external_id": format!("{prefix}-{i}"), "customer_external_id": format!("{prefix}-c{i}"),
                "occurred_at": days_ago(*days), "channel": channel, "event_type": "message", "content": text})
        })
        .collect();
    let (status, body) = post(
        app,
        token,
        "/api/v1/interactions/batch",
        json!({"records": records}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

async fn drain(app: &TestApp) {
    register_models(&app.app_db).await.unwrap();
    drain_scoring(&app.app_db).await;
}

/// A product "Travel Mug" with `reviews` `(text, rating)`, each `copies` times; its id.
async fn product_with_reviews(
    app: &TestApp,
    token: &str,
    organization: &str,
    reviews: &[(&str, u8)],
    copies: usize,
) -> Uuid {
    let (status, body) = post(
        app,
        token,
        "/api/v1/products/batch",
        json!({"records": [{"sku": "MUG", "name": "Travel Mug", "price": "20.00", "currency": "EUR"}]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let records: Vec<Value> = (0..copies)
        .flat_map(|copy| {
            reviews.iter().enumerate().map(move |(i, (text, rating))| {
                json!({"external_id": format!("r{i}-{copy}"), "sku": "MUG", "customer_external_id": format!("c{copy}"),
                    "rating": rating, "content": text, "reviewed_at": days_ago((copy + i) as i64)})
            })
        })
        .collect();
    let (status, body) = post(app, token, "/api/v1/reviews/batch", json!({"records": records})).await;
    assert_eq!(status, 201, "{body}");
    sqlx::query_scalar(
        "select p.id from products p join organizations o on o.id = p.org_id where o.name = $1 and p.sku = 'MUG'",
    )
    .bind(organization)
    .fetch_one(&app.admin_db)
        .await
        .unwrap()
}

fn find<'a>(list: &'a Value, key: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {list:#}"))
}

#[sqlx::test(migrations = false)]
async fn a_products_reviews_are_summed_up_by_aspect_and_topic(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let token = organization(&app, "owner@reviews.test", "Reviews").await;
    let reviews = [
        ("The parcel arrived two weeks late. Great value for the price.", 3),
        ("Excellent build quality, but the lid leaks all over my bag", 2),
        ("Super fast delivery. Lovely packaging, perfect as a gift", 5),
    ];
    let id = product_with_reviews(&app, &token, "Reviews", &reviews, 10).await;
    drain(&app).await;
    let (status, body) = get_as(&app, &token, &format!("/api/v1/products/{id}/review-insights")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready", "{body:#}");
    let r = &body["result"];
    assert_eq!(r["product"]["name"], "Travel Mug");
    assert_eq!(r["reviews"], 30);
    assert!((r["average_rating"]["estimate"].as_f64().unwrap() - 10.0 / 3.0).abs() < 1e-9);
    assert_eq!(r["sentiment"]["scored"], 30);

    let aspects = &r["aspects"];
    let delivery = find(aspects, "delivery");
    assert_eq!(
        (
            delivery["reviews"].as_u64(),
            delivery["positive"].as_u64(),
            delivery["negative"].as_u64()
        ),
        (Some(20), Some(10), Some(10)),
        "{delivery:#}"
    );
    assert!((delivery["mentioned_by"]["estimate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    let low = delivery["negative_share"]["low"].as_f64().unwrap();
    let high = delivery["negative_share"]["high"].as_f64().unwrap();
    assert!(low < 0.5 && 0.5 < high);
    assert_eq!(
        delivery["complaints"][0]["text"],
        "The parcel arrived two weeks late"
    );
    assert_eq!(delivery["praise"][0]["text"], "Super fast delivery");
    assert_eq!(delivery["praise"][0]["rating"], 5);
    for (key, positive) in [("price", 10), ("quality", 10), ("packaging", 10)] {
        assert_eq!(find(aspects, key)["positive"], positive, "{key}");
    }
    // "lid" is no fixed aspect, but a third of the reviews complain about it.
    let lid = find(aspects, "lid");
    assert_eq!(
        (lid["discovered"].as_bool(), lid["negative"].as_u64()),
        (Some(true), Some(10)),
        "{lid:#}"
    );
    assert!(aspects
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["key"] != "mug" && a["key"] != "travel"));

    // Three kinds of review, three topics (word vectors: this process has no model loaded).
    let topics = &r["topics"];
    assert_eq!(topics["status"], "ready", "{topics:#}");
    assert_eq!(topics["result"]["vectors"], "tfidf");
    let found = topics["result"]["topics"].as_array().unwrap();
    assert_eq!(found.len(), 3, "{topics:#}");
    for topic in found {
        assert_eq!(topic["reviews"], 10);
        let first = topic["representatives"][0]["text"].as_str().unwrap();
        let rating = topic["mean_rating"].as_f64().unwrap();
        let expected = reviews.iter().find(|(text, _)| *text == first).unwrap().1;
        assert_eq!(rating, f64::from(expected), "one kind of review per topic");
    }

    // Too few reviews: said plainly. Another organization's product: 404.
    let other = organization(&app, "owner@other-reviews.test", "Other reviews").await;
    let few = product_with_reviews(&app, &other, "Other reviews", &reviews, 1).await;
    let (_, body) = get_as(&app, &other, &format!("/api/v1/products/{few}/review-insights")).await;
    assert_eq!(
        (body["status"].as_str(), body["result"]["have"].as_u64()),
        (Some("insufficient_data"), Some(3))
    );
    let (status, _) = get_as(&app, &other, &format!("/api/v1/products/{id}/review-insights")).await;
    assert_eq!(status, 404);
}

#[sqlx::test(migrations = false)]
async fn complaints_are_grouped_ranked_by_recency_and_kept_to_the_organization(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let token = organization(&app, "owner@complaints.test", "Complaints").await;
    let stranger = organization(&app, "owner@other-complaints.test", "Other complaints").await;
    interactions(
        &app,
        &token,
        "late",
        &[
            ("My parcel arrived late again, awful courier", 1, "chat"),
            (
                "Delivery is terribly slow, the package is late and I am angry",
                2,
                "chat",
            ),
            ("Horrible: the shipment came a week late", 3, "email"),
        ],
    )
    .await;
    interactions(
        &app,
        &token,
        "price",
        &[
            (
                "Terrible value, far too expensive and overpriced. Disappointed.",
                60,
                "chat",
            ),
            ("Awful, overpriced and a waste of money", 70, "chat"),
            ("Bad deal, the price is a disgrace", 75, "chat"),
            ("The price is a ripoff, hate it", 80, "chat"),
            ("Great mug, I love it!", 1, "chat"),
        ],
    )
    .await;
    interactions(
        &app,
        &stranger,
        "rude",
        &[
            ("Support was rude and useless, terrible", 1, "chat"),
            ("The support agent was rude, awful", 1, "chat"),
            ("Rude support staff, horrible", 1, "chat"),
        ],
    )
    .await;
    drain(&app).await;

    let (status, body) = get_as(&app, &token, "/api/v1/insights/complaints").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready", "{body:#}");
    let r = &body["result"];
    assert_eq!(r["texts_read"], 7, "the praise is no complaint: {r:#}");
    let keys: Vec<&str> = r["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        &keys[..2],
        ["delivery", "price"],
        "three recent complaints outrank four old ones: {r:#}"
    );
    assert!(
        !keys.contains(&"support") || find(&r["patterns"], "support")["texts"] == 1,
        "{r:#}"
    );
    let delivery = &r["patterns"][0];
    assert_eq!(
        (delivery["texts"].as_u64(), delivery["customers"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(delivery["phrases"][0]["text"], "late", "{delivery:#}");
    assert_eq!(
        delivery["examples"][0]["text"],
        "My parcel arrived late again, awful courier"
    );
    assert_eq!(r["patterns"][1]["texts"], 4);
    assert_eq!(
        (
            r["patterns"][1]["earlier_half"].as_u64(),
            r["patterns"][1]["later_half"].as_u64()
        ),
        (Some(4), Some(0))
    );
    let all = r.to_string();
    assert!(
        !all.contains("Rude") && !all.contains("rude"),
        "another organization's text leaked: {all}"
    );

    // The channel narrows; a range with nothing says so; bad parameters name the field.
    let (_, body) = get_as(&app, &token, "/api/v1/insights/complaints?channel=email").await;
    assert_eq!(body["result"]["texts_read"], 1, "{body:#}");
    let from = (Utc::now() - Duration::days(400)).date_naive();
    let to = (Utc::now() - Duration::days(300)).date_naive();
    let (_, body) = get_as(
        &app,
        &token,
        &format!("/api/v1/insights/complaints?from={from}&to={to}"),
    )
    .await;
    assert_eq!(body["status"], "insufficient_data");
    for (query, field) in [
        ("channel=fax", "channel"),
        ("from=2026-02-01&to=2026-01-01", "from"),
        ("limit=0", "limit"),
    ] {
        let (status, body) = get_as(&app, &token, &format!("/api/v1/insights/complaints?{query}")).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["error"]["details"]["fields"][0]["field"], field, "{body}");
    }
    // The stranger sees their own complaints only.
    let (_, body) = get_as(&app, &stranger, "/api/v1/insights/complaints").await;
    let keys: Vec<&str> = body["result"]["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["support"], "{body:#}");
}

#[sqlx::test(migrations = false)]
async fn feature_requests_are_found_grouped_and_ranked(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let token = organization(&app, "owner@requests.test", "Requests").await;
    let stranger = organization(&app, "owner@other-requests.test", "Other requests").await;
    interactions(
        &app,
        &token,
        "ask",
        &[
            ("Could you add an option to pay in instalments?", 1, "chat"),
            (
                "Hi! Can you add an option to pay in instalments please",
                2,
                "email",
            ),
            ("I'd love to pay in instalments.", 3, "chat"),
            (
                "I love the new collection, will you add more colours?",
                50,
                "chat",
            ),
            ("Please add more colours", 55, "chat"),
            ("Where is my order? I'd like to know", 1, "chat"),
            ("The mug is great", 1, "chat"),
        ],
    )
    .await;
    interactions(
        &app,
        &stranger,
        "dark",
        &[("I wish it had a dark mode", 1, "chat")],
    )
    .await;

    let (status, body) = get_as(&app, &token, "/api/v1/insights/feature-requests").await;
    assert_eq!(status, 200, "{body}");
    let r = &body["result"];
    let keys: Vec<&str> = r["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["pay instalment", "colour"], "{r:#}");
    assert_eq!(r["patterns"][0]["texts"], 3);
    assert_eq!(r["patterns"][1]["label"], "more colours");
    assert_eq!(r["patterns"][1]["kind"], "request");
    assert_eq!(
        r["texts_read"], 6,
        "the cue filter lets through the question, not the praise: {r:#}"
    );
    assert_eq!(r["unmatched"], 1);

    let (_, body) = get_as(&app, &stranger, "/api/v1/insights/feature-requests").await;
    let keys: Vec<&str> = body["result"]["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["dark mode"], "{body:#}");
    let (_, body) = get_as(
        &app,
        &stranger,
        "/api/v1/insights/feature-requests?channel=review",
    )
    .await;
    assert_eq!(body["status"], "insufficient_data");
}
