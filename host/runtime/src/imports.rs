//! The Sanctuary imports every plugin may use (`host`, `system`, `progress`, `kv` and
//! `mcp-client` from the `host-imports` world), generated once here and shared by all four worlds through
//! `bindgen!`'s `with`. Each import answers from the calling store's [`HostContext`].
//! These are the latest API version's imports; older versions' modules (`v0_1_0`)
//! forward to them.
//!
//! [`HostContext`]: super::state::HostContext

use tracing::{Level, debug, error, info, trace, warn};

use super::call::MAX_CHUNK;
use super::state::{Overrun, StoreState};
use crate::audit::Kind as Denied;

wasmtime::component::bindgen!({
    world: "host-imports",
    path: "../../wit/v0.2.2",
    imports: { default: async },
});

pub use self::sanctuary::plugin::{host, kv, mcp_client, progress, system, types};

/// Longest log line a plugin may write; longer lines are cut.
const MAX_LOG_LINE: usize = 4096;

/// Most fields one `log-with-fields` line keeps.
const MAX_LOG_FIELDS: usize = 32;

/// Longest field value kept; longer values are cut.
const MAX_FIELD_VALUE: usize = 1024;

/// Longest progress message relayed; longer messages are cut.
const MAX_PROGRESS_MESSAGE: usize = 1024;

/// Largest question (sampling request, elicitation message and schema) a plugin may ask
/// its MCP client, and largest answer it is handed.
const MAX_CLIENT_QUESTION: usize = 64 << 10;
const MAX_CLIENT_ANSWER: usize = 1 << 20;

/// Questions one tool call may ask its MCP client.
pub(crate) const CLIENT_QUESTIONS_PER_CALL: u32 = 8;

/// Cuts `text` to at most `max` bytes (on a character boundary), marking the cut.
fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
}

/// Whether `name` is a field name the host keeps: 1-64 of `a-z`, `0-9`, `_`, `.`.
fn is_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
}

/// The fields of one line as a JSON object text, keeping the valid ones (the first of a
/// repeated name wins), at most [`MAX_LOG_FIELDS`], values cut to [`MAX_FIELD_VALUE`].
fn fields_json(fields: Vec<host::LogField>) -> String {
    let mut object = serde_json::Map::new();
    for field in fields {
        if object.len() == MAX_LOG_FIELDS {
            break;
        }
        if !is_field_name(&field.name) || object.contains_key(&field.name) {
            continue;
        }
        let mut value = field.value;
        truncate(&mut value, MAX_FIELD_VALUE);
        object.insert(field.name, serde_json::Value::String(value));
    }
    serde_json::Value::Object(object).to_string()
}

impl StoreState {
    /// Writes one plugin log line (with its structured fields, when it has some),
    /// within the call's log budget.
    fn plugin_log(&mut self, level: types::LogLevel, mut message: String, fields: Option<String>) {
        if self.host.log_lines == 0 {
            return;
        }
        self.host.log_lines -= 1;
        if !self.host.budget.log_line() {
            // The minute's allowance is spent: this call writes no more lines, and the
            // denial is audited once for it.
            self.host.log_lines = 0;
            self.host.services.denials().deny(
                &self.host.plugin_id,
                Denied::Budget,
                format!(
                    "log_lines_per_minute: {} lines a minute",
                    self.host.budget.limits.log_lines_per_minute
                ),
            );
            return;
        }
        // Control characters could forge log lines; they become spaces.
        crate::audit::clip(&mut message, MAX_LOG_LINE);
        if !self.charge(
            message.len() + fields.as_ref().map_or(0, String::len),
            "log lines",
        ) {
            return;
        }
        let ctx = &self.host;
        let plugin = &*ctx.plugin_id;
        let kind = ctx.kind.as_str();
        let level = match level {
            types::LogLevel::Trace => Level::TRACE,
            types::LogLevel::Debug => Level::DEBUG,
            types::LogLevel::Info => Level::INFO,
            types::LogLevel::Warn => Level::WARN,
            types::LogLevel::Error => Level::ERROR,
        };
        // `fields` is recorded only when present, so plain `log` lines look as before.
        let fields = fields.as_deref();
        match level {
            Level::TRACE => trace!(target: "plugin", plugin, kind, fields, "{message}"),
            Level::DEBUG => debug!(target: "plugin", plugin, kind, fields, "{message}"),
            Level::INFO => info!(target: "plugin", plugin, kind, fields, "{message}"),
            Level::WARN => warn!(target: "plugin", plugin, kind, fields, "{message}"),
            _ => error!(target: "plugin", plugin, kind, fields, "{message}"),
        }
        // A tool call whose caller relays log lines (an MCP client that set a log level)
        // gets the line too; a full queue drops it rather than hold the plugin.
        if let Some(sink) = &ctx.tool_notices {
            let _ = sink.try_send(super::state::ToolNotice::Log { level, message });
        }
    }
}

