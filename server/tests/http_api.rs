//! The HTTP API in process: each request goes through the real router with
//! `oneshot`, against an embedded store in a temporary directory and a clock
//! that only moves when the test moves it.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use runkv_protocol::{encode_segment, Version};
use runkv_server::auth::{Access, Grant, Scope, Tokens};
use runkv_server::clock::ManualClock;
use runkv_server::store::embedded::EmbeddedStore;
use runkv_server::store::{Condition, Conflict, Entry, Store, StoreError};
use runkv_server::{http, App, CorsOrigins};
use serde_json::Value;
use tower::ServiceExt;

const T0: u64 = 1_700_000_000_000;
const TOKEN: &str = "full-access-token";
const READ_ONLY: &str = "read-only-token";
const SCOPED: &str = "scoped-token";

struct Api {
    router: Router,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn tokens() -> Tokens {
    let mut tokens = Tokens::new();
    tokens.add(TOKEN, Grant::full()).unwrap();
    let scopes = vec![Scope::parse("demo").unwrap(), Scope::parse("cache-*").unwrap()];
    tokens.add(READ_ONLY, Grant { scopes: scopes.clone(), access: Access::ReadOnly }).unwrap();
    tokens.add(SCOPED, Grant { scopes, access: Access::ReadWrite }).unwrap();
    tokens
}

fn api_with(configure: impl FnOnce(&mut App)) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let mut app = App::new(store, tokens());
    app.clock = clock.clone();
    configure(&mut app);
    Api { router: http::router(Arc::new(app)), clock, _dir: dir }
}

fn api() -> Api {
    api_with(|_| {})
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// Checks an error answer: status, JSON body with our code and a message.
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{:?}", String::from_utf8_lossy(&self.body));
        let body = self.json();
        assert_eq!(body["code"], code, "{body}");
        assert!(body["error"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        assert_eq!(self.headers[header::CONTENT_TYPE], "application/json");
    }

    fn etag(&self) -> &str {
        self.headers[header::ETAG].to_str().unwrap()
    }
}

impl Api {
    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes().to_vec();
        Reply { status: parts.status, headers: parts.headers, body }
    }

    async fn call(&self, method: Method, path: &str, body: &str) -> Reply {
        self.send(request(method, path).body(Body::from(body.to_owned())).unwrap()).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, "").await
    }

    async fn put(&self, path: &str, value: &str) -> Reply {
        self.call(Method::PUT, path, value).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, "").await
    }
}

fn request(method: Method, path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
}

fn key_path(op: &str, ns: &str, key: &str) -> String {
    format!("/{op}/{ns}/{}", encode_segment(key))
}

// Round trips

