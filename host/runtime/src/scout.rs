//! Scout-check plugins (world `scout-check`): look at one project directory, mounted
//! read-only at `/project` for plugins that asked for it, and return findings. The
//! bindings here are the latest API version's; older versions are called through their
//! modules.

use std::path::Path;

use wasmtime::Store;

use super::state::StoreState;
use super::{CallError, CallOptions, Plugin, Pre, Runtime, v0_1_0};

wasmtime::component::bindgen!({
    world: "scout-check",
    path: "../../wit/v0.2.2",
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

/// A pre-linked scout-check component, by the API version it is built against.
#[derive(Clone)]
pub(crate) enum ScoutPre {
    /// The latest version.
    Latest(ScoutCheckPre<StoreState>),
    /// 0.1.0.
    V0_1_0(v0_1_0::scout::ScoutCheckPre<StoreState>),
}

super::call::instantiate_versions!(ScoutPre => Guest);

/// An instantiated scout-check component; its calls return the latest types.
pub(crate) enum Guest {
    Latest(ScoutCheck),
    V0_1_0(v0_1_0::scout::ScoutCheck),
}

impl Guest {
    /// Runs the check on `project`.
    async fn check(
        &self,
        store: &mut Store<StoreState>,
        project: &Project,
    ) -> wasmtime::Result<Result<Findings, super::imports::types::PluginError>> {
        match self {
            Guest::Latest(b) => b.sanctuary_plugin_scout().call_check(store, project).await,
            Guest::V0_1_0(b) => b.check(store, project).await,
        }
    }
}

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
        let pre = pre.clone();
        let opts = CallOptions {
            project: Some(dir.to_path_buf()),
            ..CallOptions::default()
        };
        let project = Project {
            name: name.to_string(),
            path: PROJECT_GUEST_PATH.to_string(),
        };
        self.run(plugin, "check", opts, pre, move |store, guest| {
            Box::pin(async move { guest.check(store, &project).await })
        })
        .await
    }
}
