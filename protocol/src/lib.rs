//! The runkv wire format, defined once for the SDK and the server.
//!
//! Everything that both sides must agree on lives here: which namespaces and
//! keys are valid, how a key travels as a URL path segment, the limits, the
//! TTL and version syntax, and the closed set of error codes. The crate does
//! no I/O and builds for `wasm32-unknown-unknown` as well as for the host.
//!
//! The prose version of this contract is `docs/protocol.md`.

#![deny(missing_docs)]

mod error;
mod limits;
mod names;
mod path;
mod ttl;
mod version;

pub use error::{ErrorBody, ErrorCode};
pub use limits::{DEFAULT_MAX_VALUE_BYTES, MAX_KEY_BYTES, MAX_NAMESPACE_LEN, MAX_TTL_SECS};
pub use names::{validate_key, validate_namespace};
pub use path::{decode_segment, encode_segment, parse_data_path, DataPath, Op};
pub use ttl::{parse_ttl, validate_ttl};
pub use version::{Precondition, Version};

/// A request that breaks one of the protocol's rules.
///
/// `code` is the stable machine-readable reason; `message` says, for a person,
/// what was wrong and what is allowed instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    /// The stable error code a server answers with for this violation.
    pub code: ErrorCode,
    /// A human-readable explanation.
    pub message: String,
}

impl ProtocolError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl core::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.message, self.code.as_str())
    }
}

impl std::error::Error for ProtocolError {}
