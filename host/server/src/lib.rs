//! Sanctuary: a plugin-host server. It serves the Podplay Sanctuary HTTP API and
//! Socket.IO events, while every integration (MCP servers, AI providers, scout checks,
//! health probes) is a WebAssembly component run in a wasmtime sandbox.
//!
//! `main.rs` parses the command line, binds and calls [`serve_on`]; tests build the same
//! router with [`app`] and drive it with `oneshot`, serve it in process with [`serve_on`] on
//! a listener of their own, or start the real binary (which tells its address through
//! `--port-file`).

pub mod access;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod console;
pub mod db;
pub mod error;
pub mod jobs;
pub mod listener;
pub mod mcp;
pub mod memory;
pub mod metrics;
pub mod providers;
pub mod reload;
pub mod scout;
pub mod socket;
pub mod state;
pub mod telemetry;
pub mod workspace;

// The plugin runtime (`host/runtime`), the plugins (`host/plugins`), chat (`host/chat`;
// `providers` below adds the status view and the stored bindings) and the
// MCP side (`host/mcp`; `mcp` below adds its HTTP transport) are crates of their own; these
// paths keep naming their modules as the server always has (`system` holds the
// machine sampler, `plugins` the live set).
pub use sanctuary_chat::{cache, chat};
pub use sanctuary_mcp::terminal;
pub use sanctuary_plugins as plugins;
pub use sanctuary_plugins::{install, registry, watch, watcher};
pub use sanctuary_runtime as runtime;
pub use sanctuary_runtime::{clock, logsafe, manifest, sandbox, signing, system};

use anyhow::Context as _;
use axum::Router;
use tracing::{info, warn};

pub use config::Config;
pub use state::AppState;

/// The whole HTTP + Socket.IO application over `state`.
pub fn app(state: AppState) -> Router {
    let cors = api::cors_layer(&state.config.cors);
    let auth_state = state.clone();
    let (socket_layer, _io) = socket::layer(state.clone());
    // One Socket.IO service wrapping the whole API. `Router::layer` would call the layer
    // once per route, and socketioxide gives every such call its own Engine.IO session
    // table: a long-polling client whose requests land on different connections then
    // finds its session unknown.
    let service = tower::Layer::layer(&socket_layer, api::router(state));
    // Credentials and rate limits outside Socket.IO, so polling requests count too; inside
    // CORS, so a 401 or 429 still carries the CORS headers a browser needs to read it.
    let guarded = auth::guard::outer(Router::new().fallback_service(service), &auth_state);
    // While the plugins load at start-up, requests that need them wait (bounded) rather
    // than meet an incomplete set; inside CORS so a 503 is readable by a browser.
    let cors_config = auth_state.config.cors.clone();
    let access_log = auth_state.config.log.access;
    let gated = guarded.layer(axum::middleware::from_fn_with_state(
        auth_state,
        api::health::startup_gate,
    ));
    // Cross-origin WebSocket and Socket.IO requests are refused before they reach either.
    let app = api::origin_guard(gated, &cors_config).layer(cors);
    // Outermost: every answer, refusals included, carries a request id and is logged.
    app.layer(axum::middleware::from_fn_with_state(
        access_log,
        access::layer,
    ))
}

/// Binds the listening socket `config.host:config.port` (port 0 picks a free one).
pub async fn bind(config: &Config) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = format!("{}:{}", config.host, config.port);
    tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("bind {addr}"))
}

/// What keeps a serving state following its files: the plugins-directory watcher (hot
/// reload) and the config and secrets file watcher. Dropping it stops both.
pub struct Watchers {
    _plugins: Option<watch::WatchHandle>,
    _config: Option<reload::ConfigWatch>,
}

/// Starts the [`Watchers`] over `state`. A watcher that cannot start (say, out of inotify
/// watches) is logged and left out: the server still serves, and installs through the
/// API still load.
pub async fn watch_files(state: &AppState) -> Watchers {
    let plugins = watch::spawn(state.plugins.clone())
        .inspect_err(|e| warn!(cause = %format!("{e:#}"), "not watching the plugins directory"))
        .ok();
    // Routes, breaker, plugin settings and secrets follow the config files while serving.
    let config = reload::spawn(state.clone())
        .await
        .inspect_err(|e| warn!(cause = %format!("{e:#}"), "not watching the config file"))
        .ok()
        .flatten();
    Watchers {
        _plugins: plugins,
        _config: config,
    }
}

/// Serves `state`'s app on `listener` until `shutdown` completes, with the connection
/// limits of `[server]`. Once it listens it writes the bound address to
/// `state.config.port_file`, if set (removed again when serving stops). `main` binds,
/// starts the state and its [`Watchers`], then calls this; tests hand it a listener on
/// `127.0.0.1:0`.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let local = listener.local_addr().context("the listener's address")?;
    info!(
        address = %local,
        plugins = state.plugins.list().len(),
        database = state.db.kind(),
        "sanctuary listening on http://{local}"
    );
    // Connection limits (`[server]`); the peer address feeds per-client rate limits.
    let limits = listener::Limits::from_config(&state.config.server);
    info!(
        max_connections = limits.max_connections,
        header_timeout_secs = limits.header_timeout.as_secs(),
        body_timeout_secs = limits.body_timeout.as_secs(),
        idle_timeout_secs = limits.idle_timeout.as_secs(),
        "connection limits"
    );
    let port_file = state.config.port_file.clone();
    if let Some(path) = &port_file {
        listener::port_file::write(path, local)?;
    }
    listener::serve(listener, app(state), limits, shutdown).await;
    if let Some(path) = &port_file {
        listener::port_file::remove(path, local);
    }
    info!("sanctuary stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM, after closing the open MCP streams (which would
/// otherwise hold the shutdown until their clients leave): `main`'s `shutdown` for
/// [`serve_on`].
pub async fn until_signalled() {
    shutdown_signal().await;
    mcp::http::close_sessions();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
