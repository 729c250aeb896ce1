//! Registration, sign-in and `/me` over HTTP.

use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{register, TestApp, PASSWORD};

async fn me(app: &TestApp, access_token: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/api/v1/me", app.address))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn registering_creates_an_owner_whose_token_opens_me(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;

    let session = register(&app, "Founder@Example.com", "Acme Shoes").await;
    let me_response = me(&app, session["access_token"].as_str().unwrap()).await;

    assert_eq!(session["role"], "owner");
    assert_eq!(session["token_type"], "Bearer");
    assert_eq!(session["expires_in"], 3600);
    assert_eq!(session["user"]["email"], "founder@example.com");
    assert_eq!(session["organization"]["slug"], "acme-shoes");
    assert!(session["refresh_token"].as_str().unwrap().starts_with("slr_"));
    assert_eq!(me_response.status(), 200);
    let body: Value = me_response.json().await.unwrap();
    assert_eq!(body["user"]["id"], session["user"]["id"]);
    assert_eq!(body["organization"]["id"], session["organization"]["id"]);
    assert_eq!(body["role"], "owner");
    assert!(body["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("manage_owners")));
    let audit: i64 = sqlx::query_scalar("select count(*) from audit_log where action = 'user.registered'")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(audit, 1);
}

#[sqlx::test(migrations = false)]
async fn registration_reports_every_invalid_field_at_once(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;

    let response = app
        .post(
            "/api/v1/auth/register",
            json!({ "email": "nope", "password": "password1234", "organization": "!!" }),
        )
        .await;

    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    let fields: Vec<&str> = body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password", "organization"]);
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(users, 0, "nothing is written");
}

#[sqlx::test(migrations = false)]
async fn a_taken_email_is_a_conflict_and_a_taken_name_gets_its_own_slug(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    register(&app, "one@example.com", "Acme").await;

    let again = app
        .post(
            "/api/v1/auth/register",
            json!({ "email": "ONE@example.com", "password": PASSWORD, "organization": "Other" }),
        )
        .await;
    let second_acme = register(&app, "two@example.com", "Acme").await;

    assert_eq!(again.status(), 409);
    let slug = second_acme["organization"]["slug"].as_str().unwrap();
    assert!(
        slug.starts_with("acme-") && slug.len() == "acme-".len() + 4,
        "{slug}"
    );
    let orgs: i64 = sqlx::query_scalar("select count(*) from organizations")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(orgs, 2, "the refused registration left no organization behind");
}

#[sqlx::test(migrations = false)]
async fn signing_in_returns_tokens_for_the_asked_organization(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let first = register(&app, "owner@example.com", "First Shop").await;

    let default = app
        .post(
            "/api/v1/auth/login",
            json!({ "email": "owner@example.com", "password": PASSWORD }),
        )
        .await;
    let by_slug = app
        .post(
            "/api/v1/auth/login",
            json!({ "email": "owner@example.com", "password": PASSWORD, "organization": "first-shop" }),
        )
        .await;

    assert_eq!(default.status(), 200);
    let default: Value = default.json().await.unwrap();
    assert_eq!(default["organization"]["id"], first["organization"]["id"]);
    assert_eq!(by_slug.status(), 200);
    let token = default["access_token"].as_str().unwrap();
    assert_eq!(me(&app, token).await.status(), 200);
}

#[sqlx::test(migrations = false)]
async fn wrong_email_wrong_password_and_foreign_organization_all_answer_the_same_401(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    register(&app, "owner@example.com", "Mine").await;
    register(&app, "other@example.com", "Theirs").await;

    let mut bodies = Vec::new();
    for attempt in [
        json!({ "email": "nobody@example.com", "password": PASSWORD }),
        json!({ "email": "owner@example.com", "password": "not the passphrase" }),
        json!({ "email": "owner@example.com", "password": PASSWORD, "organization": "theirs" }),
        json!({ "email": "not an email", "password": PASSWORD }),
    ] {
        let response = app.post("/api/v1/auth/login", attempt).await;
        assert_eq!(response.status(), 401);
        let mut body: Value = response.json().await.unwrap();
        body["error"]["request_id"] = Value::Null;
        bodies.push(body);
    }

    assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]), "{bodies:?}");
}

#[sqlx::test(migrations = false)]
async fn me_refuses_missing_forged_and_orphaned_tokens(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let session = register(&app, "owner@example.com", "Shop").await;
    let token = session["access_token"].as_str().unwrap();
    let mut forged = token.to_owned();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });

    let missing = app.get("/api/v1/me").await.status();
    let tampered = me(&app, &forged).await.status();
    sqlx::query("delete from memberships")
        .execute(&app.admin_db)
        .await
        .unwrap();
    let orphaned = me(&app, token).await.status();

    assert_eq!(missing, 401);
    assert_eq!(tampered, 401);
    assert_eq!(orphaned, 401, "a removed member's token stops working at once");
}

#[sqlx::test(migrations = false)]
async fn malformed_json_answers_400_in_the_error_shape(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;

    let response = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post("/api/v1/auth/refresh", json!({ "refresh_token": token }))
        .await
}

