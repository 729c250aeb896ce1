//! Tenant isolation as a property (SPEC TEN-2, TEN-3): for random organizations, people,
//! memberships, API keys and audit rows, every list endpoint and repository query answers
//! only the caller's organization's rows, and every id of another organization gives 404
//! and changes nothing. 256 generated worlds, all in one database (each world adds new
//! organizations, so earlier worlds are there too, as more neighbours to leak from).

use std::collections::BTreeSet;
use std::time::SystemTime;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use server::identity;
use server::tenant::{OrgId, TenantTx, UserId};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{test_keys, TestApp};

const ROLES: [&str; 4] = ["owner", "admin", "analyst", "viewer"];

/// One organization of a generated world: its extra members' roles, keys and audit rows.
#[derive(Clone, Debug)]
struct OrgPlan {
    members: Vec<usize>,
    keys: usize,
    audit_rows: usize,
}

fn org_plan() -> impl Strategy<Value = OrgPlan> {
    (
        proptest::collection::vec(0..ROLES.len(), 0..4),
        0..3usize,
        0..4usize,
    )
        .prop_map(|(members, keys, audit_rows)| OrgPlan {
            members,
            keys,
            audit_rows,
        })
}

/// Organizations, plus which one calls and whose ids it tries.
fn world() -> impl Strategy<Value = (Vec<OrgPlan>, usize, usize)> {
    proptest::collection::vec(org_plan(), 2..5).prop_flat_map(|orgs| {
        let n = orgs.len();
        (Just(orgs), 0..n, 1..n).prop_map(|(orgs, caller, offset)| {
            let victim = (caller + offset) % orgs.len();
            (orgs, caller, victim)
        })
    })
}

/// What was inserted for one organization.
struct Made {
    org: Uuid,
    owner: Uuid,
    members: BTreeSet<Uuid>,
    keys: BTreeSet<Uuid>,
    audit: BTreeSet<i64>,
}

async fn make(admin: &PgPool, plan: &OrgPlan) -> Made {
    let org: Uuid =
        sqlx::query_scalar("insert into organizations (slug, name) values ($1, 'Org') returning id")
            .bind(format!("org-{}", Uuid::new_v4().simple()))
            .fetch_one(admin)
            .await
            .unwrap();
    let mut members = BTreeSet::new();
    let mut owner = None;
    for role in std::iter::once(0).chain(plan.members.iter().copied()) {
        let user: Uuid =
            sqlx::query_scalar("insert into users (email, password_hash) values ($1, 'x') returning id")
                .bind(format!("{}@example.com", Uuid::new_v4().simple()))
                .fetch_one(admin)
                .await
                .unwrap();
        sqlx::query("insert into memberships (org_id, user_id, role) values ($1, $2, $3)")
            .bind(org)
            .bind(user)
            .bind(ROLES[role])
            .execute(admin)
            .await
            .unwrap();
        owner.get_or_insert(user);
        members.insert(user);
    }
    let mut keys = BTreeSet::new();
    for _ in 0..plan.keys {
        let key: Uuid = sqlx::query_scalar(
            "insert into api_keys (org_id, name, prefix, key_hash, scopes)
             values ($1, 'k', 'slk_test', sha256(gen_random_uuid()::text::bytea), array['read'])
             returning id",
        )
        .bind(org)
        .fetch_one(admin)
        .await
        .unwrap();
        keys.insert(key);
    }
    let mut audit = BTreeSet::new();
    for _ in 0..plan.audit_rows {
        let id: i64 = sqlx::query_scalar(
            "insert into audit_log (org_id, action, outcome) values ($1, 'generated', 'success') returning id",
        )
        .bind(org)
        .fetch_one(admin)
        .await
        .unwrap();
        audit.insert(id);
    }
    Made {
        org,
        owner: owner.unwrap(),
        members,
        keys,
        audit,
    }
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let (status, body) = crate::helpers::get_as(app, token, path).await;
    assert_eq!(status, 200, "{path}");
    body
}

