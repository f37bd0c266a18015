//! Why a call failed, and how that reaches JavaScript as a `KVStoreError`.

use js_sys::{Object, Reflect};
use runkv_protocol::{ErrorCode, ProtocolError};
use wasm_bindgen::prelude::*;

use crate::retry::retryable_status;

// The error class is written in JavaScript, because only a JavaScript class can extend
// `Error` (and so carry a stack, and print well in every runtime's console). The package
// build imports it from the package's own `host.js`, the module its entry points
// re-export, so that errors made here are `instanceof` the class users import. Without the
// `npm-package` feature (in the wasm-bindgen tests), wasm-bindgen copies the same file
// next to the generated glue.
#[cfg_attr(feature = "npm-package", wasm_bindgen(raw_module = "./host.js"))]
#[cfg_attr(not(feature = "npm-package"), wasm_bindgen(module = "/pkg/src/host.js"))]
extern "C" {
    #[wasm_bindgen(js_name = KVStoreError)]
    type JsKvStoreError;

    #[wasm_bindgen(constructor, js_class = "KVStoreError")]
    fn new(message: &str, options: &Object) -> JsKvStoreError;
}

/// A failed call: the fields of the `KVStoreError` it becomes.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub code: ErrorCode,
    /// The HTTP status, when the failure is a server's answer.
    pub status: Option<u16>,
    pub message: String,
    /// The wait the server asked for with `Retry-After`, in milliseconds.
    pub retry_after_ms: Option<f64>,
    /// The underlying JavaScript error (of `fetch`, for example), kept as `cause`.
    pub cause: Option<JsValue>,
}

impl Failure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Failure {
        Failure { code, status: None, message: message.into(), retry_after_ms: None, cause: None }
    }

    pub fn with_cause(mut self, cause: JsValue) -> Failure {
        self.cause = Some(cause);
        self
    }

    /// The failure an error response stands for, from its status and the `code` and
    /// `error` fields of its JSON body (`None` when the body is not a runkv error body).
    pub fn from_response(status: u16, body: Option<(String, String)>) -> Failure {
        let (code, message) = match body {
            Some((code, message)) => match ErrorCode::parse(&code) {
                Some(code) => (code, message),
                None => (
                    ErrorCode::InvalidResponse,
                    format!(
                        "the server answered HTTP {status} with unknown code \"{code}\": {message}"
                    ),
                ),
            },
            None => return Failure::not_runkv(status, "no runkv error body"),
        };
        Failure { status: Some(status), ..Failure::new(code, message) }
    }

    /// An answer that is not a runkv answer: `what` it has or lacks. The usual cause is a
    /// url that points at something else, or a proxy answering for the server.
    pub fn not_runkv(status: u16, what: &str) -> Failure {
        let message = format!(
            "the server answered HTTP {status} with {what}; is the url that of a runkv server?"
        );
        Failure { status: Some(status), ..Failure::new(ErrorCode::InvalidResponse, message) }
    }

    /// Whether sending the same request again later can succeed. A status says so even
    /// when the body does not (a proxy's 502 page, say).
    pub fn retryable(&self) -> bool {
        self.code.retryable() || self.status.is_some_and(retryable_status)
    }

    /// Whether the request may have reached the server and been applied without the
    /// client learning so: a lost connection, a timeout, or a gateway giving up.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self.code, ErrorCode::Network | ErrorCode::Timeout)
            || self.status.is_some_and(crate::retry::ambiguous_status)
    }

    /// Reports a conditional write whose outcome is unknown. It is not retried: if the
    /// first attempt landed, a second would see its own version and report a conflict.
    pub fn into_outcome_unknown(self) -> Failure {
        let message = format!(
            "the conditional write may or may not have been applied, so it was not retried \
             (read the key to find out): {}",
            self.message
        );
        let cause = self.cause.clone();
        Failure { cause, ..Failure::new(ErrorCode::OutcomeUnknown, message) }
    }

    /// The `KVStoreError` for this failure.
    pub fn into_js(self) -> JsValue {
        let options = Object::new();
        let retryable = self.retryable();
        set(&options, "code", &self.code.as_str().into());
        set(&options, "status", &self.status.map_or(JsValue::UNDEFINED, JsValue::from));
        set(&options, "retryable", &retryable.into());
        if let Some(cause) = &self.cause {
            set(&options, "cause", cause);
        }
        JsKvStoreError::new(&self.message, &options).into()
    }
}

impl From<ProtocolError> for Failure {
    fn from(e: ProtocolError) -> Failure {
        Failure::new(e.code, e.message)
    }
}

/// Sets a property on an object this module created, where it cannot fail.
pub(crate) fn set(target: &Object, name: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(name), value);
}

/// The `TypeError` for a value that is not a string, with a `code` as a `KVStoreError`
/// has, so that code branching on `err.code` needs no special case.
pub(crate) fn not_a_string(what: &str) -> JsValue {
    let message = format!(
        "{what} must be a string; serialise other values first, for example with \
         JSON.stringify, or use setJson"
    );
    let error = js_sys::TypeError::new(&message);
    set(&error, "code", &ErrorCode::InvalidArgument.as_str().into());
    error.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str, message: &str) -> Option<(String, String)> {
        Some((code.to_owned(), message.to_owned()))
    }

    #[test]
    fn server_codes_are_kept() {
        let f = Failure::from_response(412, body("version_conflict", "the version is 3"));
        assert_eq!((f.code, f.status), (ErrorCode::VersionConflict, Some(412)));
        assert_eq!(f.message, "the version is 3");
        assert!(!f.retryable());

        let f = Failure::from_response(503, body("storage_unavailable", "down"));
        assert!(f.retryable());
    }

    #[test]
    fn bodies_that_are_not_ours_are_invalid_responses() {
        let f = Failure::from_response(404, None);
        assert_eq!((f.code, f.status), (ErrorCode::InvalidResponse, Some(404)));
        assert!(!f.retryable());

        // A proxy's 502 page: not our body, but the status says a retry can help.
        let f = Failure::from_response(502, None);
        assert_eq!(f.code, ErrorCode::InvalidResponse);
        assert!(f.retryable());

        let f = Failure::from_response(400, body("brand_new_code", "whatever"));
        assert_eq!(f.code, ErrorCode::InvalidResponse);
        assert!(f.message.contains("brand_new_code"), "{}", f.message);
    }

    #[test]
    fn which_failures_leave_a_write_in_doubt() {
        assert!(Failure::new(ErrorCode::Network, "reset").outcome_unknown());
        assert!(Failure::new(ErrorCode::Timeout, "slow").outcome_unknown());
        assert!(Failure::from_response(504, None).outcome_unknown());
        assert!(Failure::from_response(502, None).outcome_unknown());
        assert!(!Failure::from_response(503, body("storage_unavailable", "x")).outcome_unknown());
        assert!(!Failure::from_response(429, None).outcome_unknown());
        assert!(!Failure::new(ErrorCode::Aborted, "stop").outcome_unknown());

        let f = Failure::new(ErrorCode::Timeout, "no answer in 10 ms").into_outcome_unknown();
        assert_eq!(f.code, ErrorCode::OutcomeUnknown);
        assert!(!f.retryable());
        assert!(f.message.ends_with("no answer in 10 ms"), "{}", f.message);
    }

    #[test]
    fn protocol_errors_keep_their_code() {
        let f: Failure = runkv_protocol::validate_key("..", 10).unwrap_err().into();
        assert_eq!((f.code, f.status), (ErrorCode::InvalidKey, None));
    }
}
