//! The SDK's WIT (`plugin-api/wit/v*/`) is a copy of the repository's released versions
//! (`wit/v*/`), which stay the one source of truth (frozen and hashed by the runtime's
//! `wit` test; the host binds them from there). The copy exists so the published package
//! carries the WIT it builds against. This test fails when the two differ; run it with
//! `SANCTUARY_COPY_WIT=1` to refresh the copy after releasing a version in `wit/`.
//! It is left out of the published package (`exclude` in Cargo.toml).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every `v*/*.wit` file under `root`, by relative path, with its contents.
fn released(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let versions = std::fs::read_dir(root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    for version in versions.map(|e| e.expect("entry").path()) {
        let name = version.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !version.is_dir() || !name.starts_with('v') {
            continue;
        }
        for file in std::fs::read_dir(&version).expect("version folder") {
            let file = file.expect("entry").path();
            if file.extension().is_some_and(|e| e == "wit") {
                let relative = file.strip_prefix(root).expect("under root").to_path_buf();
                files.insert(relative, std::fs::read(&file).expect("readable"));
            }
        }
    }
    files
}

#[test]
fn the_packaged_wit_is_a_copy_of_every_released_version_in_the_repository() {
    let package = Path::new(env!("CARGO_MANIFEST_DIR")).join("wit");
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let source = released(&repository);
    assert!(
        source.keys().any(|p| p.starts_with("v0.2.0")),
        "the repository's wit/ has no v0.2.0: {:?}",
        source.keys().collect::<Vec<_>>()
    );
    if std::env::var_os("SANCTUARY_COPY_WIT").is_some() {
        let _ = std::fs::remove_dir_all(&package);
        for (relative, text) in &source {
            let target = package.join(relative);
            std::fs::create_dir_all(target.parent().expect("in a version folder")).expect("create");
            std::fs::write(&target, text).expect("write");
        }
    }
    let copy = released(&package);
    let names = |m: &BTreeMap<PathBuf, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&copy),
        names(&source),
        "plugin-api/wit must hold exactly the released versions of wit/ \
         (refresh: SANCTUARY_COPY_WIT=1 cargo test -p sanctuary-plugin-api --test wit_copies)"
    );
    for (relative, text) in &source {
        assert!(
            copy[relative] == *text,
            "plugin-api/wit/{} differs from wit/{} (refresh: SANCTUARY_COPY_WIT=1 \
             cargo test -p sanctuary-plugin-api --test wit_copies)",
            relative.display(),
            relative.display()
        );
    }
}