#[sqlx::test(migrations = false)]
async fn a_refresh_token_works_once_and_its_reuse_revokes_the_whole_family(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let session = register(&app, "owner@example.com", "Shop").await;
    let first = session["refresh_token"].as_str().unwrap().to_owned();

    let rotated = refresh(&app, &first).await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        me(&app, rotated["access_token"].as_str().unwrap()).await.status(),
        200
    );

    let replayed = refresh(&app, &first).await.status();
    let after_reuse = refresh(&app, &second).await.status();

    assert_eq!(replayed, 401, "a used token is refused");
    assert_eq!(
        after_reuse, 401,
        "its reuse revoked the newer token of the family too"
    );
    let reuse_entries: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'refresh_token.reused' and outcome = 'denied'",
    )
    .fetch_one(&app.admin_db)
    .await
    .unwrap();
    assert_eq!(reuse_entries, 1);
}

#[sqlx::test(migrations = false)]
async fn signing_out_ends_the_session_and_other_sessions_live_on(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let registered = register(&app, "owner@example.com", "Shop").await;
    let other_device: Value = app
        .post(
            "/api/v1/auth/login",
            json!({ "email": "owner@example.com", "password": PASSWORD }),
        )
        .await
        .json()
        .await
        .unwrap();
    let token = registered["refresh_token"].as_str().unwrap();

    let logout = app
        .post("/api/v1/auth/logout", json!({ "refresh_token": token }))
        .await
        .status();
    let garbage = app
        .post("/api/v1/auth/logout", json!({ "refresh_token": "slr_nonsense" }))
        .await
        .status();

    assert_eq!(logout, 204);
    assert_eq!(garbage, 204, "logout never tells whether a token was valid");
    assert_eq!(refresh(&app, token).await.status(), 401);
    assert_eq!(
        refresh(&app, other_device["refresh_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
}

#[sqlx::test(migrations = false)]
async fn refresh_tokens_are_refused_when_forged_expired_or_of_another_kind(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let session = register(&app, "owner@example.com", "Shop").await;
    let token = session["refresh_token"].as_str().unwrap();
    let org = session["organization"]["id"].as_str().unwrap().replace('-', "");
    let forged = format!("slr_{org}_{}", "A".repeat(43));
    let api_key_shaped = token.replacen("slr_", "slk_", 1);

    let forged_status = refresh(&app, &forged).await.status().as_u16();
    let kind_status = refresh(&app, &api_key_shaped).await.status().as_u16();
    sqlx::query("update refresh_tokens set expires_at = now() - interval '1 second'")
        .execute(&app.admin_db)
        .await
        .unwrap();
    let expired_status = refresh(&app, token).await.status().as_u16();

    assert_eq!((forged_status, kind_status, expired_status), (401, 401, 401));
}

/// Signs in through the browser form; answers the session cookie (`name=value`).
pub async fn browser_session(app: &TestApp, email: &str) -> String {
    browser_session_with(app, email, None).await
}

/// As `browser_session`, sending `cookie` along (a session the browser already had).
pub async fn browser_session_with(app: &TestApp, email: &str, cookie: Option<&str>) -> String {
    let mut request = app.client.post(format!("{}/rpc/sign-in", app.address));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request
        .header("origin", &app.address)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "email={}&password={}",
            email.replace('@', "%40"),
            PASSWORD.replace(' ', "+")
        ))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

#[sqlx::test(migrations = false)]
async fn changing_the_password_ends_every_other_session_and_token(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let session = register(&app, "owner@example.com", "Acme").await;
    let cookie = browser_session(&app, "owner@example.com").await;
    let with_cookie = || {
        app.client
            .get(format!("{}/api/v1/me", app.address))
            .header("cookie", &cookie)
            .send()
    };
    assert_eq!(
        with_cookie().await.unwrap().status(),
        200,
        "the browser session works"
    );
    // Access tokens carry whole seconds: change the password in a later second than the
    // old token was issued in.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let wrong = app
        .client
        .post(format!("{}/api/v1/me/password", app.address))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .json(&json!({ "current_password": "not the password at all", "new_password": "a brand new passphrase" }))
        .send()
        .await
        .unwrap();
    let changed = app
        .client
        .post(format!("{}/api/v1/me/password", app.address))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .json(&json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }))
        .send()
        .await
        .unwrap();
    let old_access = me(&app, session["access_token"].as_str().unwrap()).await;
    let old_refresh = app
        .post(
            "/api/v1/auth/refresh",
            json!({ "refresh_token": session["refresh_token"] }),
        )
        .await;
    let old_cookie = with_cookie().await.unwrap();
    let old_password = app
        .post(
            "/api/v1/auth/login",
            json!({ "email": "owner@example.com", "password": PASSWORD }),
        )
        .await;
    let new_password = app
        .post(
            "/api/v1/auth/login",
            json!({ "email": "owner@example.com", "password": "a brand new passphrase" }),
        )
        .await;
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'user.password_changed'")
            .fetch_one(&app.admin_db)
            .await
            .unwrap();

    assert_eq!(wrong.status(), 422, "the current password is checked");
    assert_eq!(changed.status(), 204);
    assert_eq!(old_access.status(), 401, "access tokens from before the change");
    assert_eq!(old_refresh.status(), 401, "refresh tokens from before the change");
    assert_eq!(
        old_cookie.status(),
        401,
        "browser sessions from before the change"
    );
    assert_eq!(old_password.status(), 401);
    assert_eq!(new_password.status(), 200);
    assert_eq!(audited, 1);
}
