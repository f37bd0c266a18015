//! `KVStore`, the class JavaScript uses: argument checks, requests, retries, answers.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{JsString, Object, Promise, Reflect, JSON};
use runkv_protocol::{ErrorCode, Op, Version};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::failure::{not_a_string, set, Failure};
use crate::http::{self, Reply, Request};
use crate::options::{parse_version, Accepts, CallOptions, Condition, Settings};
use crate::retry::{parse_retry_after, retryable_status};

/// A client for one namespace of a runkv server.
///
/// Every method returns a promise and never throws: bad arguments, missing settings and
/// server errors all reject with a `KVStoreError` (a non-string value to `set` with a
/// `TypeError`). Methods take `&self` and share the state through an `Rc`, so any number
/// of calls can be in flight on one instance.
#[wasm_bindgen]
pub struct KVStore {
    inner: Rc<Inner>,
}

struct Inner {
    namespace: JsValue,
    options: JsValue,
    /// Resolved at the first call, then reused. A failure is not cached: the next call
    /// tries again, so that settings supplied later (an env variable) are picked up.
    settings: RefCell<Option<Rc<Settings>>>,
}

#[wasm_bindgen]
extern "C" {
    // `JSON.parse` on the JavaScript string itself: js-sys's binding takes a `&str`, which
    // would copy every value into WebAssembly memory and back out.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn json_parse(text: &JsValue) -> Result<JsValue, JsValue>;
}

const GET: Accepts = Accepts { ttl: false, if_version: false, if_absent: false };
const SET: Accepts = Accepts { ttl: true, if_version: true, if_absent: true };
const DELETE: Accepts = Accepts { ttl: false, if_version: true, if_absent: false };

#[wasm_bindgen]
impl KVStore {
    /// Creates a client for `namespace`. Nothing is checked or read here: settings are
    /// resolved, and any problem reported, at the first call.
    #[wasm_bindgen(constructor)]
    pub fn new(namespace: JsValue, options: JsValue) -> KVStore {
        let inner = Inner { namespace, options, settings: RefCell::new(None) };
        KVStore { inner: Rc::new(inner) }
    }

    /// The value of `key`, or `null` when it does not exist.
    pub fn get(&self, key: JsValue, options: JsValue) -> Promise {
        self.spawn(Method::Get, key, JsValue::UNDEFINED, options)
    }

    /// `{ value, version }` for `key`, or `null` when it does not exist.
    #[wasm_bindgen(js_name = getEntry)]
    pub fn get_entry(&self, key: JsValue, options: JsValue) -> Promise {
        self.spawn(Method::GetEntry, key, JsValue::UNDEFINED, options)
    }

    /// The value of `key` parsed as JSON, or `null` when it does not exist.
    #[wasm_bindgen(js_name = getJson)]
    pub fn get_json(&self, key: JsValue, options: JsValue) -> Promise {
        self.spawn(Method::GetJson, key, JsValue::UNDEFINED, options)
    }

    /// Stores `value` (a string) under `key`.
    pub fn set(&self, key: JsValue, value: JsValue, options: JsValue) -> Promise {
        if !value.is_string() {
            return Promise::reject(&not_a_string("the value"));
        }
        self.spawn(Method::Set, key, value, options)
    }

    /// Stores `JSON.stringify(value)` under `key`.
    #[wasm_bindgen(js_name = setJson)]
    pub fn set_json(&self, key: JsValue, value: JsValue, options: JsValue) -> Promise {
        // JSON.stringify throws a TypeError for cycles and BigInts, and returns undefined
        // for undefined and functions: none of them can be stored.
        let text = match JSON::stringify(&value) {
            Ok(text) if JsValue::from(&text).is_string() => JsValue::from(text),
            Ok(_) => return Promise::reject(&not_a_string("JSON.stringify(value)")),
            Err(error) => return Promise::reject(&error),
        };
        self.spawn(Method::Set, key, text, options)
    }

    /// Removes `key`. Deleting a key that does not exist succeeds.
    pub fn delete(&self, key: JsValue, options: JsValue) -> Promise {
        self.spawn(Method::Delete, key, JsValue::UNDEFINED, options)
    }
}