impl types::Host for StoreState {}

impl host::Host for StoreState {
    async fn log(&mut self, level: types::LogLevel, message: String) {
        self.plugin_log(level, message, None);
    }

    async fn log_with_fields(
        &mut self,
        level: types::LogLevel,
        message: String,
        fields: Vec<host::LogField>,
    ) {
        self.plugin_log(level, message, Some(fields_json(fields)));
    }

    async fn config(&mut self) -> String {
        self.host.config_json.to_string()
    }

    async fn secret(&mut self, name: String) -> Option<String> {
        if !self.host.declared_secrets.contains(&name) {
            let mut name = name;
            crate::audit::clip(&mut name, 128);
            self.host.services.denials().deny(
                &self.host.plugin_id,
                Denied::Secret,
                format!("secret `{name}` is not declared in permissions.secrets"),
            );
            return None;
        }
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
        if self.host.progress.is_none() {
            return;
        }
        if text.len() > MAX_CHUNK {
            if self.host.over_budget.is_none() {
                self.host.over_budget = Some(Overrun::Memory(format!(
                    "a streamed chunk of {} bytes (at most {MAX_CHUNK})",
                    text.len()
                )));
            }
            return;
        }
        // Listeners may keep what was streamed (a chat answer is assembled from it), so
        // every chunk counts against the call's memory budget.
        if !self.charge(text.len(), "streamed chunks") {
            return;
        }
        if let Some(sink) = &self.host.progress {
            // A full queue makes the plugin wait (its time cap still runs); the receiver
            // going away (a client that disconnected) is not the plugin's fault.
            let _ = sink.send(text).await;
        }
    }
}

impl mcp_client::Host for StoreState {
    async fn notify_progress(
        &mut self,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) {
        // Outside a tool call whose caller asked for progress, reports go nowhere.
        if self.host.tool_notices.is_none() || self.host.progress_reports == 0 {
            return;
        }
        self.host.progress_reports -= 1;
        // JSON has no NaN or infinity: such a report cannot be relayed.
        if !progress.is_finite() || total.is_some_and(|t| !t.is_finite()) {
            return;
        }
        let message = message.map(|mut m| {
            crate::audit::clip(&mut m, MAX_PROGRESS_MESSAGE);
            m
        });
        if let Some(sink) = &self.host.tool_notices {
            // A full queue makes the plugin wait (its time cap still runs); a caller that
            // went away is not the plugin's fault.
            let report = super::state::ToolProgress {
                progress,
                total,
                message,
            };
            let _ = sink.send(super::state::ToolNotice::Progress(report)).await;
        }
    }

    async fn create_message(&mut self, request: String) -> Result<String, types::PluginError> {
        self.ask_client(super::state::ClientQuestion::Sampling { request })
            .await
    }

    async fn elicit(
        &mut self,
        message: String,
        requested_schema: String,
    ) -> Result<String, types::PluginError> {
        self.ask_client(super::state::ClientQuestion::Elicitation {
            message,
            schema: requested_schema,
        })
        .await
    }
}

