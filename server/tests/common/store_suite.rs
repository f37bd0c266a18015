//! The store conformance suite: every guarantee of the `Store` trait, as
//! scenarios that run against any backend.
//!
//! A backend's test file implements [`Backend`] and instantiates the suite:
//!
//! ```ignore
//! mod common;
//! struct MyBackend { .. }
//! impl common::store_suite::Backend for MyBackend { .. }
//! store_conformance!(MyBackend);
//! ```
//!
//! Each scenario gets a fresh, empty store of its own. Times are passed in
//! explicitly, so expiry is tested without sleeping.

use std::collections::HashSet;
use std::sync::Arc;

use runkv_protocol::{Precondition, Version};
use runkv_server::store::{Condition, Conflict, Store};

/// A backend under test.
pub trait Backend: Sized + Send + Sync + 'static {
    /// A fresh, empty store that no other test uses.
    fn create() -> impl std::future::Future<Output = Self> + Send;
    /// The store.
    fn store(&self) -> Arc<dyn Store>;
    /// Closes the store and opens it again on the same data, as a restart does.
    fn reopen(&mut self) -> impl std::future::Future<Output = ()> + Send;
}

/// Instantiates every scenario as a `#[tokio::test]` for the backend type.
#[macro_export]
macro_rules! store_conformance {
    ($backend:ty) => {
        $crate::store_conformance!(@tests $backend;
            absent_key_reads_as_none,
            set_then_get_returns_value_and_version,
            overwrite_wins_and_version_grows,
            versions_grow_across_delete_and_recreate,
            delete_reports_whether_a_live_entry_existed,
            namespaces_are_isolated,
            keys_are_stored_byte_exact,
            empty_and_large_values_round_trip,
            entries_expire_at_their_time,
            set_without_ttl_clears_expiry,
            expired_entries_count_as_absent_for_conditions,
            if_match_writes_only_on_matching_version,
            if_match_any_needs_an_existing_key,
            if_none_match_any_creates_only,
            conditional_delete,
            racing_creates_have_one_winner,
            racing_compare_and_swaps_have_one_winner,
            concurrent_writes_all_land_with_distinct_versions,
            purge_removes_only_expired_entries,
            purge_keeps_refreshed_entries,
            data_survives_reopen,
            versions_keep_growing_after_reopen,
            expiry_holds_across_reopen,
        );
    };
    (@tests $backend:ty; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $crate::common::store_suite::$name::<$backend>().await;
            }
        )*
    };
}

const T0: u64 = 1_700_000_000_000;

fn if_match(v: Version) -> Condition {
    Condition::IfMatch(Precondition::Versions(vec![v]))
}

fn create_only() -> Condition {
    Condition::IfNoneMatch(Precondition::Any)
}

async fn set(store: &dyn Store, ns: &str, key: &str, value: &str) -> Version {
    store
        .set(ns, key, value.to_owned(), None, &Condition::Always, T0)
        .await
        .expect("storage")
        .expect("unconditional set")
}

async fn value(store: &dyn Store, ns: &str, key: &str, now: u64) -> Option<String> {
    store.get(ns, key, now).await.expect("storage").map(|e| e.value)
}

pub async fn absent_key_reads_as_none<B: Backend>() {
    let b = B::create().await;
    assert_eq!(b.store().get("ns", "missing", T0).await.unwrap(), None);
}

pub async fn set_then_get_returns_value_and_version<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    let v = set(&*s, "ns", "k", "hello").await;
    let entry = s.get("ns", "k", T0).await.unwrap().unwrap();
    assert_eq!(entry.value, "hello");
    assert_eq!(entry.version, v);
    assert_eq!(entry.expires_at_ms, None);
    assert!(v.0 > 0);
}

pub async fn overwrite_wins_and_version_grows<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    let v1 = set(&*s, "ns", "k", "one").await;
    let v2 = set(&*s, "ns", "k", "two").await;
    assert!(v2 > v1);
    assert_eq!(value(&*s, "ns", "k", T0).await.as_deref(), Some("two"));
}

pub async fn versions_grow_across_delete_and_recreate<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    let v1 = set(&*s, "ns", "k", "one").await;
    assert_eq!(s.delete("ns", "k", &Condition::Always, T0).await.unwrap(), Ok(true));
    let v2 = set(&*s, "ns", "k", "two").await;
    assert!(v2 > v1, "{v2:?} after {v1:?}");
}