/// What a JavaScript method asked for: the operation, and the shape of its result.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    GetEntry,
    GetJson,
    Set,
    Delete,
}

impl KVStore {
    /// Runs a call to completion in the background. Every method goes through this one
    /// future, which keeps the WebAssembly module small: each distinct future handed to
    /// `future_to_promise` is compiled separately.
    fn spawn(&self, method: Method, key: JsValue, value: JsValue, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            inner.call(method, key, value, options).await.map_err(Failure::into_js)
        })
    }
}

impl Inner {
    async fn call(
        &self,
        method: Method,
        key: JsValue,
        value: JsValue,
        options: JsValue,
    ) -> Result<JsValue, Failure> {
        let (op, accepts) = match method {
            Method::Get | Method::GetEntry | Method::GetJson => (Op::Get, GET),
            Method::Set => (Op::Set, SET),
            Method::Delete => (Op::Delete, DELETE),
        };
        let call = CallOptions::parse(&options, accepts)?;
        let settings = self.settings()?;
        let body = if op == Op::Set { value } else { JsValue::UNDEFINED };
        let request = request(&settings, op, &key, body, &call)?;
        let reply = self.send(&settings, request, &call).await?;

        if reply.status == 404 && op == Op::Get {
            let failure = error_reply(&reply);
            return match failure.code {
                ErrorCode::KeyNotFound => Ok(JsValue::NULL),
                _ => Err(failure),
            };
        }
        if reply.status != 200 {
            return Err(error_reply(&reply));
        }

        let body = json_body(&reply)?;
        let field = |name: &str| Reflect::get(&body, &name.into()).unwrap_or_default();
        match method {
            Method::Get | Method::GetEntry | Method::GetJson => {
                let value = field("value");
                let version = checked_version(&reply, &body)?;
                if !value.is_string() {
                    return Err(invalid_response(&reply, "no string value"));
                }
                Ok(match method {
                    Method::GetEntry => {
                        let entry = Object::new();
                        set(&entry, "value", &value);
                        set(&entry, "version", &version);
                        entry.into()
                    }
                    Method::GetJson => json_parse(&value).map_err(|e| {
                        Failure::new(ErrorCode::InvalidValue, "the stored value is not valid JSON")
                            .with_cause(e)
                    })?,
                    _ => value,
                })
            }
            Method::Set => {
                // A success must look like one: a captive portal's 200 page is not a
                // stored value.
                checked_version(&reply, &body)?;
                Ok(JsValue::UNDEFINED)
            }
            Method::Delete => match field("deleted").as_bool() {
                Some(_) => Ok(JsValue::UNDEFINED),
                None => Err(invalid_response(&reply, "no deleted flag")),
            },
        }
    }

    fn settings(&self) -> Result<Rc<Settings>, Failure> {
        if let Some(settings) = self.settings.borrow().as_ref() {
            return Ok(settings.clone());
        }
        let settings = Rc::new(Settings::resolve(&self.namespace, &self.options)?);
        *self.settings.borrow_mut() = Some(settings.clone());
        Ok(settings)
    }

    /// Sends a request, retrying per the policy until it gets an answer worth returning:
    /// success, or an error a retry cannot fix, or the retries or the deadline run out.
    async fn send(
        &self,
        settings: &Settings,
        request: Request,
        call: &CallOptions,
    ) -> Result<Reply, Failure> {
        let fetch = match &settings.fetch {
            Some(fetch) => fetch.clone(),
            None => http::global_fetch()?,
        };
        let policy = settings.retry;
        let signal = &call.signal;
        let started = js_sys::Date::now();

        let mut retry = 0;
        loop {
            let elapsed = js_sys::Date::now() - started;
            let timeout = policy.attempt_timeout_ms(settings.timeout_ms, elapsed);
            let failure = match http::send(&fetch, &request, timeout, signal).await {
                Ok(reply) if !retryable_status(reply.status) => return Ok(reply),
                Ok(reply) => error_reply(&reply),
                Err(failure) => failure,
            };

            if call.condition.is_some() && failure.outcome_unknown() {
                return Err(failure.into_outcome_unknown());
            }
            if !failure.retryable() {
                return Err(failure);
            }
            let elapsed = js_sys::Date::now() - started;
            let random = js_sys::Math::random();
            let Some(wait) = policy.delay_before(retry, failure.retry_after_ms, random, elapsed)
            else {
                return Err(failure);
            };
            http::sleep(wait, signal).await?;
            retry += 1;
        }
    }
}

