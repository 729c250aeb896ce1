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
