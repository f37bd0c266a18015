//! PostgreSQL goes away and comes back while a server runs: requests fail
//! fast with 503 `storage_unavailable` meanwhile, and the same server process
//! serves normally again afterwards.
//!
//! The same holds when PostgreSQL hangs instead (stopped with `SIGSTOP`):
//! requests end with 503 after the store's timeouts rather than waiting.
//!
//! The shared test database is used by other tests at the same time, so each
//! test makes a throwaway PostgreSQL cluster of its own (`initdb` into a
//! temporary directory, on a free port) and stops and starts that one.

mod postgres_util;

use std::time::{Duration, Instant};

use postgres_util::cluster::{free_port, Cluster};
use postgres_util::process::{client, ServerProcess};
use reqwest::StatusCode;
use serde_json::Value;

async fn get(server: &ServerProcess, key: &str) -> (StatusCode, Option<String>, Value) {
    let response = client().get(server.url(&format!("/get/app/{key}"))).send().await.unwrap();
    let status = response.status();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.unwrap())
}

async fn put(server: &ServerProcess, key: &str, value: &str) -> (StatusCode, Value) {
    let response = client()
        .put(server.url(&format!("/set/app/{key}")))
        .body(value.to_owned())
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_503_while_postgres_is_down_and_recovers_by_itself() {
    let cluster = Cluster::create();
    let mut server = ServerProcess::start(&cluster.url()).await;

    assert_eq!(put(&server, "k", "before").await.0, StatusCode::OK);
    assert_eq!(get(&server, "k").await.2["value"], "before");

    cluster.stop();

    // Every request fails, fast and retryable, with the documented error.
    for _ in 0..3 {
        let (status, retry_after, body) = get(&server, "k").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["code"], "storage_unavailable");
        assert!(retry_after.is_some(), "503 without Retry-After");

        let (status, body) = put(&server, "k", "during").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["code"], "storage_unavailable");
    }
    cluster.start();

    // The pool reconnects on the next request that needs a connection. Allow
    // for PostgreSQL's crash recovery before it accepts connections.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _, body) = get(&server, "k").await;
        if status == StatusCode::OK {
            assert_eq!(body["value"], "before", "the committed write survived");
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(Instant::now() < deadline, "no recovery after PostgreSQL came back: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Normal service from the same process, writes included.
    for i in 0..20 {
        let value = format!("after {i}");
        assert_eq!(put(&server, "k", &value).await.0, StatusCode::OK);
        assert_eq!(get(&server, "k").await.2["value"], value.as_str());
    }
    assert!(server.is_running(), "the server must not have exited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_cannot_start_without_its_database() {
    let port = free_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_runkv-server"))
        .args(["--listen", "127.0.0.1:0", "--store", &url])
        .env("RUNKV_TOKEN", "t")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(!status.success(), "started without a database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_database_gets_503_instead_of_hanging_requests() {
    let cluster = Cluster::create();
    let mut server = ServerProcess::start(&cluster.url()).await;
    assert_eq!(put(&server, "k", "before").await.0, StatusCode::OK);

    // PostgreSQL accepts nothing and answers nothing, but no connection
    // breaks: only the store's timeouts can end these requests.
    cluster.signal_all(libc::SIGSTOP);
    let (status, retry_after, body) = get(&server, "k").await;
    let (put_status, put_body) = put(&server, "k", "during").await;
    cluster.signal_all(libc::SIGCONT);

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "storage_unavailable");
    assert!(retry_after.is_some(), "503 without Retry-After");
    assert_eq!(put_status, StatusCode::SERVICE_UNAVAILABLE, "{put_body}");
    assert_eq!(put_body["code"], "storage_unavailable");

    // Resumed, the same process serves again. The PUT above timed out on
    // the client side only, so it may have committed after all: either value
    // is a correct read.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _, body) = get(&server, "k").await;
        if status == StatusCode::OK {
            assert!(body["value"] == "before" || body["value"] == "during", "{body}");
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(Instant::now() < deadline, "no recovery after PostgreSQL resumed: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(put(&server, "k", "after").await.0, StatusCode::OK);
    assert_eq!(get(&server, "k").await.2["value"], "after");
    assert!(server.is_running(), "the server must not have exited");
}
