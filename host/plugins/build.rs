//! Builds the first-party plugins (`plugins/*`) from source with a nested `cargo build
//! --target wasm32-wasip2` (see the `sanctuary-wasm-build` crate), into `<target>/wasm-plugins`,
//! and writes `$OUT_DIR/artifacts.rs` with `BUNDLED`: their components and manifests,
//! embedded through this crate in the `sanctuary` binary (the product ships them; their
//! sha256 is computed here, because it is only known after the build).
//!
//! The test fixtures (`tests/fixtures/*`) are not built here: the dev-only
//! `sanctuary-test-artifacts` crate builds them, into the same wasm target directory.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use sanctuary_wasm_build as wasm;
use sha2::{Digest, Sha256};

fn main() {
    let root = wasm::workspace_root(2);
    wasm::rerun_if_changed(
        &root,
        &["wit", "plugin-api", "plugins", "Cargo.toml", "Cargo.lock"],
    );
    let crates = wasm::find_crates(&root.join("plugins"));
    let target_dir = wasm::wasm_target_dir();
    wasm::build(&root, &target_dir, &crates);

    // Each component is embedded from this build script's own copy, made together with
    // its sha256: other builds sharing the wasm target directory (another worktree, other
    // features) may rewrite the built file later, and the binary must embed exactly the
    // bytes hashed here.
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut src = String::new();
    src.push_str("/// First-party plugins embedded in the binary.\n");
    src.push_str("pub static BUNDLED: &[BundledPlugin] = &[\n");
    for c in &crates {
        let component = wasm::artifact_path(&target_dir, c);
        let bytes = fs::read(&component)
            .unwrap_or_else(|e| panic!("read built component {}: {e}", component.display()));
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let component = out_dir.join(format!("{}.wasm", c.dir));
        fs::write(&component, &bytes)
            .unwrap_or_else(|e| panic!("copy the built component to {}: {e}", component.display()));
        let manifest = c.manifest();
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
            component.display().to_string(),
            sha256
        );
    }
    src.push_str("];\n");
    fs::write(out_dir.join("artifacts.rs"), src).expect("write artifacts.rs");
}