#[tokio::test]
async fn set_then_get_returns_value_and_version() {
    let api = api();
    let set = api.put("/set/demo/greeting", "hello").await;
    assert_eq!(set.status, StatusCode::OK);
    let version = set.json()["version"].as_str().unwrap().to_owned();
    assert_eq!(set.etag(), format!("\"{version}\""));
    assert_eq!(set.headers[header::CACHE_CONTROL], "no-store");

    let get = api.get("/get/demo/greeting").await;
    assert_eq!(get.status, StatusCode::OK);
    assert_eq!(get.json(), serde_json::json!({"value": "hello", "version": version}));
    assert_eq!(get.etag(), format!("\"{version}\""));
    assert_eq!(get.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(get.headers[header::CONTENT_TYPE], "application/json");
}

#[tokio::test]
async fn overwrite_gives_a_larger_version() {
    let api = api();
    let v1: u64 =
        api.put("/set/demo/k", "one").await.json()["version"].as_str().unwrap().parse().unwrap();
    let v2: u64 =
        api.put("/set/demo/k", "two").await.json()["version"].as_str().unwrap().parse().unwrap();
    assert!(v2 > v1);
    assert_eq!(api.get("/get/demo/k").await.json()["value"], "two");
}

#[tokio::test]
async fn missing_key_is_404_key_not_found() {
    api().get("/get/demo/nothing").await.assert_error(404, "key_not_found");
}

#[tokio::test]
async fn delete_is_idempotent_and_reports_what_it_did() {
    let api = api();
    api.put("/set/demo/k", "v").await;
    let first = api.delete("/delete/demo/k").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.json(), serde_json::json!({"deleted": true}));
    assert_eq!(first.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(api.delete("/delete/demo/k").await.json(), serde_json::json!({"deleted": false}));
    api.get("/get/demo/k").await.assert_error(404, "key_not_found");
}

#[tokio::test]
async fn empty_value_round_trips() {
    let api = api();
    assert_eq!(api.put("/set/demo/k", "").await.status, StatusCode::OK);
    assert_eq!(api.get("/get/demo/k").await.json()["value"], "");
}

#[tokio::test]
async fn head_of_a_key_answers_like_get_without_a_body() {
    let api = api();
    api.put("/set/demo/k", "v").await;
    let head = api.call(Method::HEAD, "/get/demo/k", "").await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert!(head.headers.contains_key(header::ETAG));
}

// Keys

const AWKWARD_KEYS: &[&str] = &[
    "a/b",
    "a?b",
    "a#b",
    "100%",
    "%41",
    "a+b",
    "a b",
    "tab\there",
    "é",
    "e\u{301}",
    "🦀🚀",
    "...",
    "./x",
    "../x",
    "a%2Fb",
    "~-._",
    "new\nline",
    "quote\"'",
    "back\\slash",
    "&=;,",
];

#[tokio::test]
async fn awkward_keys_round_trip_byte_exact() {
    let api = api();
    for key in AWKWARD_KEYS {
        let set = api.put(&key_path("set", "demo", key), &format!("value of {key}")).await;
        assert_eq!(set.status, StatusCode::OK, "{key:?}: {:?}", set.json());
    }
    for key in AWKWARD_KEYS {
        let get = api.get(&key_path("get", "demo", key)).await;
        assert_eq!(get.json()["value"], format!("value of {key}"), "{key:?}");
    }
}

#[tokio::test]
async fn escaped_and_plain_letters_are_different_keys() {
    let api = api();
    api.put("/set/demo/%41", "escaped").await;
    api.put("/set/demo/%2541", "literal percent").await;
    assert_eq!(api.get("/get/demo/A").await.json()["value"], "escaped");
    assert_eq!(api.get("/get/demo/%2541").await.json()["value"], "literal percent");
    api.put("/set/demo/A", "plain").await;
    assert_eq!(api.get("/get/demo/%41").await.json()["value"], "plain");
    assert_eq!(api.get("/get/demo/%2541").await.json()["value"], "literal percent");
}

#[tokio::test]
async fn plus_is_a_literal_plus() {
    let api = api();
    api.put("/set/demo/a+b", "plus").await;
    api.get("/get/demo/a%20b").await.assert_error(404, "key_not_found");
    assert_eq!(api.get("/get/demo/a%2Bb").await.json()["value"], "plus");
}

#[tokio::test]
async fn raw_slashes_belong_to_the_key() {
    let api = api();
    api.put("/set/demo/dir/sub/file", "raw").await;
    assert_eq!(api.get("/get/demo/dir%2Fsub%2Ffile").await.json()["value"], "raw");
}

#[tokio::test]
async fn dot_segments_inside_a_key_stay_in_the_namespace() {
    let api = api();
    api.put("/set/other/k", "other's").await;
    let set = api.put("/set/demo/../other/k", "demo's").await;
    assert_eq!(set.status, StatusCode::OK);
    assert_eq!(api.get("/get/other/k").await.json()["value"], "other's");
    assert_eq!(api.get(&key_path("get", "demo", "../other/k")).await.json()["value"], "demo's");
}

#[tokio::test]
async fn malformed_escapes_are_400() {
    let api = api();
    for path in ["/get/demo/%", "/get/demo/%4", "/get/demo/%zz", "/get/demo/a%g1"] {
        api.get(path).await.assert_error(400, "invalid_key");
    }
}

#[tokio::test]
async fn escapes_of_invalid_utf8_are_400() {
    let api = api();
    for path in ["/get/demo/%ff", "/get/demo/%c3", "/get/demo/%c3%28"] {
        api.get(path).await.assert_error(400, "invalid_key");
    }
}

#[tokio::test]
async fn empty_key_is_400() {
    let api = api();
    api.get("/get/demo/").await.assert_error(400, "invalid_key");
    api.get("/get/demo").await.assert_error(400, "invalid_key");
    api.put("/set/demo/", "v").await.assert_error(400, "invalid_key");
}

#[tokio::test]
async fn dot_keys_are_400() {
    let api = api();
    for path in ["/get/demo/.", "/get/demo/..", "/get/demo/%2e", "/get/demo/%2E%2e"] {
        api.get(path).await.assert_error(400, "invalid_key");
    }
}

#[tokio::test]
async fn keys_over_the_limit_are_400() {
    let api = api();
    let longest = "k".repeat(1024);
    assert_eq!(api.put(&key_path("set", "demo", &longest), "v").await.status, StatusCode::OK);
    let too_long = "k".repeat(1025);
    api.put(&key_path("set", "demo", &too_long), "v").await.assert_error(400, "invalid_key");
}

#[tokio::test]
async fn a_lower_configured_key_limit_applies() {
    let api = api_with(|app| app.limits.max_key_bytes = 4);
    assert_eq!(api.put("/set/demo/abcd", "v").await.status, StatusCode::OK);
    api.put("/set/demo/abcde", "v").await.assert_error(400, "invalid_key");
}

// Namespaces

#[tokio::test]
async fn invalid_namespaces_are_400() {
    let api = api();
    let long = "n".repeat(65);
    for ns in ["a%20b", "é", "a%2Fb", ".", "..", "%2e%2e", long.as_str()] {
        api.get(&format!("/get/{ns}/k")).await.assert_error(400, "invalid_namespace");
    }
    api.get("/get//k").await.assert_error(400, "invalid_namespace");
}

#[tokio::test]
async fn namespaces_are_isolated() {
    let api = api();
    api.put("/set/one/k", "in one").await;
    api.put("/set/two/k", "in two").await;
    assert_eq!(api.get("/get/one/k").await.json()["value"], "in one");
    assert_eq!(api.get("/get/two/k").await.json()["value"], "in two");
    api.delete("/delete/one/k").await;
    assert_eq!(api.get("/get/two/k").await.json()["value"], "in two");
    api.get("/get/three/k").await.assert_error(404, "key_not_found");
}

// Values

#[tokio::test]
async fn form_bodies_are_stored_raw() {
    let api = api();
    let body = "a=1&b=two+words%21";
    let request = request(Method::PUT, "/set/demo/form")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(api.send(request).await.status, StatusCode::OK);
    assert_eq!(api.get("/get/demo/form").await.json()["value"], body);
}

#[tokio::test]
async fn values_are_byte_exact() {
    let api = api();
    let value = "  line\r\nnext\t🦀 e\u{301} \"json\" {\"x\":1} \0 end  ";
    api.put("/set/demo/k", value).await;
    assert_eq!(api.get("/get/demo/k").await.json()["value"], value);
}

#[tokio::test]
async fn non_utf8_value_is_400() {
    let api = api();
    let request = request(Method::PUT, "/set/demo/k").body(Body::from(vec![0x66, 0xff])).unwrap();
    api.send(request).await.assert_error(400, "invalid_value");
    api.get("/get/demo/k").await.assert_error(404, "key_not_found");
}

#[tokio::test]
async fn value_at_the_limit_is_accepted() {
    let api = api_with(|app| app.limits.max_value_bytes = 100);
    assert_eq!(api.put("/set/demo/k", &"v".repeat(100)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn declared_oversized_value_is_413() {
    let api = api_with(|app| app.limits.max_value_bytes = 100);
    let reply = api.put("/set/demo/k", &"v".repeat(101)).await;
    reply.assert_error(413, "value_too_large");
    assert!(reply.json()["error"].as_str().unwrap().contains("100"));
}

#[tokio::test]
async fn a_huge_declared_length_is_refused_before_reading() {
    let api = api_with(|app| app.limits.max_value_bytes = 100);
    // The body never arrives: the answer must come from the header alone.
    let (_sender, body) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = Body::from_stream(tokio_stream_of(body));
    let request = request(Method::PUT, "/set/demo/k")
        .header(header::CONTENT_LENGTH, "1000000000")
        .body(body)
        .unwrap();
    api.send(request).await.assert_error(413, "value_too_large");
}

fn tokio_stream_of<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

#[tokio::test]
async fn streamed_oversized_value_is_413() {
    let api = api_with(|app| app.limits.max_value_bytes = 100);
    // No Content-Length: the body arrives in chunks and is cut off at the limit.
    let chunks = (0..50).map(|_| Ok::<_, std::io::Error>(vec![b'v'; 10]));
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let request = request(Method::PUT, "/set/demo/k").body(body).unwrap();
    api.send(request).await.assert_error(413, "value_too_large");
    api.get("/get/demo/k").await.assert_error(404, "key_not_found");
}

#[tokio::test(start_paused = true)]
async fn a_stalled_body_is_408_and_stores_nothing() {
    let api = api();
    // One chunk arrives, then nothing: the sender is kept but never used again.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    sender.send(Ok(b"partial".to_vec())).await.unwrap();
    let body = Body::from_stream(tokio_stream_of(receiver));
    let request = request(Method::PUT, "/set/demo/k").body(body).unwrap();
    api.send(request).await.assert_error(408, "request_timeout");
    api.get("/get/demo/k").await.assert_error(404, "key_not_found");
    drop(sender);
}

// TTL

#[tokio::test]
async fn ttl_expires_the_value() {
    let api = api();
    assert_eq!(api.put("/set/demo/k?ttl=60", "short-lived").await.status, StatusCode::OK);
    api.clock.advance_ms(59_999);
    assert_eq!(api.get("/get/demo/k").await.json()["value"], "short-lived");
    api.clock.advance_ms(1);
    api.get("/get/demo/k").await.assert_error(404, "key_not_found");
}

#[tokio::test]
async fn without_ttl_values_persist() {
    let api = api();
    api.put("/set/demo/k", "forever").await;
    api.clock.advance_ms(10 * 365 * 24 * 3600 * 1000);
    assert_eq!(api.get("/get/demo/k").await.json()["value"], "forever");
}

#[tokio::test]
async fn overwrite_without_ttl_removes_the_expiry() {
    let api = api();
    api.put("/set/demo/k?ttl=1", "short").await;
    api.put("/set/demo/k", "long").await;
    api.clock.advance_ms(5_000);
    assert_eq!(api.get("/get/demo/k").await.json()["value"], "long");
}

#[tokio::test]
async fn ttl_zero_is_400() {
    api().put("/set/demo/k?ttl=0", "v").await.assert_error(400, "invalid_ttl");
}

#[tokio::test]
async fn negative_ttl_is_400() {
    api().put("/set/demo/k?ttl=-1", "v").await.assert_error(400, "invalid_ttl");
}

#[tokio::test]
async fn fractional_ttl_is_400() {
    api().put("/set/demo/k?ttl=1.5", "v").await.assert_error(400, "invalid_ttl");
}

#[tokio::test]
async fn ttl_given_twice_is_400() {
    let api = api();
    api.put("/set/demo/k?ttl=5&ttl=0", "v").await.assert_error(400, "invalid_ttl");
    api.put("/set/demo/k?ttl=5&ttl=5", "v").await.assert_error(400, "invalid_ttl");
    api.get("/get/demo/k").await.assert_error(404, "key_not_found");
}

#[tokio::test]
async fn non_numeric_ttl_is_400() {
    let api = api();
    for ttl in ["abc", "", "1e3", "%20"] {
        api.put(&format!("/set/demo/k?ttl={ttl}"), "v").await.assert_error(400, "invalid_ttl");
    }
}

#[tokio::test]
async fn ttl_above_the_maximum_is_400() {
    let api = api();
    let max = runkv_protocol::MAX_TTL_SECS;
    assert_eq!(api.put(&format!("/set/demo/k?ttl={max}"), "v").await.status, StatusCode::OK);
    let above = format!("/set/demo/k?ttl={}", max + 1);
    api.put(&above, "v").await.assert_error(400, "invalid_ttl");
}

#[tokio::test]
async fn a_refused_ttl_writes_nothing() {
    let api = api();
    api.put("/set/demo/k?ttl=0", "v").await;
    api.get("/get/demo/k").await.assert_error(404, "key_not_found");
}

#[tokio::test]
async fn unknown_query_parameters_are_ignored() {
    let api = api();
    assert_eq!(api.put("/set/demo/k?cache_bust=123&ttl=10&x", "v").await.status, StatusCode::OK);
    api.clock.advance_ms(10_000);
    api.get("/get/demo/k?x=1").await.assert_error(404, "key_not_found");
}

// Versions and conditional requests

async fn version_of(api: &Api, path: &str, value: &str) -> String {
    api.put(path, value).await.json()["version"].as_str().unwrap().to_owned()
}

fn with_header(method: Method, path: &str, name: header::HeaderName, value: &str) -> Request<Body> {
    request(method, path).header(name, value).body(Body::from("new")).unwrap()
}

#[tokio::test]
async fn if_none_match_with_the_current_version_is_304() {
    let api = api();
    let v = version_of(&api, "/set/demo/k", "v").await;
    let etag = format!("\"{v}\"");
    let reply =
        api.send(with_header(Method::GET, "/get/demo/k", header::IF_NONE_MATCH, &etag)).await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
    assert!(reply.body.is_empty());
    assert_eq!(reply.etag(), etag);
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn if_none_match_with_an_old_version_is_200() {
    let api = api();
    let old = version_of(&api, "/set/demo/k", "one").await;
    version_of(&api, "/set/demo/k", "two").await;
    let etag = format!("\"{old}\"");
    let reply =
        api.send(with_header(Method::GET, "/get/demo/k", header::IF_NONE_MATCH, &etag)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["value"], "two");
}

#[tokio::test]
async fn if_match_with_the_current_version_writes() {
    let api = api();
    let v = version_of(&api, "/set/demo/k", "old").await;
    let req = with_header(Method::PUT, "/set/demo/k", header::IF_MATCH, &format!("\"{v}\""));
    assert_eq!(api.send(req).await.status, StatusCode::OK);
    assert_eq!(api.get("/get/demo/k").await.json()["value"], "new");
}

#[tokio::test]
async fn if_match_with_another_version_is_412() {
    let api = api();
    let v1 = version_of(&api, "/set/demo/k", "one").await;
    version_of(&api, "/set/demo/k", "two").await;
    let req = with_header(Method::PUT, "/set/demo/k", header::IF_MATCH, &format!("\"{v1}\""));
    api.send(req).await.assert_error(412, "version_conflict");
    assert_eq!(api.get("/get/demo/k").await.json()["value"], "two");
}

#[tokio::test]
async fn if_match_on_a_missing_key_is_412() {
    let api = api();
    let req = with_header(Method::PUT, "/set/demo/k", header::IF_MATCH, "\"1\"");
    api.send(req).await.assert_error(412, "version_conflict");
    api.get("/get/demo/k").await.assert_error(404, "key_not_found");
}

#[tokio::test]
async fn if_none_match_star_creates_only() {
    let api = api();
    let create = with_header(Method::PUT, "/set/demo/k", header::IF_NONE_MATCH, "*");
    assert_eq!(api.send(create).await.status, StatusCode::OK);
    let again = with_header(Method::PUT, "/set/demo/k", header::IF_NONE_MATCH, "*");
    api.send(again).await.assert_error(412, "version_conflict");
}

#[tokio::test]
async fn conditional_delete_with_another_version_is_412() {
    let api = api();
    let v1 = version_of(&api, "/set/demo/k", "one").await;
    let v2 = version_of(&api, "/set/demo/k", "two").await;
    let stale =
        with_header(Method::DELETE, "/delete/demo/k", header::IF_MATCH, &format!("\"{v1}\""));
    api.send(stale).await.assert_error(412, "version_conflict");
    let current =
        with_header(Method::DELETE, "/delete/demo/k", header::IF_MATCH, &format!("\"{v2}\""));
    assert_eq!(api.send(current).await.json(), serde_json::json!({"deleted": true}));
}

#[tokio::test]
async fn versions_grow_across_delete_and_recreate() {
    let api = api();
    let v1: u64 = version_of(&api, "/set/demo/k", "one").await.parse().unwrap();
    api.delete("/delete/demo/k").await;
    let v2: u64 = version_of(&api, "/set/demo/k", "two").await.parse().unwrap();
    assert!(v2 > v1);
}

#[tokio::test]
async fn malformed_preconditions_are_400() {
    let api = api();
    version_of(&api, "/set/demo/k", "v").await;
    for value in ["abc", "\"x\"", ""] {
        let req = with_header(Method::PUT, "/set/demo/k", header::IF_MATCH, value);
        api.send(req).await.assert_error(400, "invalid_precondition");
    }
    let get = with_header(Method::GET, "/get/demo/k", header::IF_NONE_MATCH, "nope");
    api.send(get).await.assert_error(400, "invalid_precondition");
}

#[tokio::test]
async fn both_preconditions_at_once_are_400() {
    let api = api();
    let req = request(Method::PUT, "/set/demo/k")
        .header(header::IF_MATCH, "\"1\"")
        .header(header::IF_NONE_MATCH, "*")
        .body(Body::from("v"))
        .unwrap();
    api.send(req).await.assert_error(400, "invalid_precondition");
}

// Authentication and scopes

fn as_token(method: Method, path: &str, authorization: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn missing_token_is_401() {
    let api = api();
    api.send(as_token(Method::GET, "/get/demo/k", None, ""))
        .await
        .assert_error(401, "unauthorized");
    let put = as_token(Method::PUT, "/set/demo/k", None, "v");
    api.send(put).await.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn unknown_token_is_401() {
    let api = api();
    let req = as_token(Method::GET, "/get/demo/k", Some("Bearer wrong"), "");
    api.send(req).await.assert_error(401, "unauthorized");
    let prefix = as_token(Method::GET, "/get/demo/k", Some("Bearer full-access"), "");
    api.send(prefix).await.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn other_auth_schemes_are_401() {
    let api = api();
    let basic = as_token(Method::GET, "/get/demo/k", Some(&format!("Basic {TOKEN}")), "");
    api.send(basic).await.assert_error(401, "unauthorized");
    let bare = as_token(Method::GET, "/get/demo/k", Some(TOKEN), "");
    api.send(bare).await.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn key_and_bearer_schemes_both_work() {
    let api = api();
    let key = as_token(Method::PUT, "/set/demo/k", Some(&format!("Key {TOKEN}")), "via key");
    assert_eq!(api.send(key).await.status, StatusCode::OK);
    let bearer = as_token(Method::GET, "/get/demo/k", Some(&format!("Bearer {TOKEN}")), "");
    assert_eq!(api.send(bearer).await.json()["value"], "via key");
}

#[tokio::test]
async fn namespace_outside_the_grant_is_403() {
    let api = api();
    let auth = format!("Bearer {SCOPED}");
    let own = as_token(Method::PUT, "/set/demo/k", Some(&auth), "v");
    assert_eq!(api.send(own).await.status, StatusCode::OK);
    let prefixed = as_token(Method::PUT, "/set/cache-images/k", Some(&auth), "v");
    assert_eq!(api.send(prefixed).await.status, StatusCode::OK);
    for path in ["/get/other/k", "/get/demo2/k", "/get/cache/k"] {
        let req = as_token(Method::GET, path, Some(&auth), "");
        api.send(req).await.assert_error(403, "forbidden");
    }
    let delete = as_token(Method::DELETE, "/delete/other/k", Some(&auth), "");
    api.send(delete).await.assert_error(403, "forbidden");
}

#[tokio::test]
async fn read_only_token_reads_but_cannot_write() {
    let api = api();
    api.put("/set/demo/k", "v").await;
    let auth = format!("Key {READ_ONLY}");
    let get = as_token(Method::GET, "/get/demo/k", Some(&auth), "");
    assert_eq!(api.send(get).await.json()["value"], "v");
    let put = as_token(Method::PUT, "/set/demo/k", Some(&auth), "x");
    api.send(put).await.assert_error(403, "forbidden");
    let delete = as_token(Method::DELETE, "/delete/demo/k", Some(&auth), "");
    api.send(delete).await.assert_error(403, "forbidden");
    assert_eq!(api.get("/get/demo/k").await.json()["value"], "v");
}

// Routes

#[tokio::test]
async fn unknown_routes_are_404_route_not_found() {
    let api = api();
    for path in ["/", "/nope", "/get", "/put/demo/k", "/GET/demo/k", "/healthz/x"] {
        api.get(path).await.assert_error(404, "route_not_found");
    }
}

#[tokio::test]
async fn wrong_methods_are_405() {
    let api = api();
    for (method, path, allow) in [
        (Method::POST, "/get/demo/k", "GET"),
        (Method::GET, "/set/demo/k", "PUT"),
        (Method::POST, "/set/demo/k", "PUT"),
        (Method::GET, "/delete/demo/k", "DELETE"),
        (Method::PATCH, "/delete/demo/k", "DELETE"),
        (Method::POST, "/healthz", "GET"),
    ] {
        let reply = api.call(method, path, "").await;
        reply.assert_error(405, "method_not_allowed");
        assert_eq!(reply.headers[header::ALLOW], allow);
    }
}

#[tokio::test]
async fn healthz_needs_no_token() {
    let api = api();
    let reply = api.send(as_token(Method::GET, "/healthz", None, "")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn static_site_is_served_and_its_misses_are_json() {
    let www = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("index.html"), "<h1>demo</h1>").unwrap();
    let dir = www.path().to_owned();
    let api = api_with(|app| app.www = Some(dir));

    let index = api.send(as_token(Method::GET, "/", None, "")).await;
    assert_eq!(index.status, StatusCode::OK);
    assert_eq!(index.body, b"<h1>demo</h1>");
    let file = api.send(as_token(Method::GET, "/index.html", None, "")).await;
    assert_eq!(file.status, StatusCode::OK);

    api.get("/missing.js").await.assert_error(404, "route_not_found");
    api.put("/index.html", "x").await.assert_error(404, "route_not_found");
    api.put("/set/demo/k", "api still works").await;
    assert_eq!(api.get("/get/demo/k").await.json()["value"], "api still works");
}

// CORS

#[tokio::test]
async fn cors_preflight_is_answered() {
    let api = api();
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/set/demo/k")
        .header(header::ORIGIN, "https://app.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization,content-type,if-match")
        .body(Body::empty())
        .unwrap();
    let reply = api.send(preflight).await;
    assert!(reply.status.is_success());
    assert_eq!(reply.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let methods = reply.headers[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap();
    assert!(methods.contains("PUT") && methods.contains("DELETE"), "{methods}");
    let allowed = reply.headers[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap();
    for name in ["authorization", "content-type", "if-match", "if-none-match"] {
        assert!(allowed.contains(name), "{allowed}");
    }
}

#[tokio::test]
async fn cors_exposes_the_etag() {
    let api = api();
    api.put("/set/demo/k", "v").await;
    let req = request(Method::GET, "/get/demo/k")
        .header(header::ORIGIN, "https://app.example")
        .body(Body::empty())
        .unwrap();
    let reply = api.send(req).await;
    assert_eq!(reply.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let exposed = reply.headers[header::ACCESS_CONTROL_EXPOSE_HEADERS].to_str().unwrap();
    let exposed = exposed.to_ascii_lowercase();
    assert!(exposed.contains("etag") && exposed.contains("retry-after"), "{exposed}");
}

#[tokio::test]
async fn configured_cors_origins_exclude_others() {
    let allowed = "https://app.example".parse().unwrap();
    let api = api_with(|app| app.cors_origins = CorsOrigins::List(vec![allowed]));
    let from = |origin: &str| {
        request(Method::GET, "/healthz").header(header::ORIGIN, origin).body(Body::empty()).unwrap()
    };
    let ok = api.send(from("https://app.example")).await;
    assert_eq!(ok.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
    let other = api.send(from("https://evil.example")).await;
    assert!(!other.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[tokio::test]
async fn preflight_from_a_refused_origin_grants_nothing() {
    let allowed = "https://app.example".parse().unwrap();
    let api = api_with(|app| app.cors_origins = CorsOrigins::List(vec![allowed]));
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/set/demo/k")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
            .body(Body::empty())
            .unwrap()
    };
    let ok = api.send(preflight("https://app.example")).await;
    assert_eq!(ok.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
    assert!(ok.headers[header::VARY].to_str().unwrap().contains("origin"));
    let refused = api.send(preflight("https://evil.example")).await;
    assert!(!refused.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[tokio::test]
async fn options_that_is_not_a_preflight_is_405() {
    api().call(Method::OPTIONS, "/get/demo/k", "").await.assert_error(405, "method_not_allowed");
}

// Storage failures

/// A store that fails every call the same way.
struct FailingStore(fn() -> StoreError);

#[async_trait]
impl Store for FailingStore {
    async fn get(&self, _: &str, _: &str, _: u64) -> Result<Option<Entry>, StoreError> {
        Err((self.0)())
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
        Err((self.0)())
    }
    async fn delete(
        &self,
        _: &str,
        _: &str,
        _: &Condition,
        _: u64,
    ) -> Result<Result<bool, Conflict>, StoreError> {
        Err((self.0)())
    }
    async fn purge_expired(&self, _: u64) -> Result<u64, StoreError> {
        Err((self.0)())
    }
    async fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

fn failing_api(error: fn() -> StoreError) -> Router {
    http::router(Arc::new(App::new(Arc::new(FailingStore(error)), tokens())))
}

#[tokio::test]
async fn unavailable_storage_is_503_with_retry_after() {
    let router = failing_api(|| StoreError::Unavailable("connection refused".into()));
    let api =
        Api { router, clock: Arc::new(ManualClock::new(T0)), _dir: tempfile::tempdir().unwrap() };
    let reply = api.get("/get/demo/k").await;
    reply.assert_error(503, "storage_unavailable");
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
    api.put("/set/demo/k", "v").await.assert_error(503, "storage_unavailable");
}

#[tokio::test]
async fn storage_failure_is_500_json() {
    let router = failing_api(|| StoreError::Internal("disk on fire".into()));
    let api =
        Api { router, clock: Arc::new(ManualClock::new(T0)), _dir: tempfile::tempdir().unwrap() };
    api.get("/get/demo/k").await.assert_error(500, "internal");
    api.delete("/delete/demo/k").await.assert_error(500, "internal");
}