pub async fn delete_reports_whether_a_live_entry_existed<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    assert_eq!(s.delete("ns", "k", &Condition::Always, T0).await.unwrap(), Ok(false));
    set(&*s, "ns", "k", "v").await;
    assert_eq!(s.delete("ns", "k", &Condition::Always, T0).await.unwrap(), Ok(true));
    assert_eq!(s.get("ns", "k", T0).await.unwrap(), None);
    assert_eq!(s.delete("ns", "k", &Condition::Always, T0).await.unwrap(), Ok(false));
}

pub async fn namespaces_are_isolated<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    set(&*s, "a", "k", "in a").await;
    set(&*s, "b", "k", "in b").await;
    set(&*s, "a", "bc", "a/bc").await;
    set(&*s, "ab", "c", "ab/c").await;
    assert_eq!(value(&*s, "a", "k", T0).await.as_deref(), Some("in a"));
    assert_eq!(value(&*s, "b", "k", T0).await.as_deref(), Some("in b"));
    assert_eq!(value(&*s, "a", "bc", T0).await.as_deref(), Some("a/bc"));
    assert_eq!(value(&*s, "ab", "c", T0).await.as_deref(), Some("ab/c"));
    assert_eq!(value(&*s, "c", "k", T0).await, None);

    s.delete("a", "k", &Condition::Always, T0).await.unwrap().unwrap();
    assert_eq!(value(&*s, "b", "k", T0).await.as_deref(), Some("in b"));
}

pub async fn keys_are_stored_byte_exact<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    let keys = [
        "a/b",
        "a?b#c",
        "100%",
        "%41",
        "A",
        "a+b",
        "a b",
        "tab\there",
        "é",
        "e\u{301}",
        "🦀",
        "...",
        " ",
        "nul\0byte",
        "Case",
        "case",
    ];
    for key in keys {
        set(&*s, "ns", key, &format!("value of {key}")).await;
    }
    for key in keys {
        assert_eq!(
            value(&*s, "ns", key, T0).await.as_deref(),
            Some(format!("value of {key}").as_str()),
            "{key:?}"
        );
    }
    assert_eq!(value(&*s, "ns", "a", T0).await, None);
}

pub async fn empty_and_large_values_round_trip<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    set(&*s, "ns", "empty", "").await;
    assert_eq!(value(&*s, "ns", "empty", T0).await.as_deref(), Some(""));

    let large = "é🦀x".repeat(2 * 1024 * 1024 / 7);
    set(&*s, "ns", "large", &large).await;
    assert_eq!(value(&*s, "ns", "large", T0).await.as_deref(), Some(large.as_str()));
}

pub async fn entries_expire_at_their_time<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    let at = T0 + 5_000;
    let v = s.set("ns", "k", "v".into(), Some(at), &Condition::Always, T0).await.unwrap().unwrap();
    let entry = s.get("ns", "k", at - 1).await.unwrap().unwrap();
    assert_eq!((entry.version, entry.expires_at_ms), (v, Some(at)));
    assert_eq!(s.get("ns", "k", at).await.unwrap(), None);
    assert_eq!(s.get("ns", "k", at + 60_000).await.unwrap(), None);
}

pub async fn set_without_ttl_clears_expiry<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    s.set("ns", "k", "v1".into(), Some(T0 + 1_000), &Condition::Always, T0).await.unwrap().unwrap();
    s.set("ns", "k", "v2".into(), None, &Condition::Always, T0).await.unwrap().unwrap();
    let entry = s.get("ns", "k", T0 + 10_000).await.unwrap().unwrap();
    assert_eq!((entry.value.as_str(), entry.expires_at_ms), ("v2", None));
}

