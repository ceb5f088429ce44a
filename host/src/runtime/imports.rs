//! The Sanctuary imports every plugin may use (`host`, `system`, `progress`, `kv` from the
//! `host-imports` world), generated once here and shared by all four worlds through
//! `bindgen!`'s `with`. Each import answers from the calling store's [`HostContext`].
//!
//! [`HostContext`]: super::state::HostContext

use tracing::{Level, debug, error, info, trace, warn};

use super::state::StoreState;

wasmtime::component::bindgen!({
    world: "host-imports",
    path: "../wit",
    imports: { default: async },
});

pub use self::sanctuary::plugin::{host, kv, progress, system, types};

/// Longest log line a plugin may write; longer lines are cut.
const MAX_LOG_LINE: usize = 4096;

impl types::Host for StoreState {}

impl host::Host for StoreState {
    async fn log(&mut self, level: types::LogLevel, message: String) {
        let ctx = &mut self.host;
        if ctx.log_budget == 0 {
            return;
        }
        ctx.log_budget -= 1;
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let plugin = &*ctx.plugin_id;
        let kind = ctx.kind.as_str();
        let level = match level {
            types::LogLevel::Trace => Level::TRACE,
            types::LogLevel::Debug => Level::DEBUG,
            types::LogLevel::Info => Level::INFO,
            types::LogLevel::Warn => Level::WARN,
            types::LogLevel::Error => Level::ERROR,
        };
        match level {
            Level::TRACE => trace!(target: "plugin", plugin, kind, "{message}"),
            Level::DEBUG => debug!(target: "plugin", plugin, kind, "{message}"),
            Level::INFO => info!(target: "plugin", plugin, kind, "{message}"),
            Level::WARN => warn!(target: "plugin", plugin, kind, "{message}"),
            _ => error!(target: "plugin", plugin, kind, "{message}"),
        }
    }

    async fn config(&mut self) -> String {
        self.host.config_json.to_string()
    }

    async fn secret(&mut self, name: String) -> Option<String> {
        self.host.secrets.get(&name).cloned()
    }

    async fn installed_plugins(&mut self) -> Vec<host::PluginSummary> {
        self.host
            .services
            .directory()
            .iter()
            .map(|p| host::PluginSummary {
                id: p.id.clone(),
                name: p.name.clone(),
                kind: p.kind.as_str().to_string(),
                version: p.version.clone(),
                description: p.description.clone(),
                tools: p.tools.clone(),
            })
            .collect()
    }
}

impl system::Host for StoreState {
    async fn cpu(&mut self) -> system::CpuFigures {
        let cpu = self.host.services.system.cpu();
        system::CpuFigures {
            usage_percent: cpu.usage_percent,
            cores: cpu.cores,
            load_average: cpu.load_average,
        }
    }

    async fn memory(&mut self) -> system::MemoryFigures {
        let m = self.host.services.system.memory();
        system::MemoryFigures {
            total_bytes: m.total_bytes,
            used_bytes: m.used_bytes,
            available_bytes: m.available_bytes,
            host_process_bytes: m.host_process_bytes,
        }
    }

    async fn disks(&mut self) -> Vec<system::DiskFigures> {
        self.host
            .services
            .system
            .disks()
            .into_iter()
            .map(|d| system::DiskFigures {
                mount_point: d.mount_point,
                total_bytes: d.total_bytes,
                available_bytes: d.available_bytes,
            })
            .collect()
    }

    async fn network(&mut self) -> system::NetworkFigures {
        let n = self.host.services.system.network();
        system::NetworkFigures {
            received_bytes: n.received_bytes,
            transmitted_bytes: n.transmitted_bytes,
        }
    }

    async fn host_uptime_seconds(&mut self) -> f64 {
        self.host.services.system.uptime_seconds()
    }
}

impl progress::Host for StoreState {
    async fn emit_chunk(&mut self, text: String) {
        if let Some(sink) = &self.host.progress {
            // The receiver going away (a client that disconnected) is not the plugin's fault.
            let _ = sink.send(text);
        }
    }
}

impl kv::Host for StoreState {
    async fn get(&mut self, key: String) -> Option<String> {
        let plugin = self.host.plugin_id.clone();
        self.host.services.kv_get(&plugin, &key).await
    }

    async fn set(&mut self, key: String, value: String) {
        let plugin = self.host.plugin_id.clone();
        self.host.services.kv_set(&plugin, &key, &value).await;
    }

    async fn delete(&mut self, key: String) -> bool {
        let plugin = self.host.plugin_id.clone();
        self.host.services.kv_delete(&plugin, &key).await
    }

    async fn list_keys(&mut self, prefix: String) -> Vec<String> {
        let plugin = self.host.plugin_id.clone();
        self.host.services.kv_list(&plugin, &prefix).await
    }
}

/// Splits a plugin's typed error into its code and message.
pub fn plugin_error_parts(error: types::PluginError) -> (&'static str, String) {
    match error {
        types::PluginError::InvalidInput(m) => ("invalid-input", m),
        types::PluginError::Denied(m) => ("denied", m),
        types::PluginError::Unavailable(m) => ("unavailable", m),
        types::PluginError::Failed(m) => ("failed", m),
    }
}
