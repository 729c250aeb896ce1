//! Sign-in throttling and request budgets (SPEC AUTH-5), in-process and through Redis.

use std::time::Duration;

use proptest::prelude::*;
use serde_json::{json, Value};
use server::rate_limit::{Limits, Policy, RateLimiter};
use server::settings::LimitSettings;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{redis_url, register, TestApp, PASSWORD};

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post(
        "/api/v1/auth/login",
        json!({ "email": email, "password": password }),
    )
    .await
}

#[sqlx::test(migrations = false)]
async fn the_sixth_failed_sign_in_is_refused_with_retry_headers(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    register(&app, "owner@example.com", "Acme").await;

    for attempt in 1..=5 {
        let response = login(&app, "owner@example.com", "wrong password, long enough").await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    let sixth = login(&app, "owner@example.com", PASSWORD).await;

    assert_eq!(
        sixth.status(),
        429,
        "even the right password waits once the budget is spent"
    );
    let headers = sixth.headers();
    assert_eq!(headers["x-ratelimit-limit"], "5");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (1..=180).contains(&retry),
        "one failure comes back every 3 minutes, got {retry}"
    );
    let reset: u64 = headers["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    assert!(reset >= retry && reset <= 900);
    let body: Value = sixth.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Failures are audited aside from the answer; give the writes a moment.
    let mut audited = 0;
    for _ in 0..50 {
        audited = sqlx::query_scalar("select count(*) from audit_log where action = 'user.sign_in_failed'")
            .fetch_one(&app.admin_db)
            .await
            .unwrap();
        if audited == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        audited, 5i64,
        "each wrong password for a known person is in their organization's log"
    );
}

#[sqlx::test(migrations = false)]
async fn successful_sign_ins_do_not_count_and_accounts_are_limited_apart(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    register(&app, "owner@example.com", "Acme").await;

    for _ in 0..8 {
        assert_eq!(login(&app, "owner@example.com", PASSWORD).await.status(), 200);
    }
    for _ in 0..4 {
        assert_eq!(
            login(&app, "owner@example.com", "not the password at all")
                .await
                .status(),
            401
        );
    }
    assert_eq!(login(&app, "owner@example.com", PASSWORD).await.status(), 200);
    // The same address has one failure left for any account, then none.
    assert_eq!(
        login(&app, "someone@example.com", "no such account here")
            .await
            .status(),
        401
    );
    assert_eq!(
        login(&app, "other@example.com", "no such account here")
            .await
            .status(),
        429
    );
}

#[sqlx::test(migrations = false)]
async fn a_person_over_their_request_budget_gets_429(_: PgPoolOptions, admin: PgConnectOptions) {
    let settings = LimitSettings {
        user_per_minute: 3,
        ..LimitSettings::default()
    };
    let app = TestApp::spawn_limited(admin, Limits::new(&settings, None)).await;
    let first = register(&app, "first@example.com", "First").await;
    let second = register(&app, "second@example.com", "Second").await;
    let me = |token: &Value| {
        app.client
            .get(format!("{}/api/v1/me", app.address))
            .bearer_auth(token.as_str().unwrap())
            .send()
    };

    for _ in 0..3 {
        assert_eq!(me(&first["access_token"]).await.unwrap().status(), 200);
    }
    let refused = me(&first["access_token"]).await.unwrap();
    let other = me(&second["access_token"]).await.unwrap();

    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["x-ratelimit-limit"], "3");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(other.status(), 200, "budgets are per person");
}

/// A namespace no other test uses, so parallel tests sharing one Redis stay apart.
fn namespace() -> String {
    format!("test:{}", uuid::Uuid::new_v4())
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Spend,
    Refund,
    Peek,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![Just(Op::Spend), Just(Op::Refund), Just(Op::Peek)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The Redis script and the in-process limiter agree on every answer, so a deployment
    /// behaves the same with and without Redis.
    #[test]
    fn redis_and_in_process_limits_agree(ops in proptest::collection::vec(op(), 1..25), limit in 1u32..6) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let local = RateLimiter::local();
            let shared = RateLimiter::shared(redis::Client::open(redis_url()).unwrap(), namespace());
            // Long periods: the few milliseconds between the two calls change nothing.
            let policy = Policy { name: "agree", limit, period: Duration::from_secs(3600) };
            for op in ops {
                let (a, b) = match op {
                    Op::Spend => (local.spend(&policy, "k").await, shared.spend(&policy, "k").await),
                    Op::Peek => (local.peek(&policy, "k").await, shared.peek(&policy, "k").await),
                    Op::Refund => {
                        local.refund(&policy, "k").await;
                        shared.refund(&policy, "k").await;
                        (local.peek(&policy, "k").await, shared.peek(&policy, "k").await)
                    }
                };
                prop_assert_eq!(a.allowed, b.allowed, "{:?}", op);
                prop_assert_eq!(a.remaining, b.remaining, "{:?}", op);
                let drift = a.retry_after.abs_diff(b.retry_after);
                prop_assert!(drift < Duration::from_millis(200), "{:?}: {:?} vs {:?}", op, a, b);
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn limits_through_redis_are_shared_between_processes() {
    let namespace = namespace();
    let node_a = RateLimiter::shared(redis::Client::open(redis_url()).unwrap(), namespace.clone());
    let node_b = RateLimiter::shared(redis::Client::open(redis_url()).unwrap(), namespace);
    let policy = Policy::login_per_account();

    for _ in 0..3 {
        assert!(node_a.spend(&policy, "x@example.com").await.allowed);
    }
    for _ in 0..2 {
        assert!(node_b.spend(&policy, "x@example.com").await.allowed);
    }

    assert!(!node_a.spend(&policy, "x@example.com").await.allowed);
    assert!(!node_b.peek(&policy, "x@example.com").await.allowed);
}

#[tokio::test]
async fn when_redis_is_down_limits_still_hold_in_process() {
    let port = crate::helpers::closed_port();
    let limiter = RateLimiter::shared(
        redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap(),
        namespace(),
    );
    let policy = Policy::login_per_ip();

    for _ in 0..5 {
        assert!(limiter.spend(&policy, "10.0.0.1").await.allowed);
    }

    assert!(!limiter.spend(&policy, "10.0.0.1").await.allowed);
}
