//! The embedded backend: a fjall database in the data directory, written with
//! group commit.
//!
//! Reads go straight to fjall. Every write goes to one writer thread, which
//! takes all the requests waiting in its queue, checks each one's condition
//! against the current state (earlier writes of the same batch included),
//! applies them as one atomic fjall batch, fsyncs the journal once, and only
//! then answers all of them. A single fsync per batch instead of per write is
//! what makes durable writes fast: while one fsync runs, the next batch fills.
//!
//! Layout, in three keyspaces:
//!
//! - `data`: `[ns length: u8][ns][key]` → `[version: u64 BE][expires_at_ms: u64 BE, 0 =
//!   never][value]`. The length prefix keeps `("a", "bc")` and `("ab", "c")` apart.
//! - `expiry`: `[expires_at_ms: u64 BE][data key]` → empty. Sorted by time, so
//!   the background purge reads only the entries that are due.
//! - `meta`: `last_version` → `u64 BE`, the highest version ever given out,
//!   written in the same batch as the writes that used it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{mpsc, Mutex, RwLock};
use std::thread::JoinHandle;

use async_trait::async_trait;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use runkv_protocol::Version;
use tokio::sync::oneshot;

use super::{Condition, Conflict, Entry, Store, StoreError};

/// The most writes gathered into one commit. The values are in memory
/// already (each waiting request holds its own), so the cap does not bound
/// memory; it bounds how long one commit takes, and so the latency of the
/// writes that queue behind it.
const MAX_BATCH: usize = 1024;

/// The most expiry-index entries one purge step handles, so that a purge of a
/// large backlog never holds up writes for long: each step is one batch.
const PURGE_STEP: usize = 1000;

const LAST_VERSION: &[u8] = b"last_version";

/// A store in a local directory.
pub struct EmbeddedStore {
    /// What requests use; `None` once the store is closed.
    open: RwLock<Option<Handles>>,
    /// The writer thread, joined by [`Store::close`].
    writer: Mutex<Option<JoinHandle<()>>>,
}

