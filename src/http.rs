//! One HTTP exchange, and waiting between exchanges, through the JavaScript host.
//!
//! The exchange itself (`fetch` with a timeout and the caller's abort signal, reading the
//! body) is a few lines of JavaScript in the package's `host.js`: written in Rust with
//! web-sys, the same steps cost about 2.5 KB of the gzipped download in bindings and async
//! plumbing, a tenth of the budget. What to send, when to send it again, and what an
//! answer or a failure means, is decided here, in `store` and in `retry`.

use js_sys::{Array, Function, Reflect};
use runkv_protocol::ErrorCode;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::failure::Failure;

// See `failure.rs` for why the module is named two ways.
#[cfg_attr(feature = "npm-package", wasm_bindgen(raw_module = "./host.js"))]
#[cfg_attr(not(feature = "npm-package"), wasm_bindgen(module = "/pkg/src/host.js"))]
extern "C" {
    #[wasm_bindgen(js_name = exchange)]
    #[allow(clippy::too_many_arguments)]
    fn host_exchange(
        fetch: &Function,
        url: &str,
        method: &str,
        authorization: &JsValue,
        condition: Option<&str>,
        condition_value: Option<String>,
        body: &JsValue,
        timeout_ms: f64,
        signal: &JsValue,
    ) -> js_sys::Promise;

    #[wasm_bindgen(js_name = sleep)]
    fn host_sleep(ms: f64, signal: &JsValue) -> js_sys::Promise;
}

/// A request, ready to send.
pub(crate) struct Request {
    pub method: &'static str,
    pub url: String,
    /// The `Authorization` header value, a JavaScript string made once per store.
    pub authorization: JsValue,
    /// The precondition header (`if-match` or `if-none-match`) and its value.
    pub condition: Option<(&'static str, String)>,
    /// The body, kept as the caller's JavaScript string: a large value never travels
    /// through WebAssembly memory.
    pub body: JsValue,
}

/// A complete answer: status, the headers the client uses, and the body text.
pub(crate) struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: JsValue,
}

/// Sends `request` once, giving up after `timeout_ms` or when `signal` fires. The body is
/// read under the same limits.
pub(crate) async fn send(
    fetch: &Function,
    request: &Request,
    timeout_ms: f64,
    signal: &JsValue,
) -> Result<Reply, Failure> {
    let (condition, condition_value) = match &request.condition {
        Some((name, value)) => (Some(*name), Some(value.clone())),
        None => (None, None),
    };
    let pending = host_exchange(
        fetch,
        &request.url,
        request.method,
        &request.authorization,
        condition,
        condition_value,
        &request.body,
        timeout_ms,
        signal,
    );
    // `[status, body, retryAfter]`, or `[0, failure, detail, cause]`.
    let outcome: Array = JsFuture::from(pending).await.unwrap_or_default().unchecked_into();
    let status = outcome.get(0).as_f64().unwrap_or(0.0) as u16;
    if status != 0 {
        let retry_after = outcome.get(2).as_string();
        return Ok(Reply { status, retry_after, body: outcome.get(1) });
    }
    Err(match outcome.get(1).as_string().unwrap_or_default().as_str() {
        "aborted" => aborted(),
        "timeout" => Failure::new(
            ErrorCode::Timeout,
            format!("no answer from the runkv server within {} ms", timeout_ms as u64),
        ),
        _ => {
            let detail = outcome.get(2).as_string().unwrap_or_default();
            Failure::new(ErrorCode::Network, format!("could not reach the runkv server: {detail}"))
                .with_cause(outcome.get(3))
        }
    })
}

/// Waits `ms` milliseconds, or until `signal` fires (then failing with `aborted`).
pub(crate) async fn sleep(ms: f64, signal: &JsValue) -> Result<(), Failure> {
    let _ = JsFuture::from(host_sleep(ms, signal)).await;
    if is_aborted(signal) {
        return Err(aborted());
    }
    Ok(())
}

/// Whether an abort signal (or `undefined`) has fired.
pub(crate) fn is_aborted(signal: &JsValue) -> bool {
    signal.is_object() && Reflect::get(signal, &"aborted".into()).is_ok_and(|a| a.is_truthy())
}

/// The global `fetch`, looked up on `globalThis` (never `window`, which most runtimes
/// lack).
pub(crate) fn global_fetch() -> Result<Function, Failure> {
    Reflect::get(&js_sys::global(), &"fetch".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| {
            Failure::new(
                ErrorCode::ConfigMissing,
                "this runtime has no global fetch; pass one as the fetch option of new KVStore()",
            )
        })
}

fn aborted() -> Failure {
    Failure::new(ErrorCode::Aborted, "the call was aborted by its signal")
}
