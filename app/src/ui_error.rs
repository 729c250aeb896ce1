//! The error every server function answers, so pages can show it (STYLE: Errors). The
//! backend's `ApiError` maps into it once; internal causes never cross the wire.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// One invalid form field and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// What went wrong, in words a page can show next to the form or the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UiError {
    /// Not signed in (or the session ended).
    SignedOut,
    /// Wrong email or password.
    BadCredentials,
    /// Signed in, but the role does not allow this.
    Forbidden,
    /// A state-changing request made by another site's page.
    CrossSite,
    /// Nothing with that id here.
    NotFound,
    Conflict(String),
    Invalid(Vec<FieldProblem>),
    RateLimited {
        retry_after_secs: u64,
    },
    Unavailable,
    /// A bug or an outage; the request id finds it in the server log.
    Internal {
        request_id: Option<String>,
    },
    /// The request did not reach the server function (network, encoding).
    Transport(String),
}

impl UiError {
    /// The message for `field`, if that field is the problem.
    pub fn field(&self, field: &str) -> Option<String> {
        match self {
            UiError::Invalid(problems) => problems
                .iter()
                .find(|p| p.field == field)
                .map(|p| p.message.clone()),
            _ => None,
        }
    }
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UiError::SignedOut => f.write_str("Please sign in again."),
            UiError::BadCredentials => f.write_str("That email and password do not match."),
            UiError::Forbidden => f.write_str("Your role does not allow this."),
            UiError::CrossSite => f.write_str("This form was sent from another site, so it was refused."),
            UiError::NotFound => f.write_str("That no longer exists, or never did."),
            UiError::Conflict(message) => f.write_str(message),
            UiError::Invalid(_) => f.write_str("Some fields need another look."),
            UiError::RateLimited { retry_after_secs } => write!(
                f,
                "Too many attempts. Try again in {} minute(s).",
                retry_after_secs.div_ceil(60).max(1)
            ),
            UiError::Unavailable => f.write_str("Sightline is briefly unavailable; try again in a moment."),
            UiError::Internal { request_id } => write!(
                f,
                "Something went wrong on our side (request {}).",
                request_id.as_deref().unwrap_or("unknown")
            ),
            UiError::Transport(message) => write!(f, "Could not reach the server: {message}"),
        }
    }
}

impl std::error::Error for UiError {}

impl FromServerFnError for UiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        UiError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<crate::backend::error::ApiError> for UiError {
    fn from(error: crate::backend::error::ApiError) -> Self {
        use crate::backend::error::ApiError;
        let request_id = crate::backend::error::current_request_id();
        match error {
            ApiError::BadRequest(message)
            | ApiError::PayloadTooLarge(message)
            | ApiError::UnsupportedMediaType(message) => UiError::Invalid(vec![FieldProblem {
                field: String::new(),
                message,
            }]),
            ApiError::Unauthorized => UiError::SignedOut,
            ApiError::Forbidden => UiError::Forbidden,
            ApiError::NotFound => UiError::NotFound,
            ApiError::Conflict(message) => UiError::Conflict(message),
            quota @ ApiError::QuotaExceeded { .. } => UiError::Conflict(quota.to_string()),
            ApiError::Validation(fields) => UiError::Invalid(
                fields
                    .into_iter()
                    .map(|f| FieldProblem {
                        field: f.field,
                        message: f.message,
                    })
                    .collect(),
            ),
            ApiError::RateLimited { retry_after_secs, .. } => UiError::RateLimited { retry_after_secs },
            ApiError::Unavailable => UiError::Unavailable,
            ApiError::Internal(cause) => {
                tracing::error!(error = %cause, request_id = request_id.as_deref(), "server function failed");
                UiError::Internal { request_id }
            }
        }
    }
}
