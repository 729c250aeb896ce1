//! Who is calling: an access token, an API key or a browser session, resolved into a
//! `Caller` acting in one organization through a `TenantTx` (SPEC TEN-2, AUTH-1..4).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use domain::{ApiKeyScope, Permission, Role};
use sqlx::PgPool;
use tower_sessions::Session;
use uuid::Uuid;

use super::auth::jwt::AccessClaims;
use super::auth::secrets::{self, SecretKind};
use super::error::{current_request_id, ApiError};
use super::identity::{self, AuditEntry, IdentityError, Organization, User};
use super::sessions;
use super::state::AppState;
use super::tenant::{OrgId, TenantTx, UserId};

/// A verified access token from `Authorization: Bearer …`; anything else answers 401.
pub struct AccessToken(pub AccessClaims);

impl FromRequestParts<AppState> for AccessToken {
    type Rejection = ApiError;

    /// Also spends one unit of the person's request budget, before any database work, so an
    /// over-budget client costs almost nothing.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let claims = state
            .keys
            .verify(bearer(parts)?)
            .map_err(|_| ApiError::Unauthorized)?;
        spend_user_budget(state, claims.user_id()).await?;
        Ok(AccessToken(claims))
    }
}

/// The client's address: the TCP peer, or, behind a trusted proxy, the address the proxy
/// appended last to `X-Forwarded-For` (earlier entries are whatever the client claimed).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.limits.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
                .next_back();
            if forwarded.is_some() {
                return Ok(ClientAddr(forwarded));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientAddr(peer))
    }
}

impl ClientAddr {
    /// The address as a rate-limit key (`unknown` when the server runs without peer info).
    pub fn key(&self) -> String {
        self.0.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

/// Who is acting: a person with their role, or an API key with its scopes.
#[derive(Debug, Clone)]
pub enum Actor {
    Person { user_id: UserId, role: Role },
    Key { key_id: Uuid, scopes: Vec<ApiKeyScope> },
}

/// An authenticated caller acting in one organization: a member (access token or browser
/// session; their role is read fresh, so role changes apply at once) or an API key (its
/// scopes), with the tenant transaction the handler runs in.
pub struct Caller {
    pub tenant: TenantTx,
    pub actor: Actor,
    /// The person and organization, for callers that are people.
    pub profile: Option<(User, Organization)>,
    db: PgPool,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(AUTHORIZATION) {
            return Self::from_credentials(parts, state).await;
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::Unauthorized)?;
        if !parts.method.is_safe() && !same_origin(parts) {
            tracing::warn!(method = %parts.method, "cross-site request with a session cookie refused");
            return Err(ApiError::Forbidden);
        }
        let claims = session_claims(&session).await?.ok_or(ApiError::Unauthorized)?;
        spend_user_budget(state, claims.user_id).await?;
        Self::from_session(state, &session, claims)
            .await?
            .ok_or(ApiError::Unauthorized)
    }
}

impl Caller {
    async fn from_credentials(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let bearer = bearer(parts)?;
        if let Some(key) = secrets::parse(SecretKind::ApiKey, bearer) {
            let mut tenant = TenantTx::begin(&state.db, key.org_id).await?;
            let (key_id, scopes) = identity::live_api_key(&mut tenant, &key.hash)
                .await?
                .ok_or(ApiError::Unauthorized)?;
            let limits = &state.limits;
            let decision = limits.limiter.spend(&limits.per_key, &key_id.to_string()).await;
            if let Some(refusal) = decision.refusal() {
                return Err(refusal);
            }
            return Ok(Caller {
                tenant,
                actor: Actor::Key { key_id, scopes },
                profile: None,
                db: state.db.clone(),
            });
        }
        let AccessToken(claims) = AccessToken::from_request_parts(parts, state).await?;
        let tenant = TenantTx::begin(&state.db, claims.org_id()).await?;
        // A token only knows the second it was issued in: count it as issued at that
        // second's last instant, so a token from the second of a password change survives.
        let issued_at = i64::try_from(claims.iat)
            .ok()
            .and_then(|iat| DateTime::from_timestamp(iat + 1, 0))
            .map(|next_second| next_second - chrono::Duration::nanoseconds(1));
        Self::for_member(state, tenant, claims.user_id(), issued_at).await
    }

