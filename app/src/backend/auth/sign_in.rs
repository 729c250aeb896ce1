//! Checking a person's email and password, shared by the API's `/auth/login` and the
//! browser's sign-in form (SPEC AUTH-3, AUTH-5).
//!
//! A wrong email, a wrong password and an organization the person does not belong to all
//! end the same way after the same work. Each attempt first reserves a unit of the client
//! address's and the account's failure budget (5 per 15 minutes) and gives both back when
//! the password is right, so only failures count and an exhausted budget refuses before any
//! password is checked.

use domain::Email;
use secrecy::SecretString;
use sqlx::PgPool;

use crate::backend::auth::password;
use crate::backend::error::{current_request_id, ApiError};
use crate::backend::identity::{self, AuditEntry, IdentityError, Organization};
use crate::backend::rate_limit::{Limits, Policy};
use crate::backend::tenant::{AccountTx, OrgId, TenantTx, UserId};

/// A checked sign-in: the person, and a transaction in the organization they signed in to.
pub struct SignedIn {
    pub user_id: UserId,
    pub organization: Organization,
    pub tenant: TenantTx,
}

/// Checks `email` and `password` for a member of `organization` (a slug; their first
/// organization when `None`). 401 when anything does not match, 429 when the client address
/// or the account has failed too often.
pub async fn sign_in(
    db: &PgPool,
    limits: &Limits,
    client_key: &str,
    email: &str,
    password: SecretString,
    organization: Option<&str>,
) -> Result<SignedIn, ApiError> {
    let attempt = Attempt::reserve(limits, client_key, email).await?;
    let Ok(email) = Email::parse(email) else {
        password::verify(password, None)
            .await
            .map_err(ApiError::internal)?;
        return Err(ApiError::Unauthorized);
    };
    let mut account = AccountTx::for_sign_in(db, &email).await?;
    let credentials = identity::credentials(&mut account, &email).await?;
    let (user_id, stored) = credentials.map_or((None, None), |(id, hash)| (Some(id), Some(hash)));
    let verified = password::verify(password, stored)
        .await
        .map_err(ApiError::internal)?;
    let Some(user_id) = user_id.filter(|_| verified) else {
        tracing::warn!("sign-in refused: wrong email or password");
        if let Some(user_id) = user_id {
            // Written aside so a known email answers as fast as an unknown one.
            let organization = organization.map(str::to_owned);
            tokio::spawn(record_failure(
                db.clone(),
                user_id,
                organization,
                current_request_id(),
            ));
        }
        return Err(ApiError::Unauthorized);
    };
    account.act_for(user_id).await?;
    let Some(organization) = identity::organization_of_member(&mut account, user_id, organization).await?
    else {
        tracing::warn!(user_id = %user_id, "sign-in refused: not a member of the organization asked for");
        return Err(ApiError::Unauthorized);
    };
    attempt.forgive().await;
    let tenant = account.into_tenant(OrgId(organization.id)).await?;
    Ok(SignedIn {
        user_id,
        organization,
        tenant,
    })
}

/// One sign-in attempt's reservation against both failure budgets.
struct Attempt<'a> {
    limits: &'a Limits,
    by_address: (Policy, String),
    by_account: (Policy, String),
}

impl<'a> Attempt<'a> {
    async fn reserve(limits: &'a Limits, client_key: &str, email: &str) -> Result<Self, ApiError> {
        let attempt = Attempt {
            limits,
            by_address: (Policy::login_per_ip(), client_key.to_owned()),
            by_account: (Policy::login_per_account(), email.trim().to_lowercase()),
        };
        let (policy, key) = &attempt.by_address;
        let decision = limits.limiter.spend(policy, key).await;
        if let Some(refusal) = decision.refusal() {
            tracing::warn!(
                client = key,
                "sign-in refused: too many failures from this address"
            );
            return Err(refusal);
        }
        let (policy, key) = &attempt.by_account;
        let decision = limits.limiter.spend(policy, key).await;
        if let Some(refusal) = decision.refusal() {
            let (policy, key) = &attempt.by_address;
            limits.limiter.refund(policy, key).await;
            tracing::warn!(
                client = client_key,
                "sign-in refused: too many failures for this account"
            );
            return Err(refusal);
        }
        Ok(attempt)
    }

    /// The password was right: this attempt does not count against either budget.
    async fn forgive(self) {
        for (policy, key) in [&self.by_address, &self.by_account] {
            self.limits.limiter.refund(policy, key).await;
        }
    }
}

/// Audits a wrong password for a known person in the organization they named (or their
/// first), where its admins can see it.
async fn record_failure(
    db: PgPool,
    user_id: UserId,
    organization: Option<String>,
    request_id: Option<String>,
) {
    let written = async {
        let mut account = AccountTx::for_user(&db, user_id).await?;
        let Some(org) =
            identity::organization_of_member(&mut account, user_id, organization.as_deref()).await?
        else {
            return Ok(());
        };
        let mut tenant = account.into_tenant(OrgId(org.id)).await?;
        identity::audit(
            &mut tenant,
            AuditEntry {
                actor: Some(user_id),
                actor_api_key: None,
                action: "user.sign_in_failed",
                target_type: Some("user"),
                target_id: Some(user_id.to_string()),
                outcome: "failure",
                request_id,
            },
        )
        .await?;
        tenant.commit().await?;
        Ok::<_, IdentityError>(())
    }
    .await;
    if let Err(error) = written {
        tracing::error!(%error, "could not audit a failed sign-in");
    }
}
