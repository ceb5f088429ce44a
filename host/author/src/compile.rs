//! `sanctuary plugin build`: compiles a plugin crate to a wasm32-wasip2 component with
//! cargo (adding the target through rustup when it is missing), shows progress as
//! "[N/M] crate" lines read from cargo's JSON messages, then prints the component's path
//! and sha256 and records both in the `manifest.json` beside `Cargo.toml`. A JavaScript
//! or Python plugin directory (a `package.json`, or an `app.py` beside `wit/`) is built by
//! its own toolchain instead ([`languages`]), and recorded the same way.

mod languages;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use serde_json::Value;

use super::manifest_file;
use crate::manifest::MANIFEST_FILE;

/// The component target.
pub const TARGET: &str = "wasm32-wasip2";

/// `sanctuary plugin build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The plugin: a crate (the directory holding its Cargo.toml), or a JavaScript or
    /// Python plugin directory (`sanctuary plugin new --lang js|python`) [default: .].
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Build with the release profile (smaller, faster components).
    #[arg(long)]
    pub release: bool,
}

/// What a build produced.
#[derive(Debug)]
pub struct Built {
    /// The component.
    pub component: PathBuf,
    /// Its sha256, hex.
    pub sha256: String,
}

/// Builds the crate; prints the component path and hash on stdout.
pub fn run(args: &BuildArgs) -> Result<Built> {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let cargo_toml = dir.join("Cargo.toml");
    if !cargo_toml.is_file() {
        if let Some(built) = languages::build(&dir)? {
            return finish(&dir, built);
        }
        bail!(
            "no Cargo.toml, package.json or app.py in {}: not a plugin directory",
            dir.display()
        );
    }
    let cargo_toml = cargo_toml
        .canonicalize()
        .with_context(|| format!("resolving {}", cargo_toml.display()))?;
    let dir = cargo_toml
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    ensure_target(&dir)?;
    let total = crate_count(&dir, &cargo_toml);
    let component = cargo_build(&dir, &cargo_toml, args.release, total)?;
    finish(&dir, component)
}

/// Prints and records a built `component` of the plugin in `dir`: its size, a copy beside
/// the manifest (when it is elsewhere), the manifest's `component` and `sha256`.
fn finish(dir: &Path, component: PathBuf) -> Result<Built> {
    let bytes = std::fs::read(&component)
        .with_context(|| format!("reading the component {}", component.display()))?;
    let sha256 = hex::encode(crate::signing::digest(&bytes));
    eprintln!(
        "built {} ({})",
        component.display(),
        super::human_size(bytes.len())
    );
    // Beside its manifest the component makes the crate directory a complete plugin
    // directory (`manifest.json` + the component it names), ready to check and install.
    let manifest = dir.join(MANIFEST_FILE);
    let component = match component.file_name() {
        Some(name) if manifest.is_file() => {
            let beside = dir.join(name);
            if !same_file(&component, &beside) {
                std::fs::copy(&component, &beside)
                    .with_context(|| format!("copying the component to {}", beside.display()))?;
                eprintln!("copied it to {}", beside.display());
            }
            record(&manifest, &beside, &sha256)?;
            eprintln!("updated {} (component, sha256)", manifest.display());
            beside
        }
        _ => component,
    };
    println!("{}", display_path(&component));
    println!("sha256 {sha256}");
    Ok(Built { component, sha256 })
}

/// Whether `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

/// `path` relative to the working directory when it is under it.
fn display_path(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| cwd.canonicalize().ok())
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// Writes `component`'s file name and `sha256` into the manifest at `path`.
fn record(path: &Path, component: &Path, sha256: &str) -> Result<()> {
    let mut value = manifest_file::read(path)?;
    let Some(map) = value.as_object_mut() else {
        bail!("{} is not a JSON object", path.display());
    };
    if let Some(name) = component.file_name() {
        map.insert(
            "component".into(),
            Value::String(name.to_string_lossy().into_owned()),
        );
    }
    map.insert("sha256".into(), Value::String(sha256.to_string()));
    // A signature of the previous build no longer matches.
    if map.remove("signature").is_some() {
        eprintln!("removed the old signature from the manifest: sign the new build");
    }
    manifest_file::write(path, &value)
}

