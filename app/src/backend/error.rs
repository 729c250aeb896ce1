//! The one place errors become HTTP responses: `{"error": {code, message, details, request_id}}`
//! with the right status (SPEC OPS-4). Handlers return `Result<_, ApiError>`; module errors
//! convert into it. Internal causes are logged with the request id and answered with an opaque
//! message — never SQL or file paths to a client.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

tokio::task_local! {
    /// The current request's id, set by `request_id::scope` for everything a request runs.
    static REQUEST_ID: String;
}

/// Runs `future` with `request_id` visible to `current_request_id` (and so to error bodies).
pub async fn with_request_id<F: std::future::Future>(request_id: String, future: F) -> F::Output {
    REQUEST_ID.scope(request_id, future).await
}

/// The id of the request being handled, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// One invalid field of a request body or query; in a batch, of the record at `index`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, message: impl ToString) -> Self {
        FieldError {
            index: None,
            field: field.into(),
            code: code.into(),
            message: message.to_string(),
        }
    }

    /// Every refused field of one record sent on its own, as the 422 it answers.
    pub fn invalid_record(issues: Vec<domain::records::FieldIssue>) -> ApiError {
        ApiError::Validation(
            issues
                .into_iter()
                .map(|i| FieldError::of_record(None, i))
                .collect(),
        )
    }

    /// A refused field of a parsed record (`index` within its batch, if any).
    pub fn of_record(index: Option<usize>, issue: domain::records::FieldIssue) -> Self {
        FieldError {
            index,
            field: issue.field,
            code: issue.code.as_str().to_owned(),
            message: issue.message,
        }
    }
}

/// Every error a client can receive. Each variant says which status it answers.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request could not be read at all (malformed JSON).
    #[error("{0}")]
    BadRequest(String),
    /// 413: the body is larger than this endpoint takes.
    #[error("the request body is too large: {0}")]
    PayloadTooLarge(String),
    /// 415: the body is not in a format this endpoint reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 401: no valid credentials.
    #[error("authentication required")]
    Unauthorized,
    /// 403: authenticated, but the role or key scope lacks the permission.
    #[error("you do not have permission to do this")]
    Forbidden,
    /// 404: nothing at this address — also for ids that belong to another organization.
    #[error("not found")]
    NotFound,
    /// 409: the request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 422: the request was read but some fields are invalid.
    #[error("some fields are invalid")]
    Validation(Vec<FieldError>),
    /// 429: a rate limit or quota was hit; retry after `retry_after_secs`. `limit` units per
    /// window, all back after `reset_secs`.
    #[error("too many requests; retry in {retry_after_secs} s")]
    RateLimited {
        retry_after_secs: u64,
        limit: u32,
        reset_secs: u64,
    },
    /// 429: the organization's monthly event quota is used up (SPEC TEN-4); it renews in
    /// `retry_after_secs`, at the start of next month (UTC).
    #[error("the organization's quota of {limit} events this month is used up ({used} used)")]
    QuotaExceeded {
        limit: i64,
        used: i64,
        retry_after_secs: u64,
    },
    /// 503: a dependency is down; the request may succeed later.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// 500: a bug or an unexpected failure; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } | ApiError::QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable, machine-readable name for the error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Validation(_) => "validation_failed",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::QuotaExceeded { .. } => "quota_exceeded",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The database was out of reach or undid the transaction (a deadlock or serialization
    /// failure): nothing was written, and the same work run again will normally succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ApiError::Unavailable)
    }

    /// Wraps an unexpected failure; its text stays in the server log.
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(error))
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(rejection.body_text()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(
                "send JSON with the header Content-Type: application/json".into(),
            ),
            _ => ApiError::BadRequest(rejection.body_text()),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => ApiError::Unavailable,
            // A deadlock or serialization failure undid the whole transaction: the client
            // (or job) sends it again, which every write path makes safe.
            sqlx::Error::Database(e) if e.code().is_some_and(|c| c == "40P01" || c == "40001") => {
                tracing::warn!(error = %e, "a transaction was undone by a concurrent one");
                ApiError::Unavailable
            }
            _ => ApiError::internal(error),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
    details: serde_json::Value,
    request_id: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = current_request_id();
        match &self {
            ApiError::Internal(source) => {
                tracing::error!(error = %source, request_id = request_id.as_deref(), "request failed")
            }
            ApiError::Unavailable => {
                tracing::warn!(request_id = request_id.as_deref(), "dependency unavailable")
            }
            _ => {}
        }
        let details = match &self {
            ApiError::Validation(fields) => serde_json::json!({ "fields": fields }),
            ApiError::RateLimited { retry_after_secs, .. } => {
                serde_json::json!({ "retry_after": retry_after_secs })
            }
            ApiError::QuotaExceeded {
                limit,
                used,
                retry_after_secs,
            } => serde_json::json!({ "limit": limit, "used": used, "retry_after": retry_after_secs }),
            _ => serde_json::Value::Null,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                details,
                request_id,
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let ApiError::RateLimited {
            retry_after_secs,
            limit,
            reset_secs,
        } = self
        {
            let headers = response.headers_mut();
            headers.insert("retry-after", HeaderValue::from(retry_after_secs));
            headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
            headers.insert("x-ratelimit-remaining", HeaderValue::from(0));
            headers.insert("x-ratelimit-reset", HeaderValue::from(reset_secs));
        } else if let ApiError::QuotaExceeded { retry_after_secs, .. } = self {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(retry_after_secs));
        } else if let ApiError::Unavailable = self {
            response.headers_mut().insert("retry-after", HeaderValue::from(1));
        }
        response
    }
}

