//! Builds the test fixtures (`tests/fixtures/*`) with the same nested `cargo build
//! --target wasm32-wasip2 --profile plugin` as the host's build script, into the same
//! `<target>/wasm-plugins`, and writes `$OUT_DIR/fixtures.rs`: each fixture's name, the
//! path of its built component and of its `manifest.json`.

use std::fmt::Write as _;
use std::path::PathBuf;

use sanctuary_wasm_build as wasm;

fn main() {
    let root = wasm::workspace_root(2);
    wasm::rerun_if_changed(
        &root,
        &[
            "wit",
            "plugin-api",
            "tests/fixtures",
            "Cargo.toml",
            "Cargo.lock",
        ],
    );
    let crates = wasm::find_crates(&root.join("tests/fixtures"));
    let target_dir = wasm::wasm_target_dir();
    wasm::build(&root, &target_dir, &crates);

    let mut src = String::new();
    src.push_str("/// Every test fixture: `(name, .wasm path, manifest.json path)`.\n");
    src.push_str("pub static FIXTURES: &[(&str, &str, &str)] = &[\n");
    for c in &crates {
        let _ = writeln!(
            src,
            "    ({:?}, {:?}, {:?}),",
            c.dir,
            wasm::artifact_path(&target_dir, c).display().to_string(),
            c.manifest().display().to_string()
        );
    }
    src.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out_dir.join("fixtures.rs"), src).expect("write fixtures.rs");
}
