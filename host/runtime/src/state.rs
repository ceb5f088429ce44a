//! What one store (one plugin call) holds: the WASI context the sandbox built, the
//! resource table, the memory limiter, and the host context the Sanctuary imports read
//! (plugin id, its config and secrets, the streaming sink, the shared host services).
//!
//! One memory budget covers a call: the [`Limiter`] counts every linear memory and table
//! of the instance together, and what the plugin makes the host hold for it (the chunks
//! it streams, the log lines it writes) is charged to the same count through
//! [`StoreState::charge`]. Overrunning it stops the call at the next epoch tick.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::HostServices;
use super::budget::Budget;
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
    /// The secrets its manifest declares (asking for another is a denial).
    pub declared_secrets: Arc<[String]>,
    /// Where streamed chunks go, when the caller asked for streaming (bounded: a full
    /// queue makes `emit-chunk` wait).
    pub progress: Option<mpsc::Sender<String>>,
    /// Where a tool call's notices go (progress reports, log lines and questions for the
    /// client), when its caller relays them (bounded: a full queue makes a progress report
    /// wait, and drops a log line).
    pub tool_notices: Option<mpsc::Sender<ToolNotice>>,
    /// How many more progress reports this call may send.
    pub progress_reports: u32,
    /// How many more questions this call may ask its MCP client.
    pub client_questions: u32,
    /// Shared services: database, system figures, the plugin directory.
    pub services: Arc<HostServices>,
    /// The guest's stderr, logged after the call.
    pub stderr: MemoryOutputPipe,
    /// How many more log lines this call may write.
    pub log_lines: u32,
    /// The plugin's budget (log lines a minute, kv quota).
    pub budget: Arc<Budget>,
    /// Set when the call overran its memory budget or a quota through the host; the next
    /// epoch tick stops it.
    pub over_budget: Option<Overrun>,
}

/// One progress report of a tool call (`mcp-client.notify-progress`), for the MCP client
/// that called the tool.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolProgress {
    /// Progress so far.
    pub progress: f64,
    /// Out of this much, when known.
    pub total: Option<f64>,
    /// What is happening, when said.
    pub message: Option<String>,
}

/// What a tool call tells its caller while it runs: its progress reports and its log
/// lines, in the order it sent them. The caller relays what its client asked for.
#[derive(Debug)]
pub enum ToolNotice {
    /// A progress report (`mcp-client.notify-progress`).
    Progress(ToolProgress),
    /// A log line the plugin wrote (`host.log`, `host.log-with-fields`), as logged.
    Log {
        /// Its level.
        level: tracing::Level,
        /// Its text (clipped and cleaned as in the host's log).
        message: String,
    },
    /// A question for the MCP client that called the tool (`mcp-client.create-message`,
    /// `mcp-client.elicit`): the caller asks its client and sends the answer (the JSON
    /// text of the client's result) or why there is none through `reply`.
    Ask {
        /// What to ask.
        question: ClientQuestion,
        /// Where the answer goes; dropped unanswered, the plugin is told the caller
        /// cannot ask.
        reply: tokio::sync::oneshot::Sender<Result<String, String>>,
    },
}

/// A question a tool asks its MCP client through the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientQuestion {
    /// `sampling/createMessage`, with the JSON text of its params.
    Sampling {
        /// The request's params as JSON text.
        request: String,
    },
    /// `elicitation/create` with a message and the JSON Schema text of the answer.
    Elicitation {
        /// What to show the user.
        message: String,
        /// The JSON Schema (an object of primitive properties) of what to ask for.
        schema: String,
    },
}

/// How a call overran what the host holds for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overrun {
    /// Its memory budget, with what took it over.
    Memory(String),
    /// A storage quota (kv bytes or keys), with which.
    Quota(String),
}

impl StoreState {
    /// Charges `bytes` the host holds for the plugin (`what`: "streamed chunks", ...) to
    /// the call's memory budget; `false` (and the call marked to stop) when over it.
    pub fn charge(&mut self, bytes: usize, what: &str) -> bool {
        if self.limiter.charge(bytes) {
            return true;
        }
        if self.host.over_budget.is_none() {
            self.host.over_budget = Some(Overrun::Memory(what.to_string()));
        }
        false
    }
}

