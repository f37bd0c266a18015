//! Tokens, their scopes, and the check every data request passes.
//!
//! A token grants a set of namespaces (exact names, or prefixes written with
//! a trailing `*`; `*` alone is every namespace) with read-only or read-write
//! access. A request without a known token is answered 401; a known token
//! used outside its grant, 403.

use std::path::Path;

use axum::http::HeaderValue;
use runkv_protocol::{validate_namespace, ErrorCode};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// What a token may do in its namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// `GET` only.
    ReadOnly,
    /// `GET`, `PUT` and `DELETE`.
    #[default]
    ReadWrite,
}

/// One namespace pattern of a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Exactly this namespace.
    Exact(String),
    /// Every namespace that starts with this (`""` for all).
    Prefix(String),
}

impl Scope {
    /// Parses `name`, `prefix*` or `*`.
    pub fn parse(pattern: &str) -> Result<Scope, String> {
        let scope = match pattern.strip_suffix('*') {
            Some(prefix) => Scope::Prefix(prefix.to_owned()),
            None => Scope::Exact(pattern.to_owned()),
        };
        // A prefix must itself be made of namespace characters; checking it
        // with a stand-in final character reuses the namespace rule.
        let check = match &scope {
            Scope::Exact(name) => validate_namespace(name),
            Scope::Prefix(p) if p.is_empty() => Ok(()),
            Scope::Prefix(p) => validate_namespace(&format!("{p}x")),
        };
        check.map_err(|e| format!("namespace pattern {pattern:?}: {}", e.message))?;
        Ok(scope)
    }

    fn allows(&self, ns: &str) -> bool {
        match self {
            Scope::Exact(name) => name == ns,
            Scope::Prefix(prefix) => ns.starts_with(prefix.as_str()),
        }
    }
}

/// What one token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The namespaces it may use.
    pub scopes: Vec<Scope>,
    /// Read-only or read-write.
    pub access: Access,
}

impl Grant {
    /// Every namespace, read-write.
    pub fn full() -> Self {
        Self { scopes: vec![Scope::Prefix(String::new())], access: Access::ReadWrite }
    }
}

/// The configured tokens.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<(Vec<u8>, Grant)>,
}

impl std::fmt::Debug for Tokens {
    // Never print a token, not even in a debug dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("count", &self.entries.len()).finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    tokens: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    token: String,
    namespaces: Vec<String>,
    #[serde(default)]
    access: Access,
}

impl Tokens {
    /// No tokens.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token. Empty tokens and tokens with whitespace are refused: they
    /// cannot be sent in an `Authorization` header.
    pub fn add(&mut self, token: &str, grant: Grant) -> Result<(), String> {
        if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("a token must be non-empty and have no spaces or control characters".into());
        }
        // Two grants for one token would leave its rights to the order of
        // configuration; refuse rather than silently pick one.
        if self.entries.iter().any(|(known, _)| known == token.as_bytes()) {
            return Err("this token is configured twice; give each token one entry".into());
        }
        self.entries.push((token.as_bytes().to_vec(), grant));
        Ok(())
    }

    /// Adds the tokens of a TOML tokens file.
    pub fn add_file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read tokens file {}: {e}", path.display()))?;
        let file: TokensFile =
            toml::from_str(&text).map_err(|e| format!("tokens file {}: {e}", path.display()))?;
        for (i, entry) in file.tokens.into_iter().enumerate() {
            let context =
                |e: String| format!("tokens file {}, token {}: {e}", path.display(), i + 1);
            let scopes = entry
                .namespaces
                .iter()
                .map(|p| Scope::parse(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(context)?;
            self.add(&entry.token, Grant { scopes, access: entry.access }).map_err(context)?;
        }
        Ok(())
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks the `Authorization` header of a request for `ns`.
    pub fn authorize(
        &self,
        header: Option<&HeaderValue>,
        ns: &str,
        write: bool,
    ) -> Result<(), ApiError> {
        let unauthorized = |why: &str| ApiError::new(ErrorCode::Unauthorized, why);
        let header = header.ok_or_else(|| {
            unauthorized("missing Authorization header: send \"Bearer <token>\" or \"Key <token>\"")
        })?;
        let token = parse_authorization(header).ok_or_else(|| {
            unauthorized("malformed Authorization header: expected \"Bearer <token>\"")
        })?;
        let grant = self.lookup(token).ok_or_else(|| unauthorized("unknown token"))?;

        if !grant.scopes.iter().any(|s| s.allows(ns)) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("this token may not use namespace {ns:?}"),
            ));
        }
        if write && grant.access == Access::ReadOnly {
            return Err(ApiError::new(ErrorCode::Forbidden, "this token is read-only"));
        }
        Ok(())
    }

    /// The grant of `token`. Every configured token is compared, each in
    /// constant time, so the answer's timing does not tell how much of a
    /// guess was right or which entry matched.
    fn lookup(&self, token: &[u8]) -> Option<&Grant> {
        let mut found = None;
        for (candidate, grant) in &self.entries {
            if bool::from(candidate.as_slice().ct_eq(token)) && found.is_none() {
                found = Some(grant);
            }
        }
        found
    }
}

