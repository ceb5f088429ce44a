//! The `sanctuary` binary: parses the command line, sets up logging, loads the
//! configuration and serves.

use anyhow::Context as _;
use clap::Parser as _;
use sanctuary::cli::Cli;
use sanctuary::config::Config;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing();
    let Some(args) = cli.serve_args() else {
        anyhow::bail!("nothing to do");
    };
    let config = Config::load(args).context("loading the configuration")?;
    tracing::info!(
        source = %config.source.as_deref().map_or("(defaults)".into(), |p| p.display().to_string()),
        data_dir = %config.data_dir.display(),
        "configuration loaded"
    );
    sanctuary::serve(config).await
}

/// Log filter from `SANCTUARY_LOG`, else `RUST_LOG`, else `info`.
fn init_tracing() {
    let filter = ["SANCTUARY_LOG", "RUST_LOG"]
        .into_iter()
        .find_map(|var| {
            let value = std::env::var(var).ok()?;
            EnvFilter::try_new(&value)
                .inspect_err(|err| eprintln!("ignoring {var}={value:?}: {err}"))
                .ok()
        })
        .unwrap_or_else(|| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}
