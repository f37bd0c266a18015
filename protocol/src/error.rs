//! The closed set of error codes and the JSON error body.

/// Every reason a runkv request can fail, on the server or in the client.
///
/// The string form ([`ErrorCode::as_str`]) is stable: clients branch on it.
/// Server codes travel in the `code` field of every error response; client
/// codes (`network`, `timeout`, ...) are produced by the SDK for failures that
/// never reached a server answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The namespace is empty, too long or has a character outside `[A-Za-z0-9._-]`.
    InvalidNamespace,
    /// The key is empty, too long, `.` or `..`, or its percent-encoding is malformed.
    InvalidKey,
    /// The `ttl` parameter is not a whole number of seconds in range.
    InvalidTtl,
    /// The value is not valid UTF-8.
    InvalidValue,
    /// An `If-Match` or `If-None-Match` header cannot be parsed.
    InvalidPrecondition,
    /// The value is larger than the server's limit.
    ValueTooLarge,
    /// The client stopped sending the request body before it was complete.
    RequestTimeout,
    /// No credentials, or a token the server does not know.
    Unauthorized,
    /// The token may not use this namespace, or may not write to it.
    Forbidden,
    /// The key does not exist or has expired.
    KeyNotFound,
    /// No endpoint at this path.
    RouteNotFound,
    /// The endpoint exists but not for this HTTP method.
    MethodNotAllowed,
    /// A conditional write found another version than it asked for.
    VersionConflict,
    /// The storage backend cannot be reached; retrying later can succeed.
    StorageUnavailable,
    /// The server failed in a way it did not expect.
    Internal,
    /// Client side: the request never got an answer (connection refused, reset, DNS).
    Network,
    /// Client side: no answer within the configured time.
    Timeout,
    /// Client side: the caller's `AbortSignal` fired.
    Aborted,
    /// Client side: a required setting (URL or token) was not given.
    ConfigMissing,
    /// Client side: an argument or option has the wrong type or range.
    InvalidArgument,
    /// Client side: a conditional write lost its connection, so whether it
    /// took effect is unknown; it was not retried.
    OutcomeUnknown,
    /// Client side: the answer was not a runkv response (for example a proxy's
    /// HTML error page).
    InvalidResponse,
}

impl ErrorCode {
    /// Every code, for tests and documentation.
    pub const ALL: [ErrorCode; 22] = [
        Self::InvalidNamespace,
        Self::InvalidKey,
        Self::InvalidTtl,
        Self::InvalidValue,
        Self::InvalidPrecondition,
        Self::ValueTooLarge,
        Self::RequestTimeout,
        Self::Unauthorized,
        Self::Forbidden,
        Self::KeyNotFound,
        Self::RouteNotFound,
        Self::MethodNotAllowed,
        Self::VersionConflict,
        Self::StorageUnavailable,
        Self::Internal,
        Self::Network,
        Self::Timeout,
        Self::Aborted,
        Self::ConfigMissing,
        Self::InvalidArgument,
        Self::OutcomeUnknown,
        Self::InvalidResponse,
    ];

    /// The stable wire name, in `snake_case`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidNamespace => "invalid_namespace",
            Self::InvalidKey => "invalid_key",
            Self::InvalidTtl => "invalid_ttl",
            Self::InvalidValue => "invalid_value",
            Self::InvalidPrecondition => "invalid_precondition",
            Self::ValueTooLarge => "value_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::KeyNotFound => "key_not_found",
            Self::RouteNotFound => "route_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::VersionConflict => "version_conflict",
            Self::StorageUnavailable => "storage_unavailable",
            Self::Internal => "internal",
            Self::Network => "network",
            Self::Timeout => "timeout",
            Self::Aborted => "aborted",
            Self::ConfigMissing => "config_missing",
            Self::InvalidArgument => "invalid_argument",
            Self::OutcomeUnknown => "outcome_unknown",
            Self::InvalidResponse => "invalid_response",
        }
    }

    /// The code for a wire name, if it is one of ours.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// The HTTP status a server answers with, or `None` for client-side codes.
    pub const fn status(self) -> Option<u16> {
        Some(match self {
            Self::InvalidNamespace
            | Self::InvalidKey
            | Self::InvalidTtl
            | Self::InvalidValue
            | Self::InvalidPrecondition => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::KeyNotFound | Self::RouteNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::RequestTimeout => 408,
            Self::VersionConflict => 412,
            Self::ValueTooLarge => 413,
            Self::Internal => 500,
            Self::StorageUnavailable => 503,
            Self::Network
            | Self::Timeout
            | Self::Aborted
            | Self::ConfigMissing
            | Self::InvalidArgument
            | Self::OutcomeUnknown
            | Self::InvalidResponse => return None,
        })
    }

    /// Whether the same request, sent again later, can succeed.
    ///
    /// `outcome_unknown` is deliberately not retryable: repeating a
    /// conditional write whose first attempt may have landed could report a
    /// conflict with itself.
    pub const fn retryable(self) -> bool {
        matches!(
            self,
            Self::StorageUnavailable | Self::RequestTimeout | Self::Network | Self::Timeout
        )
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of every error response: `{"error": "...", "code": "..."}`.
///
/// `error` is the field fal's clients read for a message; `code` is ours.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ErrorBody {
    /// A human-readable message.
    pub error: String,
    /// The stable code, one of [`ErrorCode::as_str`].
    pub code: String,
}

impl ErrorBody {
    /// The body for `code` with a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { error: message.into(), code: code.as_str().to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {code}");
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("nope"), None);
    }

    #[test]
    fn not_found_and_no_route_are_different_codes() {
        assert_ne!(ErrorCode::KeyNotFound.as_str(), ErrorCode::RouteNotFound.as_str());
        assert_eq!(ErrorCode::KeyNotFound.status(), Some(404));
        assert_eq!(ErrorCode::RouteNotFound.status(), Some(404));
    }

    #[test]
    fn client_codes_have_no_status() {
        for code in [ErrorCode::Network, ErrorCode::Timeout, ErrorCode::Aborted] {
            assert_eq!(code.status(), None);
        }
        assert!(ErrorCode::Timeout.retryable());
        assert!(!ErrorCode::OutcomeUnknown.retryable());
        assert!(!ErrorCode::VersionConflict.retryable());
    }
}
