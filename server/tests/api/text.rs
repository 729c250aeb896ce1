//! Text scoring (SPEC TXT-1): the worker scores every queued text once in effect, keeps the
//! customers' sentiment aggregates equal to a recomputation, makes texts searchable, retries a
//! failing batch with back-off and marks it dead after three attempts, takes back texts whose
//! worker died, and never mixes organizations; the ad hoc endpoint validates its input.

use app::backend::text::scoring::{register_models, score_next_batch};
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{drain_scoring, get_as, register, send as post, token, TestApp};

const HAPPY: &str = "I love this mug, the quality is excellent and delivery was fast!";
const ANGRY: &str = "Terrible support, the parcel arrived broken and nobody answered. Awful.";

/// An organization whose two customers wrote texts: `happy` three glowing ones, `angry` three
/// furious ones (two interactions and a review each), plus a page view without text.
async fn organization_with_texts(app: &TestApp, email: &str, name: &str) -> (String, Uuid) {
    let session = register(app, email, name).await;
    let token = token(&session);
    let at = |days: i64| (Utc::now() - Duration::days(days)).to_rfc3339();
    let mut interactions = Vec::new();
    for (customer, text) in [("happy", HAPPY), ("angry", ANGRY)] {
        for k in 0..2 {
            interactions.push(
                json!({"external_id": format!("{customer}-{k}"), "customer_external_id": customer,
                "occurred_at": at(k * 40 + 1), "channel": "chat", "event_type": "message", "content": text}),
            );
        }
    }
    interactions.push(
        json!({"external_id": "view", "customer_external_id": "happy", "occurred_at": at(2),
        "channel": "web", "event_type": "page_view"}),
    );
    let (status, body) = post(
        app,
        &token,
        "/api/v1/interactions/batch",
        json!({"records": interactions}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let reviews: Vec<Value> = [("happy", HAPPY, 5), ("angry", ANGRY, 1)]
        .iter()
        .map(|(customer, text, rating)| {
            json!({"external_id": format!("r-{customer}"), "sku": "MUG",
            "customer_external_id": customer, "rating": rating, "content": text, "reviewed_at": at(3)})
        })
        .collect();
    let (status, body) = post(app, &token, "/api/v1/reviews/batch", json!({"records": reviews})).await;
    assert_eq!(status, 201, "{body}");
    let org: Uuid = sqlx::query_scalar("select id from organizations where slug = $1 or name = $1")
        .bind(name)
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    (token, org)
}

async fn scalar<T>(db: &PgPool, sql: &'static str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn every_text_is_scored_once_and_customers_match_a_recomputation(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let (token, _) = organization_with_texts(&app, "owner@texts.test", "Texts").await;
    register_models(&app.app_db).await.unwrap();
    assert_eq!(
        scalar::<i64>(&app.admin_db, "select count(*) from scoring_queue").await,
        6
    );

    assert_eq!(drain_scoring(&app.app_db).await, 6);
    assert_eq!(
        scalar::<i64>(&app.admin_db, "select count(*) from scoring_queue").await,
        0
    );
    let labels: Vec<(String, String, String, String)> = sqlx::query_as(
        "select c.external_id, s.subject, s.label, s.scorer || ' ' || s.model_name || '/' || s.model_version
         from text_scores s join customers c on c.org_id = s.org_id and c.id = s.customer_id order by 1, 2",
    )
    .fetch_all(&app.admin_db)
    .await
    .unwrap();
    assert_eq!(labels.len(), 6);
    for (customer, _, label, scorer) in &labels {
        assert_eq!(
            label,
            if customer == "happy" {
                "positive"
            } else {
                "negative"
            },
            "{labels:?}"
        );
        assert_eq!(scorer, "lexicon sentiment-lexicon/1");
    }
    // Probabilities are probabilities, and the confidence is the largest of them.
    let bad: i64 = scalar(&app.admin_db, "select count(*) from text_scores
        where abs(positive + neutral + negative - 1) > 1e-5 or confidence < greatest(positive, neutral, negative) - 1e-6").await;
    assert_eq!(bad, 0);

    // Rescoring the same texts (queued again, as after a crash right before the delete) changes nothing.
    let before: Vec<(String, f64, i64, Option<f64>)> = customer_sentiment(&app.admin_db).await;
    sqlx::query("insert into scoring_queue (org_id, subject, subject_id, subject_at)
                 select org_id, subject, subject_id, case when subject = 'interaction' then written_at end from text_scores")
        .execute(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(drain_scoring(&app.app_db).await, 6);
    assert_eq!(
        scalar::<i64>(&app.admin_db, "select count(*) from text_scores").await,
        6
    );
    let after = customer_sentiment(&app.admin_db).await;
    assert_eq!(before, after);

    // The aggregates equal a recomputation from the scores.
    let mismatched: i64 = scalar(&app.admin_db, "select count(*) from customers c
        where c.sentiment_count <> (select count(*) from text_scores s where s.org_id = c.org_id and s.customer_id = c.id)
           or abs(c.sentiment_sum - coalesce((select sum(polarity) from text_scores s where s.org_id = c.org_id and s.customer_id = c.id), 0)) > 1e-6").await;
    assert_eq!(mismatched, 0);
    let happy = after.iter().find(|c| c.0 == "happy").unwrap();
    let angry = after.iter().find(|c| c.0 == "angry").unwrap();
    assert_eq!((happy.2, angry.2), (3, 3));
    assert!(happy.1 > 1.0 && angry.1 < -1.0, "{after:?}");

    // Texts are searchable once scored; the page view without text was never queued.
    let searchable: i64 = scalar(
        &app.admin_db,
        "select (select count(*) from interactions where search_vector @@ to_tsquery('english', 'parcel'))
        + (select count(*) from reviews where search_vector @@ to_tsquery('english', 'mug'))",
    )
    .await;
    assert_eq!(searchable, 3);

    // The customer's page: texts with their labels, the review in the timeline, the weekly trend.
    let angry: Uuid = scalar(
        &app.admin_db,
        "select id from customers where external_id = 'angry'",
    )
    .await;
    let (status, profile) = get_as(&app, &token, &format!("/api/v1/customers/{angry}")).await;
    assert_eq!(status, 200);
    let labels: Vec<&str> = profile["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sentiment"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["negative", "negative"]);
    assert_eq!(profile["reviews"][0]["rating"], 1);
    assert_eq!(profile["reviews"][0]["sentiment"], "negative");
    let weeks = profile["sentiment_trend"].as_array().unwrap();
    let texts: i64 = weeks.iter().map(|w| w["texts"].as_i64().unwrap()).sum();
    assert_eq!(texts, 3, "two messages and a review: {weeks:?}");
    assert!(
        weeks.iter().all(|w| w["polarity"].as_f64().unwrap() < 0.0),
        "{weeks:?}"
    );
    let starts: Vec<&str> = weeks.iter().map(|w| w["week"].as_str().unwrap()).collect();
    assert!(
        starts.windows(2).all(|p| p[0] < p[1]),
        "oldest week first: {starts:?}"
    );
}

async fn customer_sentiment(db: &PgPool) -> Vec<(String, f64, i64, Option<f64>)> {
    sqlx::query_as(
        "select external_id, sentiment_sum, sentiment_count, sentiment_trend from customers order by 1",
    )
    .fetch_all(db)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn texts_of_a_worker_that_died_come_back_and_die_after_three_claims(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    organization_with_texts(&app, "owner@crash.test", "Crash").await;
    register_models(&app.app_db).await.unwrap();

    // A worker claims the batch and dies (its transaction never commits).
    let claimed: i64 = scalar(
        &app.app_db,
        "select count(*) from claim_scoring_batch(500, 60, 3)",
    )
    .await;
    assert_eq!(claimed, 6);
    assert_eq!(
        drain_scoring(&app.app_db).await,
        0,
        "leased texts are not handed out twice"
    );
    // Its lease runs out: the next worker scores them.
    sqlx::query("update scoring_queue set run_after = now() - interval '1 second'")
        .execute(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(drain_scoring(&app.app_db).await, 6);
    assert_eq!(
        scalar::<i64>(&app.admin_db, "select count(*) from text_scores").await,
        6
    );

    // A text whose worker dies on every claim is marked dead on the claim after its third.
    sqlx::query("insert into scoring_queue (org_id, subject, subject_id) select org_id, 'review', id from reviews limit 1")
        .execute(&app.admin_db)
        .await
        .unwrap();
    for _ in 0..3 {
        let claimed: i64 = scalar(
            &app.app_db,
            "select count(*) from claim_scoring_batch(500, 60, 3)",
        )
        .await;
        assert_eq!(claimed, 1);
        sqlx::query("update scoring_queue set run_after = now() - interval '1 second'")
            .execute(&app.admin_db)
            .await
            .unwrap();
    }
    assert_eq!(drain_scoring(&app.app_db).await, 0);
    let dead: (i64, Option<String>) =
        sqlx::query_as("select count(*), max(last_error) from scoring_queue where dead_at is not null")
            .fetch_one(&app.admin_db)
            .await
            .unwrap();
    assert_eq!(dead.0, 1);
    assert!(dead.1.unwrap().contains("stopped"));
}

#[sqlx::test(migrations = false)]
async fn a_failing_batch_backs_off_and_is_marked_dead_after_three_attempts(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    organization_with_texts(&app, "owner@fail.test", "Fail").await;
    // No model in the registry: storing a score breaks its foreign key, so every batch fails.
    for attempt in 1..=3 {
        assert!(score_next_batch(&app.app_db).await.is_err());
        let (waiting, in_future, dead): (i64, bool, i64) = sqlx::query_as(
            "select count(*), bool_and(run_after > now() + interval '4 seconds'), count(dead_at) from scoring_queue")
            .fetch_one(&app.admin_db)
            .await
            .unwrap();
        assert_eq!(waiting, 6);
        if attempt < 3 {
            assert!(in_future, "attempt {attempt} waits out a back-off");
            assert_eq!(dead, 0);
        } else {
            assert_eq!(dead, 6, "the third failure marks the texts dead");
        }
        sqlx::query("update scoring_queue set run_after = now() - interval '1 second'")
            .execute(&app.admin_db)
            .await
            .unwrap();
    }
    assert_eq!(
        drain_scoring(&app.app_db).await,
        0,
        "dead texts are not claimed again"
    );
    let nothing_written: i64 = scalar(&app.admin_db, "select count(*) from text_scores").await;
    assert_eq!(nothing_written, 0);
    let errors: Option<String> = scalar(&app.admin_db, "select max(last_error) from scoring_queue").await;
    assert!(errors.unwrap().contains("foreign key"));
}

#[sqlx::test(migrations = false)]
async fn each_batch_is_one_organization_scored_under_its_own_scope(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let (_, first) = organization_with_texts(&app, "owner@one.test", "One").await;
    let (_, second) = organization_with_texts(&app, "owner@two.test", "Two").await;
    register_models(&app.app_db).await.unwrap();
    assert_eq!(
        score_next_batch(&app.app_db).await.unwrap(),
        6,
        "one organization per batch"
    );
    assert_eq!(drain_scoring(&app.app_db).await, 6);
    let per_org: Vec<(Uuid, i64, i64)> = sqlx::query_as(
        "select s.org_id, count(*), count(*) filter (where exists
             (select 1 from customers c where c.org_id = s.org_id and c.id = s.customer_id))
         from text_scores s group by 1 order by 1",
    )
    .fetch_all(&app.admin_db)
    .await
    .unwrap();
    let mut expected = vec![(first, 6, 6), (second, 6, 6)];
    expected.sort();
    assert_eq!(per_org, expected);
}

#[sqlx::test(migrations = false)]
async fn the_ad_hoc_endpoint_scores_and_validates(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let session = register(&app, "owner@adhoc.test", "Adhoc").await;
    let token = session["access_token"].as_str().unwrap();

    let (status, body) = post(
        &app,
        token,
        "/api/v1/text/sentiment",
        json!({"texts": [HAPPY, ANGRY, "The box is blue."]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let labels: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["positive", "negative", "neutral"]);
    let first = &body["data"][0];
    let sum = first["positive"].as_f64().unwrap()
        + first["neutral"].as_f64().unwrap()
        + first["negative"].as_f64().unwrap();
    assert!((sum - 1.0).abs() < 1e-9);
    assert_eq!(first["confidence"], first["positive"]);
    assert_eq!(
        (first["scorer"].as_str(), first["model_version"].as_str()),
        (Some("lexicon"), Some("1"))
    );

    let many: Vec<&str> = vec!["fine"; 101];
    let (status, body) = post(&app, token, "/api/v1/text/sentiment", json!({"texts": many})).await;
    assert_eq!(
        (status, body["error"]["details"]["fields"][0]["field"].as_str()),
        (422, Some("texts")),
        "{body}"
    );
    let long = "a".repeat(20_001);
    let (status, body) = post(
        &app,
        token,
        "/api/v1/text/sentiment",
        json!({"texts": ["ok", long]}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["details"]["fields"][0]["field"].as_str()),
        (422, Some("texts[1]")),
        "{body}"
    );
    let (status, _) = post(&app, token, "/api/v1/text/sentiment", json!({"text": "no list"})).await;
    assert!(status == 400 || status == 422);
    let anonymous = app.post("/api/v1/text/sentiment", json!({"texts": ["hi"]})).await;
    assert_eq!(anonymous.status(), 401);

    // Without the model the lexicon scorer answers, and readiness says the model is missing
    // without failing.
    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        ready["checks"]["sentiment_model"]["status"], "degraded",
        "{ready}"
    );
}

async fn search(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    get_as(app, token, &format!("/api/v1/search?{query}")).await
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrations = false)]
async fn search_ranks_highlights_filters_and_pages_within_the_organization(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let (token, _) = organization_with_texts(&app, "owner@search.test", "Search").await;
    let stranger = register(&app, "owner@elsewhere.test", "Elsewhere").await;
    let stranger = stranger["access_token"].as_str().unwrap();
    register_models(&app.app_db).await.unwrap();
    drain_scoring(&app.app_db).await;

    let (status, body) = search(&app, &token, "q=parcel").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body).len(), 2);
    let hit = &body["data"][0];
    assert_eq!(
        (hit["kind"].as_str(), hit["channel"].as_str()),
        (Some("interaction"), Some("chat"))
    );
    assert_eq!(hit["customer_external_id"], "angry");
    assert_eq!(hit["sentiment"]["label"], "negative");
    let matched: Vec<&str> = hit["snippet"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["matched"] == true)
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(matched, ["parcel"]);

    // Prefix, phrase and word order.
    let (_, body) = search(&app, &token, "q=deliv*&type=reviews").await;
    assert_eq!(ids(&body).len(), 1);
    assert_eq!(
        (
            body["data"][0]["sku"].as_str(),
            body["data"][0]["rating"].as_i64()
        ),
        (Some("MUG"), Some(5))
    );
    let (_, body) = search(&app, &token, "q=%22arrived+broken%22").await;
    assert_eq!(ids(&body).len(), 2);
    let (_, body) = search(&app, &token, "q=%22broken+arrived%22").await;
    assert_eq!(ids(&body).len(), 0);

    // Filters.
    let (_, body) = search(&app, &token, "q=mug&sentiment=positive").await;
    assert_eq!(ids(&body).len(), 2);
    let (_, body) = search(&app, &token, "q=mug&sentiment=negative").await;
    assert_eq!(ids(&body).len(), 0);
    let (_, body) = search(&app, &token, "q=parcel&channel=web").await;
    assert_eq!(ids(&body).len(), 0);
    let day = |days: i64| (Utc::now() - Duration::days(days)).date_naive();
    let (_, body) = search(&app, &token, &format!("q=parcel&from={}", day(10))).await;
    assert_eq!(ids(&body).len(), 1, "only the recent one of the two");

    // Pages continue where the last ended, without repeats.
    let (_, first) = search(&app, &token, "q=parcel&limit=1").await;
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (_, second) = search(&app, &token, &format!("q=parcel&limit=1&cursor={cursor}")).await;
    assert_eq!(second["next_cursor"], Value::Null);
    assert_ne!(ids(&first), ids(&second));

    // Bad input names its field; another organization finds nothing.
    for (query, field) in [
        ("q=", "q"),
        ("q=x&type=orders", "type"),
        ("q=x&channel=fax", "channel"),
        ("q=x&type=reviews&channel=web", "channel"),
        ("q=x&sentiment=angry", "sentiment"),
        ("q=x&from=yesterday", "from"),
        ("q=x&cursor=nonsense", "cursor"),
        ("q=x&limit=500", "limit"),
    ] {
        let (status, body) = search(&app, &token, query).await;
        assert_eq!(
            (status, body["error"]["details"]["fields"][0]["field"].as_str()),
            (422, Some(field)),
            "{query}: {body}"
        );
    }
    let (status, body) = search(&app, stranger, "q=parcel").await;
    assert_eq!((status, ids(&body).len()), (200, 0));
}

#[sqlx::test(migrations = false)]
async fn with_the_model_installed_the_model_scores_and_ready_says_so(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    // Each test runs in its own process (nextest), so loading here is this test's alone.
    let text_dir = text::hutto::checkout_dir().parent().unwrap().to_owned();
    let scorers = app::backend::text::load_scorers(&text_dir, 1);
    assert_eq!(scorers.model_problem(), None);
    let ready: Value = app.get("/ready").await.json().await.unwrap();
    assert_eq!(ready["checks"]["sentiment_model"]["status"], "ok", "{ready}");

    let (token, _) = organization_with_texts(&app, "owner@model.test", "Model").await;
    register_models(&app.app_db).await.unwrap();
    assert_eq!(drain_scoring(&app.app_db).await, 6);
    let scored: Vec<(String, String, String)> = sqlx::query_as(
        "select c.external_id, s.label, s.scorer || ' ' || s.model_name || '/' || s.model_version
         from text_scores s join customers c on c.org_id = s.org_id and c.id = s.customer_id",
    )
    .fetch_all(&app.admin_db)
    .await
    .unwrap();
    for (customer, label, scorer) in &scored {
        assert_eq!(
            label,
            if customer == "happy" {
                "positive"
            } else {
                "negative"
            },
            "{scored:?}"
        );
        assert_eq!(scorer, "model sentiment-minilm/2");
    }
    let active: Vec<String> = sqlx::query_scalar("select name from ml_models where active order by 1")
        .fetch_all(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(active, ["sentiment-lexicon", "sentiment-minilm"]);

    // The hard case VADER gets wrong (a positive lexicon word, "support", outweighs the rest).
    let (status, body) = post(
        &app,
        &token,
        "/api/v1/text/sentiment",
        json!({"texts": ["Delivery was very slow, and Support never answered my emails"]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            body["data"][0]["label"].as_str(),
            body["data"][0]["scorer"].as_str()
        ),
        (Some("negative"), Some("model"))
    );
}

#[sqlx::test(migrations = false)]
async fn behaviour_patterns_read_the_last_30_days_of_a_customer(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let session = register(&app, "owner@patterns.test", "Patterns").await;
    let stranger = token(&register(&app, "owner@other-patterns.test", "Other").await);
    let token = token(&session);
    // A regular who chats every two or three days in the evening, souring as time goes on;
    // and a customer seen twice.
    let mut records = Vec::new();
    for k in 0..12i64 {
        let day = (Utc::now() - Duration::days(28 - k * 5 / 2)).date_naive();
        let text = [HAPPY, "I have a question about my order number.", ANGRY][k as usize / 4];
        records.push(
            json!({"external_id": format!("regular-{k}"), "customer_external_id": "regular",
            "occurred_at": day.and_hms_opt(19, 30, 0).unwrap().and_utc().to_rfc3339(),
            "channel": "chat", "event_type": "message", "content": text}),
        );
    }
    for k in 0..2i64 {
        records.push(json!({"external_id": format!("rare-{k}"), "customer_external_id": "rare",
            "occurred_at": (Utc::now() - Duration::days(k + 1)).to_rfc3339(), "channel": "web", "event_type": "page_view"}));
    }
    let (status, body) = post(
        &app,
        &token,
        "/api/v1/interactions/batch",
        json!({"records": records}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    register_models(&app.app_db).await.unwrap();
    drain_scoring(&app.app_db).await;
    let id = |external: &'static str| {
        let db = app.admin_db.clone();
        async move {
            sqlx::query_scalar::<_, Uuid>("select id from customers where external_id = $1")
                .bind(external)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    let (regular, rare) = (id("regular").await, id("rare").await);

    let (status, body) = get_as(&app, &token, &format!("/api/v1/customers/{regular}/patterns")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")), "{body}");
    let patterns = body["result"]["patterns"].as_array().unwrap();
    let kinds: Vec<&str> = patterns.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    for kind in ["preferred_channel", "time_of_day", "sentiment_trend"] {
        assert!(kinds.contains(&kind), "{kind} missing: {body}");
    }
    let trend = patterns.iter().find(|p| p["kind"] == "sentiment_trend").unwrap();
    assert!(
        trend["description"].as_str().unwrap().contains("declining"),
        "{trend}"
    );
    assert!(patterns.iter().all(|p| p["confidence"].as_f64().unwrap() >= 0.7));
    assert_eq!(body["result"]["interactions"], 12);

    let (status, body) = get_as(&app, &token, &format!("/api/v1/customers/{rare}/patterns")).await;
    assert_eq!(
        (status, body["status"].as_str(), body["result"]["have"].as_i64()),
        (200, Some("insufficient_data"), Some(2)),
        "{body}"
    );
    let (status, _) = get_as(&app, &stranger, &format!("/api/v1/customers/{regular}/patterns")).await;
    assert_eq!(status, 404);
}
