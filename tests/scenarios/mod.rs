//! The SDK's scenarios, run by `node.rs`, `browser.rs` and `worker.rs` in each of those
//! hosts. A scripted `fetch` (passed as the `fetch` option) stands in for the server, so
//! every failure mode can be produced on demand; the conformance suite runs the built
//! package against a real server.

use js_sys::{Array, Object, Promise, Reflect, JSON};
use runkv::KVStore;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen(inline_js = r#"
// A fetch that answers from a script. A step is { status, body, headers }, or "network"
// (the connection fails), or "hang" (no answer until the request is aborted). The last
// step repeats. Every request is recorded in `calls`.
export function scripted(steps) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, method: init.method, headers: { ...init.headers }, body: init.body });
    const step = steps.length > 1 ? steps.shift() : steps[0];
    if (step === "network") throw new TypeError("fetch failed");
    if (step === "hang") {
      return new Promise((_, reject) =>
        init.signal.addEventListener("abort", () => reject(init.signal.reason)));
    }
    return new Response(step.body ?? "", { status: step.status, headers: step.headers ?? {} });
  };
  return { fetch, calls };
}

// A fetch backed by a Map, decoding keys the way the server does (one path segment,
// percent-decoded), with versions.
export function memoryServer() {
  const data = new Map();
  let version = 0;
  const calls = [];
  const json = (status, body) => new Response(JSON.stringify(body), { status });
  const fetch = async (url, init) => {
    await null;
    calls.push(url);
    const path = new URL(url).pathname;
    const [, op, ns, ...rest] = path.split("/");
    if (rest.length !== 1) return json(400, { error: "key not one segment", code: "invalid_key" });
    const key = ns + "\u0000" + decodeURIComponent(rest[0]);
    const current = data.get(key);
    if (op === "get") {
      if (!current) return json(404, { error: "no such key", code: "key_not_found" });
      return json(200, { value: current.value, version: String(current.version) });
    }
    const ifMatch = init.headers["if-match"];
    if (ifMatch !== undefined && (!current || `"${current.version}"` !== ifMatch)) {
      return json(412, { error: "version mismatch", code: "version_conflict" });
    }
    if (init.headers["if-none-match"] === "*" && current) {
      return json(412, { error: "exists", code: "version_conflict" });
    }
    if (op === "set") {
      data.set(key, { value: init.body, version: ++version });
      return json(200, { version: String(version) });
    }
    const deleted = data.delete(key);
    return json(200, { deleted });
  };
  return { fetch, calls };
}

export function options(fetch, extra) {
  const retries = { baseMs: 1, maxMs: 2 };
  return { url: "http://kv.test/", token: "t0k", fetch, retries, ...extra };
}

export function abortedSignal() {
  const controller = new AbortController();
  controller.abort();
  return controller.signal;
}

export function abortSoon() {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 5);
  return controller.signal;
}

export function isKVStoreError(e) {
  return e instanceof Error && e.name === "KVStoreError";
}
"#)]
extern "C" {
    fn scripted(steps: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = memoryServer)]
    fn memory_server() -> JsValue;
    fn options(fetch: &JsValue, extra: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = abortedSignal)]
    fn aborted_signal() -> JsValue;
    #[wasm_bindgen(js_name = abortSoon)]
    fn abort_soon() -> JsValue;
    #[wasm_bindgen(js_name = isKVStoreError)]
    fn is_kvstore_error(e: &JsValue) -> bool;
}

fn json(text: &str) -> JsValue {
    JSON::parse(text).unwrap()
}

fn get(target: &JsValue, name: &str) -> JsValue {
    Reflect::get(target, &name.into()).unwrap()
}

/// A scripted server and a store using it, with `extra` options as JSON.
fn scripted_store(steps: &str, extra: &str) -> (KVStore, JsValue) {
    let server = scripted(&json(steps));
    let store = KVStore::new("ns".into(), options(&get(&server, "fetch"), &json(extra)));
    (store, get(&server, "calls"))
}

fn calls(calls: &JsValue) -> Vec<JsValue> {
    calls.clone().unchecked_into::<Array>().to_vec()
}

async fn ok(promise: Promise) -> JsValue {
    match JsFuture::from(promise).await {
        Ok(value) => value,
        Err(e) => panic!("expected success, got {e:?}"),
    }
}

