//! Request paths: `/{op}/{namespace}/{key}`, and how a key is carried in them.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::names::validate_key_default;
use crate::{validate_namespace, ErrorCode, ProtocolError};

/// Bytes left as they are in an encoded key: RFC 3986's unreserved set.
/// Everything else, `/ ? # % +` and space included, is percent-encoded, so a
/// key is always exactly one path segment.
const KEY_SEGMENT: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes a key (or any string) as a single URL path segment.
pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, KEY_SEGMENT).to_string()
}

/// Decodes a percent-encoded path segment strictly.
///
/// Unlike a lenient URL decoder it refuses a `%` that is not followed by two
/// hex digits, and escapes that decode to invalid UTF-8. `+` stays a literal
/// plus (it means space only in form bodies, never in paths).
pub fn decode_segment(raw: &str) -> Result<String, ProtocolError> {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'%') {
        let at = i + offset;
        let ok = bytes.len() > at + 2
            && bytes[at + 1].is_ascii_hexdigit()
            && bytes[at + 2].is_ascii_hexdigit();
        if !ok {
            return Err(ProtocolError::new(
                ErrorCode::InvalidKey,
                format!("invalid key: malformed percent-escape at byte {at}"),
            ));
        }
        i = at + 3;
    }
    percent_decode_str(raw).decode_utf8().map(|s| s.into_owned()).map_err(|_| {
        ProtocolError::new(ErrorCode::InvalidKey, "invalid key: escapes decode to invalid UTF-8")
    })
}

/// The three data operations and their endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `GET /get/{namespace}/{key}`
    Get,
    /// `PUT /set/{namespace}/{key}`
    Set,
    /// `DELETE /delete/{namespace}/{key}`
    Delete,
}

impl Op {
    /// The first path segment.
    pub const fn endpoint(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Set => "set",
            Op::Delete => "delete",
        }
    }

    /// The HTTP method.
    pub const fn method(self) -> &'static str {
        match self {
            Op::Get => "GET",
            Op::Set => "PUT",
            Op::Delete => "DELETE",
        }
    }

    /// The operation served at an endpoint name.
    pub fn from_endpoint(s: &str) -> Option<Op> {
        [Op::Get, Op::Set, Op::Delete].into_iter().find(|op| op.endpoint() == s)
    }

    /// Whether the operation changes data (and so needs write access).
    pub const fn is_write(self) -> bool {
        !matches!(self, Op::Get)
    }

    /// The request path for `key` in `ns`, after checking both.
    pub fn path(self, ns: &str, key: &str) -> Result<String, ProtocolError> {
        validate_namespace(ns)?;
        validate_key_default(key)?;
        Ok(format!("/{}/{ns}/{}", self.endpoint(), encode_segment(key)))
    }
}

/// A parsed data request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPath {
    /// Which endpoint.
    pub op: Op,
    /// The namespace, validated.
    pub namespace: String,
    /// The key, decoded and validated against the protocol limit. A server
    /// with a lower key limit checks again.
    pub key: String,
}

/// Parses the path of a data request (without the query string).
///
/// Returns `Ok(None)` when the path is not a data endpoint at all, so that
/// the caller can answer `route_not_found`. Everything after the namespace is
/// the key: clients should send it as one percent-encoded segment, but a key
/// sent with raw `/` (as some fal clients do) is read the same way, so
/// `/get/ns/a/b` and `/get/ns/a%2Fb` name the same key.
pub fn parse_data_path(path: &str) -> Result<Option<DataPath>, ProtocolError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Ok(None);
    };
    let Some((endpoint, rest)) = rest.split_once('/') else {
        return Ok(None);
    };
    let Some(op) = Op::from_endpoint(endpoint) else {
        return Ok(None);
    };

    let (namespace, raw_key) = rest.split_once('/').unwrap_or((rest, ""));
    validate_namespace(namespace)?;
    let key = decode_segment(raw_key)?;
    validate_key_default(&key)?;
    Ok(Some(DataPath { op, namespace: namespace.to_owned(), key }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWKWARD: &[&str] = &[
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
    ];

    #[test]
    fn awkward_keys_round_trip_through_a_path() {
        for key in AWKWARD {
            let path = Op::Set.path("ns", key).unwrap();
            let parsed = parse_data_path(&path).unwrap().unwrap();
            assert_eq!(parsed.key, *key, "{path}");
            assert_eq!(parsed.op, Op::Set);
            assert_eq!(parsed.namespace, "ns");
            // Exactly one segment after the namespace.
            assert_eq!(path.matches('/').count(), 3, "{path}");
        }
    }

    #[test]
    fn escaped_and_plain_letters_are_different_keys() {
        assert_eq!(parse_data_path("/get/n/%2541").unwrap().unwrap().key, "%41");
        assert_eq!(parse_data_path("/get/n/%41").unwrap().unwrap().key, "A");
        assert_eq!(parse_data_path("/get/n/a+b").unwrap().unwrap().key, "a+b");
    }

    #[test]
    fn raw_slashes_are_part_of_the_key() {
        assert_eq!(parse_data_path("/get/n/a/b/c").unwrap().unwrap().key, "a/b/c");
    }

    #[test]
    fn malformed_escapes_are_refused() {
        for bad in
            ["/get/n/%", "/get/n/%4", "/get/n/%zz", "/get/n/a%g1", "/get/n/%ff", "/get/n/%c3"]
        {
            assert_eq!(parse_data_path(bad).unwrap_err().code, ErrorCode::InvalidKey, "{bad}");
        }
    }

    #[test]
    fn empty_and_dot_keys_are_refused() {
        for bad in ["/get/n", "/get/n/", "/get/n/.", "/get/n/..", "/get/n/%2e%2E"] {
            assert_eq!(parse_data_path(bad).unwrap_err().code, ErrorCode::InvalidKey, "{bad}");
        }
        assert!(Op::Get.path("n", "..").is_err());
    }

    #[test]
    fn bad_namespaces_are_refused() {
        for bad in ["/get//k", "/get/a%20b/k", "/get/../k", "/set/é/k"] {
            assert_eq!(
                parse_data_path(bad).unwrap_err().code,
                ErrorCode::InvalidNamespace,
                "{bad}"
            );
        }
    }

    #[test]
    fn other_paths_are_not_data_routes() {
        for other in ["", "/", "/get", "/healthz", "/put/n/k", "/GET/n/k", "get/n/k"] {
            assert_eq!(parse_data_path(other).unwrap(), None, "{other}");
        }
    }
}