/// Caps a store's memory: every linear memory and table of the instance together, plus
/// what the host holds for the call, against one budget. Remembers whether the cap was
/// what stopped a call, so the error can say so instead of reporting a bare trap.
pub struct Limiter {
    /// The budget in bytes.
    pub memory_bytes: usize,
    /// Bytes counted so far: memories, tables (8 bytes an element) and host charges.
    pub used: usize,
    /// Most table elements of any one table.
    pub table_elements: usize,
    /// Set when a grow beyond the cap was refused.
    pub hit_memory_cap: bool,
    /// Of `used`, what the host holds for the current call ([`Limiter::charge`]): given
    /// back when a warm instance starts its next call.
    pub host_charged: usize,
}

/// Bytes counted for one table element.
const TABLE_ELEMENT_BYTES: usize = 8;

impl Limiter {
    /// A limiter for a budget of `memory_bytes`.
    pub fn new(memory_bytes: usize) -> Limiter {
        Limiter {
            memory_bytes,
            used: 0,
            table_elements: 100_000,
            hit_memory_cap: false,
            host_charged: 0,
        }
    }

    /// Counts `bytes` more that the host holds for the call; `false` when that passes the
    /// budget (nothing is counted then).
    pub fn charge(&mut self, bytes: usize) -> bool {
        let counted = self.count(bytes);
        if counted {
            self.host_charged += bytes;
        }
        counted
    }

    /// Gives back what the host held for the last call: a warm instance's next call
    /// starts with only its memories and tables counted.
    pub(crate) fn release_host_charges(&mut self) {
        self.used -= self.host_charged;
        self.host_charged = 0;
    }

    /// Counts `bytes` more; `false` when that passes the budget (nothing is counted then).
    fn count(&mut self, bytes: usize) -> bool {
        match self.used.checked_add(bytes) {
            Some(next) if next <= self.memory_bytes => {
                self.used = next;
                true
            }
            _ => false,
        }
    }

    fn grow(&mut self, current: usize, desired: usize) -> bool {
        let more = desired.saturating_sub(current);
        self.count(more)
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if !self.grow(current, desired) {
            self.hit_memory_cap = true;
            // An error (rather than `Ok(false)`) traps the guest: a plugin must not be able
            // to carry on after trying to take more than it was granted.
            return Err(wasmtime::format_err!(
                "memory cap exceeded: wanted {} MiB more with {} MiB in use, allowed {} MiB",
                (desired - current) >> 20,
                self.used >> 20,
                self.memory_bytes >> 20
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements
            || !self.grow(
                current.saturating_mul(TABLE_ELEMENT_BYTES),
                desired.saturating_mul(TABLE_ELEMENT_BYTES),
            )
        {
            self.hit_memory_cap = true;
            return Err(wasmtime::format_err!(
                "table cap exceeded: wanted {desired} elements"
            ));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_memory_and_table_counts_against_one_budget() {
        let mut limiter = Limiter::new(16 << 20);
        // Thirty-two memories of 1 MiB each would be 32 MiB: the seventeenth is refused.
        let mut grown = 0;
        while limiter.memory_growing(0, 1 << 20, None).is_ok() {
            grown += 1;
        }
        assert_eq!(grown, 16);
        assert!(limiter.hit_memory_cap);
        let mut limiter = Limiter::new(1 << 20);
        assert!(limiter.table_growing(0, 1000, None).is_ok());
        assert!(limiter.table_growing(1000, 200_000, None).is_err());
    }

    #[test]
    fn host_charges_share_the_budget_with_linear_memory() {
        let mut limiter = Limiter::new(4 << 20);
        assert!(limiter.memory_growing(0, 3 << 20, None).is_ok());
        assert!(limiter.charge(1 << 20));
        assert!(!limiter.charge(1));
        assert!(limiter.memory_growing(3 << 20, 4 << 20, None).is_err());
    }
}