pub async fn expired_entries_count_as_absent_for_conditions<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    let at = T0 + 1_000;
    let v1 =
        s.set("ns", "k", "old".into(), Some(at), &Condition::Always, T0).await.unwrap().unwrap();

    let later = at + 1;
    let stale = s.set("ns", "k", "x".into(), None, &if_match(v1), later).await.unwrap();
    assert_eq!(stale, Err(Conflict { current: None }));
    assert_eq!(s.delete("ns", "k", &Condition::Always, later).await.unwrap(), Ok(false));

    s.set("ns", "k2", "old".into(), Some(at), &Condition::Always, T0).await.unwrap().unwrap();
    let created = s.set("ns", "k2", "new".into(), None, &create_only(), later).await.unwrap();
    assert!(created.is_ok(), "{created:?}");
    assert_eq!(value(&*s, "ns", "k2", later).await.as_deref(), Some("new"));
}

pub async fn if_match_writes_only_on_matching_version<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    let v1 = set(&*s, "ns", "k", "one").await;
    let v2 = s.set("ns", "k", "two".into(), None, &if_match(v1), T0).await.unwrap().unwrap();
    assert!(v2 > v1);

    let lost = s.set("ns", "k", "three".into(), None, &if_match(v1), T0).await.unwrap();
    assert_eq!(lost, Err(Conflict { current: Some(v2) }));
    assert_eq!(value(&*s, "ns", "k", T0).await.as_deref(), Some("two"));

    let absent = s.set("ns", "nope", "x".into(), None, &if_match(v1), T0).await.unwrap();
    assert_eq!(absent, Err(Conflict { current: None }));
    assert_eq!(value(&*s, "ns", "nope", T0).await, None);
}

pub async fn if_match_any_needs_an_existing_key<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    let any = Condition::IfMatch(Precondition::Any);
    assert_eq!(
        s.set("ns", "k", "x".into(), None, &any, T0).await.unwrap(),
        Err(Conflict { current: None })
    );
    let v1 = set(&*s, "ns", "k", "one").await;
    let v2 = s.set("ns", "k", "two".into(), None, &any, T0).await.unwrap().unwrap();
    assert!(v2 > v1);
}

pub async fn if_none_match_any_creates_only<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    let v1 = s.set("ns", "k", "first".into(), None, &create_only(), T0).await.unwrap().unwrap();
    let again = s.set("ns", "k", "second".into(), None, &create_only(), T0).await.unwrap();
    assert_eq!(again, Err(Conflict { current: Some(v1) }));
    assert_eq!(value(&*s, "ns", "k", T0).await.as_deref(), Some("first"));
}

pub async fn conditional_delete<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    let v1 = set(&*s, "ns", "k", "one").await;
    let v2 = set(&*s, "ns", "k", "two").await;
    assert_eq!(
        s.delete("ns", "k", &if_match(v1), T0).await.unwrap(),
        Err(Conflict { current: Some(v2) })
    );
    assert_eq!(s.delete("ns", "k", &if_match(v2), T0).await.unwrap(), Ok(true));
    assert_eq!(
        s.delete("ns", "k", &if_match(v2), T0).await.unwrap(),
        Err(Conflict { current: None })
    );
}

pub async fn racing_creates_have_one_winner<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.set("ns", "k", format!("writer {i}"), None, &create_only(), T0).await.unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        if let Ok(version) = task.await.unwrap() {
            winners.push((i, version));
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let entry = s.get("ns", "k", T0).await.unwrap().unwrap();
    assert_eq!(entry.value, format!("writer {}", winners[0].0));
    assert_eq!(entry.version, winners[0].1);
}

pub async fn racing_compare_and_swaps_have_one_winner<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    let v1 = set(&*s, "ns", "k", "start").await;
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.set("ns", "k", format!("writer {i}"), None, &if_match(v1), T0).await.unwrap()
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(v) => {
                assert!(v > v1);
                wins += 1;
            }
            Err(conflict) => assert!(conflict.current.is_some_and(|c| c > v1)),
        }
    }
    assert_eq!(wins, 1);
}

pub async fn concurrent_writes_all_land_with_distinct_versions<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                // Half the writers share keys, so one batch often holds two
                // writes of the same key.
                let key = format!("k{}", i % 100);
                let v = s.set("ns", &key, format!("v{i}"), None, &Condition::Always, T0).await;
                (key, v.unwrap().unwrap())
            })
        })
        .collect();
    let mut versions = HashSet::new();
    let mut latest = std::collections::HashMap::new();
    for task in tasks {
        let (key, version) = task.await.unwrap();
        assert!(versions.insert(version), "version {version:?} given twice");
        let slot = latest.entry(key).or_insert(version);
        *slot = (*slot).max(version);
    }
    for (key, version) in latest {
        let entry = s.get("ns", &key, T0).await.unwrap().unwrap();
        assert_eq!(entry.version, version, "{key}: the highest version is the one stored");
    }
}

