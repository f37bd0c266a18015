//! The runkv store server: namespaced, versioned, durable key-value storage
//! over HTTP, compatible with fal's KV REST API.
//!
//! The layers, from the socket in:
//!
//! - [`serve`] runs the HTTP server on a bound listener until a shutdown
//!   future resolves, then closes the store;
//! - [`http`] routes requests and answers them, with [`auth`] deciding who
//!   may do what and [`error`] turning every failure into a JSON answer;
//! - [`store`] holds the data, behind one trait with several backends;
//! - [`expiry`] reclaims expired entries in the background.
//!
//! The binary (`main.rs`) only reads its [`config`], sets up logging and
//! calls [`serve`]; tests call the same function on port 0.

pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod expiry;
pub mod http;
pub mod store;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use runkv_protocol::{DEFAULT_MAX_VALUE_BYTES, MAX_KEY_BYTES};
use tokio::net::TcpListener;

use crate::auth::Tokens;
use crate::clock::{Clock, SystemClock};
use crate::store::Store;

/// Everything a running server needs.
pub struct App {
    /// Where the data lives.
    pub store: Arc<dyn Store>,
    /// The time used for expiry.
    pub clock: Arc<dyn Clock>,
    /// Who may do what.
    pub tokens: Tokens,
    /// Size limits.
    pub limits: Limits,
    /// Which browser origins may call the API.
    pub cors_origins: CorsOrigins,
    /// A directory served as a static site at `/`, if any.
    pub www: Option<PathBuf>,
    /// How often expired entries are reclaimed.
    pub purge_interval: Duration,
}

impl App {
    /// An app with default limits, the system clock, every origin allowed,
    /// and no static site.
    pub fn new(store: Arc<dyn Store>, tokens: Tokens) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
            tokens,
            limits: Limits::default(),
            cors_origins: CorsOrigins::Any,
            www: None,
            purge_interval: Duration::from_secs(10),
        }
    }
}

/// Size limits of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest value, in bytes.
    pub max_value_bytes: usize,
    /// The longest key, in bytes of UTF-8; at most the protocol's 1024.
    pub max_key_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_value_bytes: DEFAULT_MAX_VALUE_BYTES, max_key_bytes: MAX_KEY_BYTES }
    }
}

/// The origins allowed by CORS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// Every origin (`*`). Safe for a token-authenticated API: browsers send
    /// no ambient credentials with it.
    Any,
    /// Only these, e.g. `https://app.example.com`.
    List(Vec<HeaderValue>),
}

/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long requests in flight may still run once shutdown has begun.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting, lets requests in flight finish (for up to
/// [`SHUTDOWN_GRACE`]), and closes the store.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let store = app.store.clone();
    let purge = expiry::spawn(app.store.clone(), app.clock.clone(), app.purge_interval);
    let router = http::router(Arc::new(app));

    // axum::serve offers no header timeout, so connections are served with
    // hyper-util directly: a client that stalls inside its request headers is
    // cut off instead of holding a connection, and a graceful shutdown, open.
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
    let connections = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, for one: wait for some to be freed.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small answers must not wait for Nagle's algorithm.
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
        let connection = connections.watch(connection.into_owned());
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);

    // Graceful shutdown waits for requests in flight, but not forever: a
    // client stalled in the middle of an upload must not keep the store open.
    tokio::select! {
        () = connections.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!(
                grace_secs = SHUTDOWN_GRACE.as_secs(),
                "requests still in flight after the grace period; closing the store anyway"
            );
        }
    }

    purge.abort();
    let closed = store.close().await;
    closed.map_err(std::io::Error::other)?;
    tracing::info!("store closed");
    Ok(())
}
