//! A private schema per test on the PostgreSQL server the tests run against.
//!
//! The server is `RUNKV_TEST_POSTGRES_URL`, by default the local one that
//! `.ci/run` starts: `postgres://postgres@127.0.0.1:5432/test`.

#![allow(dead_code)]

pub mod cluster;
pub mod process;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The database the tests use, without runkv's own parameters.
pub fn base_url() -> String {
    std::env::var("RUNKV_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema name no other test run uses, dropped (with everything in it)
/// when the value is dropped, also when the test fails.
pub struct TestSchema {
    pub name: String,
}

impl TestSchema {
    pub fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        TestSchema { name: format!("runkv_test_{}_{nanos}_{n}", std::process::id()) }
    }

    /// The store URL for this schema.
    ///
    /// The pool is smaller than the default: many tests, and other test
    /// runs, share the server's 100 connections (`max_connections`), and
    /// eight per store still let racing writes really overlap.
    pub fn url(&self) -> String {
        with_param(&base_url(), &format!("schema={}&pool_size=8", self.name))
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // Drop runs outside any async context we could borrow (possibly while
        // a test's runtime unwinds), so use a runtime of its own on a thread.
        // The lock timeout keeps a test that left a transaction open from
        // hanging here; its schema is then left behind, and reported.
        let sql =
            format!("SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let (client, connection) =
                    tokio_postgres::connect(&base_url(), tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                client.batch_execute(&sql).await
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test schema {}: {e}", self.name);
        }
    }
}

/// `url` with one more query parameter.
pub fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// A plain connection to the test database, for looking behind the store.
pub async fn raw_client() -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(&base_url(), tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}