/// Adds the component target with rustup when the toolchain used in `dir` lacks it.
fn ensure_target(dir: &Path) -> Result<()> {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
        .context("running rustc (is Rust installed? https://rustup.rs)")?;
    if sysroot.status.success() {
        let root = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
        if root.join("lib/rustlib").join(TARGET).is_dir() {
            return Ok(());
        }
    }
    eprintln!("adding the {TARGET} target (rustup target add {TARGET})");
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .current_dir(dir)
        .status()
        .context("running rustup")?;
    if !status.success() {
        bail!("`rustup target add {TARGET}` failed; install the target and build again");
    }
    Ok(())
}

/// How many crates the build compiles, for the progress count (0 when unknown).
fn crate_count(dir: &Path, cargo_toml: &Path) -> usize {
    let output = Command::new("cargo")
        .args([
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            TARGET,
        ])
        .arg("--manifest-path")
        .arg(cargo_toml)
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output();
    let Ok(output) = output else { return 0 };
    serde_json::from_slice::<Value>(&output.stdout)
        .ok()
        .and_then(|v| v["resolve"]["nodes"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// Runs cargo, printing a line per compiled crate; the component's path.
fn cargo_build(dir: &Path, cargo_toml: &Path, release: bool, total: usize) -> Result<PathBuf> {
    let mut command = Command::new("cargo");
    command
        .args(["build", "--quiet", "--target", TARGET])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(cargo_toml)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if release {
        command.arg("--release");
    }
    eprintln!(
        "building {} for {TARGET} ({})",
        dir.display(),
        if release { "release" } else { "debug" }
    );
    let mut child = command.spawn().context("running cargo")?;
    let stdout = child.stdout.take().context("cargo's output")?;
    let mut done = 0usize;
    let mut seen = std::collections::HashSet::new();
    let mut component = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's output")?;
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let kinds = &message["target"]["kind"];
        let is = |kind: &str| {
            kinds
                .as_array()
                .is_some_and(|k| k.iter().any(|x| x == kind))
        };
        if is("custom-build") {
            continue;
        }
        // A package built for the host and for the target counts once.
        if seen.insert(message["package_id"].to_string()) {
            done += 1;
        }
        // Up-to-date crates only move the count; compiled ones get a line.
        if message["fresh"] != true {
            let name = message["target"]["name"].as_str().unwrap_or("?");
            if total > 0 {
                eprintln!("  [{}/{total}] compiled {name}", done.min(total));
            } else {
                eprintln!("  [{done}] compiled {name}");
            }
        }
        let ours = message["manifest_path"]
            .as_str()
            .is_some_and(|p| Path::new(p) == cargo_toml);
        if ours && is("cdylib") {
            component = message["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .find(|f| f.ends_with(".wasm"))
                .map(PathBuf::from);
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    component.context(
        "cargo built no .wasm component: is the crate a `cdylib` (`[lib] crate-type = [\"cdylib\"]`)?",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_a_build_sets_component_and_hash_and_drops_a_stale_signature() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("manifest.json");
        std::fs::write(
            &path,
            r#"{"schema_version":1,"id":"p","name":"P","kind":"health-probe","version":"0.1.0",
               "api":"^0.1","signature":{"key":"k","ed25519":"s"}}"#,
        )
        .expect("write");
        let sha = "ab".repeat(32);
        record(&path, Path::new("/t/wasm32-wasip2/debug/p.wasm"), &sha).expect("records");
        let m =
            crate::manifest::Manifest::from_json(&std::fs::read_to_string(&path).expect("read"))
                .expect("still a valid manifest");
        assert_eq!(m.component.as_deref(), Some("p.wasm"));
        assert_eq!(m.sha256.as_deref(), Some(sha.as_str()));
        assert!(m.signature.is_none());
    }

    #[test]
    fn a_directory_without_a_crate_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = run(&BuildArgs {
            dir: Some(dir.path().to_path_buf()),
            release: false,
        })
        .expect_err("no crate")
        .to_string();
        assert!(err.contains("no Cargo.toml"), "{err}");
    }
}
