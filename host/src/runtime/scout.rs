//! Scout-check plugins (world `scout-check`): look at one project directory, mounted
//! read-only at `/project` for plugins that asked for it, and return findings.

use std::path::Path;
use std::time::Instant;

use super::{CallError, CallOptions, Plugin, Pre, Runtime};

wasmtime::component::bindgen!({
    world: "scout-check",
    path: "../wit",
    imports: { default: async },
    exports: { default: async },
    with: {
        "sanctuary:plugin/types": super::imports::types,
        "sanctuary:plugin/host": super::imports::host,
    },
});

pub use exports::sanctuary::plugin::scout::{
    BuildInfo, DependencyInfo, Findings, GitInfo, PerformanceInfo, Project,
};

/// Where a project directory appears inside the sandbox.
pub const PROJECT_GUEST_PATH: &str = "/project";

impl Runtime {
    /// Runs `plugin`'s check on the project `name` whose directory is `dir`.
    pub async fn scout(
        &self,
        plugin: &Plugin,
        name: &str,
        dir: &Path,
    ) -> Result<Findings, CallError> {
        let Pre::Scout(pre) = &plugin.pre else {
            return Err(super::wrong_kind(plugin, "scout-check"));
        };
        let opts = CallOptions {
            project: Some(dir),
            ..CallOptions::default()
        };
        let mut store = self.store(plugin, opts)?;
        let project = Project {
            name: name.to_string(),
            path: PROJECT_GUEST_PATH.to_string(),
        };
        let started = Instant::now();
        let outcome = Runtime::capped(plugin, async {
            let bindings = pre.instantiate_async(&mut store).await?;
            bindings
                .sanctuary_plugin_scout()
                .call_check(&mut store, &project)
                .await
        })
        .await;
        self.finish(plugin, store, started, outcome)
    }
}
