//! The options of a `KVStore` and of each call, read from JavaScript values.
//!
//! Nothing here throws into JavaScript: a bad option becomes a [`Failure`] that the first
//! call rejects with, because construction must never fail.

use js_sys::{Function, Reflect};
use runkv_protocol::{validate_namespace, validate_ttl, ErrorCode, Version};
use wasm_bindgen::{JsCast, JsValue};

use crate::env;
use crate::failure::Failure;
use crate::retry::RetryPolicy;

/// The per-attempt timeout when `timeoutMs` is not given.
pub(crate) const DEFAULT_TIMEOUT_MS: f64 = 10_000.0;

/// The largest delay `setTimeout` keeps: longer ones fire at once in every runtime.
const MAX_TIMER_MS: f64 = 2_147_483_647.0;

/// A `KVStore`'s settings, resolved at its first call.
pub(crate) struct Settings {
    pub namespace: String,
    /// The server's base URL without a trailing `/`.
    pub base_url: String,
    /// The `Authorization` header value, kept as a JavaScript string: it is sent with
    /// every request.
    pub authorization: JsValue,
    pub timeout_ms: f64,
    pub retry: RetryPolicy,
    /// The user's `fetch`; `None` means the global one, looked up at each call so that a
    /// polyfill or a test double installed later is seen.
    pub fetch: Option<Function>,
}

impl Settings {
    /// Reads the constructor's arguments, falling back to the environment for the URL and
    /// the token.
    pub fn resolve(namespace: &JsValue, options: &JsValue) -> Result<Settings, Failure> {
        let Some(namespace) = namespace.as_string() else {
            return Err(Failure::new(
                ErrorCode::InvalidNamespace,
                "invalid namespace: the first argument of new KVStore() must be a string",
            ));
        };
        validate_namespace(&namespace)?;

        if !(options.is_undefined() || options.is_null() || options.is_object()) {
            return Err(invalid_argument("the options of new KVStore() must be an object"));
        }
        let env_source = field(options, "env")?;
        let url = string_option(options, "url")?
            .or_else(|| env::lookup(&env_source, "RUNKV_URL"))
            .ok_or_else(|| missing("url", "RUNKV_URL"))?;
        let token = string_option(options, "token")?
            .or_else(|| env::lookup(&env_source, "RUNKV_TOKEN"))
            .ok_or_else(|| missing("token", "RUNKV_TOKEN"))?;

        let timeout_ms = match number_option(options, "timeoutMs")? {
            None => DEFAULT_TIMEOUT_MS,
            Some(ms) => check_ms("timeoutMs", ms, false)?,
        };

        let fetch = field(options, "fetch")?;
        let fetch = if fetch.is_undefined() || fetch.is_null() {
            None
        } else {
            Some(fetch.dyn_into::<Function>().map_err(|_| {
                invalid_argument("the fetch option must be a function like the global fetch")
            })?)
        };

        Ok(Settings {
            namespace,
            base_url: base_url(&url)?,
            authorization: JsValue::from_str(&format!("Bearer {token}")),
            timeout_ms,
            retry: retry_policy(&field(options, "retries")?)?,
            fetch,
        })
    }
}

/// Checks the `url` setting and drops trailing slashes, so that paths join with one `/`.
/// A base path (`https://host/kv`) is kept: the server may sit behind a prefix.
pub(crate) fn base_url(raw: &str) -> Result<String, Failure> {
    let trimmed = raw.trim().trim_end_matches('/');
    let rest = trimmed.strip_prefix("https://").or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !trimmed.contains(['?', '#']) => Ok(trimmed.to_owned()),
        _ => Err(invalid_argument(format!(
            "invalid url \"{raw}\": expected the server's http:// or https:// base URL, \
             without query or fragment"
        ))),
    }
}

