//! What the two build scripts that compile guest components share, the way wasmtime's
//! `test-programs/artifacts` does it: find the crates under a folder, run one nested
//! `cargo build --target wasm32-wasip2 --profile plugin` over them, and name the built
//! `.wasm` files.
//!
//! The product (`host/plugins/build.rs`) builds only the first-party plugins (`plugins/*`);
//! the dev-only artifacts crate (`tests/artifacts/build.rs`) builds the test fixtures
//! (`tests/fixtures/*`). Both build into the same directory, `<target>/wasm-plugins`,
//! shared by debug and release host builds, so every guest dependency compiles once.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The guest target.
pub const TARGET: &str = "wasm32-wasip2";
/// The cargo profile guests are built with (root `Cargo.toml`: small and fast).
pub const PROFILE: &str = "plugin";

/// One guest crate.
#[derive(Debug, Clone)]
pub struct Crate {
    /// Directory name (`time`, `hostile-loop`, ...).
    pub dir: String,
    /// Cargo package name.
    pub package: String,
    /// Path of the crate directory.
    pub path: PathBuf,
}

impl Crate {
    /// Its `manifest.json` (the plugin manifest beside `Cargo.toml`).
    pub fn manifest(&self) -> PathBuf {
        self.path.join("manifest.json")
    }
}

/// The workspace root, `levels` folders above `CARGO_MANIFEST_DIR`.
pub fn workspace_root(levels: usize) -> PathBuf {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(levels)
        .expect("the crate sits inside the workspace")
        .to_path_buf()
}

/// Tells cargo to run the build script again when any of `paths` (relative to `root`)
/// changes.
pub fn rerun_if_changed(root: &Path, paths: &[&str]) {
    for watched in paths {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
}

/// Crates directly under `dir` (each a folder with a `Cargo.toml`), sorted by name.
/// Folders without one are skipped: plugins in other languages (`plugins/python-notes`)
/// are built by their own toolchains and are excluded from the workspace.
pub fn find_crates(dir: &Path) -> Vec<Crate> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut crates: Vec<Crate> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|path| {
            let toml = fs::read_to_string(path.join("Cargo.toml")).expect("read Cargo.toml");
            let package = package_name(&toml)
                .unwrap_or_else(|| panic!("no package name in {}", path.display()));
            let dir = path
                .file_name()
                .expect("crate dir name")
                .to_string_lossy()
                .into_owned();
            Crate { dir, package, path }
        })
        .collect();
    crates.sort_by(|a, b| a.dir.cmp(&b.dir));
    crates
}

/// The `name = "..."` of the `[package]` table; plugin manifests are simple enough that a
/// line scan is all this needs (a build script cannot use the workspace's toml crate
/// without building it twice).
pub fn package_name(toml: &str) -> Option<String> {
    let mut in_package = false;
    for line in toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(rest) = line.strip_prefix("name") {
            let value = rest.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_string());
        }
    }
    None
}

/// `<target>/wasm-plugins`, where `<target>` is the directory holding this build's
/// profile directories (found from `OUT_DIR`, which lives inside it). Shared by debug and
/// release builds, and by both build scripts, so the components are compiled once.
pub fn wasm_target_dir() -> PathBuf {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let target = out_dir
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.join("wasm"));
    target.join("wasm-plugins")
}

/// The built component of `c` under `target_dir`.
pub fn artifact_path(target_dir: &Path, c: &Crate) -> PathBuf {
    target_dir
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{}.wasm", c.package.replace('-', "_")))
}

/// Builds `crates` (from the workspace at `root`) into `target_dir` with one nested
/// cargo, installing the wasm target first if the toolchain lacks it. Nothing to build is
/// no build.
pub fn build(root: &Path, target_dir: &Path, crates: &[Crate]) {
    if crates.is_empty() {
        return;
    }
    ensure_wasm_target();
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .arg("build")
        .arg("--target")
        .arg(TARGET)
        .arg("--profile")
        .arg(PROFILE)
        .arg("--target-dir")
        .arg(target_dir);
    for c in crates {
        cmd.arg("-p").arg(&c.package);
    }
    // Flags meant for the host build must not leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PROFILE_RELEASE_DEBUG",
        "CARGO_LLVM_COV",
        "RUSTC_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let output = cmd
        .output()
        .expect("run cargo to build the guest components");
    if !output.status.success() {
        panic!(
            "building the guest components failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for c in crates {
        println!("cargo:rerun-if-changed={}", c.path.display());
    }
}

/// Makes sure the toolchain can compile to wasm32-wasip2. `rust-toolchain.toml` names the
/// target, so rustup installs it along with a new toolchain; an already-installed toolchain
/// gets it here, so no one ever runs a manual step.
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(sysroot) = &sysroot
        && sysroot.join("lib/rustlib").join(TARGET).is_dir()
    {
        return;
    }
    println!("cargo:warning=installing the {TARGET} target with rustup (first build only)");
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => panic!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed ({other:?}); \
             install it and build again"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_name_is_read_from_the_package_table_only() {
        let toml = "[workspace]\nname = \"not-this\"\n[package]\nname = \"sanctuary-time\"\n";
        assert_eq!(package_name(toml).as_deref(), Some("sanctuary-time"));
        assert_eq!(package_name("[dependencies]\nname = \"x\"\n"), None);
    }

    #[test]
    fn a_component_is_named_after_its_package_with_underscores() {
        let c = Crate {
            dir: "hostile-loop".into(),
            package: "sanctuary-fixture-hostile-loop".into(),
            path: PathBuf::from("/w/tests/fixtures/hostile-loop"),
        };
        assert_eq!(
            artifact_path(Path::new("/t"), &c),
            PathBuf::from("/t/wasm32-wasip2/plugin/sanctuary_fixture_hostile_loop.wasm")
        );
    }
}