/// Answers any `/api/…` address no route matches, as JSON rather than the HTML 404 page.
pub async fn api_not_found() -> ApiError {
    ApiError::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(error: ApiError) -> (StatusCode, serde_json::Value, Option<HeaderValue>) {
        let response = with_request_id("req-1".into(), async { error.into_response() }).await;
        let status = response.status();
        let retry = response.headers().get("retry-after").cloned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), retry)
    }

    #[tokio::test]
    async fn validation_errors_list_every_field_with_the_request_id() {
        let fields = vec![
            FieldError {
                index: None,
                field: "email".into(),
                code: "invalid".into(),
                message: "not an email".into(),
            },
            FieldError {
                index: None,
                field: "password".into(),
                code: "too_short".into(),
                message: "min 12".into(),
            },
        ];

        let (status, body, _) = body_of(ApiError::Validation(fields)).await;

        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(body["error"]["details"]["fields"][1]["field"], "password");
        assert_eq!(body["error"]["request_id"], "req-1");
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let cause = std::io::Error::other("relation \"secret_table\" does not exist");

        let (status, body, _) = body_of(ApiError::internal(cause)).await;

        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["message"], "internal error");
        assert!(!body.to_string().contains("secret_table"));
    }

    #[tokio::test]
    async fn rate_limits_say_when_to_retry_in_header_and_body() {
        let (status, body, retry) = body_of(ApiError::RateLimited {
            retry_after_secs: 42,
            limit: 5,
            reset_secs: 900,
        })
        .await;

        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry.unwrap(), "42");
        assert_eq!(body["error"]["details"]["retry_after"], 42);
    }

    #[tokio::test]
    async fn every_variant_has_its_own_status_and_code() {
        let all = [
            ApiError::BadRequest("x".into()),
            ApiError::PayloadTooLarge("x".into()),
            ApiError::UnsupportedMediaType("x".into()),
            ApiError::Unauthorized,
            ApiError::Forbidden,
            ApiError::NotFound,
            ApiError::Conflict("x".into()),
            ApiError::Validation(vec![]),
            ApiError::RateLimited {
                retry_after_secs: 1,
                limit: 1,
                reset_secs: 1,
            },
            ApiError::Unavailable,
            ApiError::internal(std::io::Error::other("x")),
        ];
        let statuses: std::collections::HashSet<_> = all.iter().map(ApiError::status).collect();
        let codes: std::collections::HashSet<_> = all.iter().map(ApiError::code).collect();
        assert_eq!(statuses.len(), all.len());
        assert_eq!(codes.len(), all.len());
    }
}
