//! `sightline seed-demo`: a demo organization and its owner, so a fresh install has someone to
//! sign in as. Idempotent: running it again resets the demo password and changes nothing else.

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use uuid::Uuid;

use crate::tenant::{AccountTx, OrgId, UserId};

/// The demo organization's URL name.
pub const DEMO_ORG_SLUG: &str = "demo";
/// The demo owner's sign-in email.
pub const DEMO_EMAIL: &str = "demo@sightline.local";
/// Used when `SIGHTLINE_DEMO_PASSWORD` is not set; fine for a local demo, never for production.
pub const DEFAULT_DEMO_PASSWORD: &str = "demo-insights-2026";

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the demo password is refused: {0}")]
    Password(#[from] domain::PasswordRejection),
    #[error(transparent)]
    Hash(#[from] crate::auth::password::PasswordHashError),
    #[error("could not write the demo data: {0}")]
    Database(#[from] sqlx::Error),
}

/// What was seeded, for the command to print.
#[derive(Debug)]
pub struct DemoLogin {
    pub organization_slug: &'static str,
    pub email: &'static str,
}

/// Creates or refreshes the demo organization and its owner in one transaction, through the
/// application role (so it also proves that role can write).
#[tracing::instrument(skip_all)]
pub async fn seed_demo(pool: &PgPool, password: &SecretString) -> Result<DemoLogin, SeedError> {
    domain::check_password(password.expose_secret(), DEMO_EMAIL)?;
    let password_hash = crate::auth::password::hash(password.clone()).await?;

    let email = domain::Email::parse(DEMO_EMAIL).expect("the demo email is valid");
    let mut account = AccountTx::for_sign_in(pool, &email).await?;
    let user_id: Uuid = sqlx::query_scalar(
        "insert into users (email, password_hash, display_name) values ($1, $2, 'Demo Owner')
         on conflict (email) do update
         set password_hash = excluded.password_hash, password_changed_at = now(), updated_at = now()
         returning id",
    )
    .bind(email.as_str())
    .bind(&password_hash)
    .fetch_one(account.conn())
    .await?;
    // The demo organization is the one of that slug the demo owner already belongs to, if any.
    account.act_for(UserId(user_id)).await?;
    let existing: Option<Uuid> = sqlx::query_scalar("select id from organizations where slug = $1")
        .bind(DEMO_ORG_SLUG)
        .fetch_optional(account.conn())
        .await?;
    let org_id = OrgId(existing.unwrap_or_else(Uuid::new_v4));

    let mut tenant = account.into_tenant(org_id).await?;
    sqlx::query(
        "insert into organizations (id, slug, name) values ($1, $2, 'Demo Store')
         on conflict (id) do nothing",
    )
    .bind(org_id)
    .bind(DEMO_ORG_SLUG)
    .execute(tenant.conn())
    .await?;
    sqlx::query(
        "insert into memberships (org_id, user_id, role) values ($1, $2, 'owner')
         on conflict (org_id, user_id) do update set role = 'owner', updated_at = now()",
    )
    .bind(org_id)
    .bind(user_id)
    .execute(tenant.conn())
    .await?;
    tenant.commit().await?;

    Ok(DemoLogin {
        organization_slug: DEMO_ORG_SLUG,
        email: DEMO_EMAIL,
    })
}
