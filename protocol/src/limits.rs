//! Size and range limits. Servers may lower the value limit by configuration;
//! the other limits are part of the protocol.

/// The longest key, in bytes of its UTF-8 encoding (before percent-encoding).
pub const MAX_KEY_BYTES: usize = 1024;

/// The longest namespace, in characters (all of them ASCII).
pub const MAX_NAMESPACE_LEN: usize = 64;

/// The default largest value a server accepts, in bytes: 2 MiB.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 2 * 1024 * 1024;

/// The longest TTL, in seconds: 365 days.
pub const MAX_TTL_SECS: u64 = 365 * 24 * 60 * 60;
