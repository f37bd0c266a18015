//! The PostgreSQL store: the shared store conformance suite, and what only
//! this backend has (its schema, races between separate servers' connection
//! pools, connection failures).
//!
//! Needs a PostgreSQL server; see `postgres_util` for which one. Every test
//! works in a schema of its own and drops it at the end.

mod common;
mod postgres_util;

use std::sync::Arc;

use postgres_util::{raw_client, with_param, TestSchema};
use runkv_protocol::{Precondition, Version};
use runkv_server::store::postgres::PostgresStore;
use runkv_server::store::{Condition, Conflict, Store, StoreError};

const NOW: u64 = 1_700_000_000_000;

struct Postgres {
    // Dropped after the store, so the schema goes once the store is done.
    store: Arc<dyn Store>,
    schema: TestSchema,
}

impl common::store_suite::Backend for Postgres {
    async fn create() -> Self {
        let schema = TestSchema::new();
        let store = Arc::new(open(&schema).await);
        Self { store, schema }
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn reopen(&mut self) {
        self.store.close().await.unwrap();
        self.store = Arc::new(open(&self.schema).await);
    }
}

store_conformance!(Postgres);

async fn open(schema: &TestSchema) -> PostgresStore {
    PostgresStore::connect(&schema.url()).await.expect("connect to the test database")
}

async fn put(store: &PostgresStore, key: &str, value: &str) -> Version {
    store.set("ns", key, value.to_owned(), None, &Condition::Always, NOW).await.unwrap().unwrap()
}

fn if_match(v: Version) -> Condition {
    Condition::IfMatch(Precondition::Versions(vec![v]))
}

fn create_only() -> Condition {
    Condition::IfNoneMatch(Precondition::Any)
}

#[tokio::test]
async fn servers_share_one_version_sequence() {
    let schema = TestSchema::new();
    let (a, b) = (open(&schema).await, open(&schema).await);

    let v1 = put(&a, "k", "one").await;
    let v2 = put(&b, "k", "two").await;
    assert!(v2 > v1);
    assert_eq!(b.delete("ns", "k", &Condition::Always, NOW).await.unwrap(), Ok(true));
    let v3 = put(&a, "k", "three").await;
    assert!(v3 > v2);
    assert_eq!(b.get("ns", "k", NOW).await.unwrap().unwrap().value, "three");
}

#[tokio::test]
async fn if_none_match_versions_refuses_the_named_version() {
    let schema = TestSchema::new();
    let store = open(&schema).await;

    let v1 = put(&store, "k", "one").await;
    let not_v1 = Condition::IfNoneMatch(Precondition::Versions(vec![v1]));
    let refused = store.set("ns", "k", "x".into(), None, &not_v1, NOW).await.unwrap();
    assert_eq!(refused, Err(Conflict { current: Some(v1) }));
    assert_eq!(
        store.delete("ns", "k", &not_v1, NOW).await.unwrap(),
        Err(Conflict { current: Some(v1) })
    );

    let v2 = put(&store, "k", "two").await;
    assert!(store.set("ns", "k", "three".into(), None, &not_v1, NOW).await.unwrap().is_ok());
    assert!(store.get("ns", "k", NOW).await.unwrap().unwrap().version > v2);

    // An absent key matches no version.
    let fresh = store.set("ns", "new", "x".into(), None, &not_v1, NOW).await.unwrap();
    assert!(fresh.is_ok());
}

#[tokio::test]
async fn purge_removes_only_expired_rows_in_batches() {
    let schema = TestSchema::new();
    let store = open(&schema).await;

    // More rows than one purge batch holds.
    let client = raw_client().await;
    client
        .batch_execute(&format!(
            "INSERT INTO \"{s}\".runkv_entries (namespace, key, value, version, expires_at_ms)
             SELECT 'ns', convert_to('bulk' || i, 'UTF8'), '\\x76'::bytea,
                    nextval('\"{s}\".runkv_versions'), {expired}
             FROM generate_series(1, 2500) AS i",
            s = schema.name,
            expired = NOW - 1
        ))
        .await
        .unwrap();
    store
        .set("ns", "ttl", "v".into(), Some(NOW + 1), &Condition::Always, NOW)
        .await
        .unwrap()
        .unwrap();
    put(&store, "forever", "v").await;

    assert_eq!(store.purge_expired(NOW).await.unwrap(), 2500);
    assert_eq!(store.purge_expired(NOW).await.unwrap(), 0);
    assert_eq!(store.purge_expired(NOW + 1).await.unwrap(), 1);
    let left: i64 = client
        .query_one(&format!("SELECT count(*) FROM \"{}\".runkv_entries", schema.name), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 1);
    assert!(store.get("ns", "forever", NOW + 1).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_create_only_writes_have_one_winner() {
    let schema = TestSchema::new();
    // Two stores stand for two servers; each has its own connections.
    let stores = [Arc::new(open(&schema).await), Arc::new(open(&schema).await)];

    for round in 0..5 {
        let key = format!("k{round}");
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = stores[i % 2].clone();
                let key = key.clone();
                tokio::spawn(async move {
                    store.set("ns", &key, format!("writer {i}"), None, &create_only(), NOW).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap().unwrap() {
                Ok(version) => winners.push((i, version)),
                Err(conflict) => assert!(conflict.current.is_some()),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let entry = stores[0].get("ns", &key, NOW).await.unwrap().unwrap();
        assert_eq!(entry.value, format!("writer {}", winners[0].0));
        assert_eq!(entry.version, winners[0].1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_if_match_writes_have_one_winner() {
    let schema = TestSchema::new();
    let stores = [Arc::new(open(&schema).await), Arc::new(open(&schema).await)];
    let mut base = put(&stores[0], "k", "base").await;

    for round in 0..5 {
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = stores[i % 2].clone();
                let cond = if_match(base);
                tokio::spawn(async move {
                    store.set("ns", "k", format!("writer {i}"), None, &cond, NOW).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap().unwrap() {
                Ok(version) => winners.push((i, version)),
                Err(conflict) => assert_ne!(conflict.current, Some(base), "round {round}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert!(winners[0].1 > base);
        base = winners[0].1;
        assert_eq!(stores[1].get("ns", "k", NOW).await.unwrap().unwrap().version, base);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_unconditional_writes_end_with_the_latest_version() {
    let schema = TestSchema::new();
    let stores = [Arc::new(open(&schema).await), Arc::new(open(&schema).await)];

    // Deletes in the mix exercise re-creation under contention.
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                if i % 8 == 7 {
                    store.delete("ns", "k", &Condition::Always, NOW).await.unwrap().unwrap();
                    None
                } else {
                    let v = store.set("ns", "k", format!("w{i}"), None, &Condition::Always, NOW);
                    Some((i, v.await.unwrap().unwrap()))
                }
            })
        })
        .collect();
    let mut written = Vec::new();
    for task in tasks {
        written.extend(task.await.unwrap());
    }

    let mut versions: Vec<_> = written.iter().map(|(_, v)| *v).collect();
    versions.sort();
    versions.dedup();
    assert_eq!(versions.len(), written.len(), "every write has its own version");

    // A later write still gets a larger version than every racing one.
    put(&stores[0], "k", "after").await;
    let last = stores[1].get("ns", "k", NOW).await.unwrap().unwrap();
    assert!(last.version > *versions.last().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_writes_keep_the_value_of_the_highest_version() {
    let schema = TestSchema::new();
    let stores = [Arc::new(open(&schema).await), Arc::new(open(&schema).await)];

    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                let v = store.set("ns", "k", format!("w{i}"), None, &Condition::Always, NOW);
                (format!("w{i}"), v.await.unwrap().unwrap())
            })
        })
        .collect();
    let mut written = Vec::new();
    for task in tasks {
        written.push(task.await.unwrap());
    }
    let highest = written.iter().max_by_key(|(_, v)| *v).unwrap();
    let entry = stores[0].get("ns", "k", NOW).await.unwrap().unwrap();
    assert_eq!((&entry.value, entry.version), (&highest.0, highest.1));
}

#[tokio::test]
async fn servers_starting_together_create_the_schema_once() {
    let schema = TestSchema::new();
    let url = schema.url();
    let starts: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PostgresStore::connect(&url).await })
        })
        .collect();
    for start in starts {
        start.await.unwrap().expect("every server starts");
    }

    let client = raw_client().await;
    let versions: i64 = client
        .query_one(&format!("SELECT count(*) FROM \"{}\".runkv_schema_version", schema.name), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(versions, 1);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let schema = TestSchema::new();
    drop(open(&schema).await);
    raw_client()
        .await
        .batch_execute(&format!(
            "UPDATE \"{}\".runkv_schema_version SET version = version + 1",
            schema.name
        ))
        .await
        .unwrap();

    match PostgresStore::connect(&schema.url()).await {
        Err(StoreError::Internal(message)) => {
            assert!(message.contains("schema version"), "{message}")
        }
        other => panic!("expected a schema version error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable() {
    // A port that nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("postgres://postgres@127.0.0.1:{port}/test");
    match PostgresStore::connect(&url).await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_urls_are_refused() {
    let base = postgres_util::base_url();
    for url in [
        "mysql://localhost/test".to_owned(),
        with_param(&base, "schema=Has-Caps"),
        with_param(&base, "schema=1digit"),
        with_param(&base, "pool_size=0"),
        with_param(&base, "no_such_option=1"),
        with_param(&base, "sslmode=sometimes"),
        with_param(&base, "sslrootcert=/etc/hostname"),
        with_param(&base, "sslmode=require&sslrootcert=/nonexistent/ca.pem"),
    ] {
        match PostgresStore::connect(&url).await {
            Err(StoreError::Internal(_)) => {}
            other => panic!("{url}: expected a configuration error, got {other:?}"),
        }
    }
}
