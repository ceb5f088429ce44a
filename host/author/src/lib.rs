//! `sanctuary plugin ...`: the plugin author's command line, as its own crate
//! (`sanctuary-author`). `new` writes a crate that builds out of the box, `build` compiles
//! it to a component and records its hash in the manifest, `check` loads a component with
//! the host's real runtime and says what it is and whether this host can run it,
//! `keygen`/`sign` make and apply ed25519 signatures, and `install` uploads a plugin into a
//! running server. Progress goes to stderr; results (paths, hashes, reports) to stdout.
//!
//! It depends on the runtime crate (`sanctuary-runtime`: manifests, signatures, the
//! runtime `check` loads with) and not on the server crate `sanctuary`, which depends on
//! this one for its `plugin` subcommand ([`PluginArgs`], [`run`]).

pub mod check;
pub mod compile;
pub mod manifest_file;
pub mod scaffold;
pub mod sign;
pub mod upload;

#[doc(hidden)]
pub mod testing;

use clap::{Args, Subcommand};
// The runtime's modules under the names the commands use.
use sanctuary_runtime as runtime;
use sanctuary_runtime::{manifest, signing};

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
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(42_291), "41.3 KiB");
        assert_eq!(human_size(2 << 20), "2.0 MiB");
    }
}
