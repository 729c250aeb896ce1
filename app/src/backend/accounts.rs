//! Joining Sightline: registering a person with their organization, and accepting an
//! invitation. Shared by the REST API (which answers tokens) and the pages (which start a
//! browser session); both get the open transaction to finish in.

use domain::{Email, Role, Slug};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use uuid::Uuid;

use super::auth::password;
use super::auth::secrets::{self, SecretKind};
use super::error::{ApiError, FieldError};
use super::identity;
use super::tenant::{AccountTx, OrgId, TenantTx, UserId};

/// Creates a person, their organization and them as its owner; 422 with every invalid field,
/// 409 when the email is taken. Commit the returned transaction to keep it.
pub async fn register(
    db: &PgPool,
    email: &str,
    password: SecretString,
    organization: &str,
) -> Result<(TenantTx, UserId), ApiError> {
    let mut errors = Vec::new();
    let raw_email = email;
    let email = Email::parse(raw_email)
        .map_err(|e| errors.push(FieldError::new("email", "invalid", e)))
        .ok();
    if let Err(rejection) = domain::check_password(password.expose_secret(), raw_email) {
        errors.push(FieldError::new("password", "weak", rejection));
    }
    let name = organization.trim();
    let slug = match Slug::suggest(name) {
        Some(slug) if name.chars().count() <= 200 => Some(slug),
        _ => {
            errors.push(FieldError::new(
                "organization",
                "invalid",
                "name the organization with 1 to 200 characters, some of them letters or digits",
            ));
            None
        }
    };
    let (Some(email), Some(slug)) = (email, slug) else {
        return Err(ApiError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }

    let password_hash = password::hash(password).await.map_err(ApiError::internal)?;
    let user_id = UserId(Uuid::new_v4());
    let mut account = AccountTx::for_user(db, user_id).await?;
    identity::insert_user(&mut account, user_id, &email, &password_hash).await?;
    let mut tenant = account.into_tenant(OrgId(Uuid::new_v4())).await?;
    identity::insert_organization(&mut tenant, name, &slug).await?;
    identity::add_member(&mut tenant, user_id, Role::Owner).await?;
    tracing::info!(user_id = %user_id, org_id = %tenant.org_id(), "registered");
    Ok((tenant, user_id))
}

/// Joins the invited email to the organization — creating the account, or, when it exists,
/// proving it with its password — and marks the invitation used. 404 for an unknown, used or
/// expired invitation. Commit the returned transaction to keep it.
pub async fn accept_invitation(
    db: &PgPool,
    token: SecretString,
    password: SecretString,
) -> Result<(TenantTx, UserId), ApiError> {
    let presented =
        secrets::parse(SecretKind::Invitation, token.expose_secret()).ok_or(ApiError::NotFound)?;
    let mut tenant = TenantTx::begin(db, presented.org_id).await?;
    let org_id = tenant.org_id();
    let invitation: Option<(Uuid, String, String)> = sqlx::query_as(
        "select id, email, role from invitations
         where org_id = $1 and token_hash = $2 and accepted_at is null and expires_at > now()
         for update",
    )
    .bind(org_id)
    .bind(&presented.hash[..])
    .fetch_optional(tenant.conn())
    .await?;
    let (invitation_id, email, role) = invitation.ok_or(ApiError::NotFound)?;
    let email = Email::parse(&email).map_err(ApiError::internal)?;
    let role = Role::parse(&role).ok_or(ApiError::NotFound)?;

    tenant.admit_person(&email).await?;
    let existing: Option<(Uuid, String)> =
        sqlx::query_as("select id, password_hash from users where email = $1")
            .bind(email.as_str())
            .fetch_optional(tenant.conn())
            .await?;
    let user_id = match existing {
        Some((id, stored)) => {
            if !password::verify(password, Some(stored))
                .await
                .map_err(ApiError::internal)?
            {
                return Err(ApiError::Unauthorized);
            }
            UserId(id)
        }
        None => {
            if let Err(rejection) = domain::check_password(password.expose_secret(), email.as_str()) {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "password", "weak", rejection,
                )]));
            }
            let hash = password::hash(password).await.map_err(ApiError::internal)?;
            let id: Uuid =
                sqlx::query_scalar("insert into users (email, password_hash) values ($1, $2) returning id")
                    .bind(email.as_str())
                    .bind(hash)
                    .fetch_one(tenant.conn())
                    .await?;
            UserId(id)
        }
    };
    let joined = sqlx::query(
        "insert into memberships (org_id, user_id, role) values ($1, $2, $3) on conflict (org_id, user_id) do nothing",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(role.as_str())
    .execute(tenant.conn())
    .await?;
    if joined.rows_affected() == 0 {
        return Err(ApiError::Conflict(
            "you are already a member of this organization".into(),
        ));
    }
    sqlx::query(
        "update invitations set accepted_at = now(), updated_at = now() where org_id = $1 and id = $2",
    )
    .bind(org_id)
    .bind(invitation_id)
    .execute(tenant.conn())
    .await?;
    Ok((tenant, user_id))
}

/// Changes the signed-in person's password after checking the current one (401 if wrong,
/// 422 if the new one is weak). Every refresh token of theirs, in every organization, is
/// revoked and every browser session ends; access tokens issued before stop working too.
pub async fn change_password(
    db: &PgPool,
    caller: super::caller::Caller,
    current: SecretString,
    new: SecretString,
) -> Result<(), ApiError> {
    let (Some(user_id), Some((user, _))) = (caller.user_id(), caller.profile.clone()) else {
        // An API key has no password.
        return Err(ApiError::Forbidden);
    };
    let org_id = caller.tenant.org_id();
    drop(caller);
    if let Err(rejection) = domain::check_password(new.expose_secret(), &user.email) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "new_password",
            "weak",
            rejection,
        )]));
    }
    let mut account = AccountTx::for_user(db, user_id).await?;
    let stored = identity::password_hash(&mut account, user_id).await?;
    if !password::verify(current, stored)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::Validation(vec![FieldError::new(
            "current_password",
            "wrong",
            "that is not your current password",
        )]));
    }
    let hash = password::hash(new).await.map_err(ApiError::internal)?;
    identity::set_password(&mut account, user_id, &hash).await?;
    let organizations = identity::organizations_of(&mut account, user_id).await?;
    account.commit().await?;
    // Each organization's tokens live under its own row-level scope.
    for organization in organizations {
        let mut tenant = TenantTx::begin(db, OrgId(organization.id)).await?;
        identity::revoke_refresh_tokens_of(&mut tenant, user_id).await?;
        if organization.id == org_id.0 {
            identity::audit_person(&mut tenant, user_id, "user.password_changed", "success").await?;
        }
        tenant.commit().await?;
    }
    super::sessions::Sessions::end_all_of(db, user_id).await?;
    tracing::info!(user_id = %user_id, "password changed; sessions and tokens revoked");
    Ok(())
}