/// Reads the `retries` option: absent or `true` for the defaults, `false` for none, a
/// number for that many retries, or an object overriding some of the defaults.
fn retry_policy(value: &JsValue) -> Result<RetryPolicy, Failure> {
    if value.is_undefined() || value.is_null() || *value == JsValue::TRUE {
        return Ok(RetryPolicy::DEFAULT);
    }
    if *value == JsValue::FALSE {
        return Ok(RetryPolicy::OFF);
    }
    if let Some(count) = value.as_f64() {
        return Ok(RetryPolicy { count: retry_count(count)?, ..RetryPolicy::DEFAULT });
    }
    if !value.is_object() {
        return Err(invalid_argument(
            "the retries option must be false, a number or an object { count, baseMs, maxMs, \
             deadlineMs }",
        ));
    }

    let mut policy = RetryPolicy::DEFAULT;
    if let Some(count) = number_option(value, "count")? {
        policy.count = retry_count(count)?;
    }
    if let Some(ms) = number_option(value, "baseMs")? {
        policy.base_ms = check_ms("retries.baseMs", ms, true)?;
    }
    if let Some(ms) = number_option(value, "maxMs")? {
        policy.max_ms = check_ms("retries.maxMs", ms, true)?;
    }
    if let Some(ms) = number_option(value, "deadlineMs")? {
        policy.deadline_ms = check_ms("retries.deadlineMs", ms, false)?;
    }
    Ok(policy)
}

fn retry_count(count: f64) -> Result<u32, Failure> {
    if count.fract() == 0.0 && (0.0..=100.0).contains(&count) {
        Ok(count as u32)
    } else {
        Err(invalid_argument("retries: the count must be a whole number from 0 to 100"))
    }
}

/// Checks a duration option: a finite number of milliseconds, positive (or zero where
/// allowed), at most what `setTimeout` can wait.
fn check_ms(name: &str, ms: f64, zero_ok: bool) -> Result<f64, Failure> {
    let low_ok = if zero_ok { ms >= 0.0 } else { ms > 0.0 };
    if low_ok && ms <= MAX_TIMER_MS {
        Ok(ms)
    } else {
        Err(invalid_argument(format!("{name} must be a duration in milliseconds, up to 2^31 - 1")))
    }
}

/// What one call asks for beyond the key: the second or third argument of a method.
#[derive(Default)]
pub(crate) struct CallOptions {
    pub ttl: Option<u64>,
    pub condition: Option<Condition>,
    /// The caller's `AbortSignal`, or `undefined`.
    pub signal: JsValue,
}

/// The precondition of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    /// Write only if the key's current version is this one.
    IfVersion(Version),
    /// Write only if the key does not exist.
    IfAbsent,
}

/// Which options a method takes; any other option is ignored.
#[derive(Clone, Copy)]
pub(crate) struct Accepts {
    pub ttl: bool,
    pub if_version: bool,
    pub if_absent: bool,
}

impl CallOptions {
    pub fn parse(options: &JsValue, accepts: Accepts) -> Result<CallOptions, Failure> {
        if options.is_undefined() || options.is_null() {
            return Ok(CallOptions::default());
        }
        if !options.is_object() {
            return Err(invalid_argument("call options must be an object"));
        }

        let signal = field(options, "signal")?;
        // Duck-typed rather than `instanceof`, so that a polyfilled or cross-realm signal
        // works too.
        let signal = if signal.is_undefined() || signal.is_null() {
            JsValue::UNDEFINED
        } else if signal.is_object() {
            signal
        } else {
            return Err(invalid_argument("the signal option must be an AbortSignal"));
        };

        let ttl = match accepts.ttl.then(|| number_option(options, "ttl")).transpose()?.flatten() {
            None => None,
            Some(secs) => Some(ttl_seconds(secs)?),
        };

        let mut condition = None;
        if accepts.if_version {
            let version = field(options, "ifVersion")?;
            if !(version.is_undefined() || version.is_null()) {
                let parsed = version.as_string().as_deref().and_then(parse_version);
                let version = parsed.ok_or_else(|| {
                    invalid_argument(
                        "ifVersion must be a version string from getEntry, such as \"17\"",
                    )
                })?;
                condition = Some(Condition::IfVersion(version));
            }
        }
        if accepts.if_absent && field(options, "ifAbsent")?.is_truthy() {
            if condition.is_some() {
                return Err(invalid_argument("ifVersion and ifAbsent cannot be combined"));
            }
            condition = Some(Condition::IfAbsent);
        }

        Ok(CallOptions { ttl, condition, signal })
    }
}