fn ids<T: Ord + std::str::FromStr>(page: &Value, field: &str) -> BTreeSet<T>
where
    T::Err: std::fmt::Debug,
{
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| match &row[field] {
            Value::String(text) => text.parse().unwrap(),
            other => other.to_string().parse().unwrap(),
        })
        .collect()
}

async fn status(app: &TestApp, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> u16 {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.address))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap().status().as_u16()
}

/// Rows of `org` as the superuser sees them: what must not change.
async fn snapshot(admin: &PgPool, org: Uuid) -> (i64, i64, Vec<String>) {
    sqlx::query_as(
        "select (select count(*) from memberships where org_id = $1),
                (select count(*) from api_keys where org_id = $1 and revoked_at is null),
                (select coalesce(array_agg(role order by user_id), '{}') from memberships where org_id = $1)",
    )
    .bind(org)
    .fetch_one(admin)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn every_list_and_id_answers_only_the_callers_organization(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let keys = test_keys();
    let mut runner = TestRunner::new(Config {
        cases: 256,
        ..Config::default()
    });
    let strategy = world();

    for case in 0..256 {
        let (plans, caller, victim) = strategy.new_tree(&mut runner).unwrap().current();
        let mut made = Vec::new();
        for plan in &plans {
            made.push(make(&app.admin_db, plan).await);
        }
        let mine = &made[caller];
        let theirs = &made[victim];
        let token = keys.issue(UserId(mine.owner), OrgId(mine.org), SystemTime::now());
        let before = snapshot(&app.admin_db, theirs.org).await;

        // Lists: exactly the caller's rows.
        let members: BTreeSet<Uuid> = ids(&get(&app, &token, "/api/v1/members").await, "user_id");
        let api_keys: BTreeSet<Uuid> = ids(&get(&app, &token, "/api/v1/api-keys").await, "id");
        let audit: BTreeSet<i64> = ids(&get(&app, &token, "/api/v1/audit-log?limit=100").await, "id");
        assert_eq!(members, mine.members, "case {case}: members");
        assert_eq!(api_keys, mine.keys, "case {case}: keys");
        assert!(mine.audit.is_subset(&audit), "case {case}: own audit rows");
        for other in made.iter().filter(|m| m.org != mine.org) {
            assert!(audit.is_disjoint(&other.audit), "case {case}: foreign audit rows");
        }

        // Repository level, through the tenant transaction.
        let mut tenant = TenantTx::begin(&app.app_db, OrgId(mine.org)).await.unwrap();
        for foreign in &theirs.members {
            if !mine.members.contains(foreign) {
                let found = identity::member(&mut tenant, UserId(*foreign)).await.unwrap();
                assert!(
                    found.is_none(),
                    "case {case}: foreign member through the repository"
                );
            }
        }
        let visible: i64 = sqlx::query_scalar("select count(*) from api_keys")
            .fetch_one(tenant.conn())
            .await
            .unwrap();
        assert_eq!(
            visible as usize,
            mine.keys.len(),
            "case {case}: keys visible in the tenant"
        );
        drop(tenant);

        // Ids of another organization: 404, and nothing changes there.
        let foreign_member = *theirs.members.iter().next().unwrap();
        let path = format!("/api/v1/members/{foreign_member}");
        let patch = status(
            &app,
            &token,
            reqwest::Method::PATCH,
            &path,
            Some(serde_json::json!({ "role": "viewer" })),
        )
        .await;
        let delete = status(&app, &token, reqwest::Method::DELETE, &path, None).await;
        assert_eq!((patch, delete), (404, 404), "case {case}: foreign member");
        if let Some(foreign_key) = theirs.keys.iter().next() {
            let revoke = status(
                &app,
                &token,
                reqwest::Method::DELETE,
                &format!("/api/v1/api-keys/{foreign_key}"),
                None,
            )
            .await;
            assert_eq!(revoke, 404, "case {case}: foreign key");
        }
        assert_eq!(
            snapshot(&app.admin_db, theirs.org).await,
            before,
            "case {case}: their rows unchanged"
        );
    }
}
