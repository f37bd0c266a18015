//! The background purge task, on tokio's paused clock and a manual wall
//! clock: no test waits for real time to pass.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runkv_protocol::Version;
use runkv_server::clock::{Clock, ManualClock};
use runkv_server::expiry;
use runkv_server::store::embedded::EmbeddedStore;
use runkv_server::store::{Condition, Conflict, Entry, Store, StoreError};
use tokio::sync::mpsc;

/// A store that reports each purge it is asked for.
struct Recorder(mpsc::UnboundedSender<u64>);

#[async_trait]
impl Store for Recorder {
    async fn get(&self, _: &str, _: &str, _: u64) -> Result<Option<Entry>, StoreError> {
        Ok(None)
    }
    async fn set(
        &self,
        _: &str,
        _: &str,
        _: String,
        _: Option<u64>,
        _: &Condition,
        _: u64,
    ) -> Result<Result<Version, Conflict>, StoreError> {
        Ok(Ok(Version(1)))
    }
    async fn delete(
        &self,
        _: &str,
        _: &str,
        _: &Condition,
        _: u64,
    ) -> Result<Result<bool, Conflict>, StoreError> {
        Ok(Ok(false))
    }
    async fn purge_expired(&self, now_ms: u64) -> Result<u64, StoreError> {
        let _ = self.0.send(now_ms);
        Err(StoreError::Unavailable("a failed purge must not stop the task".into()))
    }
    async fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn purges_run_periodically_with_the_clock_time() {
    let (calls, mut purged_at) = mpsc::unbounded_channel();
    let clock = Arc::new(ManualClock::new(1_000));
    let task = expiry::spawn(Arc::new(Recorder(calls)), clock.clone(), Duration::from_secs(10));

    // Paused time jumps straight to the next tick whenever every task waits.
    assert_eq!(purged_at.recv().await, Some(1_000));
    clock.advance_ms(5_000);
    assert_eq!(purged_at.recv().await, Some(6_000));
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn the_task_reclaims_expired_entries_of_a_real_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let clock = Arc::new(ManualClock::new(1_000));
    let cond = Condition::Always;
    store
        .set("ns", "short", "v".into(), Some(2_000), &cond, clock.now_ms())
        .await
        .unwrap()
        .unwrap();
    store
        .set("ns", "long", "v".into(), Some(60_000), &cond, clock.now_ms())
        .await
        .unwrap()
        .unwrap();

    clock.advance_ms(5_000);
    let task = expiry::spawn(store.clone(), clock.clone(), Duration::from_secs(1));
    // Give the task its first purge, then check through a purge of our own:
    // once the task has run, nothing is left for us to remove.
    tokio::time::sleep(Duration::from_secs(2)).await;
    task.abort();
    assert_eq!(store.purge_expired(clock.now_ms()).await.unwrap(), 0);
    assert!(store.get("ns", "long", clock.now_ms()).await.unwrap().is_some());
    store.close().await.unwrap();
}