/// The token of `Bearer <token>` or `Key <token>` (scheme case-insensitive).
fn parse_authorization(header: &HeaderValue) -> Option<&[u8]> {
    let value = header.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("key");
    let token = token.trim();
    (known && !token.is_empty()).then_some(token.as_bytes())
}

/// A new random token: 32 bytes from the OS, hex-encoded.
pub fn generate_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("cannot get random bytes: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_configured_twice_is_refused() {
        let mut t = tokens();
        let err = t.add("ro", Grant::full()).unwrap_err();
        assert!(err.contains("twice"), "{err}");
    }

    fn tokens() -> Tokens {
        let mut t = Tokens::new();
        let scopes = vec![Scope::parse("demo").unwrap(), Scope::parse("cache-*").unwrap()];
        t.add("rw", Grant { scopes: scopes.clone(), access: Access::ReadWrite }).unwrap();
        t.add("ro", Grant { scopes, access: Access::ReadOnly }).unwrap();
        t.add("all", Grant::full()).unwrap();
        t
    }

    fn check(t: &Tokens, header: Option<&str>, ns: &str, write: bool) -> Result<(), ErrorCode> {
        let header = header.map(|h| HeaderValue::from_str(h).unwrap());
        t.authorize(header.as_ref(), ns, write).map_err(|e| e.code)
    }

    #[test]
    fn schemes() {
        let t = tokens();
        assert_eq!(check(&t, Some("Bearer rw"), "demo", true), Ok(()));
        assert_eq!(check(&t, Some("Key rw"), "demo", true), Ok(()));
        assert_eq!(check(&t, Some("bearer rw"), "demo", true), Ok(()));
        assert_eq!(check(&t, Some("Basic rw"), "demo", true), Err(ErrorCode::Unauthorized));
        assert_eq!(check(&t, Some("rw"), "demo", true), Err(ErrorCode::Unauthorized));
        assert_eq!(check(&t, None, "demo", false), Err(ErrorCode::Unauthorized));
        assert_eq!(check(&t, Some("Bearer nope"), "demo", false), Err(ErrorCode::Unauthorized));
        assert_eq!(check(&t, Some("Bearer r"), "demo", false), Err(ErrorCode::Unauthorized));
    }

    #[test]
    fn scopes_and_access() {
        let t = tokens();
        assert_eq!(check(&t, Some("Bearer rw"), "cache-x", true), Ok(()));
        assert_eq!(check(&t, Some("Bearer rw"), "cache-", true), Ok(()));
        assert_eq!(check(&t, Some("Bearer rw"), "demo2", false), Err(ErrorCode::Forbidden));
        assert_eq!(check(&t, Some("Bearer rw"), "cache", false), Err(ErrorCode::Forbidden));
        assert_eq!(check(&t, Some("Bearer ro"), "demo", false), Ok(()));
        assert_eq!(check(&t, Some("Bearer ro"), "demo", true), Err(ErrorCode::Forbidden));
        assert_eq!(check(&t, Some("Bearer all"), "anything", true), Ok(()));
    }

    #[test]
    fn patterns() {
        assert_eq!(Scope::parse("*").unwrap(), Scope::Prefix(String::new()));
        assert_eq!(Scope::parse("a-*").unwrap(), Scope::Prefix("a-".into()));
        for bad in ["", "a b", "a*b", "**", "é*"] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.toml");
        std::fs::write(
            &path,
            "[[tokens]]\ntoken = \"secret-1\"\nnamespaces = [\"demo\", \"cache-*\"]\n\
             access = \"read-only\"\n\n[[tokens]]\ntoken = \"secret-2\"\nnamespaces = [\"*\"]\n",
        )
        .unwrap();
        let mut t = Tokens::new();
        t.add_file(&path).unwrap();
        assert_eq!(check(&t, Some("Key secret-1"), "demo", true), Err(ErrorCode::Forbidden));
        assert_eq!(check(&t, Some("Key secret-2"), "x", true), Ok(()));

        std::fs::write(&path, "[[tokens]]\ntoken = \"s\"\nnamespaces = [\"a b\"]\n").unwrap();
        assert!(Tokens::new().add_file(&path).unwrap_err().contains("a b"));
        std::fs::write(&path, "[[tokens]]\ntoken = \"s\"\nnamespace = [\"a\"]\n").unwrap();
        assert!(Tokens::new().add_file(&path).is_err());
    }

    #[test]
    fn generated_tokens_are_long_and_distinct() {
        let a = generate_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, generate_token().unwrap());
    }
}
