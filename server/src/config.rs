//! Command-line flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::Parser;
use runkv_protocol::{DEFAULT_MAX_VALUE_BYTES, MAX_KEY_BYTES};

use crate::auth::{Grant, Tokens};
use crate::{CorsOrigins, Limits};

/// runkv-server: a durable, namespaced key-value store over HTTP, compatible
/// with fal's KV REST API.
///
/// Every flag can also be set by the environment variable shown with it.
/// Logging goes to stderr; set its level with RUST_LOG (e.g. RUST_LOG=debug
/// for one line per request).
#[derive(Debug, Clone, Parser)]
#[command(name = "runkv-server", version, about, long_about)]
pub struct Config {
    /// Address and port to listen on. Port 0 picks a free port; the address
    /// actually used is printed as "runkv-server listening on http://ADDR".
    #[arg(long, env = "RUNKV_LISTEN", default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,

    /// Directory of the embedded store's files (created if missing).
    #[arg(long, env = "RUNKV_DATA_DIR", default_value = "runkv-data")]
    pub data_dir: PathBuf,

    /// Storage backend: "embedded" (files in --data-dir) or a PostgreSQL URL
    /// (postgres://user:password@host/database).
    #[arg(long, env = "RUNKV_STORE", default_value = "embedded")]
    pub store: String,

    /// TOML file of access tokens: [[tokens]] entries with `token`,
    /// `namespaces` (exact names, "prefix*", or "*" for all) and `access`
    /// ("read-write", the default, or "read-only").
    #[arg(long, env = "RUNKV_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,

    /// One token with read-write access to every namespace. Prefer the
    /// environment variable: command lines are visible to other users. With
    /// neither this nor a tokens file, a random token is generated and
    /// printed, and the server only listens on loopback.
    #[arg(long, env = "RUNKV_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Largest accepted value, in bytes; larger writes are answered 413.
    #[arg(
        long,
        env = "RUNKV_MAX_VALUE_BYTES",
        default_value_t = DEFAULT_MAX_VALUE_BYTES,
        value_parser = clap::builder::TypedValueParser::map(
            clap::value_parser!(u64).range(1..),
            |n| usize::try_from(n).unwrap_or(usize::MAX),
        ),
    )]
    pub max_value_bytes: usize,

    /// Longest accepted key, in bytes of UTF-8 (at most 1024).
    #[arg(
        long,
        env = "RUNKV_MAX_KEY_BYTES",
        default_value_t = MAX_KEY_BYTES,
        value_parser = clap::builder::TypedValueParser::map(
            clap::value_parser!(u16).range(1..=MAX_KEY_BYTES as i64),
            usize::from,
        ),
    )]
    pub max_key_bytes: usize,

    /// Serve the static files of this directory at "/" (for example the demo
    /// page). API paths take precedence.
    #[arg(long, env = "RUNKV_WWW")]
    pub www: Option<PathBuf>,

    /// Browser origins allowed to call the API, comma-separated, or "*" for
    /// any.
    #[arg(long, env = "RUNKV_CORS_ORIGINS", default_value = "*", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Seconds between background passes that reclaim expired entries.
    /// Expired values are never returned, whatever this is.
    #[arg(
        long,
        env = "RUNKV_PURGE_INTERVAL_SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub purge_interval_secs: u64,
}

impl Config {
    /// The configured tokens (file, then `RUNKV_TOKEN`), possibly none.
    pub fn tokens(&self) -> Result<Tokens, String> {
        let mut tokens = Tokens::new();
        if let Some(path) = &self.tokens_file {
            tokens.add_file(path)?;
        }
        if let Some(token) = &self.token {
            tokens.add(token, Grant::full()).map_err(|e| format!("RUNKV_TOKEN: {e}"))?;
        }
        Ok(tokens)
    }

