//! Extractors that turn request parts into typed values or an `ApiError`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;

use domain::{Permission, Role};
use sqlx::PgPool;

use crate::auth::jwt::AccessClaims;
use crate::error::{current_request_id, ApiError};
use crate::identity::{self, AuditEntry, IdentityError};
use crate::startup::AppState;
use crate::tenant::{TenantTx, UserId};

/// A JSON body; unreadable input answers 400 in the API's error shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// A verified access token from `Authorization: Bearer …`; anything else answers 401.
pub struct AccessToken(pub AccessClaims);

impl FromRequestParts<AppState> for AccessToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or(ApiError::Unauthorized)?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let claims = state
            .keys
            .verify(token.trim())
            .map_err(|_| ApiError::Unauthorized)?;
        Ok(AccessToken(claims))
    }
}

/// A signed-in member acting in their organization: the verified token, their current role
/// (read fresh, so role changes apply at once) and the tenant transaction the handler uses.
pub struct Member {
    pub tenant: TenantTx,
    pub user_id: UserId,
    pub role: Role,
    db: PgPool,
}

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let AccessToken(claims) = AccessToken::from_request_parts(parts, state).await?;
        let mut tenant = TenantTx::begin(&state.db, claims.org_id()).await?;
        let (_, _, role) = identity::member(&mut tenant, claims.user_id())
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Member {
            tenant,
            user_id: claims.user_id(),
            role,
            db: state.db.clone(),
        })
    }
}

impl Member {
    /// 403 unless the member's role grants `permission`; a refusal is audited and logged.
    pub async fn require(&self, permission: Permission, action: &str) -> Result<(), ApiError> {
        if self.role.grants(permission) {
            return Ok(());
        }
        self.record_denied(action, None).await;
        Err(ApiError::Forbidden)
    }

    /// Records a refused attempt in the organization's audit log, in its own transaction (the
    /// request's is about to roll back), and as a warning in the server log.
    pub async fn record_denied(&self, action: &str, target_id: Option<String>) {
        tracing::warn!(user_id = %self.user_id, org_id = %self.tenant.org_id(), action, target_id, "access denied");
        let entry = AuditEntry {
            actor: Some(self.user_id),
            action,
            target_type: None,
            target_id,
            outcome: "denied",
            request_id: current_request_id(),
        };
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
