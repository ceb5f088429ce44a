//! Builds every WebAssembly component of the workspace from source, the way wasmtime's
//! `test-programs/artifacts` does: a nested `cargo build --target wasm32-wasip2` over the
//! plugin crates (`plugins/*`) and the test fixtures (`tests/fixtures/*`), into a target
//! directory of its own beside the host's, shared by debug and release builds.
//!
//! It then writes `$OUT_DIR/artifacts.rs`:
//! - `BUNDLED`: the first-party plugins, whose components and manifests are embedded in
//!   the `sanctuary` binary (the product ships them; their sha256 is computed here,
//!   because it is only known after the build);
//! - `FIXTURES`: paths of the test-only components (hostile plugins and the like), which
//!   are never embedded.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "plugin";

struct Crate {
    /// Directory name (`time`, `hostile-loop`, ...).
    dir: String,
    /// Cargo package name.
    package: String,
    /// Path of the crate directory.
    path: PathBuf,
    /// Bundled into the product (under `plugins/`) or a test fixture.
    bundled: bool,
}

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .ancestors()
        .nth(2)
        .expect("host/server/ sits two levels under the workspace root")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));

    for watched in [
        "wit",
        "plugin-api",
        "plugins",
        "tests/fixtures",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let mut crates = find_crates(&root.join("plugins"), true);
    crates.extend(find_crates(&root.join("tests/fixtures"), false));

    let target_dir = wasm_target_dir(&out_dir);
    if !crates.is_empty() {
        ensure_wasm_target();
        build(&root, &target_dir, &crates);
    }
    write_artifacts(&out_dir, &target_dir, &crates);
}

/// Crates directly under `dir` (each a folder with a `Cargo.toml`), sorted by name.
/// Folders without one are skipped: plugins in other languages (`plugins/python-notes`)
/// are built by their own toolchains, are not bundled, and are excluded from the
/// workspace in the root `Cargo.toml`.
fn find_crates(dir: &Path, bundled: bool) -> Vec<Crate> {
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
            Crate {
                dir,
                package,
                path,
                bundled,
            }
        })
        .collect();
    crates.sort_by(|a, b| a.dir.cmp(&b.dir));
    crates
}

/// The `name = "..."` of the `[package]` table; plugin manifests are simple enough that a
/// line scan is all this needs (a build script cannot use the workspace's toml crate
/// without building it twice).
fn package_name(toml: &str) -> Option<String> {
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
/// release host builds so the components are compiled once.
fn wasm_target_dir(out_dir: &Path) -> PathBuf {
    let target = out_dir
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.join("wasm"));
    target.join("wasm-plugins")
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

fn build(root: &Path, target_dir: &Path, crates: &[Crate]) {
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
        .expect("run cargo to build the plugin components");
    if !output.status.success() {
        panic!(
            "building the plugin components failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for c in crates {
        println!("cargo:rerun-if-changed={}", c.path.display());
    }
}

fn artifact_path(target_dir: &Path, c: &Crate) -> PathBuf {
    target_dir
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{}.wasm", c.package.replace('-', "_")))
}

fn write_artifacts(out_dir: &Path, target_dir: &Path, crates: &[Crate]) {
    let mut src = String::new();
    src.push_str("/// First-party plugins embedded in the binary.\n");
    src.push_str("pub static BUNDLED: &[BundledPlugin] = &[\n");
    for c in crates.iter().filter(|c| c.bundled) {
        let wasm = artifact_path(target_dir, c);
        let bytes = fs::read(&wasm)
            .unwrap_or_else(|e| panic!("read built component {}: {e}", wasm.display()));
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let manifest = c.path.join("manifest.json");
        assert!(
            manifest.is_file(),
            "{} has no manifest.json",
            c.path.display()
        );
        let _ = writeln!(
            src,
            "    BundledPlugin {{ dir: {:?}, manifest: include_str!({:?}), component: include_bytes!({:?}), sha256: {:?} }},",
            c.dir,
            manifest.display().to_string(),
            wasm.display().to_string(),
            sha256
        );
    }
    src.push_str("];\n\n");
    src.push_str(
        "/// Test-only components (never embedded): `(name, .wasm path, manifest.json path)`.\n",
    );
    src.push_str("pub static FIXTURES: &[(&str, &str, &str)] = &[\n");
    for c in crates.iter().filter(|c| !c.bundled) {
        let _ = writeln!(
            src,
            "    ({:?}, {:?}, {:?}),",
            c.dir,
            artifact_path(target_dir, c).display().to_string(),
            c.path.join("manifest.json").display().to_string()
        );
    }
    src.push_str("];\n");
    fs::write(out_dir.join("artifacts.rs"), src).expect("write artifacts.rs");
}
