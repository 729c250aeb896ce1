//! Members over HTTP: who may list, change and remove whom; last-owner protection; ids from
//! another organization.

use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{register, token, TestApp, PASSWORD};

/// An organization "shop" whose owner is owner@…, plus people in the given roles, each signed
/// in to it. Everyone also owns an organization of their own from registering.
struct Shop {
    org_id: String,
    tokens: std::collections::HashMap<&'static str, String>,
    ids: std::collections::HashMap<&'static str, String>,
}

async fn shop(app: &TestApp, members: &[(&'static str, &'static str)]) -> Shop {
    let owner = register(app, "owner@example.com", "Shop").await;
    let org_id = owner["organization"]["id"].as_str().unwrap().to_owned();
    let mut tokens = std::collections::HashMap::from([("owner", token(&owner))]);
    let mut ids =
        std::collections::HashMap::from([("owner", owner["user"]["id"].as_str().unwrap().to_owned())]);
    for (name, role) in members {
        let email = format!("{name}@example.com");
        let own = register(app, &email, &format!("{name} own")).await;
        let user_id = own["user"]["id"].as_str().unwrap().to_owned();
        sqlx::query("insert into memberships (org_id, user_id, role) values ($1::uuid, $2::uuid, $3)")
            .bind(&org_id)
            .bind(&user_id)
            .bind(*role)
            .execute(&app.admin_db)
            .await
            .unwrap();
        let session: Value = app
            .post(
                "/api/v1/auth/login",
                json!({ "email": email, "password": PASSWORD, "organization": "shop" }),
            )
            .await
            .json()
            .await
            .unwrap();
        tokens.insert(*name, token(&session));
        ids.insert(*name, user_id);
    }
    Shop { org_id, tokens, ids }
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.address))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn get_json(app: &TestApp, path: &str, token: &str) -> Value {
    send(app, reqwest::Method::GET, path, token, None)
        .await
        .json()
        .await
        .unwrap()
}

async fn set_role(app: &TestApp, caller: &str, target: &str, role: &str) -> u16 {
    send(
        app,
        reqwest::Method::PATCH,
        &format!("/api/v1/members/{target}"),
        caller,
        Some(json!({ "role": role })),
    )
    .await
    .status()
    .as_u16()
}

async fn denied_entries(app: &TestApp, org_id: &str) -> i64 {
    sqlx::query_scalar("select count(*) from audit_log where org_id = $1::uuid and outcome = 'denied'")
        .bind(org_id)
        .fetch_one(&app.admin_db)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_viewer_lists_members_but_cannot_change_them(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let shop = shop(&app, &[("viewer", "viewer"), ("analyst", "analyst")]).await;

    let listed = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/members",
        &shop.tokens["viewer"],
        None,
    )
    .await;
    let changed = set_role(&app, &shop.tokens["viewer"], &shop.ids["analyst"], "viewer").await;

    assert_eq!(listed.status(), 200);
    let body: Value = listed.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 3);
    assert_eq!(body["next_cursor"], Value::Null);
    assert_eq!(changed, 403);
    assert_eq!(
        denied_entries(&app, &shop.org_id).await,
        1,
        "the refusal is audited"
    );
}

#[sqlx::test(migrations = false)]
async fn an_admin_manages_members_but_not_owners(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let shop = shop(&app, &[("admin", "admin"), ("analyst", "analyst")]).await;
    let admin_token = &shop.tokens["admin"];

    let demoted = set_role(&app, admin_token, &shop.ids["analyst"], "viewer").await;
    let promoted_to_owner = set_role(&app, admin_token, &shop.ids["analyst"], "owner").await;
    let owner_demoted = set_role(&app, admin_token, &shop.ids["owner"], "viewer").await;
    let bad_role = set_role(&app, admin_token, &shop.ids["analyst"], "superuser").await;

    assert_eq!(
        (demoted, promoted_to_owner, owner_demoted, bad_role),
        (200, 403, 403, 422)
    );
}

#[sqlx::test(migrations = false)]
async fn the_last_owner_can_be_neither_demoted_nor_removed(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let shop = shop(&app, &[("partner", "admin")]).await;
    let owner = &shop.tokens["owner"];
    let owner_id = &shop.ids["owner"];

    let demote_alone = set_role(&app, owner, owner_id, "admin").await;
    let remove_alone = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/members/{owner_id}"),
        owner,
        None,
    )
    .await
    .status();
    let promote_partner = set_role(&app, owner, &shop.ids["partner"], "owner").await;
    let demote_with_partner = set_role(&app, owner, owner_id, "admin").await;

    assert_eq!((demote_alone, remove_alone.as_u16()), (409, 409));
    assert_eq!((promote_partner, demote_with_partner), (200, 200));
}

#[sqlx::test(migrations = false)]
async fn a_removed_member_loses_access_at_once(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let shop = shop(&app, &[("leaver", "analyst")]).await;
    let leaver = &shop.ids["leaver"];

    let removed = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/members/{leaver}"),
        &shop.tokens["owner"],
        None,
    )
    .await;
    let me = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/me",
        &shop.tokens["leaver"],
        None,
    )
    .await;

    assert_eq!(removed.status(), 204);
    assert_eq!(me.status(), 401);
}

