//! Which namespaces and keys are valid.

use crate::{ErrorCode, ProtocolError, MAX_KEY_BYTES, MAX_NAMESPACE_LEN};

/// Checks a namespace: 1 to 64 characters from `[A-Za-z0-9._-]`, and not `.`
/// or `..`.
///
/// The character set needs no percent-encoding, so a namespace reads the same
/// in a URL, a log line and a token's scope. `.` and `..` are refused because
/// URL parsers remove such path segments before a request is sent.
pub fn validate_namespace(ns: &str) -> Result<(), ProtocolError> {
    let fail = |why: &str| {
        Err(ProtocolError::new(
            ErrorCode::InvalidNamespace,
            format!(
                "invalid namespace: {why}; a namespace is 1 to {MAX_NAMESPACE_LEN} \
                 characters from A-Z a-z 0-9 . _ -, and not . or .."
            ),
        ))
    };
    if ns.is_empty() {
        return fail("it is empty");
    }
    if ns.len() > MAX_NAMESPACE_LEN {
        return fail("it is too long");
    }
    if !ns.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return fail("it has a character outside the allowed set");
    }
    if ns == "." || ns == ".." {
        return fail("it is a dot segment");
    }
    Ok(())
}

/// Checks a key (already decoded): not empty, at most `max_bytes` bytes of
/// UTF-8, and not `.` or `..`.
///
/// Any other string is a valid key, byte for byte: no Unicode normalisation,
/// no trimming, no case folding. `.` and `..` are refused because every URL
/// parser on the way (browsers, `fetch`, proxies) resolves them as relative
/// path segments, even when they are written `%2e%2e`, so such a key could
/// never be addressed reliably.
pub fn validate_key(key: &str, max_bytes: usize) -> Result<(), ProtocolError> {
    if key.is_empty() {
        return Err(ProtocolError::new(ErrorCode::InvalidKey, "invalid key: it is empty"));
    }
    if key.len() > max_bytes {
        return Err(ProtocolError::new(
            ErrorCode::InvalidKey,
            format!("invalid key: it is {} bytes, the limit is {max_bytes}", key.len()),
        ));
    }
    if key == "." || key == ".." {
        return Err(ProtocolError::new(
            ErrorCode::InvalidKey,
            "invalid key: . and .. are path segments that URLs cannot carry",
        ));
    }
    Ok(())
}

/// [`validate_key`] with the protocol's limit, [`MAX_KEY_BYTES`].
pub(crate) fn validate_key_default(key: &str) -> Result<(), ProtocolError> {
    validate_key(key, MAX_KEY_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces() {
        for ok in ["a", "A-z_0.9", "...", &"n".repeat(64)] {
            assert!(validate_namespace(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", "a%41", &"n".repeat(65)] {
            let err = validate_namespace(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidNamespace, "{bad}");
        }
    }

    #[test]
    fn keys() {
        for ok in ["a", " ", "a/b", "?#%+", "%41", "...", "é", "🦀", &"k".repeat(1024)] {
            assert!(validate_key_default(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", &"k".repeat(1025), &"é".repeat(513)] {
            assert_eq!(validate_key_default(bad).unwrap_err().code, ErrorCode::InvalidKey);
        }
    }
}