    /// The member a browser session acts as; `None` (and the session is ended) when it is
    /// no longer a member there, or was started before the person's password last changed.
    pub async fn from_session(
        state: &AppState,
        session: &Session,
        claims: SessionClaims,
    ) -> Result<Option<Self>, ApiError> {
        let tenant = TenantTx::begin(&state.db, claims.org_id).await?;
        match Self::for_member(state, tenant, claims.user_id, Some(claims.signed_in_at)).await {
            Ok(caller) => Ok(Some(caller)),
            Err(ApiError::Unauthorized) => {
                session.flush().await.map_err(ApiError::internal)?;
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// 401 unless `user_id` is (still) a member of the tenant's organization and, for a
    /// credential issued at `issued_at`, has not changed their password since.
    async fn for_member(
        state: &AppState,
        mut tenant: TenantTx,
        user_id: UserId,
        issued_at: Option<DateTime<Utc>>,
    ) -> Result<Self, ApiError> {
        let (user, organization, role) = identity::member(&mut tenant, user_id)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if issued_at.is_some_and(|at| user.password_changed_at > at) {
            return Err(ApiError::Unauthorized);
        }
        Ok(Caller {
            tenant,
            actor: Actor::Person { user_id, role },
            profile: Some((user, organization)),
            db: state.db.clone(),
        })
    }
}

/// What a browser session says: who is signed in, where, and since when.
#[derive(Clone, Copy, Debug)]
pub struct SessionClaims {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub signed_in_at: DateTime<Utc>,
}

/// The session's claims, read without the database; `None` when it is signed out.
/// `Caller::from_session` checks them.
pub async fn session_claims(session: &Session) -> Result<Option<SessionClaims>, ApiError> {
    let read = async {
        let user: Option<UserId> = session.get(sessions::USER_ID).await?;
        let org: Option<OrgId> = session.get(sessions::ORG_ID).await?;
        let since: Option<DateTime<Utc>> = session.get(sessions::SIGNED_IN_AT).await?;
        Ok::<_, tower_sessions::session::Error>(user.zip(org).zip(since))
    };
    Ok(read
        .await
        .map_err(ApiError::internal)?
        .map(|((user_id, org_id), signed_in_at)| SessionClaims {
            user_id,
            org_id,
            signed_in_at,
        }))
}

/// Whether a state-changing request comes from our own pages: browsers name the page's
/// origin in `Origin` (and say `Sec-Fetch-Site`), which another site cannot forge. With a
/// SameSite=Lax cookie this stops cross-site form posts and scripted requests alike.
pub fn same_origin(parts: &Parts) -> bool {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority == host),
        // Neither header: not a browser (browsers send Origin on every POST).
        (None, _) => true,
        (Some(_), None) => false,
    }
}

async fn spend_user_budget(state: &AppState, user_id: UserId) -> Result<(), ApiError> {
    let limits = &state.limits;
    let decision = limits.limiter.spend(&limits.per_user, &user_id.to_string()).await;
    match decision.refusal() {
        Some(refusal) => Err(refusal),
        None => Ok(()),
    }
}

impl Caller {
    /// Whether the caller's role or key scopes grant `permission`.
    pub fn grants(&self, permission: Permission) -> bool {
        match &self.actor {
            Actor::Person { role, .. } => role.grants(permission),
            Actor::Key { scopes, .. } => scopes.iter().any(|scope| scope.grants(permission)),
        }
    }

    /// The role of the person acting, if a person is.
    pub fn role(&self) -> Option<Role> {
        match self.actor {
            Actor::Person { role, .. } => Some(role),
            Actor::Key { .. } => None,
        }
    }

    /// The person acting, if a person is.
    pub fn user_id(&self) -> Option<UserId> {
        match self.actor {
            Actor::Person { user_id, .. } => Some(user_id),
            Actor::Key { .. } => None,
        }
    }

    /// The API key acting, if a key is.
    pub fn api_key_id(&self) -> Option<Uuid> {
        match self.actor {
            Actor::Person { .. } => None,
            Actor::Key { key_id, .. } => Some(key_id),
        }
    }

    /// 403 unless the caller may do `permission`; a refusal is audited and logged.
    pub async fn require(&self, permission: Permission, action: &str) -> Result<(), ApiError> {
        if self.grants(permission) {
            return Ok(());
        }
        self.record_denied(action, None).await;
        Err(ApiError::Forbidden)
    }

    /// Appends a successful `action` on `target` to the audit log, in the request's transaction.
    pub async fn audit(
        &mut self,
        action: &str,
        target_type: &str,
        target_id: String,
    ) -> Result<(), ApiError> {
        let entry = self.entry(action, Some(target_type), Some(target_id), "success");
        identity::audit(&mut self.tenant, entry).await?;
        Ok(())
    }

    fn entry<'a>(
        &self,
        action: &'a str,
        target_type: Option<&'a str>,
        target_id: Option<String>,
        outcome: &'a str,
    ) -> AuditEntry<'a> {
        AuditEntry {
            actor: self.user_id(),
            actor_api_key: self.api_key_id(),
            action,
            target_type,
            target_id,
            outcome,
            request_id: current_request_id(),
        }
    }

    /// Records a refused attempt in the organization's audit log, in its own transaction (the
    /// request's is about to roll back), and as a warning in the server log.
    pub async fn record_denied(&self, action: &str, target_id: Option<String>) {
        tracing::warn!(actor = ?self.actor, org_id = %self.tenant.org_id(), action, target_id, "access denied");
        let entry = self.entry(action, None, target_id, "denied");
        let written = async {
            let mut tx = TenantTx::begin(&self.db, self.tenant.org_id()).await?;
            identity::audit(&mut tx, entry).await?;
            tx.commit().await?;
            Ok::<_, IdentityError>(())
        }
        .await;
        if let Err(error) = written {
            tracing::error!(%error, "could not audit a denied attempt");
        }
    }
}

/// The credential after `Bearer `; 401 without one.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)
}
