//! Request failures as values that know their HTTP answer.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use runkv_protocol::{ErrorBody, ErrorCode, ProtocolError};

use crate::store::StoreError;

/// Seconds a client should wait before retrying after `storage_unavailable`.
const RETRY_AFTER_SECS: &str = "1";

/// A failed request: a stable code and a message for people.
///
/// Every error response is built here, so every one is the JSON body
/// `{"error", "code"}` with the status of its code, and server faults are
/// logged here, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
}

impl ApiError {
    /// An error with `code` and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// No endpoint at this path.
    pub fn route_not_found() -> Self {
        Self::new(ErrorCode::RouteNotFound, "no such route")
    }

    /// The key is absent or has expired.
    pub fn key_not_found() -> Self {
        Self::new(ErrorCode::KeyNotFound, "key not found")
    }
}

impl From<ProtocolError> for ApiError {
    fn from(e: ProtocolError) -> Self {
        Self { code: e.code, message: e.message }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::new(ErrorCode::StorageUnavailable, e.to_string()),
            StoreError::Internal(_) => Self::new(ErrorCode::Internal, e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Client-side codes never reach here; a server that somehow builds one
        // answers 500 rather than a status that would mislead the client.
        let status = self
            .code
            .status()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(code = %self.code, error = %self.message, "request failed");
        }

        let mut response = (status, Json(ErrorBody::new(self.code, self.message))).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.code == ErrorCode::StorageUnavailable {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
        }
        response
    }
}
