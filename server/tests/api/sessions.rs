//! Browser sessions (SPEC AUTH-2): cookie attributes, id rotation at sign-in, deletion at
//! sign-out, and refusal of cross-site requests that carry the cookie.

use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{register, TestApp};
use crate::identity::{browser_session, browser_session_with};

async fn me_with(app: &TestApp, cookie: &str) -> u16 {
    app.client
        .get(format!("{}/api/v1/me", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[sqlx::test(migrations = false)]
async fn signing_in_sets_an_http_only_lax_cookie_under_a_new_id(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    register(&app, "owner@example.com", "Acme").await;

    let response = app
        .client
        .post(format!("{}/rpc/sign-in", app.address))
        .header("origin", &app.address)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=owner%40example.com&password=a+long+and+unusual+passphrase")
        .send()
        .await
        .unwrap();
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    let first = set_cookie.split(';').next().unwrap().to_owned();
    let second = browser_session_with(&app, "owner@example.com", Some(&first)).await;
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("select id_hash from sessions")
        .fetch_all(&app.admin_db)
        .await
        .unwrap();

    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert_ne!(first, second, "signing in again starts under a new id");
    assert_eq!(me_with(&app, &first).await, 401, "the old id is worth nothing");
    assert_eq!(me_with(&app, &second).await, 200);
    let id = second.split_once('=').unwrap().1;
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].windows(id.len()).any(|w| w == id.as_bytes()),
        "only a hash of the id is stored"
    );
}

#[sqlx::test(migrations = false)]
async fn a_cross_site_request_carrying_the_cookie_changes_nothing(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    register(&app, "owner@example.com", "Acme").await;
    let cookie = browser_session(&app, "owner@example.com").await;
    let create_key = |origin: &'static str, fetch_site: Option<&'static str>| {
        let mut request = app
            .client
            .post(format!("{}/api/v1/api-keys", app.address))
            .header("cookie", &cookie)
            .header("origin", origin)
            .json(&json!({ "name": "k", "scopes": ["read"] }));
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };

    let foreign_origin = create_key("http://evil.example", None).await.unwrap();
    let foreign_fetch = create_key("http://evil.example", Some("cross-site"))
        .await
        .unwrap();
    let sign_out = app
        .client
        .post(format!("{}/rpc/sign-out", app.address))
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    let same_site = create_key("http://placeholder", Some("same-origin"))
        .await
        .unwrap();
    let keys: i64 = sqlx::query_scalar("select count(*) from api_keys")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();

    assert_eq!(foreign_origin.status(), 403);
    assert_eq!(foreign_fetch.status(), 403);
    assert!(!sign_out.status().is_success(), "{}", sign_out.status());
    assert_eq!(me_with(&app, &cookie).await, 200, "still signed in");
    assert_eq!(same_site.status(), 201, "the app's own pages may");
    assert_eq!(keys, 1);
}

#[sqlx::test(migrations = false)]
async fn signing_out_deletes_the_session(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    register(&app, "owner@example.com", "Acme").await;
    let cookie = browser_session(&app, "owner@example.com").await;

    let response = app
        .client
        .post(format!("{}/rpc/sign-out", app.address))
        .header("cookie", &cookie)
        .header("origin", &app.address)
        .send()
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();

    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(left, 0);
    assert_eq!(me_with(&app, &cookie).await, 401);
}

#[sqlx::test(migrations = false)]
async fn with_redis_configured_sessions_live_in_redis(_: PgPoolOptions, admin: PgConnectOptions) {
    let prepared = TestApp::spawn(admin).await;
    let redis = redis::Client::open(crate::helpers::redis_url()).unwrap();
    let app = TestApp::spawn_with(prepared.app_db.clone(), prepared.admin_db.clone(), Some(redis)).await;
    register(&app, "owner@example.com", "Acme").await;

    let cookie = browser_session(&app, "owner@example.com").await;
    let signed_in = me_with(&app, &cookie).await;
    let in_postgres: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    app.client
        .post(format!("{}/rpc/sign-out", app.address))
        .header("cookie", &cookie)
        .header("origin", &app.address)
        .send()
        .await
        .unwrap();

    assert_eq!(signed_in, 200);
    assert_eq!(in_postgres, 0, "the session is kept in Redis");
    assert_eq!(me_with(&app, &cookie).await, 401, "and deleted there at sign-out");
}
