//! The real server on port 0, driven over TCP by an HTTP client: what only a
//! real socket shows (connection handling, body limits on the wire, raw
//! request targets), and restarts on the same data directory.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use runkv_protocol::encode_segment;
use runkv_server::auth::{Access, Grant, Scope, Tokens};
use runkv_server::clock::ManualClock;
use runkv_server::store::embedded::EmbeddedStore;
use runkv_server::{serve, App};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const TOKEN: &str = "server-test-token";
const T0: u64 = 1_700_000_000_000;

/// A server running in this process.
struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(dir: &Path, clock: Arc<ManualClock>, configure: impl FnOnce(&mut App)) -> Self {
        let store = Arc::new(EmbeddedStore::open(dir).unwrap());
        let mut tokens = Tokens::new();
        tokens.add(TOKEN, Grant::full()).unwrap();
        let mut app = App::new(store, tokens);
        app.clock = clock;
        configure(&mut app);

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, app, async {
            let _ = stopped.await;
        }));
        Self { addr, stop, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Shuts down gracefully and waits until the store is closed.
    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn put(server: &Running, path: &str, value: &str) -> reqwest::Response {
    client().put(server.url(path)).bearer_auth(TOKEN).body(value.to_owned()).send().await.unwrap()
}

async fn get(server: &Running, path: &str) -> reqwest::Response {
    client().get(server.url(path)).bearer_auth(TOKEN).send().await.unwrap()
}

async fn value_of(server: &Running, path: &str) -> Option<String> {
    let response = get(server, path).await;
    if response.status() == 404 {
        return None;
    }
    let body: Value = response.json().await.unwrap();
    Some(body["value"].as_str().unwrap().to_owned())
}

/// Sends one HTTP/1.1 request exactly as written, for request targets that
/// URL libraries would rewrite, and returns the status and body.
async fn raw_request(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn round_trip_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), Arc::new(ManualClock::new(T0)), |_| {}).await;

    let set = put(&server, "/set/demo/greeting", "hello").await;
    assert_eq!(set.status(), 200);
    assert!(set.headers().contains_key("etag"));
    assert_eq!(value_of(&server, "/get/demo/greeting").await.as_deref(), Some("hello"));

    let health = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "ok");
    server.stop().await;
}

#[tokio::test]
async fn awkward_keys_round_trip_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), Arc::new(ManualClock::new(T0)), |_| {}).await;
    let keys = ["a/b", "a?b#c", "100%", "%41", "a+b", "a b", "tab\t", "é", "🦀", "...", "../x"];
    for key in keys {
        let path = format!("/set/demo/{}", encode_segment(key));
        assert_eq!(put(&server, &path, key).await.status(), 200, "{key:?}");
    }
    for key in keys {
        let path = format!("/get/demo/{}", encode_segment(key));
        assert_eq!(value_of(&server, &path).await.as_deref(), Some(key), "{key:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn raw_request_targets_are_not_normalised() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), Arc::new(ManualClock::new(T0)), |_| {}).await;
    let auth = format!("Authorization: Bearer {TOKEN}");

    // A raw slash and a dot segment inside the key: still namespace "demo".
    let head = format!(
        "PUT /set/demo/../other/k HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Length: 2\r\n\
         Connection: close\r\n\r\n"
    );
    assert_eq!(raw_request(server.addr, &head, b"hi").await.0, 200);
    assert_eq!(value_of(&server, "/get/other/k").await, None);
    assert_eq!(value_of(&server, "/get/demo/..%2Fother%2Fk").await.as_deref(), Some("hi"));

    let head =
        format!("GET /get/demo/%2e%2e HTTP/1.1\r\nHost: x\r\n{auth}\r\nConnection: close\r\n\r\n");
    let (status, body) = raw_request(server.addr, &head, b"").await;
    assert_eq!(status, 400);
    assert!(body.contains("invalid_key"), "{body}");
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_client_stalled_in_its_headers_is_cut_off_and_does_not_hold_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), Arc::new(ManualClock::new(T0)), |_| {}).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();

    // The paused clock jumps to the header timeout as soon as everything is idle.
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");

    let started = tokio::time::Instant::now();
    server.stop().await;
    assert!(started.elapsed() < runkv_server::SHUTDOWN_GRACE, "shutdown waited for the client");
}

