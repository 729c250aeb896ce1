//! Extractors that turn request parts into typed values or an `ApiError`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;

use crate::auth::jwt::AccessClaims;
use crate::error::ApiError;
use crate::startup::AppState;

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
