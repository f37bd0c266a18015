//! Storage backends behind one trait.
//!
//! The HTTP layer speaks only to [`Store`]. Each backend gives the same
//! guarantees, checked by one conformance suite that runs against all of them:
//!
//! - a write that returns `Ok` is durable (fsynced, or committed);
//! - an expired entry is never returned, and counts as absent for conditions;
//! - every successful write of a key gives it a larger [`Version`] than any
//!   version that key has had before;
//! - conditions are checked and the write applied atomically, so of several
//!   racing conditional writes only those whose condition held succeed;
//! - without a condition the last write wins; deleting an absent key is not
//!   an error.

pub mod embedded;
pub mod postgres;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use runkv_protocol::{Precondition, Version};

/// A stored value as a reader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value, exactly as written.
    pub value: String,
    /// Its version.
    pub version: Version,
    /// When it expires, in milliseconds since the Unix epoch; `None` for never.
    pub expires_at_ms: Option<u64>,
}

/// The condition a write is made under.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Condition {
    /// Unconditional: last write wins.
    #[default]
    Always,
    /// `If-Match`: only if the current version matches (`*`: if the key exists).
    IfMatch(Precondition),
    /// `If-None-Match`: only if the current version does not match
    /// (`*`: only if the key is absent, i.e. create only).
    IfNoneMatch(Precondition),
}

impl Condition {
    /// Whether the condition holds for the key's current version.
    pub fn holds(&self, current: Option<Version>) -> bool {
        match self {
            Condition::Always => true,
            Condition::IfMatch(p) => p.matches(current),
            Condition::IfNoneMatch(p) => !p.matches(current),
        }
    }
}

/// A write that was refused because its condition did not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict {
    /// The key's version when the condition was checked; `None` when absent.
    pub current: Option<Version>,
}

/// A failure of the storage itself (not of the request).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached now; the request may succeed later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: corruption, a bug, an I/O error that will not pass.
    #[error("storage failure: {0}")]
    Internal(String),
}

/// A namespaced, versioned key-value store.
///
/// Times are in milliseconds since the Unix epoch and come from the caller
/// (`now_ms`), so that tests can drive expiry with a controlled clock and
/// every backend judges expiry by the same clock.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The live entry for `key`, or `None` when it is absent or expired.
    async fn get(&self, ns: &str, key: &str, now_ms: u64) -> Result<Option<Entry>, StoreError>;

    /// Writes `value`, expiring at `expires_at_ms` if given, when `cond` holds.
    /// Returns the new version.
    async fn set(
        &self,
        ns: &str,
        key: &str,
        value: String,
        expires_at_ms: Option<u64>,
        cond: &Condition,
        now_ms: u64,
    ) -> Result<Result<Version, Conflict>, StoreError>;

    /// Deletes `key` when `cond` holds. Returns whether a live entry existed.
    async fn delete(
        &self,
        ns: &str,
        key: &str,
        cond: &Condition,
        now_ms: u64,
    ) -> Result<Result<bool, Conflict>, StoreError>;

    /// Removes entries that expired at or before `now_ms`; returns how many.
    /// Called periodically in the background; it must not block other
    /// requests for long.
    async fn purge_expired(&self, now_ms: u64) -> Result<u64, StoreError>;

    /// Makes everything written so far durable and releases resources.
    /// Called once at shutdown, after the last request.
    async fn close(&self) -> Result<(), StoreError>;
}

/// Opens the store named by `spec`: `embedded` (files in `data_dir`), or a
/// `postgres://` / `postgresql://` connection URL.
pub async fn open(spec: &str, data_dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
    match spec {
        "embedded" => {
            let dir = data_dir.to_owned();
            let store = tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&dir).map_err(|e| {
                    StoreError::Internal(format!("cannot create {}: {e}", dir.display()))
                })?;
                embedded::EmbeddedStore::open(&dir)
            })
            .await
            .map_err(|e| StoreError::Internal(format!("opening the store failed: {e}")))??;
            Ok(Arc::new(store))
        }
        url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(postgres::PostgresStore::connect(url).await?))
        }
        other => Err(StoreError::Internal(format!(
            "unknown store {other:?}: expected \"embedded\" or a postgres:// URL"
        ))),
    }
}