#[tokio::test]
async fn oversized_value_is_413_over_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let limit = 64 * 1024;
    let server = Running::start(dir.path(), Arc::new(ManualClock::new(T0)), |app| {
        app.limits.max_value_bytes = limit
    })
    .await;

    let too_big = "x".repeat(limit + 1);
    let response = put(&server, "/set/demo/big", &too_big).await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "value_too_large");
    assert_eq!(value_of(&server, "/get/demo/big").await, None);

    // The server still serves other requests afterwards.
    assert_eq!(put(&server, "/set/demo/small", "ok").await.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn chunked_oversized_value_is_413_over_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), Arc::new(ManualClock::new(T0)), |app| {
        app.limits.max_value_bytes = 10
    })
    .await;
    let head = format!(
        "PUT /set/demo/k HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let body = b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n";
    let (status, text) = raw_request(server.addr, &head, body).await;
    assert_eq!(status, 413);
    assert!(text.contains("value_too_large"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn data_and_versions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let server = Running::start(dir.path(), clock.clone(), |_| {}).await;
    let v1: u64 = put(&server, "/set/demo/k", "before").await.json::<Value>().await.unwrap()
        ["version"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    client().delete(server.url("/delete/demo/k")).bearer_auth(TOKEN).send().await.unwrap();
    put(&server, "/set/demo/kept", "kept").await;
    server.stop().await;

    let server = Running::start(dir.path(), clock, |_| {}).await;
    assert_eq!(value_of(&server, "/get/demo/kept").await.as_deref(), Some("kept"));
    assert_eq!(value_of(&server, "/get/demo/k").await, None);
    let v2: u64 = put(&server, "/set/demo/k", "after").await.json::<Value>().await.unwrap()
        ["version"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(v2 > v1, "{v2} after {v1}");
    server.stop().await;
}

#[tokio::test]
async fn expiry_holds_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let server = Running::start(dir.path(), clock.clone(), |_| {}).await;
    assert_eq!(put(&server, "/set/demo/k?ttl=30", "v").await.status(), 200);
    server.stop().await;

    clock.advance_ms(29_000);
    let server = Running::start(dir.path(), clock.clone(), |_| {}).await;
    assert_eq!(value_of(&server, "/get/demo/k").await.as_deref(), Some("v"));
    server.stop().await;

    clock.advance_ms(1_000);
    let server = Running::start(dir.path(), clock.clone(), |_| {}).await;
    assert_eq!(value_of(&server, "/get/demo/k").await, None);
    server.stop().await;
}

#[tokio::test]
async fn token_scopes_isolate_namespaces_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), Arc::new(ManualClock::new(T0)), |app| {
        let alice =
            Grant { scopes: vec![Scope::parse("alice-*").unwrap()], access: Access::ReadWrite };
        let bob = Grant { scopes: vec![Scope::parse("bob").unwrap()], access: Access::ReadWrite };
        app.tokens.add("alice", alice).unwrap();
        app.tokens.add("bob", bob).unwrap();
    })
    .await;
    let as_user = |token: &'static str, method: reqwest::Method, path: &str| {
        client().request(method, server.url(path)).header("Authorization", format!("Key {token}"))
    };

    let ok = as_user("alice", reqwest::Method::PUT, "/set/alice-notes/k").body("a").send().await;
    assert_eq!(ok.unwrap().status(), 200);
    let ok = as_user("bob", reqwest::Method::PUT, "/set/bob/k").body("b").send().await;
    assert_eq!(ok.unwrap().status(), 200);

    for (token, path) in
        [("alice", "/get/bob/k"), ("bob", "/get/alice-notes/k"), ("bob", "/get/bobby/k")]
    {
        let response = as_user(token, reqwest::Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), 403, "{token} {path}");
        assert_eq!(response.json::<Value>().await.unwrap()["code"], "forbidden");
    }
    server.stop().await;
}

#[tokio::test]
async fn concurrent_clients_all_get_their_writes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(Running::start(dir.path(), Arc::new(ManualClock::new(T0)), |_| {}).await);
    let client = client();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (client, url) = (client.clone(), server.url(&format!("/set/demo/k{i}")));
            tokio::spawn(async move {
                let r = client.put(url).bearer_auth(TOKEN).body(format!("v{i}")).send().await;
                r.unwrap().status()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    for i in 0..64 {
        let path = format!("/get/demo/k{i}");
        assert_eq!(value_of(&server, &path).await, Some(format!("v{i}")));
    }
    Arc::into_inner(server).unwrap().stop().await;
}