struct Handles {
    data: Keyspace,
    requests: mpsc::Sender<Request>,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir` and starts its writer thread.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = Database::builder(dir).open().map_err(|e| match e {
            fjall::Error::Locked => StoreError::Internal(format!(
                "the data directory {} is in use by another process",
                dir.display()
            )),
            e => StoreError::Internal(format!("cannot open the store in {}: {e}", dir.display())),
        })?;
        let keyspace = |name| db.keyspace(name, KeyspaceCreateOptions::default).map_err(internal);
        let data = keyspace("data")?;
        let expiry = keyspace("expiry")?;
        let meta = keyspace("meta")?;
        let last_version = match meta.get(LAST_VERSION).map_err(internal)? {
            Some(bytes) => read_u64(&bytes)?,
            None => 0,
        };

        let (requests, queue) = mpsc::channel();
        let writer = Writer { db, data: data.clone(), expiry, meta, last_version };
        let thread = std::thread::Builder::new()
            .name("runkv-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(|e| StoreError::Internal(format!("cannot start the writer thread: {e}")))?;

        Ok(Self {
            open: RwLock::new(Some(Handles { data, requests })),
            writer: Mutex::new(Some(thread)),
        })
    }

    fn read_handle(&self) -> Result<Keyspace, StoreError> {
        let open = self.open.read().unwrap_or_else(|e| e.into_inner());
        open.as_ref().map(|h| h.data.clone()).ok_or_else(closed)
    }

    /// Queues a request for the writer and waits for its answer.
    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        {
            let open = self.open.read().unwrap_or_else(|e| e.into_inner());
            let handles = open.as_ref().ok_or_else(closed)?;
            handles.requests.send(make(reply)).map_err(|_| closed())?;
        }
        answer
            .await
            .map_err(|_| StoreError::Internal("the writer thread stopped unexpectedly".into()))
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, ns: &str, key: &str, now_ms: u64) -> Result<Option<Entry>, StoreError> {
        // A point read is served from the memtable or the block cache in
        // microseconds, so it runs on the async thread rather than paying for
        // a hop to the blocking pool.
        let data = self.read_handle()?;
        let Some(bytes) = data.get(data_key(ns, key)).map_err(internal)? else {
            return Ok(None);
        };
        let record = Header::decode(&bytes)?;
        if record.expired(now_ms) {
            return Ok(None);
        }
        let value = std::str::from_utf8(&bytes[Header::LEN..])
            .map_err(|_| StoreError::Internal("a stored value is not UTF-8".into()))?;
        Ok(Some(Entry {
            value: value.to_owned(),
            version: Version(record.version),
            expires_at_ms: record.expires_at_ms,
        }))
    }

    async fn set(
        &self,
        ns: &str,
        key: &str,
        value: String,
        expires_at_ms: Option<u64>,
        cond: &Condition,
        now_ms: u64,
    ) -> Result<Result<Version, Conflict>, StoreError> {
        let write = Write {
            key: data_key(ns, key),
            op: Op::Set { value, expires_at_ms },
            cond: cond.clone(),
            now_ms,
        };
        let outcome = self.call(|reply| Request::Write(write, reply)).await??;
        Ok(outcome.map(|done| match done {
            Done::Set(version) => version,
            Done::Deleted(_) => unreachable!("a set is answered with a version"),
        }))
    }

    async fn delete(
        &self,
        ns: &str,
        key: &str,
        cond: &Condition,
        now_ms: u64,
    ) -> Result<Result<bool, Conflict>, StoreError> {
        let write = Write { key: data_key(ns, key), op: Op::Delete, cond: cond.clone(), now_ms };
        let outcome = self.call(|reply| Request::Write(write, reply)).await??;
        Ok(outcome.map(|done| match done {
            Done::Deleted(existed) => existed,
            Done::Set(_) => unreachable!("a delete is answered with whether the key existed"),
        }))
    }

    async fn purge_expired(&self, now_ms: u64) -> Result<u64, StoreError> {
        // One step per writer batch, so that writes queued meanwhile go in
        // between the steps of a long purge.
        let mut removed = 0;
        loop {
            let step = self.call(|reply| Request::Purge { now_ms, reply }).await??;
            removed += step.removed;
            if step.scanned < PURGE_STEP {
                return Ok(removed);
            }
        }
    }

    async fn close(&self) -> Result<(), StoreError> {
        // Dropping the sender lets the writer finish the queue and stop; the
        // database persists its journal when the writer drops it.
        let handles = self.open.write().unwrap_or_else(|e| e.into_inner()).take();
        drop(handles);
        let thread = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|e| StoreError::Internal(format!("cannot join the writer: {e}")))?
                .map_err(|_| StoreError::Internal("the writer thread panicked".into()))?;
        }
        Ok(())
    }
}

type WriteReply = oneshot::Sender<Result<Result<Done, Conflict>, StoreError>>;

enum Request {
    Write(Write, WriteReply),
    Purge { now_ms: u64, reply: oneshot::Sender<Result<PurgeStep, StoreError>> },
}

struct Write {
    key: Vec<u8>,
    op: Op,
    cond: Condition,
    now_ms: u64,
}

enum Op {
    Set { value: String, expires_at_ms: Option<u64> },
    Delete,
}

enum Done {
    Set(Version),
    Deleted(bool),
}

struct PurgeStep {
    scanned: usize,
    removed: u64,
}

/// The fixed-size front of a stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    version: u64,
    expires_at_ms: Option<u64>,
}

impl Header {
    const LEN: usize = 16;

    fn encode(self, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN + value.len());
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.expires_at_ms.unwrap_or(0).to_be_bytes());
        out.extend_from_slice(value);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        if bytes.len() < Self::LEN {
            return Err(StoreError::Internal("a stored record is truncated".into()));
        }
        let version = read_u64(&bytes[..8])?;
        let expires = read_u64(&bytes[8..16])?;
        Ok(Self { version, expires_at_ms: (expires != 0).then_some(expires) })
    }

    /// An entry is live strictly before its expiry time.
    fn expired(self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }
}

fn data_key(ns: &str, key: &str) -> Vec<u8> {
    // Namespaces are at most 64 ASCII characters, so the length fits a byte.
    let mut out = Vec::with_capacity(1 + ns.len() + key.len());
    out.push(ns.len() as u8);
    out.extend_from_slice(ns.as_bytes());
    out.extend_from_slice(key.as_bytes());
    out
}

fn expiry_key(expires_at_ms: u64, data_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + data_key.len());
    out.extend_from_slice(&expires_at_ms.to_be_bytes());
    out.extend_from_slice(data_key);
    out
}

fn read_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Internal("a stored number is not 8 bytes".into()))?;
    Ok(u64::from_be_bytes(array))
}

fn internal(e: fjall::Error) -> StoreError {
    StoreError::Internal(e.to_string())
}

fn closed() -> StoreError {
    StoreError::Unavailable("the store is closed".into())
}

/// The single owner of all writes.
struct Writer {
    db: Database,
    data: Keyspace,
    expiry: Keyspace,
    meta: Keyspace,
    /// The highest version given out. Only this thread touches it.
    last_version: u64,
}

/// The changes of one batch, before they are committed. Each key appears
/// once with its final state, because all items of a fjall batch share one
/// sequence number and two items for the same key would be ambiguous.
#[derive(Default)]
struct Staged {
    /// Data key → new record, or `None` to delete.
    data: HashMap<Vec<u8>, Option<Vec<u8>>>,
    /// Expiry-index key → present after the batch or not.
    expiry: HashMap<Vec<u8>, bool>,
}

impl Writer {
    fn run(mut self, queue: mpsc::Receiver<Request>) {
        // Block for the first request, then take whatever else is already
        // waiting: requests that arrived during the previous fsync.
        while let Ok(first) = queue.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            self.apply(batch);
        }

        if let Err(e) = self.db.persist(PersistMode::SyncAll) {
            tracing::error!(error = %e, "cannot persist the journal at close");
        }
    }

    fn apply(&mut self, batch: Vec<Request>) {
        let mut staged = Staged::default();
        let mut answers = Vec::with_capacity(batch.len());

        for request in batch {
            match request {
                Request::Write(write, reply) => {
                    let outcome = self.stage_write(&mut staged, write);
                    answers.push(Answer::Write(reply, outcome));
                }
                Request::Purge { now_ms, reply } => {
                    let outcome = self.stage_purge(&mut staged, now_ms);
                    answers.push(Answer::Purge(reply, outcome));
                }
            }
        }

        let committed = if staged.data.is_empty() && staged.expiry.is_empty() {
            Ok(())
        } else {
            self.commit(staged)
        };

        if let Err(e) = committed {
            // Nothing of the batch was applied; versions given out in it are
            // skipped, which keeps them increasing.
            let message = format!("cannot commit a write batch: {e}");
            tracing::error!(error = %e, writes = answers.len(), "write batch failed");
            for answer in answers {
                match answer {
                    Answer::Write(reply, _) => {
                        let _ = reply.send(Err(StoreError::Internal(message.clone())));
                    }
                    Answer::Purge(reply, _) => {
                        let _ = reply.send(Err(StoreError::Internal(message.clone())));
                    }
                }
            }
            return;
        }

        for answer in answers {
            match answer {
                Answer::Write(reply, outcome) => {
                    let _ = reply.send(outcome);
                }
                Answer::Purge(reply, outcome) => {
                    let _ = reply.send(outcome);
                }
            }
        }
    }

    fn commit(&mut self, staged: Staged) -> Result<(), fjall::Error> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for (key, record) in staged.data {
            match record {
                Some(record) => batch.insert(&self.data, key, record),
                None => batch.remove(&self.data, key),
            }
        }
        for (key, present) in staged.expiry {
            if present {
                batch.insert(&self.expiry, key, []);
            } else {
                batch.remove(&self.expiry, key);
            }
        }
        batch.insert(&self.meta, LAST_VERSION, self.last_version.to_be_bytes());
        batch.commit()
    }

    /// The key's record header as of this point in the batch, expired or not.
    fn current(&self, staged: &Staged, key: &[u8]) -> Result<Option<Header>, StoreError> {
        if let Some(record) = staged.data.get(key) {
            return record.as_deref().map(Header::decode).transpose();
        }
        match self.data.get(key).map_err(internal)? {
            Some(bytes) => Header::decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    fn stage_write(
        &mut self,
        staged: &mut Staged,
        write: Write,
    ) -> Result<Result<Done, Conflict>, StoreError> {
        let current = self.current(staged, &write.key)?;
        let live = current.filter(|h| !h.expired(write.now_ms)).map(|h| Version(h.version));
        if !write.cond.holds(live) {
            return Ok(Err(Conflict { current: live }));
        }

        // The old expiry-index entry goes whether the key is overwritten or
        // deleted; the new one (if any) is added after, so that rewriting the
        // same expiry time keeps it.
        if let Some(at) = current.and_then(|h| h.expires_at_ms) {
            staged.expiry.insert(expiry_key(at, &write.key), false);
        }

        match write.op {
            Op::Set { value, expires_at_ms } => {
                self.last_version += 1;
                let header = Header { version: self.last_version, expires_at_ms };
                if let Some(at) = expires_at_ms {
                    staged.expiry.insert(expiry_key(at, &write.key), true);
                }
                staged.data.insert(write.key, Some(header.encode(value.as_bytes())));
                Ok(Ok(Done::Set(Version(header.version))))
            }
            Op::Delete => {
                if current.is_some() {
                    staged.data.insert(write.key, None);
                }
                Ok(Ok(Done::Deleted(live.is_some())))
            }
        }
    }

    fn stage_purge(&mut self, staged: &mut Staged, now_ms: u64) -> Result<PurgeStep, StoreError> {
        let mut step = PurgeStep { scanned: 0, removed: 0 };
        let due = ..expiry_key(now_ms.saturating_add(1), &[]);
        for item in self.expiry.range(due).take(PURGE_STEP) {
            let index_key = item.key().map_err(internal)?.to_vec();
            step.scanned += 1;

            // Written in this same batch: it is a new entry, not a due one.
            if staged.expiry.contains_key(&index_key) {
                continue;
            }
            let at = read_u64(&index_key[..8])?;
            let key = index_key[8..].to_vec();

            // A set since the index entry was written may have given the key
            // a new expiry (or none); then only the stale index entry goes.
            let current = self.current(staged, &key)?;
            if current.is_some_and(|h| h.expires_at_ms == Some(at) && h.expired(now_ms)) {
                staged.data.insert(key, None);
                step.removed += 1;
            }
            staged.expiry.insert(index_key, false);
        }
        Ok(step)
    }
}

enum Answer {
    Write(WriteReply, Result<Result<Done, Conflict>, StoreError>),
    Purge(oneshot::Sender<Result<PurgeStep, StoreError>>, Result<PurgeStep, StoreError>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        for header in [
            Header { version: 1, expires_at_ms: None },
            Header { version: u64::MAX, expires_at_ms: Some(17) },
        ] {
            let bytes = header.encode(b"value");
            assert_eq!(Header::decode(&bytes).unwrap(), header);
            assert_eq!(&bytes[Header::LEN..], b"value");
        }
        assert!(Header::decode(b"short").is_err());
    }

    #[test]
    fn data_keys_keep_namespace_and_key_apart() {
        assert_ne!(data_key("a", "bc"), data_key("ab", "c"));
    }

    #[test]
    fn expiry_keys_sort_by_time() {
        assert!(expiry_key(2, b"a") < expiry_key(256, b"a"));
        assert!(expiry_key(256, b"z") < expiry_key(257, b"a"));
    }
}