#[sqlx::test(migrations = false)]
async fn members_of_another_organization_answer_404_stay_unchanged_and_the_attempt_is_audited(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let shop = shop(&app, &[]).await;
    let other = register(&app, "rival@example.com", "Rival").await;
    let rival_id = other["user"]["id"].as_str().unwrap();
    let rival_org = other["organization"]["id"].as_str().unwrap();

    let patched = set_role(&app, &shop.tokens["owner"], rival_id, "viewer").await;
    let deleted = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/members/{rival_id}"),
        &shop.tokens["owner"],
        None,
    )
    .await
    .status();

    assert_eq!((patched, deleted.as_u16()), (404, 404));
    let rival_role: String = sqlx::query_scalar("select role from memberships where org_id = $1::uuid")
        .bind(rival_org)
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(
        rival_role, "owner",
        "the other organization's member is untouched"
    );
    assert_eq!(
        denied_entries(&app, &shop.org_id).await,
        2,
        "both attempts are in the caller's audit log"
    );
    assert_eq!(denied_entries(&app, rival_org).await, 0);
}

async fn create_key(app: &TestApp, token: &str, scopes: &[&str]) -> reqwest::Response {
    send(
        app,
        reqwest::Method::POST,
        "/api/v1/api-keys",
        token,
        Some(json!({ "name": "shop sync", "scopes": scopes })),
    )
    .await
}

#[sqlx::test(migrations = false)]
async fn an_api_key_is_shown_once_acts_within_its_scopes_and_dies_when_revoked(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let shop = shop(&app, &[("viewer", "viewer")]).await;
    let owner = &shop.tokens["owner"];

    let by_viewer = create_key(&app, &shop.tokens["viewer"], &["read"]).await.status();
    let created = create_key(&app, owner, &["read"]).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let listed: Value = get_json(&app, "/api/v1/api-keys", owner).await;
    let reads = send(&app, reqwest::Method::GET, "/api/v1/members", &key, None)
        .await
        .status();
    let manages = create_key(&app, &key, &["read"]).await.status();
    let id = created["id"].as_str().unwrap();
    let revoked = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/api-keys/{id}"),
        owner,
        None,
    )
    .await
    .status();
    let after = send(&app, reqwest::Method::GET, "/api/v1/members", &key, None)
        .await
        .status();

    assert_eq!(by_viewer, 403, "a viewer cannot create API keys");
    assert!(key.starts_with("slk_"));
    assert_eq!(listed["data"][0]["prefix"], created["prefix"]);
    assert!(
        listed["data"][0].get("key").is_none(),
        "the key is never shown again"
    );
    assert!(!listed.to_string().contains(&key[36..]));
    assert_eq!((reads.as_u16(), manages.as_u16()), (200, 403));
    assert_eq!((revoked.as_u16(), after.as_u16()), (204, 401));
}

#[sqlx::test(migrations = false)]
async fn an_ingest_key_cannot_read_and_bad_scopes_are_refused(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let shop = shop(&app, &[]).await;
    let owner = &shop.tokens["owner"];

    let ingest: Value = create_key(&app, owner, &["ingest"]).await.json().await.unwrap();
    let reads = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/members",
        ingest["key"].as_str().unwrap(),
        None,
    )
    .await;
    let bad = create_key(&app, owner, &["everything"]).await;
    let none = create_key(&app, owner, &[]).await;

    assert_eq!(reads.status(), 403);
    assert_eq!((bad.status().as_u16(), none.status().as_u16()), (422, 422));
}

#[sqlx::test(migrations = false)]
async fn keys_of_another_organization_cannot_be_revoked_and_a_forged_key_is_refused(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let shop = shop(&app, &[]).await;
    let rival = register(&app, "rival@example.com", "Rival").await;
    let rival_key: Value = create_key(&app, &token(&rival), &["read"])
        .await
        .json()
        .await
        .unwrap();
    let rival_key_id = rival_key["id"].as_str().unwrap();
    let rival_secret = rival_key["key"].as_str().unwrap();
    let forged = format!(
        "{}{}",
        &rival_secret[..rival_secret.len() - 1],
        if rival_secret.ends_with('A') { 'B' } else { 'A' }
    );

    let revoked = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/api-keys/{rival_key_id}"),
        &shop.tokens["owner"],
        None,
    )
    .await
    .status();
    let with_forged = send(&app, reqwest::Method::GET, "/api/v1/members", &forged, None)
        .await
        .status();
    let still_works = send(&app, reqwest::Method::GET, "/api/v1/members", rival_secret, None)
        .await
        .status();

    assert_eq!(revoked.as_u16(), 404);
    assert_eq!(with_forged.as_u16(), 401);
    assert_eq!(
        still_works.as_u16(),
        200,
        "the other organization's key is untouched"
    );
    assert_eq!(denied_entries(&app, &shop.org_id).await, 1);
}

async fn invite(app: &TestApp, token: &str, email: &str, role: &str) -> reqwest::Response {
    send(
        app,
        reqwest::Method::POST,
        "/api/v1/invitations",
        token,
        Some(json!({ "email": email, "role": role })),
    )
    .await
}

