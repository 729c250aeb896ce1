//! Glue between server functions and the backend: the state and session of the request,
//! starting and ending browser sessions, cross-site protection, and sending plain form posts
//! (no JavaScript) back to their page with the errors in the address.

use http::request::Parts;
use leptos::prelude::{expect_context, use_context};
use tower_sessions::Session;

use super::caller::same_origin;
use super::error::ApiError;
use super::identity;
use super::sessions;
use super::state::AppState;
use super::tenant::{OrgId, TenantTx, UserId};
use crate::ui_error::UiError;

pub fn state() -> AppState {
    expect_context::<AppState>()
}

fn parts() -> Result<Parts, UiError> {
    use_context::<Parts>().ok_or(UiError::Transport("no request".into()))
}

pub async fn session() -> Result<Session, UiError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|_| UiError::Internal { request_id: None })
}

/// The member this browser's session acts as, checked as every request with the cookie is
/// (`Caller::from_session`); `None` when signed out.
pub async fn session_caller(
    state: &AppState,
    session: &Session,
) -> Result<Option<super::caller::Caller>, UiError> {
    let Some(claims) = super::caller::session_claims(session).await? else {
        return Ok(None);
    };
    Ok(super::caller::Caller::from_session(state, session, claims).await?)
}

/// Refuses a state-changing call another site's page made (see `caller::same_origin`).
pub fn guard_cross_site() -> Result<(), UiError> {
    if same_origin(&parts()?) {
        Ok(())
    } else {
        tracing::warn!("cross-site server function call refused");
        Err(UiError::CrossSite)
    }
}

/// The client address as a rate-limit key.
pub async fn client_key() -> String {
    let state = state();
    match leptos_axum::extract_with_state::<super::caller::ClientAddr, AppState>(&state).await {
        Ok(addr) => addr.key(),
        Err(_) => "unknown".to_owned(),
    }
}

/// Finishes a sign-in, registration or invitation acceptance: records `action` in the
/// organization's audit log, commits the transaction that checked the person, and signs the
/// browser in there.
pub async fn sign_in_browser(mut tenant: TenantTx, user_id: UserId, action: &str) -> Result<(), UiError> {
    identity::audit_person(&mut tenant, user_id, action, "success")
        .await
        .map_err(ApiError::from)?;
    let org_id = tenant.org_id();
    tenant.commit().await.map_err(ApiError::from)?;
    start(&session().await?, user_id, org_id).await
}

/// 401 from a credentials check means the email, password or invitation did not match.
pub fn credentials_error(error: ApiError) -> UiError {
    match error {
        ApiError::Unauthorized => UiError::BadCredentials,
        other => other.into(),
    }
}

/// Signs the browser in as `user_id` in `org_id`, under a new session id (so an id planted
/// before sign-in is worth nothing after it).
async fn start(session: &Session, user_id: UserId, org_id: OrgId) -> Result<(), UiError> {
    let write = async {
        session.cycle_id().await?;
        session.insert(sessions::USER_ID, user_id).await?;
        session.insert(sessions::ORG_ID, org_id).await?;
        session.insert(sessions::SIGNED_IN_AT, chrono::Utc::now()).await?;
        Ok::<_, tower_sessions::session::Error>(())
    };
    write.await.map_err(|e| UiError::from(ApiError::internal(e)))
}

/// Where to go after signing in: a path on this site, never another site.
pub fn safe_next(next: Option<String>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path,
        _ => "/app".to_owned(),
    }
}

/// Whether this call is a plain HTML form post (no JavaScript): its answer is a redirect, so a
/// value to show must travel in the session (`flash`).
pub fn is_plain_form_post() -> bool {
    parts().is_ok_and(|parts| plain_form_post(&parts))
}

/// The caller of a server function, as the REST API would see it (session cookie, with the
/// cross-site check for state changes). The request is read when this is called, not when
/// the answer is awaited: a server function called from the browser loses its reactive
/// context after its first `.await`, so one that needs two callers asks for both first.
pub fn caller() -> impl std::future::Future<Output = Result<super::caller::Caller, UiError>> + Send {
    use axum::extract::FromRequestParts;
    let state = state();
    let parts = parts();
    async move {
        let mut parts = parts?;
        Ok(super::caller::Caller::from_request_parts(&mut parts, &state).await?)
    }
}

