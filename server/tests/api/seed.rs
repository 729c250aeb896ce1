use argon2::{Argon2, PasswordHash, PasswordVerifier};
use domain::PasswordRejection;
use secrecy::SecretString;
use server::seed::{seed_demo, SeedError, DEMO_EMAIL, DEMO_ORG_SLUG};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::TestApp;

#[sqlx::test(migrations = false)]
async fn seeding_twice_leaves_one_demo_owner_whose_latest_password_verifies(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;

    seed_demo(&app.app_db, &SecretString::from("first-demo-passphrase"))
        .await
        .unwrap();
    let login = seed_demo(&app.app_db, &SecretString::from("second-demo-passphrase"))
        .await
        .unwrap();

    let (orgs, users, owners): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from organizations where slug = $1),
                (select count(*) from users where email = $2),
                (select count(*) from memberships where role = 'owner')",
    )
    .bind(DEMO_ORG_SLUG)
    .bind(DEMO_EMAIL)
    .fetch_one(&app.admin_db)
    .await
    .unwrap();
    assert_eq!((orgs, users, owners), (1, 1, 1));
    let hash: String = sqlx::query_scalar("select password_hash from users where email = $1")
        .bind(login.email)
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    let parsed = PasswordHash::new(&hash).unwrap();
    assert_eq!(parsed.algorithm.as_str(), "argon2id");
    assert!(Argon2::default()
        .verify_password(b"second-demo-passphrase", &parsed)
        .is_ok());
    assert!(Argon2::default()
        .verify_password(b"first-demo-passphrase", &parsed)
        .is_err());
}

#[sqlx::test(migrations = false)]
async fn a_short_demo_password_is_refused_and_nothing_is_written(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;

    let result = seed_demo(&app.app_db, &SecretString::from("short")).await;

    assert!(matches!(
        result,
        Err(SeedError::Password(PasswordRejection::TooShort))
    ));
    let orgs: i64 = sqlx::query_scalar("select count(*) from organizations")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(orgs, 0);
}

#[sqlx::test(migrations = false)]
async fn the_printed_demo_login_signs_in_to_the_demo_organization(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let password = server::seed::DEFAULT_DEMO_PASSWORD;
    seed_demo(&app.app_db, &SecretString::from(password))
        .await
        .unwrap();

    let response = app
        .post(
            "/api/v1/auth/login",
            serde_json::json!({ "email": DEMO_EMAIL, "password": password }),
        )
        .await;

    assert_eq!(response.status(), 200);
    let session: serde_json::Value = response.json().await.unwrap();
    assert_eq!(session["organization"]["slug"], DEMO_ORG_SLUG);
    assert_eq!(session["role"], "owner");
}

async fn fingerprint(db: &sqlx::PgPool) -> (i64, i64, i64, String) {
    sqlx::query_as(
        "select (select count(*) from interactions), (select count(*) from orders), (select count(*) from reviews),
                md5((select string_agg(external_id || ':' || total::text || ':' || ordered_at::text, ',' order by external_id) from orders)
                    || (select string_agg(external_id || ':' || occurred_at::text, ',' order by external_id) from interactions))",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn generated_demo_data_is_reproducible_consistent_and_readable_by_the_app(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    use server::demo_data::{generate, Plan};
    let app = TestApp::spawn(admin).await;
    seed_demo(&app.app_db, &SecretString::from("a-demo-passphrase-long"))
        .await
        .unwrap();
    let until = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let plan = Plan {
        customers: 120,
        days: 90,
        seed: 7,
        until,
    };

    let counts = generate(&app.admin_db, DEMO_ORG_SLUG, plan).await.unwrap();
    let first = fingerprint(&app.admin_db).await;
    let again = generate(&app.admin_db, DEMO_ORG_SLUG, plan).await.unwrap();
    let second = fingerprint(&app.admin_db).await;
    let other = generate(&app.admin_db, DEMO_ORG_SLUG, Plan { seed: 8, ..plan })
        .await
        .unwrap();

    assert_eq!(first, second, "the same seed gives the same data");
    assert_eq!(
        (counts.interactions, counts.orders),
        (again.interactions, again.orders)
    );
    assert_ne!(
        fingerprint(&app.admin_db).await.3,
        first.3,
        "another seed gives other data"
    );
    assert!(
        other.interactions > 1_000 && other.orders > 50 && other.reviews > 5 && other.fraud_orders > 0,
        "{other:?}"
    );

    // Aggregates equal a recomputation from the rows; nothing lies after the period.
    let mismatched: i64 = sqlx::query_scalar(
        "select count(*) from customers c
         where c.interaction_count <> (select count(*) from interactions i where i.customer_id = c.id)
            or c.order_count <> (select count(*) from orders o where o.customer_id = c.id
                                 and o.status not in ('refunded', 'cancelled'))",
    )
    .fetch_one(&app.admin_db)
    .await
    .unwrap();
    assert_eq!(mismatched, 0);
    let latest: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select max(occurred_at) from interactions")
            .fetch_one(&app.admin_db)
            .await
            .unwrap();
    assert!(latest.date_naive() <= until + chrono::Duration::days(1));

    // The application role sees the rows through its tenant scope, and reviews read back.
    let org_id: uuid::Uuid = sqlx::query_scalar("select id from organizations where slug = $1")
        .bind(DEMO_ORG_SLUG)
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    let mut tenant = server::tenant::TenantTx::begin(&app.app_db, server::tenant::OrgId(org_id))
        .await
        .unwrap();
    let (visible, negative): (i64, i64) = sqlx::query_as(
        "select (select count(*) from orders), (select count(*) from reviews where rating <= 2 and content ~* '(late|broke|poor|rude|expensive|wrong|crushed|confusing|small|slow|lost|never|nobody|useless|inconsistent|cheap|worth|overpriced|damaged|badly|apart|undone|stopped)')",
    )
    .fetch_one(tenant.conn())
    .await
    .unwrap();
    let low_rated: i64 = sqlx::query_scalar("select count(*) from reviews where rating <= 2")
        .fetch_one(tenant.conn())
        .await
        .unwrap();
    assert_eq!(visible as u64, other.orders + other.fraud_orders);
    assert_eq!(negative, low_rated, "every low rating comes with a negative text");
}
