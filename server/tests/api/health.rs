use serde_json::Value;
use sqlx::postgres::PgConnectOptions;

use crate::helpers::{closed_port, redis_url, unreachable_pool, TestApp};

#[sqlx::test(migrations = false)]
async fn health_answers_200_while_the_process_is_up(
    _: sqlx::postgres::PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;

    let response = app.get("/health").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok");
}

#[sqlx::test(migrations = false)]
async fn ready_reports_each_dependency_ok_when_all_are_up(
    _: sqlx::postgres::PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let app = TestApp::spawn_with(
        app.app_db.clone(),
        app.admin_db.clone(),
        Some(redis::Client::open(redis_url()).unwrap()),
    )
    .await;

    let response = app.get("/ready").await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["migrations"]["status"], "ok");
    assert_eq!(body["checks"]["redis"]["status"], "ok");
}

#[sqlx::test(migrations = false)]
async fn ready_leaves_redis_out_when_it_is_not_configured(
    _: sqlx::postgres::PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;

    let body: Value = app.get("/ready").await.json().await.unwrap();

    assert!(body["checks"].get("redis").is_none(), "{body}");
    assert_eq!(body["status"], "ready");
}

#[sqlx::test(migrations = false)]
async fn ready_answers_503_but_health_200_when_the_database_is_down(
    _: sqlx::postgres::PgPoolOptions,
    admin: PgConnectOptions,
) {
    let prepared = TestApp::spawn(admin).await;
    let app = TestApp::spawn_with(unreachable_pool(), prepared.admin_db.clone(), None).await;

    let ready = app.get("/ready").await;
    let health = app.get("/health").await;

    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["database"]["status"], "down");
    assert!(body["checks"]["database"]["detail"].is_string());
    assert_eq!(health.status(), 200);
}

#[sqlx::test(migrations = false)]
async fn ready_answers_503_when_redis_is_configured_but_down(
    _: sqlx::postgres::PgPoolOptions,
    admin: PgConnectOptions,
) {
    let prepared = TestApp::spawn(admin).await;
    let dead_redis = redis::Client::open(format!("redis://127.0.0.1:{}", closed_port())).unwrap();
    let app = TestApp::spawn_with(
        prepared.app_db.clone(),
        prepared.admin_db.clone(),
        Some(dead_redis),
    )
    .await;

    let response = app.get("/ready").await;

    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["redis"]["status"], "down");
    assert_eq!(body["checks"]["database"]["status"], "ok");
}

#[sqlx::test(migrations = false)]
async fn ready_answers_503_when_a_migration_is_missing(
    _: sqlx::postgres::PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    sqlx::query("delete from _sqlx_migrations where version = (select max(version) from _sqlx_migrations)")
        .execute(&app.admin_db)
        .await
        .unwrap();

    let response = app.get("/ready").await;

    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["migrations"]["status"], "down");
    assert!(body["checks"]["migrations"]["detail"]
        .as_str()
        .unwrap()
        .contains("pending"));
}

#[sqlx::test(migrations = false)]
async fn every_response_carries_a_request_id_and_keeps_the_callers(
    _: sqlx::postgres::PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;

    let made = app.get("/health").await;
    let kept = app
        .client
        .get(format!("{}/health", app.address))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();

    let made_id = made.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(made_id).unwrap().get_version_num(), 4);
    assert_eq!(kept.headers()["x-request-id"], "trace-me-123");
}
