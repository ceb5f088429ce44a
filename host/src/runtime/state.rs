//! What one store (one plugin call) holds: the WASI context the sandbox built, the
//! resource table, the memory limiter, and the host context the Sanctuary imports read
//! (plugin id, its config and secrets, the streaming sink, the shared host services).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::HostServices;
use super::http::HttpPolicy;
use crate::manifest::Kind;

/// Per-store data of every plugin instance.
pub struct StoreState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) http: WasiHttpCtx,
    pub(crate) http_policy: HttpPolicy,
    pub(crate) limiter: Limiter,
    pub(crate) host: HostContext,
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StoreState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_policy,
        }
    }
}

/// The plugin-specific context the Sanctuary host imports (`host`, `system`, `progress`,
/// `kv`) answer from.
pub struct HostContext {
    /// The calling plugin's id.
    pub plugin_id: Arc<str>,
    /// Its kind.
    pub kind: Kind,
    /// Its operator configuration as JSON text.
    pub config_json: Arc<str>,
    /// The secrets it declared that are set on the host.
    pub secrets: Arc<BTreeMap<String, String>>,
    /// Where streamed chunks go, when the caller asked for streaming.
    pub progress: Option<mpsc::UnboundedSender<String>>,
    /// Shared services: database, system figures, the plugin directory.
    pub services: Arc<HostServices>,
    /// The guest's stderr, logged after the call.
    pub stderr: MemoryOutputPipe,
    /// How many more log lines this call may write.
    pub log_budget: u32,
}

/// Caps a store's memory and tables, and remembers whether the cap was what stopped a
/// call, so the error can say so instead of reporting a bare trap.
pub struct Limiter {
    /// Most linear-memory bytes any one memory may have.
    pub memory_bytes: usize,
    /// Most table elements.
    pub table_elements: usize,
    /// Set when a grow beyond the cap was refused.
    pub hit_memory_cap: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.hit_memory_cap = true;
            // An error (rather than `Ok(false)`) traps the guest: a plugin must not be able
            // to carry on after trying to take more than it was granted.
            return Err(wasmtime::format_err!(
                "memory cap exceeded: wanted {} MiB, allowed {} MiB",
                desired >> 20,
                self.memory_bytes >> 20
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements)
    }
}
