//! The `runkv-server` binary: reads its configuration, sets up logging, binds
//! the listener and hands over to the library.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use runkv_server::auth::{generate_token, Grant};
use runkv_server::config::Config;
use runkv_server::{serve, store, App};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

// Every request allocates a little (headers, bodies, JSON); mimalloc serves
// these small, short-lived allocations from thread-local pages, which measurably
// raises throughput over the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,fjall=warn,lsm_tree=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();

    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "runkv-server failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let mut tokens = config.tokens()?;
    config.check_exposure(&tokens)?;
    let cors_origins = config.cors_origins()?;
    let generated = if tokens.is_empty() {
        let token = generate_token()?;
        tokens.add(&token, Grant::full())?;
        Some(token)
    } else {
        None
    };

    // Bind before opening the store, so that a taken port leaves no data
    // directory behind.
    let listener = TcpListener::bind(config.listen).await.map_err(|e| {
        format!("cannot listen on {}: {e}; choose another address with --listen", config.listen)
    })?;
    let store = store::open(&config.store, &config.data_dir).await?;
    let addr = listener.local_addr()?;

    // Test harnesses and users read these lines; the "listening" line comes
    // last, so whoever waits for it has everything before it.
    let mut out = std::io::stdout().lock();
    if let Some(token) = &generated {
        writeln!(out, "token: {token}")?;
        if config.www.is_some() {
            writeln!(out, "open: http://{addr}/#token={token}")?;
        }
    }
    writeln!(out, "runkv-server listening on http://{addr}")?;
    out.flush()?;
    drop(out);
    tracing::info!(%addr, store = store_kind(&config.store), "runkv-server started");

    let mut app = App::new(store, tokens);
    app.limits = config.limits();
    app.cors_origins = cors_origins;
    app.www = config.www.clone();
    app.purge_interval = config.purge_interval();
    serve(listener, app, shutdown_signal()).await?;
    tracing::info!("runkv-server stopped");
    Ok(())
}

/// The store's kind for logs: a PostgreSQL URL may hold a password.
fn store_kind(spec: &str) -> &str {
    if spec == "embedded" {
        "embedded"
    } else {
        "postgres"
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
