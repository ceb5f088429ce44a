//! The `sanctuary` command line: the subcommands, and the serve flags with their
//! `SANCTUARY_*` environment variables ([`ServeArgs`], defined beside the config shape they
//! set in `config/flags.rs`). Parsing only; [`crate::config::Config::load`] turns
//! [`ServeArgs`] into the resolved configuration.

use clap::{Parser, Subcommand};

/// Sanctuary: a plugin-host server whose every integration is a sandboxed WebAssembly
/// component.
///
/// Without a subcommand it serves (HTTP and Socket.IO on one port). Every flag can also be
/// set by the environment variable shown beside it; a flag or variable beats the config
/// file, which beats the built-in default.
#[derive(Debug, Parser)]
#[command(
    name = "sanctuary",
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Serve options, when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands. Parsed once at start, so the size of the serve flags is not worth
/// boxing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API and Socket.IO (the default).
    Serve(ServeArgs),
    /// Write, build, check, sign and install plugins (`sanctuary plugin --help`).
    Plugin(sanctuary_author::PluginArgs),
}

/// Where and how to serve: the flags, defined with the config shape they set.
pub use crate::config::ServeArgs;

impl Cli {
    /// The serve options, whether given at the top level or after `serve`.
    pub fn serve_args(&self) -> Option<&ServeArgs> {
        match &self.command {
            None => Some(&self.serve),
            Some(Command::Serve(args)) => Some(args),
            Some(Command::Plugin(_)) => None,
        }
    }
}

#[cfg(test)]
mod plugin_tests;

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("sanctuary").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_means_serve_with_the_top_level_flags() {
        let cli = parse(&["--port", "0", "--host", "127.0.0.1"]).expect("parses");
        assert!(cli.command.is_none());
        let args = cli.serve_args().expect("serves");
        assert_eq!(args.port, Some(0));
        assert_eq!(args.host.as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn the_serve_subcommand_takes_the_same_flags() {
        let cli = parse(&[
            "serve",
            "--data-dir",
            "/tmp/x",
            "--database-url",
            "postgres://h/db",
        ])
        .expect("parses");
        let args = cli.serve_args().expect("serves");
        assert_eq!(args.data_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(args.database_url.as_deref(), Some("postgres://h/db"));
    }

    #[test]
    fn top_level_flags_before_a_subcommand_are_refused_rather_than_ignored() {
        assert!(parse(&["--port", "1", "serve"]).is_err());
    }

    #[test]
    fn the_port_file_flag_takes_a_path() {
        let cli = parse(&["--port", "0", "--port-file", "/tmp/sanctuary.port"]).expect("parses");
        let args = cli.serve_args().expect("serves");
        assert_eq!(args.port_file, Some(PathBuf::from("/tmp/sanctuary.port")));
    }

    #[test]
    fn a_port_out_of_range_is_refused() {
        assert!(parse(&["--port", "70000"]).is_err());
    }

    #[test]
    fn every_serve_flag_has_its_sanctuary_environment_variable() {
        let command = Cli::command();
        let env_of = |id: &str| {
            command
                .get_arguments()
                .find(|arg| arg.get_id() == id)
                .and_then(|arg| arg.get_env())
                .map(|env| env.to_string_lossy().into_owned())
        };
        for (id, env) in [
            ("host", "SANCTUARY_HOST"),
            ("port", "SANCTUARY_PORT"),
            ("port_file", "SANCTUARY_PORT_FILE"),
            ("data_dir", "SANCTUARY_DATA_DIR"),
            ("config", "SANCTUARY_CONFIG"),
            ("database_url", "SANCTUARY_DATABASE_URL"),
            ("redis_url", "SANCTUARY_REDIS_URL"),
            ("redis_prefix", "SANCTUARY_REDIS_PREFIX"),
            ("cache_dir", "SANCTUARY_CACHE_DIR"),
            ("secrets_file", "SANCTUARY_SECRETS_FILE"),
            ("rate_limit", "SANCTUARY_RATE_LIMIT"),
            ("header_timeout", "SANCTUARY_HEADER_TIMEOUT"),
            ("body_timeout", "SANCTUARY_BODY_TIMEOUT"),
            ("idle_timeout", "SANCTUARY_IDLE_TIMEOUT"),
            ("max_connections", "SANCTUARY_MAX_CONNECTIONS"),
            ("batch_timeout", "SANCTUARY_BATCH_TIMEOUT"),
            (
                "health_probe_timeout_ms",
                "SANCTUARY_HEALTH_PROBE_TIMEOUT_MS",
            ),
            ("reserved_env", "SANCTUARY_RESERVED_ENV"),
            ("log_format", "SANCTUARY_LOG_FORMAT"),
            ("access_log", "SANCTUARY_ACCESS_LOG"),
        ] {
            assert_eq!(env_of(id).as_deref(), Some(env), "flag {id}");
        }
    }
}