/// A TTL in whole seconds within the protocol's range.
pub(crate) fn ttl_seconds(secs: f64) -> Result<u64, Failure> {
    if secs.fract() != 0.0 || !(1.0..=u64::MAX as f64).contains(&secs) {
        return Err(Failure::new(ErrorCode::InvalidTtl, "invalid ttl: expected whole seconds"));
    }
    validate_ttl(secs as u64)?;
    Ok(secs as u64)
}

/// A version as the SDK hands it out: decimal digits only.
pub(crate) fn parse_version(raw: &str) -> Option<Version> {
    if raw.bytes().all(|b| b.is_ascii_digit()) {
        Version::parse_etag(raw)
    } else {
        None
    }
}

pub(crate) fn invalid_argument(message: impl Into<String>) -> Failure {
    Failure::new(ErrorCode::InvalidArgument, message)
}

fn missing(option: &str, variable: &str) -> Failure {
    Failure::new(
        ErrorCode::ConfigMissing,
        format!(
            "no {option} for runkv: pass {{ {option} }} to new KVStore(), or set {variable} \
             in the environment (or in the env option)"
        ),
    )
}

/// One property of an options object. Reading can run a getter or a proxy trap, which
/// can throw; that becomes an `invalid_argument` failure.
fn field(options: &JsValue, name: &str) -> Result<JsValue, Failure> {
    if !options.is_object() {
        return Ok(JsValue::UNDEFINED);
    }
    Reflect::get(options, &JsValue::from_str(name))
        .map_err(|e| invalid_argument(format!("the {name} option could not be read")).with_cause(e))
}

fn string_option(options: &JsValue, name: &str) -> Result<Option<String>, Failure> {
    let value = field(options, name)?;
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    match value.as_string() {
        Some(s) if !s.is_empty() => Ok(Some(s)),
        _ => Err(invalid_argument(format!("the {name} option must be a non-empty string"))),
    }
}

fn number_option(options: &JsValue, name: &str) -> Result<Option<f64>, Failure> {
    let value = field(options, name)?;
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(n) if n.is_finite() => Ok(Some(n)),
        _ => Err(invalid_argument(format!("the {name} option must be a finite number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(base_url("http://127.0.0.1:7070").unwrap(), "http://127.0.0.1:7070");
        assert_eq!(base_url("https://kv.example.com/").unwrap(), "https://kv.example.com");
        assert_eq!(base_url(" https://h/prefix// ").unwrap(), "https://h/prefix");
        for bad in ["", "127.0.0.1:7070", "ftp://h", "http://", "https://h/?x=1", "http://h#f"] {
            assert_eq!(base_url(bad).unwrap_err().code, ErrorCode::InvalidArgument, "{bad:?}");
        }
    }

    #[test]
    fn ttls() {
        assert_eq!(ttl_seconds(1.0).unwrap(), 1);
        assert_eq!(ttl_seconds(3600.0).unwrap(), 3600);
        for bad in [0.0, -1.0, 1.5, f64::NAN, 1e12] {
            assert_eq!(ttl_seconds(bad).unwrap_err().code, ErrorCode::InvalidTtl, "{bad}");
        }
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("17"), Some(Version(17)));
        for bad in ["", "0", "\"17\"", "W/\"17\"", " 17", "1.0", "-3", "abc"] {
            assert_eq!(parse_version(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn retry_counts_and_durations() {
        assert_eq!(retry_count(0.0).unwrap(), 0);
        assert_eq!(retry_count(5.0).unwrap(), 5);
        assert!(retry_count(-1.0).is_err() && retry_count(1.5).is_err());
        assert!(check_ms("x", 0.0, true).is_ok());
        assert!(check_ms("x", 0.0, false).is_err());
        assert!(check_ms("x", 1e10, true).is_err());
        assert_eq!(DEFAULT_TIMEOUT_MS, 10_000.0);
    }
}