/// Awaits a rejection and checks that it is a KVStoreError with `code`.
async fn fails(promise: Promise, code: &str) -> JsValue {
    let error = JsFuture::from(promise).await.expect_err("expected a rejection");
    assert!(is_kvstore_error(&error), "not a KVStoreError: {error:?}");
    assert_eq!(get(&error, "code").as_string().as_deref(), Some(code), "{error:?}");
    error
}

const U: JsValue = JsValue::UNDEFINED;

// Scripted answers, as JSON steps for `scripted`.
const VALUE_200: &str = r#"{"status": 200, "body": "{\"value\": \"v\", \"version\": \"1\"}"}"#;
const VERSION_200: &str = r#"{"status": 200, "body": "{\"version\": \"2\"}"}"#;
const DELETED_200: &str = r#"{"status": 200, "body": "{\"deleted\": true}"}"#;
const UNAVAILABLE_BODY: &str = r#""{\"error\": \"x\", \"code\": \"storage_unavailable\"}""#;

/// A 503 `storage_unavailable` answer, with a `Retry-After` header when given.
fn unavailable(retry_after: Option<&str>) -> String {
    let headers =
        retry_after.map_or(String::new(), |s| format!(r#""headers": {{"retry-after": "{s}"}}, "#));
    format!(r#"{{"status": 503, {headers}"body": {UNAVAILABLE_BODY}}}"#)
}

#[wasm_bindgen_test]
async fn round_trips_with_awkward_keys() {
    let server = memory_server();
    let kv = KVStore::new("ns".into(), options(&get(&server, "fetch"), &U));
    let keys = ["plain", "a/b", "a?b", "a#b", "100%", "%41", "a+b", "a b", "é", "🦀", "...", "./x"];
    for key in keys {
        let value = format!("value of {key}");
        ok(kv.set(key.into(), value.as_str().into(), U)).await;
        assert_eq!(ok(kv.get(key.into(), U)).await.as_string(), Some(value), "{key}");
    }
    for url in calls(&get(&server, "calls")) {
        let url = url.as_string().unwrap();
        let path = url.strip_prefix("http://kv.test").unwrap();
        assert_eq!(path.matches('/').count(), 3, "{url}");
        assert!(!path.contains(['?', '#', ' ', '+']), "{url}");
    }
    ok(kv.delete("a/b".into(), U)).await;
    assert!(ok(kv.get("a/b".into(), U)).await.is_null());
    // Deleting again is fine.
    ok(kv.delete("a/b".into(), U)).await;
}

#[wasm_bindgen_test]
async fn missing_keys_are_null() {
    let server = memory_server();
    let kv = KVStore::new("ns".into(), options(&get(&server, "fetch"), &U));
    assert!(ok(kv.get("nope".into(), U)).await.is_null());
    assert!(ok(kv.get_entry("nope".into(), U)).await.is_null());
    assert!(ok(kv.get_json("nope".into(), U)).await.is_null());
}

#[wasm_bindgen_test]
async fn versions_and_conditional_writes() {
    let server = memory_server();
    let kv = KVStore::new("ns".into(), options(&get(&server, "fetch"), &U));

    ok(kv.set("k".into(), "1".into(), json(r#"{"ifAbsent": true}"#))).await;
    fails(kv.set("k".into(), "2".into(), json(r#"{"ifAbsent": true}"#)), "version_conflict").await;

    let entry = ok(kv.get_entry("k".into(), U)).await;
    assert_eq!(get(&entry, "value").as_string().as_deref(), Some("1"));
    let version = get(&entry, "version");
    assert!(version.is_string(), "versions are strings: {version:?}");

    let if_version = Object::new();
    Reflect::set(&if_version, &"ifVersion".into(), &version).unwrap();
    ok(kv.set("k".into(), "3".into(), if_version.clone().into())).await;
    let error =
        fails(kv.set("k".into(), "4".into(), if_version.clone().into()), "version_conflict");
    let error = error.await;
    assert_eq!(get(&error, "status").as_f64(), Some(412.0));
    assert_eq!(get(&error, "retryable"), JsValue::FALSE);
    fails(kv.delete("k".into(), if_version.into()), "version_conflict").await;
    assert_eq!(ok(kv.get("k".into(), U)).await.as_string().as_deref(), Some("3"));
}

#[wasm_bindgen_test]
async fn json_helpers() {
    let server = memory_server();
    let kv = KVStore::new("ns".into(), options(&get(&server, "fetch"), &U));
    ok(kv.set_json("j".into(), json(r#"{"a": [1, "two", null]}"#), U)).await;
    let back = ok(kv.get_json("j".into(), U)).await;
    assert_eq!(JSON::stringify(&back).unwrap(), r#"{"a":[1,"two",null]}"#);

    ok(kv.set("text".into(), "not json".into(), U)).await;
    fails(kv.get_json("text".into(), U), "invalid_value").await;

    let error = JsFuture::from(kv.set_json("u".into(), U, U)).await.unwrap_err();
    assert!(error.is_instance_of::<js_sys::TypeError>());
}

#[wasm_bindgen_test]
async fn a_value_that_is_not_a_string_is_a_type_error() {
    let (kv, calls_made) = scripted_store(r#"[{"status": 200, "body": "{}"}]"#, "{}");
    for value in [JsValue::from(5), json(r#"{"a": 1}"#), JsValue::NULL, U] {
        let error = JsFuture::from(kv.set("k".into(), value, U)).await.unwrap_err();
        assert!(error.is_instance_of::<js_sys::TypeError>(), "{error:?}");
        let message = get(&error, "message").as_string().unwrap();
        assert!(message.contains("JSON.stringify"), "{message}");
        assert_eq!(get(&error, "code").as_string().as_deref(), Some("invalid_argument"));
    }
    assert!(calls(&calls_made).is_empty());
}

#[wasm_bindgen_test]
async fn bad_keys_namespaces_and_options_fail_before_sending() {
    let (kv, calls_made) = scripted_store(r#"[{"status": 200, "body": "{}"}]"#, "{}");
    fails(kv.get("".into(), U), "invalid_key").await;
    fails(kv.get("..".into(), U), "invalid_key").await;
    fails(kv.get(JsValue::from(7), U), "invalid_key").await;
    fails(kv.get("k".repeat(1025).into(), U), "invalid_key").await;
    fails(kv.set("k".into(), "v".into(), json(r#"{"ttl": 0}"#)), "invalid_ttl").await;
    fails(kv.set("k".into(), "v".into(), json(r#"{"ttl": 1.5}"#)), "invalid_ttl").await;
    fails(kv.set("k".into(), "v".into(), json(r#"{"ifVersion": "x"}"#)), "invalid_argument").await;
    let both = json(r#"{"ifVersion": "3", "ifAbsent": true}"#);
    fails(kv.set("k".into(), "v".into(), both), "invalid_argument").await;
    fails(kv.get("k".into(), JsValue::from(3)), "invalid_argument").await;

    let fetch = get(&scripted(&json("[]")), "fetch");
    let bad_ns = KVStore::new("a/b".into(), options(&fetch, &U));
    fails(bad_ns.get("k".into(), U), "invalid_namespace").await;
    let bad_url = KVStore::new("ns".into(), options(&fetch, &json(r#"{"url": "kv.test"}"#)));
    fails(bad_url.get("k".into(), U), "invalid_argument").await;
    let bad_retries = KVStore::new("ns".into(), options(&fetch, &json(r#"{"retries": "x"}"#)));
    fails(bad_retries.get("k".into(), U), "invalid_argument").await;

    assert!(calls(&calls_made).is_empty());
}

#[wasm_bindgen_test]
async fn requests_carry_ttl_auth_and_conditions() {
    let (kv, calls_made) =
        scripted_store(r#"[{"status": 200, "body": "{\"version\": \"8\"}"}]"#, "{}");
    ok(kv.set("k".into(), "v".into(), json(r#"{"ttl": 60, "ifVersion": "7"}"#))).await;
    ok(kv.set("k".into(), "v".into(), json(r#"{"ifAbsent": true}"#))).await;

    let sent = calls(&calls_made);
    assert_eq!(get(&sent[0], "url").as_string().unwrap(), "http://kv.test/set/ns/k?ttl=60");
    assert_eq!(get(&sent[0], "method").as_string().unwrap(), "PUT");
    assert_eq!(get(&sent[0], "body").as_string().unwrap(), "v");
    let headers = get(&sent[0], "headers");
    assert_eq!(get(&headers, "authorization").as_string().unwrap(), "Bearer t0k");
    assert_eq!(get(&headers, "if-match").as_string().unwrap(), "\"7\"");
    assert_eq!(get(&get(&sent[1], "headers"), "if-none-match").as_string().unwrap(), "*");
}

#[wasm_bindgen_test]
async fn settings_come_from_env_and_missing_ones_fail_at_the_first_call() {
    let server = memory_server();
    let fetch = get(&server, "fetch");

    // No url anywhere: constructing is fine, the call fails.
    let no_url = Object::new();
    Reflect::set(&no_url, &"fetch".into(), &fetch).unwrap();
    Reflect::set(&no_url, &"env".into(), &Object::new()).unwrap();
    let kv = KVStore::new("ns".into(), no_url.into());
    fails(kv.get("k".into(), U), "config_missing").await;

    let from_env = Object::new();
    Reflect::set(&from_env, &"fetch".into(), &fetch).unwrap();
    let env = json(r#"{"RUNKV_URL": "http://env.test", "RUNKV_TOKEN": "from-env"}"#);
    Reflect::set(&from_env, &"env".into(), &env).unwrap();
    let kv = KVStore::new("ns".into(), from_env.into());
    assert!(ok(kv.get("k".into(), U)).await.is_null());
    let url = calls(&get(&server, "calls"))[0].as_string().unwrap();
    assert_eq!(url, "http://env.test/get/ns/k");
}

#[wasm_bindgen_test]
async fn server_errors_keep_code_status_and_message() {
    let cases = [
        (401, "unauthorized"),
        (403, "forbidden"),
        (413, "value_too_large"),
        (400, "invalid_key"),
        (500, "internal"),
    ];
    for (status, code) in cases {
        let body = format!(r#"{{"error": "the message", "code": "{code}"}}"#);
        let step = JSON::stringify(&JsValue::from_str(&body)).unwrap();
        let (kv, calls_made) =
            scripted_store(&format!(r#"[{{"status": {status}, "body": {step}}}]"#), "{}");
        let error = fails(kv.set("k".into(), "v".into(), U), code).await;
        assert_eq!(get(&error, "status").as_f64(), Some(status as f64));
        assert_eq!(get(&error, "message").as_string().as_deref(), Some("the message"));
        assert_eq!(get(&error, "retryable"), JsValue::FALSE);
        assert_eq!(calls(&calls_made).len(), 1, "{code} is not retried");
    }
}

#[wasm_bindgen_test]
async fn answers_that_are_not_runkv_are_invalid_responses() {
    let (kv, _) = scripted_store(r#"[{"status": 200, "body": "<html>portal</html>"}]"#, "{}");
    fails(kv.get("k".into(), U), "invalid_response").await;
    fails(kv.set("k".into(), "v".into(), U), "invalid_response").await;
    let (kv, _) = scripted_store(r#"[{"status": 404, "body": "Not Found"}]"#, "{}");
    let error = fails(kv.get("k".into(), U), "invalid_response").await;
    assert_eq!(get(&error, "status").as_f64(), Some(404.0));
    let route =
        r#"[{"status": 404, "body": "{\"error\": \"no route\", \"code\": \"route_not_found\"}"}]"#;
    let (kv, _) = scripted_store(route, "{}");
    fails(kv.get("k".into(), U), "route_not_found").await;
}

#[wasm_bindgen_test]
async fn retryable_failures_are_retried() {
    let unavailable = unavailable(None);
    for first in [
        r#""network""#,
        &unavailable,
        r#"{"status": 502, "body": "bad gateway"}"#,
        r#"{"status": 504}"#,
        r#"{"status": 429}"#,
        r#"{"status": 408}"#,
    ] {
        let steps = format!("[{first}, {first}, {VALUE_200}]");
        let (kv, calls_made) = scripted_store(&steps, "{}");
        assert_eq!(ok(kv.get("k".into(), U)).await.as_string().as_deref(), Some("v"), "{first}");
        assert_eq!(calls(&calls_made).len(), 3, "{first}");
    }
}

#[wasm_bindgen_test]
async fn retries_give_up_with_the_last_failure() {
    let (kv, calls_made) =
        scripted_store(r#"["network"]"#, r#"{"retries": {"count": 2, "baseMs": 1}}"#);
    let error = fails(kv.get("k".into(), U), "network").await;
    assert_eq!(get(&error, "retryable"), JsValue::TRUE);
    assert!(get(&error, "cause").is_object(), "the fetch error is the cause");
    assert_eq!(calls(&calls_made).len(), 3);

    let (kv, calls_made) = scripted_store(r#"["network"]"#, r#"{"retries": false}"#);
    fails(kv.delete("k".into(), U), "network").await;
    assert_eq!(calls(&calls_made).len(), 1);
}

#[wasm_bindgen_test]
async fn retry_after_is_honoured() {
    // Retry-After: 0 allows the retry at once.
    let steps = format!("[{}, {DELETED_200}]", unavailable(Some("0")));
    let (kv, calls_made) = scripted_store(&steps, "{}");
    ok(kv.delete("k".into(), U)).await;
    assert_eq!(calls(&calls_made).len(), 2);

    // A Retry-After that would end past the deadline: no retry, even though the backoff
    // alone would have retried within it.
    let steps = format!("[{}]", unavailable(Some("60")));
    let (kv, calls_made) = scripted_store(&steps, r#"{"retries": {"deadlineMs": 5000}}"#);
    let error = fails(kv.delete("k".into(), U), "storage_unavailable").await;
    assert_eq!(get(&error, "status").as_f64(), Some(503.0));
    assert_eq!(get(&error, "retryable"), JsValue::TRUE);
    assert_eq!(calls(&calls_made).len(), 1);
}

#[wasm_bindgen_test]
async fn conditional_writes_are_not_retried_when_the_outcome_is_unknown() {
    for first in [r#""network""#, r#""hang""#, r#"{"status": 504}"#] {
        let steps = format!("[{first}, {VERSION_200}]");
        let (kv, calls_made) = scripted_store(&steps, r#"{"timeoutMs": 20}"#);
        let error =
            fails(kv.set("k".into(), "v".into(), json(r#"{"ifVersion": "1"}"#)), "outcome_unknown");
        let error = error.await;
        assert_eq!(get(&error, "retryable"), JsValue::FALSE);
        assert_eq!(calls(&calls_made).len(), 1, "{first}");
    }
    // 503 means "not processed": a conditional write is retried after it.
    let steps = format!("[{}, {VERSION_200}]", unavailable(None));
    let (kv, calls_made) = scripted_store(&steps, "{}");
    ok(kv.set("k".into(), "v".into(), json(r#"{"ifAbsent": true}"#))).await;
    assert_eq!(calls(&calls_made).len(), 2);
    // An unconditional write is retried after a network error.
    let steps = format!(r#"["network", {VERSION_200}]"#);
    let (kv, calls_made) = scripted_store(&steps, "{}");
    ok(kv.set("k".into(), "v".into(), U)).await;
    assert_eq!(calls(&calls_made).len(), 2);
}

#[wasm_bindgen_test]
async fn timeouts() {
    let (kv, calls_made) = scripted_store(r#"["hang"]"#, r#"{"timeoutMs": 10, "retries": 1}"#);
    let error = fails(kv.get("k".into(), U), "timeout").await;
    assert_eq!(get(&error, "retryable"), JsValue::TRUE);
    assert_eq!(calls(&calls_made).len(), 2, "a timed-out get is retried");
}

#[wasm_bindgen_test]
async fn aborts() {
    let (kv, calls_made) = scripted_store(r#"["hang"]"#, "{}");
    let signal = Object::new();
    Reflect::set(&signal, &"signal".into(), &aborted_signal()).unwrap();
    let error = fails(kv.get("k".into(), signal.into()), "aborted").await;
    assert_eq!(get(&error, "retryable"), JsValue::FALSE);
    assert!(calls(&calls_made).is_empty(), "an aborted signal sends nothing");

    let signal = Object::new();
    Reflect::set(&signal, &"signal".into(), &abort_soon()).unwrap();
    fails(kv.get("k".into(), signal.into()), "aborted").await;

    // Aborting during a backoff wait ends the call at once, without waiting it out.
    let (kv, _) = scripted_store(
        r#"["network"]"#,
        r#"{"retries": {"count": 5, "baseMs": 60000, "maxMs": 60000, "deadlineMs": 600000}}"#,
    );
    let signal = Object::new();
    Reflect::set(&signal, &"signal".into(), &abort_soon()).unwrap();
    fails(kv.get("k".into(), signal.into()), "aborted").await;
}

#[wasm_bindgen_test]
async fn many_concurrent_calls_on_one_instance() {
    let server = memory_server();
    let kv = KVStore::new("ns".into(), options(&get(&server, "fetch"), &U));
    let writes: Array = (0..200)
        .map(|i| JsValue::from(kv.set(format!("k{i}").into(), format!("v{i}").into(), U)))
        .collect();
    ok(Promise::all(&writes)).await;
    let reads: Array = (0..200).map(|i| JsValue::from(kv.get(format!("k{i}").into(), U))).collect();
    let values = ok(Promise::all(&reads)).await.unchecked_into::<Array>();
    for (i, value) in values.iter().enumerate() {
        assert_eq!(value.as_string(), Some(format!("v{i}")));
    }
}