impl StoreState {
    /// Asks the MCP client that called the current tool `question` through the caller,
    /// and waits for its answer (the call's time limit keeps running).
    async fn ask_client(
        &mut self,
        question: super::state::ClientQuestion,
    ) -> Result<String, types::PluginError> {
        let size = match &question {
            super::state::ClientQuestion::Sampling { request } => request.len(),
            super::state::ClientQuestion::Elicitation { message, schema } => {
                message.len() + schema.len()
            }
        };
        if size > MAX_CLIENT_QUESTION {
            return Err(types::PluginError::InvalidInput(format!(
                "a question for the MCP client of {size} bytes (at most {MAX_CLIENT_QUESTION})"
            )));
        }
        let Some(sink) = self.host.tool_notices.clone() else {
            return Err(types::PluginError::Unavailable(
                "this call has no MCP client to ask: only a tool called over MCP can ask its \
                 client for sampling or input"
                    .to_string(),
            ));
        };
        if self.host.client_questions == 0 {
            return Err(types::PluginError::InvalidInput(format!(
                "a tool call may ask its MCP client at most {CLIENT_QUESTIONS_PER_CALL} questions"
            )));
        }
        self.host.client_questions -= 1;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let notice = super::state::ToolNotice::Ask { question, reply };
        if sink.send(notice).await.is_err() {
            return Err(types::PluginError::Unavailable(
                "the caller went away".to_string(),
            ));
        }
        match answer.await {
            Ok(Ok(answer)) if answer.len() > MAX_CLIENT_ANSWER => {
                Err(types::PluginError::Failed(format!(
                    "the MCP client's answer of {} bytes is too large (at most {MAX_CLIENT_ANSWER})",
                    answer.len()
                )))
            }
            Ok(Ok(answer)) => {
                if !self.charge(answer.len(), "MCP client answers") {
                    return Err(types::PluginError::Failed(
                        "the MCP client's answer does not fit the call's memory budget".into(),
                    ));
                }
                Ok(answer)
            }
            Ok(Err(why)) => Err(types::PluginError::Unavailable(why)),
            Err(_) => Err(types::PluginError::Unavailable(
                "the caller cannot ask its client".to_string(),
            )),
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
        let limits = self.host.budget.limits;
        if let Err(quota) = self
            .host
            .services
            .kv_set(&plugin, &key, &value, limits.kv_keys, limits.kv_bytes)
            .await
            && self.host.over_budget.is_none()
        {
            self.host.over_budget = Some(Overrun::Quota(quota));
        }
    }

    async fn delete(&mut self, key: String) -> bool {
        let plugin = self.host.plugin_id.clone();
        self.host.services.kv_delete(&plugin, &key).await
    }

    async fn list_keys(&mut self, prefix: String) -> Vec<String> {
        let plugin = self.host.plugin_id.clone();
        self.host.services.kv_list(&plugin, &prefix).await
    }

    async fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<String>,
        new: Option<String>,
    ) -> bool {
        let plugin = self.host.plugin_id.clone();
        let limits = self.host.budget.limits;
        let swapped = self
            .host
            .services
            .kv_compare_and_swap(
                &plugin,
                &key,
                expected.as_deref(),
                new.as_deref(),
                limits.kv_keys,
                limits.kv_bytes,
            )
            .await;
        swapped.unwrap_or_else(|quota| {
            // Like `set` past a quota: the call fails once it returns.
            if self.host.over_budget.is_none() {
                self.host.over_budget = Some(Overrun::Quota(quota));
            }
            false
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, value: &str) -> host::LogField {
        host::LogField {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn keeps_valid_fields_as_one_json_object() {
        let json = fields_json(vec![
            field("user_id", "42"),
            field("Bad Name", "x"),
            field("", "x"),
            field("user_id", "again"),
            field("http.status", "200"),
        ]);
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(
            value,
            serde_json::json!({ "user_id": "42", "http.status": "200" })
        );
    }

    #[test]
    fn caps_the_number_of_fields_and_the_length_of_values() {
        let many: Vec<_> = (0..100)
            .map(|i| field(&format!("f{i}"), &"é".repeat(2000)))
            .collect();
        let value: serde_json::Value = serde_json::from_str(&fields_json(many)).expect("JSON");
        let object = value.as_object().expect("object");
        assert_eq!(object.len(), MAX_LOG_FIELDS);
        let kept = object["f0"].as_str().expect("text");
        assert!(
            kept.len() <= MAX_FIELD_VALUE + '…'.len_utf8(),
            "{}",
            kept.len()
        );
        assert!(kept.ends_with('…'));
    }
}
