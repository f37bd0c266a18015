//! Background reclaim of expired entries.
//!
//! Expired entries are already invisible to readers (every read checks the
//! time); this task only frees the space they take.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::store::Store;

/// Starts a task that purges expired entries every `every`, until aborted.
pub fn spawn(store: Arc<dyn Store>, clock: Arc<dyn Clock>, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate; a server that just started has nothing urgent.
        ticker.tick().await;
        loop {
            ticker.tick().await;
            match store.purge_expired(clock.now_ms()).await {
                Ok(0) => {}
                Ok(removed) => tracing::debug!(removed, "purged expired entries"),
                Err(e) => tracing::error!(error = %e, "purging expired entries failed"),
            }
        }
    })
}
