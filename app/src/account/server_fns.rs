//! Server functions behind the account pages: who is signed in, signing in and out,
//! registering, accepting an invitation, switching organization (SPEC AUTH-1..3, TEN-1).
//! Every state-changing one refuses cross-site calls and works as a plain form post.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ui_error::UiError;

/// An organization in the switcher.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgChoice {
    pub slug: String,
    pub name: String,
}

/// The signed-in person as pages need them: where they are and what they may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub email: String,
    pub organization: OrgChoice,
    pub role: String,
    pub can_manage_members: bool,
    pub can_manage_api_keys: bool,
    pub can_read_audit_log: bool,
    pub organizations: Vec<OrgChoice>,
}

/// Who this browser is signed in as; `None` when signed out.
#[server(prefix = "/rpc", endpoint = "current-viewer")]
pub async fn current_viewer() -> Result<Option<Viewer>, UiError> {
    use crate::backend::{identity, tenant, web};
    use domain::Permission;

    let state = web::state();
    let session = web::session().await?;
    let Some(caller) = web::session_caller(&state, &session).await? else {
        return Ok(None);
    };
    let (Some(user_id), Some(role), Some((user, organization))) =
        (caller.user_id(), caller.role(), caller.profile)
    else {
        return Ok(None);
    };
    // Nothing was written: the member's transaction just ends.
    drop(caller.tenant);
    let mut account = tenant::AccountTx::for_user(&state.db, user_id)
        .await
        .map_err(crate::backend::error::ApiError::from)?;
    let organizations = identity::organizations_of(&mut account, user_id)
        .await
        .map_err(api)?;
    Ok(Some(Viewer {
        email: user.email,
        organization: OrgChoice {
            slug: organization.slug,
            name: organization.name,
        },
        role: role.as_str().to_owned(),
        can_manage_members: role.grants(Permission::ManageMembers),
        can_manage_api_keys: role.grants(Permission::ManageApiKeys),
        can_read_audit_log: role.grants(Permission::ReadAuditLog),
        organizations: organizations
            .into_iter()
            .map(|o| OrgChoice {
                slug: o.slug,
                name: o.name,
            })
            .collect(),
    }))
}

#[cfg(feature = "ssr")]
fn api(error: crate::backend::identity::IdentityError) -> UiError {
    crate::backend::error::ApiError::from(error).into()
}

#[cfg(feature = "ssr")]
fn internal(error: impl std::error::Error + Send + Sync + 'static) -> UiError {
    crate::backend::error::ApiError::internal(error).into()
}

/// Signs in with email and password, then goes to `next` (a path here) or the app.
#[server(prefix = "/rpc", endpoint = "sign-in")]
pub async fn sign_in(email: String, password: String, next: Option<String>) -> Result<String, UiError> {
    use crate::backend::{auth::sign_in, web};

    let result = async {
        web::guard_cross_site()?;
        let state = web::state();
        let client = web::client_key().await;
        let signed_in = sign_in::sign_in(&state.db, &state.limits, &client, &email, password.into(), None)
            .await
            .map_err(web::credentials_error)?;
        web::sign_in_browser(signed_in.tenant, signed_in.user_id, "user.signed_in").await
    }
    .await;
    web::finish_with_reload(result, web::safe_next(next))
}

/// Creates an account and its organization, signs in, and opens the app.
#[server(prefix = "/rpc", endpoint = "register")]
pub async fn register(email: String, password: String, organization: String) -> Result<String, UiError> {
    use crate::backend::{accounts, web};

    let result = async {
        web::guard_cross_site()?;
        let state = web::state();
        let (tenant, user_id) = accounts::register(&state.db, &email, password.into(), &organization).await?;
        web::sign_in_browser(tenant, user_id, "user.registered").await
    }
    .await;
    web::finish_with_reload(result, "/app".to_owned())
}

/// Joins the organization that sent the invitation and signs in there.
#[server(prefix = "/rpc", endpoint = "accept-invitation")]
pub async fn accept_invitation(token: String, password: String) -> Result<String, UiError> {
    use crate::backend::{accounts, web};

    let result = async {
        web::guard_cross_site()?;
        let state = web::state();
        let (tenant, user_id) = accounts::accept_invitation(&state.db, token.into(), password.into())
            .await
            .map_err(web::credentials_error)?;
        web::sign_in_browser(tenant, user_id, "invitation.accepted").await
    }
    .await;
    web::finish_with_reload(result, "/app".to_owned())
}

/// Ends this browser's session (its data is deleted, the cookie cleared).
#[server(prefix = "/rpc", endpoint = "sign-out")]
pub async fn sign_out() -> Result<String, UiError> {
    use crate::backend::{identity, web};

    let result = async {
        web::guard_cross_site()?;
        let state = web::state();
        let session = web::session().await?;
        if let Some(mut caller) = web::session_caller(&state, &session).await? {
            if let Some(user_id) = caller.user_id() {
                identity::audit_person(&mut caller.tenant, user_id, "user.signed_out", "success")
                    .await
                    .map_err(api)?;
                caller.tenant.commit().await.map_err(internal)?;
            }
        }
        session.flush().await.map_err(internal)
    }
    .await;
    web::finish_with_reload(result, "/sign-in".to_owned())
}

/// Moves this browser to another of the person's organizations.
#[server(prefix = "/rpc", endpoint = "switch-organization")]
pub async fn switch_organization(slug: String) -> Result<String, UiError> {
    use crate::backend::{identity, sessions, tenant, web};

    let result = async {
        web::guard_cross_site()?;
        let state = web::state();
        let session = web::session().await?;
        let user_id = web::session_caller(&state, &session)
            .await?
            .and_then(|caller| caller.user_id())
            .ok_or(UiError::SignedOut)?;
        let mut account = tenant::AccountTx::for_user(&state.db, user_id)
            .await
            .map_err(internal)?;
        let organization = identity::organization_of_member(&mut account, user_id, Some(&slug))
            .await
            .map_err(api)?
            .ok_or(UiError::NotFound)?;
        session
            .insert(sessions::ORG_ID, tenant::OrgId(organization.id))
            .await
            .map_err(internal)
    }
    .await;
    web::finish_with_reload(result, "/app".to_owned())
}