    /// Refuses to expose a server whose only token was generated on the spot
    /// (and printed to a terminal) to the network.
    pub fn check_exposure(&self, tokens: &Tokens) -> Result<(), String> {
        if tokens.is_empty() && !self.listen.ip().is_loopback() {
            return Err(format!(
                "refusing to listen on {} without a configured token: set RUNKV_TOKEN or \
                 --tokens-file, or listen on a loopback address such as 127.0.0.1",
                self.listen
            ));
        }
        Ok(())
    }

    /// The size limits.
    pub fn limits(&self) -> Limits {
        Limits { max_value_bytes: self.max_value_bytes, max_key_bytes: self.max_key_bytes }
    }

    /// The allowed CORS origins.
    pub fn cors_origins(&self) -> Result<CorsOrigins, String> {
        if self.cors_origins.iter().any(|o| o.trim() == "*") {
            return Ok(CorsOrigins::Any);
        }
        let list = self
            .cors_origins
            .iter()
            .map(|o| parse_origin(o.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CorsOrigins::List(list))
    }

    /// The pause between purges of expired entries.
    pub fn purge_interval(&self) -> Duration {
        Duration::from_secs(self.purge_interval_secs)
    }
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing after. Anything else
/// could never equal a request's `Origin` header, so it is refused rather than ignored.
fn parse_origin(origin: &str) -> Result<HeaderValue, String> {
    let bad = |why: &str| {
        format!("bad CORS origin {origin}: {why}; expected scheme://host[:port] (no path)")
    };
    let (scheme, rest) = origin.split_once("://").ok_or_else(|| bad("no scheme"))?;
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+') {
        return Err(bad("the scheme is not valid"));
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return Err(bad("it has no host, or something after the host"));
    }
    HeaderValue::from_str(origin).map_err(|_| bad("it is not a valid header value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_is_well_formed() {
        use clap::CommandFactory;
        Config::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let config = Config::try_parse_from(["runkv-server"]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:7070");
        assert_eq!(config.store, "embedded");
        assert_eq!(config.cors_origins().unwrap(), CorsOrigins::Any);
        assert_eq!(config.limits(), Limits::default());
    }

    #[test]
    fn no_token_means_loopback_only() {
        let public = Config::try_parse_from(["runkv-server", "--listen", "0.0.0.0:80"]).unwrap();
        assert!(public.check_exposure(&Tokens::new()).unwrap_err().contains("refusing"));
        let mut tokens = Tokens::new();
        tokens.add("t", Grant::full()).unwrap();
        assert!(public.check_exposure(&tokens).is_ok());
        let local = Config::try_parse_from(["runkv-server", "--listen", "[::1]:0"]).unwrap();
        assert!(local.check_exposure(&Tokens::new()).is_ok());
    }

    #[test]
    fn value_limit_must_be_positive() {
        assert!(Config::try_parse_from(["runkv-server", "--max-value-bytes", "0"]).is_err());
        let c = Config::try_parse_from(["runkv-server", "--max-value-bytes", "10"]).unwrap();
        assert_eq!(c.limits().max_value_bytes, 10);
    }

    #[test]
    fn cors_origins_must_be_origins() {
        let parse = |list: &str| {
            Config::try_parse_from(["runkv-server", "--cors-origins", list]).unwrap().cors_origins()
        };
        assert!(parse("https://a.example,http://localhost:5173").is_ok());
        for bad in ["https://a.example/", "a.example", "https://", "https://a.example/x", "://x"] {
            assert!(parse(bad).unwrap_err().contains("bad CORS origin"), "{bad}");
        }
    }

    #[test]
    fn key_limit_cannot_exceed_the_protocol() {
        assert!(Config::try_parse_from(["runkv-server", "--max-key-bytes", "1025"]).is_err());
        assert!(Config::try_parse_from(["runkv-server", "--max-key-bytes", "0"]).is_err());
        let c = Config::try_parse_from(["runkv-server", "--max-key-bytes", "8"]).unwrap();
        assert_eq!(c.limits().max_key_bytes, 8);
    }
}
