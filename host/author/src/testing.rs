//! Test support shared by this crate's tests and the server's tests of `sanctuary plugin
//! install` against a real server (`host/server/src/cli/plugin_tests.rs`). Not an API.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::upload::InstallArgs;

/// A manifest and a large component (8 MiB: far more than a refusing server reads) in
/// `dir`: (component, manifest).
pub fn plugin_files(dir: &Path) -> (PathBuf, PathBuf) {
    let manifest = dir.join("manifest.json");
    std::fs::write(
        &manifest,
        json!({
            "schema_version": 1, "id": "cli-test", "name": "CLI test",
            "kind": "mcp-server", "version": "0.1.0", "api": "^0.2",
            "description": "d", "author": "a",
            "permissions": {"network": [], "files": [], "env": [], "secrets": [],
                "project_dir": false, "memory_mb": 16, "timeout_ms": 1000}
        })
        .to_string(),
    )
    .expect("manifest");
    let component = dir.join("plugin.wasm");
    std::fs::write(&component, vec![7u8; 8 << 20]).expect("component");
    (component, manifest)
}

/// `sanctuary plugin install` of `files` to `server` with `token`.
pub fn args(server: &str, token: &str, files: &(PathBuf, PathBuf)) -> InstallArgs {
    InstallArgs {
        component: files.0.clone(),
        manifest: files.1.clone(),
        server: server.to_string(),
        token: Some(token.to_string()),
    }
}