/// This site's address as the browser used it, for links people copy (invitations).
pub fn site_origin() -> String {
    let state = state();
    let host = parts()
        .ok()
        .and_then(|p| {
            p.headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| state.leptos_options.site_addr.to_string());
    let scheme = if state.secure_cookies { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// The request's session, read now from the request (see `caller`): a server function that
/// will need it after an await takes it first.
pub fn session_now() -> Result<Session, UiError> {
    parts()?
        .extensions
        .get::<Session>()
        .cloned()
        .ok_or(UiError::Internal { request_id: None })
}

/// Keeps a one-time value (a new API key, an invitation link) in `session` for the next page
/// render.
pub async fn set_flash(
    session: Result<Session, UiError>,
    value: &crate::settings::Flash,
) -> Result<(), UiError> {
    session?
        .insert(FLASH, value)
        .await
        .map_err(|e| ApiError::internal(e).into())
}

/// The one-time value taken from the session in this request. A page may build its notice
/// more than once while the resources around it settle (each build asks for the value), and
/// only the first ask would find it in the session: every ask in one request gets that answer.
/// The server puts a fresh one in every request's extensions.
#[derive(Clone, Default)]
pub struct TakenFlash(std::sync::Arc<tokio::sync::OnceCell<Option<crate::settings::Flash>>>);

/// The one-time value, removed from the session as it is read.
pub async fn take_flash() -> Result<Option<crate::settings::Flash>, UiError> {
    let taken = parts()?
        .extensions
        .get::<TakenFlash>()
        .cloned()
        .unwrap_or_default();
    let session = session_now()?;
    taken
        .0
        .get_or_try_init(|| async move {
            session
                .remove(FLASH)
                .await
                .map_err(|e| UiError::from(ApiError::internal(e)))
        })
        .await
        .cloned()
}

const FLASH: &str = "flash";

/// Whether this call is a plain HTML form post (no JavaScript): browsers then expect a page.
fn plain_form_post(parts: &Parts) -> bool {
    parts
        .headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Ends a server function that changes who is signed in, or where: the page must load anew.
/// A plain form post is redirected to `to` (or back with the error); a JavaScript caller gets
/// `to` and loads it itself (see `account::pages::navigate_after`), so nothing on the
/// page outlives the old session.
pub fn finish_with_reload(result: Result<(), UiError>, to: String) -> Result<String, UiError> {
    let Ok(parts) = parts() else {
        return result.map(|()| to);
    };
    if plain_form_post(&parts) {
        match &result {
            Ok(()) => leptos_axum::redirect(&to),
            Err(error) => leptos_axum::redirect(&back_with(&parts, error)),
        }
    }
    result.map(|()| to)
}

/// Ends a server function that changes something on the page it was sent from. A plain
/// form post goes back to that page (Leptos redirects to the referrer), with `error` and
/// `error.<field>` in the address when it failed, which the page shows beside the fields;
/// JavaScript callers get the result and update the page in place.
pub fn finish<T>(result: Result<T, UiError>) -> Result<T, UiError> {
    if let (Ok(parts), Err(error)) = (parts(), &result) {
        if plain_form_post(&parts) {
            leptos_axum::redirect(&back_with(&parts, error));
        }
    }
    result
}

/// The referring page's path with the error in its query (earlier errors removed).
fn back_with(parts: &Parts, error: &UiError) -> String {
    let referer = parts
        .headers
        .get(http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.parse::<http::Uri>().ok());
    let path = referer.as_ref().map_or("/", |uri| uri.path()).to_owned();
    let mut query: Vec<(String, String)> = referer
        .as_ref()
        .and_then(|uri| uri.query())
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .filter(|(k, _)| k != "error" && !k.starts_with("error."))
                .collect()
        })
        .unwrap_or_default();
    query.push(("error".into(), error.to_string()));
    if let UiError::Invalid(problems) = error {
        for problem in problems {
            query.push((format!("error.{}", problem.field), problem.message.clone()));
        }
    }
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    format!("{path}?{encoded}")
}
