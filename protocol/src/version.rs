//! Versions of stored values, as entity tags, and conditional-request headers.

use crate::{ErrorCode, ProtocolError};

/// The version of a stored value: a positive number that changes on every
/// write of the key. Versions of one key only ever grow.
///
/// On the wire it is the `ETag` `"<n>"`; the SDK exposes it as the decimal
/// string `<n>` (a string, because it may exceed JavaScript's safe integers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

impl Version {
    /// The strong entity tag: the number in double quotes.
    pub fn to_etag(self) -> String {
        format!("\"{}\"", self.0)
    }

    /// Parses one entity tag: `"17"`, `W/"17"` or a bare `17`.
    pub fn parse_etag(raw: &str) -> Option<Version> {
        let raw = raw.trim();
        let raw = raw.strip_prefix("W/").unwrap_or(raw);
        let digits = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(raw);
        if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().filter(|&n| n > 0).map(Version)
    }
}

impl core::fmt::Display for Version {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The value of an `If-Match` or `If-None-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any current value.
    Any,
    /// One or more versions, any of which matches.
    Versions(Vec<Version>),
}

impl Precondition {
    /// Parses a header value: `*`, or a comma-separated list of entity tags.
    pub fn parse(raw: &str) -> Result<Precondition, ProtocolError> {
        if raw.trim() == "*" {
            return Ok(Precondition::Any);
        }
        let versions: Option<Vec<Version>> = raw.split(',').map(Version::parse_etag).collect();
        match versions {
            Some(v) if !v.is_empty() => Ok(Precondition::Versions(v)),
            _ => Err(ProtocolError::new(
                ErrorCode::InvalidPrecondition,
                format!("invalid precondition '{raw}': expected * or entity tags such as \"17\""),
            )),
        }
    }

    /// Whether the key's current version (`None` when absent) matches.
    pub fn matches(&self, current: Option<Version>) -> bool {
        match (self, current) {
            (_, None) => false,
            (Precondition::Any, Some(_)) => true,
            (Precondition::Versions(list), Some(v)) => list.contains(&v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_round_trip() {
        let v = Version(42);
        assert_eq!(v.to_etag(), "\"42\"");
        assert_eq!(Version::parse_etag(&v.to_etag()), Some(v));
        assert_eq!(Version::parse_etag("W/\"42\""), Some(v));
        assert_eq!(Version::parse_etag("42"), Some(v));
        for bad in ["", "\"\"", "\"x\"", "0", "-1", "\"4 2\""] {
            assert_eq!(Version::parse_etag(bad), None, "{bad}");
        }
    }

    #[test]
    fn preconditions() {
        let any = Precondition::parse("*").unwrap();
        assert!(any.matches(Some(Version(1))));
        assert!(!any.matches(None));

        let list = Precondition::parse("\"3\", \"5\"").unwrap();
        assert!(list.matches(Some(Version(5))));
        assert!(!list.matches(Some(Version(4))));
        assert!(!list.matches(None));

        for bad in ["", "abc", "\"1\",", "**"] {
            assert_eq!(Precondition::parse(bad).unwrap_err().code, ErrorCode::InvalidPrecondition);
        }
    }
}