async fn accept(app: &TestApp, invitation_token: &str, password: &str) -> reqwest::Response {
    app.post(
        "/api/v1/invitations/accept",
        json!({ "token": invitation_token, "password": password }),
    )
    .await
}

#[sqlx::test(migrations = false)]
async fn an_invited_newcomer_joins_with_the_invited_role_once(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let shop = shop(&app, &[]).await;

    let invited = invite(&app, &shop.tokens["owner"], "New.Hire@example.com", "analyst").await;
    assert_eq!(invited.status(), 201);
    let invited: Value = invited.json().await.unwrap();
    let invitation_token = invited["invitation_token"].as_str().unwrap();
    let joined = accept(&app, invitation_token, "another long passphrase").await;
    let again = accept(&app, invitation_token, "another long passphrase").await;

    assert!(invited["accept_url"].as_str().unwrap().contains(invitation_token));
    assert_eq!(joined.status(), 201);
    let session: Value = joined.json().await.unwrap();
    assert_eq!(session["role"], "analyst");
    assert_eq!(session["user"]["email"], "new.hire@example.com");
    assert_eq!(session["organization"]["id"].as_str().unwrap(), shop.org_id);
    let me = send(&app, reqwest::Method::GET, "/api/v1/me", &token(&session), None).await;
    assert_eq!(me.status(), 200);
    assert_eq!(again.status(), 404, "an invitation works once");
}

#[sqlx::test(migrations = false)]
async fn an_existing_account_accepts_with_its_own_password(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let shop = shop(&app, &[]).await;
    register(&app, "consultant@example.com", "Consulting").await;
    let invited: Value = invite(&app, &shop.tokens["owner"], "consultant@example.com", "viewer")
        .await
        .json()
        .await
        .unwrap();
    let invitation_token = invited["invitation_token"].as_str().unwrap();

    let wrong = accept(&app, invitation_token, "not my passphrase at all")
        .await
        .status();
    let right = accept(&app, invitation_token, PASSWORD).await;

    assert_eq!(wrong.as_u16(), 401);
    assert_eq!(right.status(), 201);
    let memberships: i64 = sqlx::query_scalar(
        "select count(*) from memberships m join users u on u.id = m.user_id where u.email = 'consultant@example.com'",
    )
    .fetch_one(&app.admin_db)
    .await
    .unwrap();
    assert_eq!(memberships, 2, "their own organization and the shop");
}

#[sqlx::test(migrations = false)]
async fn only_managers_invite_and_only_owners_invite_owners(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let shop = shop(&app, &[("viewer", "viewer"), ("admin", "admin")]).await;

    let by_viewer = invite(&app, &shop.tokens["viewer"], "x@example.com", "viewer")
        .await
        .status();
    let owner_by_admin = invite(&app, &shop.tokens["admin"], "x@example.com", "owner")
        .await
        .status();
    let owner_by_owner = invite(&app, &shop.tokens["owner"], "x@example.com", "owner")
        .await
        .status();
    let bad = invite(&app, &shop.tokens["owner"], "not-an-email", "boss").await;

    assert_eq!(
        (
            by_viewer.as_u16(),
            owner_by_admin.as_u16(),
            owner_by_owner.as_u16()
        ),
        (403, 403, 201)
    );
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["details"]["fields"].as_array().unwrap().len(), 2);
}

#[sqlx::test(migrations = false)]
async fn the_audit_log_pages_filters_and_exports_only_the_callers_organization(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let shop = shop(&app, &[("viewer", "viewer")]).await;
    let owner = &shop.tokens["owner"];
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        assert_eq!(invite(&app, owner, email, "viewer").await.status(), 201);
    }
    register(&app, "rival@example.com", "Rival").await;

    let first: Value = get_json(&app, "/api/v1/audit-log?action=member.invited&limit=2", owner).await;
    let cursor = first["next_cursor"].as_str().expect("a second page").to_owned();
    let second: Value = get_json(
        &app,
        &format!("/api/v1/audit-log?action=member.invited&limit=2&cursor={cursor}"),
        owner,
    )
    .await;
    let everything: Value = get_json(&app, "/api/v1/audit-log?limit=100", owner).await;
    let csv = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/audit-log?format=csv",
        owner,
        None,
    )
    .await;
    let by_viewer = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/audit-log",
        &shop.tokens["viewer"],
        None,
    )
    .await;
    let bad_cursor = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/audit-log?cursor=nonsense",
        owner,
        None,
    )
    .await;

    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_cursor"], Value::Null);
    assert_ne!(first["data"][1]["id"], second["data"][0]["id"]);
    let actions: Vec<&str> = everything["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "user.registered").count(),
        1,
        "the rival's registration is not here: {actions:?}"
    );
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert!(
        text.starts_with("id,occurred_at,actor_user_id,actor_api_key_id,action,"),
        "{text}"
    );
    assert_eq!(
        text.lines().count(),
        everything["data"].as_array().unwrap().len() + 1
    );
    assert_eq!(by_viewer.status(), 403);
    assert_eq!(bad_cursor.status(), 422);
}
