//! The only door to tenant data (SPEC TEN-2).
//!
//! A `TenantTx` is a transaction on the application role's pool with `app.org_id` set to one
//! organization, transaction-locally, so a pooled connection never carries it to the next
//! request. Row-level security policies read the same setting: through a `TenantTx`, rows of
//! other organizations are neither visible nor writable, and code that bypasses it (a bare
//! pool query) sees no tenant rows at all. Repository functions take `&mut TenantTx`, never a
//! pool. `AccountTx` is its counterpart for one person across organizations (sign-in, the
//! organization switcher): it never sees another person's rows.

use std::fmt;

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// An organization's id. Only the server's authentication code should make one from a
/// session or token; never from a request parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(transparent)]
pub struct OrgId(pub Uuid);

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A transaction scoped to one organization. Dropped without `commit`, it rolls back.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    org_id: OrgId,
}

impl TenantTx {
    /// Opens a transaction and sets the organization for row-level security.
    pub async fn begin(pool: &PgPool, org_id: OrgId) -> Result<Self, sqlx::Error> {
        Self::enter(pool.begin().await?, org_id).await
    }

    /// Limits an open transaction to `org_id` from here on: for writes that first create the
    /// organization and then its rows, all in one transaction (registration, the demo seed).
    /// Any account-level scope is cleared, so inside a tenant only that tenant's rows show.
    pub async fn enter(mut tx: Transaction<'static, Postgres>, org_id: OrgId) -> Result<Self, sqlx::Error> {
        sqlx::query(
            "select set_config('app.org_id', $1, true), set_config('app.user_id', '', true),
                    set_config('app.login_email', '', true)",
        )
        .bind(org_id.to_string())
        .execute(&mut *tx)
        .await?;
        Ok(TenantTx { tx, org_id })
    }

    /// Lets this transaction also see and create the one user row with `email`: for accepting
    /// an invitation, which joins a person (new or existing) to this organization.
    pub async fn admit_person(&mut self, email: &domain::Email) -> Result<(), sqlx::Error> {
        sqlx::query("select set_config('app.login_email', $1, true)")
            .bind(email.as_str())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The organization every statement in this transaction is limited to.
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    /// The connection, for running queries inside the transaction.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

/// A person's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(transparent)]
pub struct UserId(pub Uuid);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A transaction acting for one person across organizations, before or outside any tenant:
/// signing in (finding the one user row an email names), listing their organizations,
/// switching between them. It sees that person's own rows and nothing of anyone else's.
pub struct AccountTx {
    tx: Transaction<'static, Postgres>,
}

impl AccountTx {
    /// Opens a transaction that can see the user row with this email, and only that one.
    pub async fn for_sign_in(pool: &PgPool, email: &domain::Email) -> Result<Self, sqlx::Error> {
        let mut tx = pool.begin().await?;
        sqlx::query("select set_config('app.login_email', $1, true)")
            .bind(email.as_str())
            .execute(&mut *tx)
            .await?;
        Ok(AccountTx { tx })
    }

    /// Opens a transaction for a person already authenticated.
    pub async fn for_user(pool: &PgPool, user_id: UserId) -> Result<Self, sqlx::Error> {
        let mut account = AccountTx {
            tx: pool.begin().await?,
        };
        account.act_for(user_id).await?;
        Ok(account)
    }

    /// From here on, acts for `user_id`: their row, memberships and organizations are visible.
    pub async fn act_for(&mut self, user_id: UserId) -> Result<(), sqlx::Error> {
        sqlx::query("select set_config('app.user_id', $1, true)")
            .bind(user_id.to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Continues the same transaction inside one organization (e.g. after creating it).
    pub async fn into_tenant(self, org_id: OrgId) -> Result<TenantTx, sqlx::Error> {
        TenantTx::enter(self.tx, org_id).await
    }

    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}
