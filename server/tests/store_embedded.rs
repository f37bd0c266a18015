//! The store conformance suite against the embedded (fjall) backend.

mod common;

use std::sync::Arc;

use runkv_server::store::embedded::EmbeddedStore;
use runkv_server::store::Store;

struct Embedded {
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
}

impl common::store_suite::Backend for Embedded {
    async fn create() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        Self { dir, store }
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn reopen(&mut self) {
        self.store.close().await.unwrap();
        self.store = Arc::new(EmbeddedStore::open(self.dir.path()).unwrap());
    }
}

store_conformance!(Embedded);

#[tokio::test]
async fn a_closed_store_refuses_requests() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    store.close().await.unwrap();
    let cond = Default::default();
    assert!(store.get("ns", "k", 0).await.is_err());
    assert!(store.set("ns", "k", "v".into(), None, &cond, 0).await.is_err());
}