pub async fn purge_removes_only_expired_entries<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    for i in 0..10 {
        let at = T0 + 1_000 * (i + 1);
        s.set("ns", &format!("t{i}"), "v".into(), Some(at), &Condition::Always, T0)
            .await
            .unwrap()
            .unwrap();
    }
    set(&*s, "ns", "forever", "v").await;

    // Keys t0..t4 expire at or before T0 + 5000.
    assert_eq!(s.purge_expired(T0 + 5_000).await.unwrap(), 5);
    assert_eq!(s.purge_expired(T0 + 5_000).await.unwrap(), 0);
    for i in 5..10 {
        assert!(value(&*s, "ns", &format!("t{i}"), T0).await.is_some(), "t{i}");
    }
    assert_eq!(s.purge_expired(T0 + 1_000_000).await.unwrap(), 5);
    assert_eq!(value(&*s, "ns", "forever", T0 + 1_000_000).await.as_deref(), Some("v"));
}

pub async fn purge_keeps_refreshed_entries<B: Backend>() {
    let b = B::create().await;
    let s = b.store();
    s.set("ns", "k", "short".into(), Some(T0 + 1_000), &Condition::Always, T0)
        .await
        .unwrap()
        .unwrap();
    s.set("ns", "k", "long".into(), Some(T0 + 100_000), &Condition::Always, T0)
        .await
        .unwrap()
        .unwrap();
    s.set("ns", "k2", "short".into(), Some(T0 + 1_000), &Condition::Always, T0)
        .await
        .unwrap()
        .unwrap();
    set(&*s, "ns", "k2", "forever").await;

    assert_eq!(s.purge_expired(T0 + 50_000).await.unwrap(), 0);
    assert_eq!(value(&*s, "ns", "k", T0 + 50_000).await.as_deref(), Some("long"));
    assert_eq!(value(&*s, "ns", "k2", T0 + 50_000).await.as_deref(), Some("forever"));
    assert_eq!(s.purge_expired(T0 + 100_000).await.unwrap(), 1);
    assert_eq!(value(&*s, "ns", "k2", T0 + 100_000).await.as_deref(), Some("forever"));
}

pub async fn data_survives_reopen<B: Backend>() {
    let mut b = B::create().await;
    let v = set(&*b.store(), "ns", "k", "kept").await;
    set(&*b.store(), "ns", "gone", "x").await;
    b.store().delete("ns", "gone", &Condition::Always, T0).await.unwrap().unwrap();

    b.reopen().await;
    let entry = b.store().get("ns", "k", T0).await.unwrap().unwrap();
    assert_eq!((entry.value.as_str(), entry.version), ("kept", v));
    assert_eq!(value(&*b.store(), "ns", "gone", T0).await, None);
}

pub async fn versions_keep_growing_after_reopen<B: Backend>() {
    let mut b = B::create().await;
    let v1 = set(&*b.store(), "ns", "k", "one").await;
    let other = set(&*b.store(), "ns", "other", "x").await;
    b.store().delete("ns", "k", &Condition::Always, T0).await.unwrap().unwrap();

    b.reopen().await;
    let v2 = set(&*b.store(), "ns", "k", "two").await;
    assert!(v2 > v1 && v2 > other, "{v2:?} after {v1:?} and {other:?}");
}

pub async fn expiry_holds_across_reopen<B: Backend>() {
    let mut b = B::create().await;
    let at = T0 + 10_000;
    b.store().set("ns", "k", "v".into(), Some(at), &Condition::Always, T0).await.unwrap().unwrap();

    b.reopen().await;
    let entry = b.store().get("ns", "k", T0).await.unwrap().unwrap();
    assert_eq!(entry.expires_at_ms, Some(at));
    assert_eq!(b.store().get("ns", "k", at).await.unwrap(), None);
    assert_eq!(b.store().purge_expired(at).await.unwrap(), 1);
}
