//! Sanctuary: a plugin-host server. It serves the Podplay Sanctuary HTTP API and
//! Socket.IO events, while every integration (MCP servers, AI providers, scout checks,
//! health probes) is a WebAssembly component run in a wasmtime sandbox.
//!
//! `main.rs` parses the command line and calls [`serve`]; tests build the same router with
//! [`app`] and drive it with `oneshot`, or start the real binary.

pub mod access;
pub mod api;
pub mod audit;
pub mod auth;
pub mod authoring;
pub mod cache;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod db;
pub mod error;
pub mod install;
pub mod jobs;
pub mod listener;
pub mod logsafe;
pub mod mcp;
pub mod memory;
pub mod metrics;
pub mod plugins;
pub mod providers;
pub mod registry;
pub mod scout;
pub mod socket;
pub mod state;
pub mod system;
pub mod telemetry;
pub mod terminal;
pub mod watch;
pub mod workspace;

// The plugin runtime is its own crate (`host/runtime`); these paths keep naming its
// modules as the server always has.
pub use sanctuary_runtime as runtime;
pub use sanctuary_runtime::{manifest, sandbox, signing};

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

/// Starts everything for `config` and serves until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = format!("{}:{}", config.host, config.port);
    // Plugins load in the background: the port answers at once (`/health/ready`).
    let state = AppState::start_serving(config).await?;
    // Memory freed after a burst (expired MCP sessions, big bodies) goes back to the system.
    memory::spawn_trimmer();
    // Hot reload for the server's life; without it (say, out of inotify watches) the
    // server still serves, and installs through the API still load.
    let _watcher = watch::spawn(state.plugins.clone())
        .inspect_err(|e| warn!(cause = %format!("{e:#}"), "not watching the plugins directory"))
        .ok();
    // Routes, breaker, plugin settings and secrets follow the config files while serving.
    let _config_watch = providers::reload::spawn(state.clone())
        .await
        .inspect_err(|e| warn!(cause = %format!("{e:#}"), "not watching the config file"))
        .ok()
        .flatten();
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("bind {addr}"))?;
    let local = listener.local_addr()?;
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
    listener::serve(listener, app(state), limits, async {
        shutdown_signal().await;
        // Open MCP streams would otherwise hold the shutdown until clients leave.
        mcp::http::close_sessions();
    })
    .await;
    info!("sanctuary stopped");
    Ok(())
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
