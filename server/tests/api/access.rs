//! Every identity endpoint × every role × every API-key scope → the status the role table
//! (SPEC AUTH-4) promises. One table, so a changed rule shows up as one readable diff.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{register, token, TestApp, PASSWORD};

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Owner,
    Admin,
    Analyst,
    Viewer,
    IngestKey,
    ReadKey,
    AdminKey,
    Nobody,
}

const EVERYONE: [Who; 8] = [
    Who::Owner,
    Who::Admin,
    Who::Analyst,
    Who::Viewer,
    Who::IngestKey,
    Who::ReadKey,
    Who::AdminKey,
    Who::Nobody,
];

/// What is called; targets that a call destroys are made fresh for each call.
#[derive(Clone, Copy, Debug)]
enum Endpoint {
    Me,
    ListMembers,
    ChangeRole,
    RemoveMember,
    Invite,
    ListKeys,
    CreateKey,
    RevokeKey,
    AuditLog,
}

/// The expected status per caller, in `EVERYONE`'s order.
const TABLE: [(Endpoint, [u16; 8]); 9] = [
    //                      owner admin analyst viewer ingest read admin-key nobody
    (Endpoint::Me, [200, 200, 200, 200, 403, 403, 403, 401]),
    (Endpoint::ListMembers, [200, 200, 200, 200, 403, 200, 200, 401]),
    (Endpoint::ChangeRole, [200, 200, 403, 403, 403, 403, 200, 401]),
    (Endpoint::RemoveMember, [204, 204, 403, 403, 403, 403, 204, 401]),
    (Endpoint::Invite, [201, 201, 403, 403, 403, 403, 201, 401]),
    (Endpoint::ListKeys, [200, 200, 403, 403, 403, 403, 200, 401]),
    (Endpoint::CreateKey, [201, 201, 403, 403, 403, 403, 201, 401]),
    (Endpoint::RevokeKey, [204, 204, 403, 403, 403, 403, 204, 401]),
    (Endpoint::AuditLog, [200, 200, 403, 403, 403, 403, 200, 401]),
];

struct Org {
    owner: String,
    tokens: Vec<(Who, Option<String>)>,
    people: AtomicUsize,
}

impl Org {
    fn credential(&self, who: Who) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(w, _)| *w == who)
            .and_then(|(_, t)| t.as_deref())
    }
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, format!("{}{path}", app.address));
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// A new member with `role`, through an invitation; answers their session.
async fn join(app: &TestApp, org: &Org, role: &str) -> Value {
    let n = org.people.fetch_add(1, Ordering::Relaxed);
    let email = format!("person-{n}@example.com");
    let invitation: Value = send(
        app,
        reqwest::Method::POST,
        "/api/v1/invitations",
        Some(&org.owner),
        Some(json!({ "email": email, "role": role })),
    )
    .await
    .json()
    .await
    .unwrap();
    let accepted = send(
        app,
        reqwest::Method::POST,
        "/api/v1/invitations/accept",
        None,
        Some(json!({ "token": invitation["invitation_token"], "password": PASSWORD })),
    )
    .await;
    assert_eq!(accepted.status(), 201);
    accepted.json().await.unwrap()
}

