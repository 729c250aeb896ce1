//! Extractors that turn request parts into typed values or an `ApiError`.

use axum::extract::FromRequest;

use crate::error::ApiError;

pub use app::backend::caller::{Actor, Caller, ClientAddr};

/// A JSON body; unreadable input answers 400 in the API's error shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);
