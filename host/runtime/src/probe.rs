//! Health-probe plugins (world `health-probe`): run one probe, get a typed report. The
//! bindings here are the latest API version's; older versions are called through their
//! modules.

use std::time::Instant;

use wasmtime::Store;

use super::call::Instantiate;
use super::state::StoreState;
use super::{CallError, CallOptions, Plugin, Pre, Runtime, v0_1_0};

wasmtime::component::bindgen!({
    world: "health-probe",
    path: "../../wit/v0.2.2",
    imports: { default: async },
    exports: { default: async },
    with: {
        "sanctuary:plugin/types": super::imports::types,
        "sanctuary:plugin/host": super::imports::host,
        "sanctuary:plugin/system": super::imports::system,
    },
});

pub use exports::sanctuary::plugin::probe::{HealthStatus, ProbeReport};

/// A pre-linked health-probe component, by the API version it is built against.
#[derive(Clone)]
pub(crate) enum ProbePre {
    /// The latest version.
    Latest(HealthProbePre<StoreState>),
    /// 0.1.0.
    V0_1_0(v0_1_0::probe::HealthProbePre<StoreState>),
}

super::call::instantiate_versions!(ProbePre => Guest);

/// An instantiated health-probe component; its calls return the latest types.
pub(crate) enum Guest {
    Latest(HealthProbe),
    V0_1_0(v0_1_0::probe::HealthProbe),
}

impl Guest {
    async fn probe(
        &self,
        store: &mut Store<StoreState>,
    ) -> wasmtime::Result<Result<ProbeReport, super::imports::types::PluginError>> {
        match self {
            Guest::Latest(b) => b.sanctuary_plugin_probe().call_probe(store).await,
            Guest::V0_1_0(b) => b.probe(store).await,
        }
    }
}

impl HealthStatus {
    /// The status as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

impl Runtime {
    /// Runs `plugin`'s probe once.
    pub async fn probe(&self, plugin: &Plugin) -> Result<ProbeReport, CallError> {
        let Pre::Probe(pre) = &plugin.pre else {
            return Err(super::wrong_kind(plugin, "health-probe"));
        };
        let pre = pre.clone();
        self.run(
            plugin,
            "probe",
            CallOptions::default(),
            pre,
            |store, guest| Box::pin(guest.probe(store)),
        )
        .await
    }
}

/// A probe plugin kept instantiated between calls (one store, one instance), for callers
/// that probe often and want to skip instantiation (the runtime benchmark compares it
/// with fresh instances). It runs on the caller's executor, outside the plugin's budget;
/// a trap ends the session: the instance is dead afterwards and every later call fails.
pub struct ProbeSession<'a> {
    plugin: &'a Plugin,
    store: Store<StoreState>,
    guest: Guest,
}

impl Runtime {
    /// Instantiates `plugin` once for repeated calls.
    pub async fn probe_session<'a>(
        &'a self,
        plugin: &'a Plugin,
    ) -> Result<ProbeSession<'a>, CallError> {
        let Pre::Probe(pre) = &plugin.pre else {
            return Err(super::wrong_kind(plugin, "health-probe"));
        };
        let mut store = self.setup(plugin, "probe").store(CallOptions::default())?;
        super::call::arm(&mut store, Instant::now() + plugin.core.sandbox.timeout());
        let guest = pre
            .instantiate(&mut store)
            .await
            .map_err(|e| CallError::Setup {
                plugin: plugin.id().to_string(),
                message: format!("{e:#}"),
            })?;
        Ok(ProbeSession {
            plugin,
            store,
            guest,
        })
    }
}

impl ProbeSession<'_> {
    /// Runs the probe on the live instance.
    pub async fn probe(&mut self) -> Result<ProbeReport, CallError> {
        super::call::arm(
            &mut self.store,
            Instant::now() + self.plugin.core.sandbox.timeout(),
        );
        let result = self.guest.probe(&mut self.store).await;
        match result {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(e)) => {
                let (code, message) = super::imports::plugin_error_parts(e);
                Err(CallError::Plugin {
                    plugin: self.plugin.id().to_string(),
                    code,
                    message,
                })
            }
            Err(trap) => Err(super::call::classify_trap(
                &self.plugin.core,
                &self.store,
                trap,
            )),
        }
    }
}