/// Builds the request for `op` on `key`, checking the key with the protocol's rules.
fn request(
    settings: &Settings,
    op: Op,
    key_js: &JsValue,
    body: JsValue,
    call: &CallOptions,
) -> Result<Request, Failure> {
    let Some(key) = key_js.as_string() else {
        return Err(Failure::new(ErrorCode::InvalidKey, "invalid key: it must be a string"));
    };
    if !well_formed(key_js) {
        return Err(Failure::new(ErrorCode::InvalidKey, format!("invalid key: {LONE_SURROGATE}")));
    }
    if !well_formed(&body) {
        return Err(Failure::new(
            ErrorCode::InvalidValue,
            format!("invalid value: {LONE_SURROGATE}"),
        ));
    }
    let mut url = settings.base_url.clone();
    url.push_str(&op.path(&settings.namespace, &key)?);
    if let Some(ttl) = call.ttl {
        url.push_str(&format!("?ttl={ttl}"));
    }

    let condition = call.condition.map(|condition| match condition {
        Condition::IfVersion(version) => ("if-match", version.to_etag()),
        Condition::IfAbsent => ("if-none-match", "*".to_owned()),
    });
    let authorization = settings.authorization.clone();
    Ok(Request { method: op.method(), url, authorization, condition, body })
}

const LONE_SURROGATE: &str = "it has a lone UTF-16 surrogate, which has no UTF-8 form: \
     converting it would silently replace it with U+FFFD";

#[wasm_bindgen]
extern "C" {
    /// A string whose `isWellFormed` may be missing: runtimes older than 2023 lack it.
    #[wasm_bindgen(extends = JsString)]
    type MaybeWellFormed;

    #[wasm_bindgen(method, catch, js_name = isWellFormed)]
    fn is_well_formed(this: &MaybeWellFormed) -> Result<bool, JsValue>;
}

/// Whether a string (anything else passes) can be converted to UTF-8 without loss. Keys
/// and values travel as UTF-8, so two strings that differ only in lone surrogates would
/// otherwise name the same key or store the same value.
fn well_formed(value: &JsValue) -> bool {
    match value.dyn_ref::<JsString>() {
        Some(s) => s
            .unchecked_ref::<MaybeWellFormed>()
            .is_well_formed()
            .unwrap_or_else(|_| s.is_valid_utf16()),
        None => true,
    }
}

/// The failure an error reply stands for, with the server's `Retry-After`.
fn error_reply(reply: &Reply) -> Failure {
    let parsed = json_parse(&reply.body).ok();
    let field = |name: &str| {
        parsed.as_ref().and_then(|b| Reflect::get(b, &name.into()).ok()).and_then(|v| v.as_string())
    };
    let body = field("code").zip(field("error"));
    let mut failure = Failure::from_response(reply.status, body);
    failure.retry_after_ms =
        reply.retry_after.as_deref().and_then(|h| parse_retry_after(h, js_sys::Date::now()));
    failure
}

/// The JSON object of a success reply.
fn json_body(reply: &Reply) -> Result<JsValue, Failure> {
    match json_parse(&reply.body) {
        Ok(body) if body.is_object() => Ok(body),
        _ => Err(invalid_response(reply, "a body that is not JSON")),
    }
}

/// The `version` field of a success body, checked to be a version.
fn checked_version(reply: &Reply, body: &JsValue) -> Result<JsValue, Failure> {
    let version = Reflect::get(body, &"version".into()).unwrap_or_default();
    match version.as_string().as_deref().and_then(parse_version) {
        Some(Version(_)) => Ok(version),
        None => Err(invalid_response(reply, "no valid version")),
    }
}

fn invalid_response(reply: &Reply, what: &str) -> Failure {
    Failure::not_runkv(reply.status, what)
}
