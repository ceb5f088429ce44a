//! `sanctuary plugin ...`: the plugin author's command line. `new` writes a crate that
//! builds out of the box, `build` compiles it to a component and records its hash in the
//! manifest, `check` loads a component with the host's real runtime and says what it is
//! and whether this host can run it, `keygen`/`sign` make and apply ed25519 signatures,
//! and `install` uploads a plugin into a running server. Progress goes to stderr; results
//! (paths, hashes, reports) to stdout.

pub mod check;
pub mod compile;
pub mod manifest_file;
pub mod scaffold;
pub mod sign;
pub mod upload;

use clap::{Args, Subcommand};

/// `sanctuary plugin <command>`.
#[derive(Debug, Args)]
pub struct PluginArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PluginCommand,
}

/// The plugin author's commands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Create a plugin crate of one kind that builds out of the box.
    New(scaffold::NewArgs),
    /// Build a plugin crate into a wasm32-wasip2 component and record its sha256.
    Build(compile::BuildArgs),
    /// Load a component with this host's runtime and report what it is and exports.
    Check(check::CheckArgs),
    /// Upload a plugin into a running server (admin token needed).
    Install(upload::InstallArgs),
    /// Generate an ed25519 key pair for signing plugins.
    Keygen(sign::KeygenArgs),
    /// Sign a component (and write the signature into its manifest or registry entry).
    Sign(sign::SignArgs),
}

/// Runs one command; the process exit code.
pub async fn run(args: PluginArgs) -> i32 {
    let outcome = match args.command {
        PluginCommand::New(args) => scaffold::run(&args).map(|()| 0),
        PluginCommand::Build(args) => compile::run(&args).map(|_| 0),
        PluginCommand::Check(args) => check::run(&args).await,
        PluginCommand::Install(args) => upload::run(&args).await.map(|()| 0),
        PluginCommand::Keygen(args) => sign::keygen(&args).map(|()| 0),
        PluginCommand::Sign(args) => sign::sign(&args).map(|()| 0),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// A byte count for people: `812 B`, `41.3 KiB`, `2.0 MiB`.
pub fn human_size(bytes: usize) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / KIB / KIB)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> PluginCommand {
        let cli = Cli::try_parse_from(std::iter::once("sanctuary").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        match cli.command {
            Some(Command::Plugin(p)) => p.command,
            other => panic!("not a plugin command: {other:?}"),
        }
    }

    #[test]
    fn the_plugin_subcommands_parse() {
        assert!(matches!(
            parse(&["plugin", "new", "--kind", "mcp-server", "hello"]),
            PluginCommand::New(_)
        ));
        assert!(matches!(
            parse(&["plugin", "build", "--release"]),
            PluginCommand::Build(_)
        ));
        assert!(matches!(
            parse(&["plugin", "check", "x.wasm", "--json"]),
            PluginCommand::Check(_)
        ));
        assert!(matches!(
            parse(&["plugin", "install", "x.wasm", "--manifest", "m.json"]),
            PluginCommand::Install(_)
        ));
        assert!(matches!(
            parse(&["plugin", "keygen", "--out", "key"]),
            PluginCommand::Keygen(_)
        ));
        assert!(matches!(
            parse(&["plugin", "sign", "x.wasm", "--key", "key"]),
            PluginCommand::Sign(_)
        ));
    }

    #[test]
    fn a_plugin_command_does_not_serve() {
        let cli =
            Cli::try_parse_from(["sanctuary", "plugin", "keygen", "--out", "k"]).expect("parses");
        assert!(cli.serve_args().is_none());
    }

    #[test]
    fn an_unknown_kind_is_refused_by_the_parser() {
        let err = Cli::try_parse_from(["sanctuary", "plugin", "new", "--kind", "toaster", "x"])
            .expect_err("bad kind");
        assert!(err.to_string().contains("toaster"), "{err}");
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(42_291), "41.3 KiB");
        assert_eq!(human_size(2 << 20), "2.0 MiB");
    }
}