async fn new_key(app: &TestApp, org: &Org, scope: &str) -> Value {
    let response = send(
        app,
        reqwest::Method::POST,
        "/api/v1/api-keys",
        Some(&org.owner),
        Some(json!({ "name": format!("{scope} key"), "scopes": [scope] })),
    )
    .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn call(app: &TestApp, org: &Org, endpoint: Endpoint, who: Who) -> u16 {
    use reqwest::Method;
    let bearer = org.credential(who);
    let response = match endpoint {
        Endpoint::Me => send(app, Method::GET, "/api/v1/me", bearer, None).await,
        Endpoint::ListMembers => send(app, Method::GET, "/api/v1/members", bearer, None).await,
        Endpoint::ChangeRole => {
            let target = join(app, org, "analyst").await;
            let path = format!("/api/v1/members/{}", target["user"]["id"].as_str().unwrap());
            send(
                app,
                Method::PATCH,
                &path,
                bearer,
                Some(json!({ "role": "viewer" })),
            )
            .await
        }
        Endpoint::RemoveMember => {
            let target = join(app, org, "analyst").await;
            let path = format!("/api/v1/members/{}", target["user"]["id"].as_str().unwrap());
            send(app, Method::DELETE, &path, bearer, None).await
        }
        Endpoint::Invite => {
            let body = json!({ "email": "invitee@example.com", "role": "analyst" });
            send(app, Method::POST, "/api/v1/invitations", bearer, Some(body)).await
        }
        Endpoint::ListKeys => send(app, Method::GET, "/api/v1/api-keys", bearer, None).await,
        Endpoint::CreateKey => {
            let body = json!({ "name": "made in the table", "scopes": ["ingest"] });
            send(app, Method::POST, "/api/v1/api-keys", bearer, Some(body)).await
        }
        Endpoint::RevokeKey => {
            let target = new_key(app, org, "read").await;
            let path = format!("/api/v1/api-keys/{}", target["id"].as_str().unwrap());
            send(app, Method::DELETE, &path, bearer, None).await
        }
        Endpoint::AuditLog => send(app, Method::GET, "/api/v1/audit-log", bearer, None).await,
    };
    response.status().as_u16()
}

#[sqlx::test(migrations = false)]
async fn every_endpoint_answers_every_role_and_scope_as_the_role_table_says(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let mut org = Org {
        owner: token(&owner),
        tokens: Vec::new(),
        people: AtomicUsize::new(0),
    };
    let mut tokens = vec![(Who::Owner, Some(token(&owner))), (Who::Nobody, None)];
    for (who, role) in [
        (Who::Admin, "admin"),
        (Who::Analyst, "analyst"),
        (Who::Viewer, "viewer"),
    ] {
        tokens.push((who, Some(token(&join(&app, &org, role).await))));
    }
    for (who, scope) in [
        (Who::IngestKey, "ingest"),
        (Who::ReadKey, "read"),
        (Who::AdminKey, "admin"),
    ] {
        let key = new_key(&app, &org, scope).await;
        tokens.push((who, Some(key["key"].as_str().unwrap().to_owned())));
    }
    org.tokens = tokens;

    let mut mismatches = Vec::new();
    for (endpoint, expected) in TABLE {
        for (who, expected) in EVERYONE.into_iter().zip(expected) {
            let got = call(&app, &org, endpoint, who).await;
            if got != expected {
                mismatches.push(format!("{endpoint:?} as {who:?}: expected {expected}, got {got}"));
            }
        }
    }

    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[sqlx::test(migrations = false)]
async fn a_busy_key_records_when_it_was_last_used_without_writing_on_every_request(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let org = Org {
        owner: token(&owner),
        tokens: Vec::new(),
        people: AtomicUsize::new(0),
    };
    let key = new_key(&app, &org, "read").await;
    let key_text = key["key"].as_str().unwrap();
    let last_used = || async {
        sqlx::query_scalar::<_, Option<chrono::DateTime<chrono::Utc>>>("select last_used_at from api_keys")
            .fetch_one(&app.admin_db)
            .await
            .unwrap()
    };
    let before = last_used().await;

    let first = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/members",
        Some(key_text),
        None,
    )
    .await;
    let after_first = last_used().await;
    for _ in 0..5 {
        send(
            &app,
            reqwest::Method::GET,
            "/api/v1/members",
            Some(key_text),
            None,
        )
        .await;
    }
    let after_more = last_used().await;

    assert_eq!(first.status(), 200);
    assert!(before.is_none());
    assert!(after_first.is_some(), "the first use is recorded");
    assert_eq!(
        after_more, after_first,
        "later uses within the minute write nothing"
    );
}
