//! The `sanctuary` binary: parses the command line, sets up logging, loads the
//! configuration, binds and serves ([`sanctuary::serve_on`]); or runs a plugin author's
//! command (`sanctuary plugin ...`).

use anyhow::Context as _;
use clap::Parser as _;
use sanctuary::cli::{Cli, Command};
use sanctuary::config::{Config, LogConfig, LogFormat};
use std::io::IsTerminal as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt as _;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        // One line: what failed, the path or URL, and the fix (the causes joined by `: `).
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Plugin(args)) = cli.command {
        // Author commands print results on stdout; the runtime's own log goes to stderr,
        // warnings only unless SANCTUARY_LOG says otherwise.
        init_tracing_for_commands();
        std::process::exit(sanctuary_author::run(args).await);
    }
    let Some(args) = cli.serve_args() else {
        anyhow::bail!("nothing to do");
    };
    // The configuration says how to log, so it is read first; a failure to read it is
    // printed on stderr by `main`.
    let config = Config::load(args).context("loading the configuration")?;
    init_tracing(&config.log);
    tracing::info!(
        source = %config.source.as_deref().map_or("(defaults)".into(), |p| p.display().to_string()),
        data_dir = %config.data_dir.display(),
        "configuration loaded"
    );
    // Bound before anything starts, so a port in use fails at once.
    let listener = sanctuary::bind(&config).await?;
    // Plugins load in the background: the port answers at once (`/health/ready`).
    let state = sanctuary::AppState::start_serving(config).await?;
    // Memory freed after a burst (expired MCP sessions, big bodies) goes back to the system.
    sanctuary::memory::spawn_trimmer();
    // Hot reload of plugins, config and secrets for the server's life.
    let _watchers = sanctuary::watch_files(&state).await;
    sanctuary::serve_on(listener, state, sanctuary::until_signalled()).await
}

/// For `sanctuary plugin ...`: `SANCTUARY_LOG`, else `warn`, on stderr.
fn init_tracing_for_commands() {
    let filter = std::env::var("SANCTUARY_LOG")
        .ok()
        .and_then(|value| EnvFilter::try_new(value).ok())
        .unwrap_or_else(|| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// The default log filter: this host at `info`; libraries that log what clients send at
/// `info` (rmcp logs a whole `initialize` request, `clientInfo` included) at `warn`.
const DEFAULT_FILTER: &str = "info,rmcp=warn,socketioxide=warn,engineioxide=warn,hyper=warn,hyper_util=warn,h2=warn,sqlx=warn,tower_http=warn";

/// Log filter from `SANCTUARY_LOG`, else `RUST_LOG`, else [`DEFAULT_FILTER`]; lines in
/// `log.format`, coloured only when stdout is a terminal.
fn init_tracing(log: &LogConfig) {
    let filter = ["SANCTUARY_LOG", "RUST_LOG"]
        .into_iter()
        .find_map(|var| {
            let value = std::env::var(var).ok()?;
            EnvFilter::try_new(&value)
                .inspect_err(|err| eprintln!("ignoring {var}={value:?}: {err}"))
                .ok()
        })
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    match log.format {
        LogFormat::Pretty => {
            // Every field escaped and capped: what a client sent cannot forge a line or
            // flood it.
            let fields = tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
                sanctuary::logsafe::write_field(writer, field.name(), value)
            })
            .delimited(" ");
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(std::io::stdout().is_terminal())
                .fmt_fields(fields)
                .init();
        }
        // JSON escapes control characters itself; the request span (its id) is in `spans`.
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
}
