//! API version 0.1.0 of `sanctuary:plugin` (`wit/v0.1.0/`), frozen since its release and
//! still served. Components built against it import `sanctuary:plugin/...@0.1.0` and
//! export `...@0.1.0`; this module holds their `bindgen!` output and nothing else uses it.
//!
//! The rest of the host only knows the latest types (the native interface in
//! [`super::imports`] and the kind modules). So, as Zed's extension host does with its
//! `since_v*` modules, this version converts and forwards in both directions:
//! - its host imports (`host`, `system`, `progress`, `kv`) are implemented by turning the
//!   old argument types into the latest ones and calling the latest implementation;
//! - its exports are wrapped by functions that take the latest argument types and return
//!   the latest result types.
//!
//! When a later version is added, the version it replaces gets a module like this one,
//! and the conversions here keep targeting the latest types (only those whose records
//! changed need touching). The WIT in `wit/v0.1.0/` itself never changes: a test in [`crate::wit`]
//! holds its hash.

use wasmtime::Store;

use self::imports::{host, kv, progress, system, types};
use super::imports as latest;
use super::state::StoreState;

/// The imports every 0.1.0 world may use (world `host-imports`).
pub mod imports {
    wasmtime::component::bindgen!({
        world: "host-imports",
        path: "../../wit/v0.1.0",
        imports: { default: async },
    });

    pub use self::sanctuary::plugin::{host, kv, progress, system, types};
}

/// World `mcp-server` at 0.1.0.
pub mod mcp {
    wasmtime::component::bindgen!({
        world: "mcp-server",
        path: "../../wit/v0.1.0",
        imports: { default: async },
        exports: { default: async },
        with: {
            "sanctuary:plugin/types": super::imports::types,
            "sanctuary:plugin/host": super::imports::host,
            "sanctuary:plugin/kv": super::imports::kv,
        },
    });

    pub use exports::sanctuary::plugin::mcp::{
        Content, Prompt, PromptArgument, PromptMessage, Resource, Tool,
    };
}

/// World `ai-provider` at 0.1.0.
pub mod provider {
    wasmtime::component::bindgen!({
        world: "ai-provider",
        path: "../../wit/v0.1.0",
        imports: { default: async },
        exports: { default: async },
        with: {
            "sanctuary:plugin/types": super::imports::types,
            "sanctuary:plugin/host": super::imports::host,
            "sanctuary:plugin/progress": super::imports::progress,
        },
    });

    pub use exports::sanctuary::plugin::provider::{
        ChatRequest, ChatResponse, Message, ProviderInfo, Role, Usage,
    };
}

/// World `scout-check` at 0.1.0.
pub mod scout {
    wasmtime::component::bindgen!({
        world: "scout-check",
        path: "../../wit/v0.1.0",
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
}

/// World `health-probe` at 0.1.0.
pub mod probe {
    wasmtime::component::bindgen!({
        world: "health-probe",
        path: "../../wit/v0.1.0",
        imports: { default: async },
        exports: { default: async },
        with: {
            "sanctuary:plugin/types": super::imports::types,
            "sanctuary:plugin/host": super::imports::host,
            "sanctuary:plugin/system": super::imports::system,
        },
    });

    pub use exports::sanctuary::plugin::probe::{HealthStatus, ProbeReport};
}

/// Links the 0.1.0 host imports into `linker` (WASI is linked by the caller).
pub(crate) fn add_to_linker(
    linker: &mut wasmtime::component::Linker<StoreState>,
) -> wasmtime::Result<()> {
    imports::HostImports::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |s| s)
}

// ---- Host imports: convert the old arguments, call the latest implementation. ----

impl types::Host for StoreState {}

impl host::Host for StoreState {
    async fn log(&mut self, level: types::LogLevel, message: String) {
        latest::host::Host::log(self, level.into(), message).await;
    }

    async fn config(&mut self) -> String {
        latest::host::Host::config(self).await
    }

    async fn secret(&mut self, name: String) -> Option<String> {
        latest::host::Host::secret(self, name).await
    }

    async fn installed_plugins(&mut self) -> Vec<host::PluginSummary> {
        latest::host::Host::installed_plugins(self)
            .await
            .into_iter()
            .map(Into::into)
            .collect()
    }
}

impl system::Host for StoreState {
    async fn cpu(&mut self) -> system::CpuFigures {
        latest::system::Host::cpu(self).await.into()
    }

    async fn memory(&mut self) -> system::MemoryFigures {
        latest::system::Host::memory(self).await.into()
    }

    async fn disks(&mut self) -> Vec<system::DiskFigures> {
        latest::system::Host::disks(self)
            .await
            .into_iter()
            .map(Into::into)
            .collect()
    }

    async fn network(&mut self) -> system::NetworkFigures {
        latest::system::Host::network(self).await.into()
    }

    async fn host_uptime_seconds(&mut self) -> f64 {
        latest::system::Host::host_uptime_seconds(self).await
    }
}

impl progress::Host for StoreState {
    async fn emit_chunk(&mut self, text: String) {
        latest::progress::Host::emit_chunk(self, text).await;
    }
}

impl kv::Host for StoreState {
    async fn get(&mut self, key: String) -> Option<String> {
        latest::kv::Host::get(self, key).await
    }

    async fn set(&mut self, key: String, value: String) {
        latest::kv::Host::set(self, key, value).await;
    }

    async fn delete(&mut self, key: String) -> bool {
        latest::kv::Host::delete(self, key).await
    }

    async fn list_keys(&mut self, prefix: String) -> Vec<String> {
        latest::kv::Host::list_keys(self, prefix).await
    }
}

// ---- Exports: take the latest arguments, return the latest results. ----

/// A call's outcome in the latest types.
type Outcome<T> = wasmtime::Result<Result<T, latest::types::PluginError>>;

/// Converts a 0.1.0 call outcome (a list or a single value) into the latest types.
fn upgrade<T, U: From<T>>(outcome: wasmtime::Result<Result<T, types::PluginError>>) -> Outcome<U> {
    outcome.map(|r| r.map(U::from).map_err(Into::into))
}

fn upgrade_list<T, U: From<T>>(
    outcome: wasmtime::Result<Result<Vec<T>, types::PluginError>>,
) -> Outcome<Vec<U>> {
    outcome.map(|r| r.map(list).map_err(Into::into))
}

fn list<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
    items.into_iter().map(U::from).collect()
}

/// `mcp` export calls of a 0.1.0 mcp-server.
impl mcp::McpServer {
    pub(crate) async fn list_tools(
        &self,
        store: &mut Store<StoreState>,
    ) -> wasmtime::Result<Vec<super::mcp::Tool>> {
        Ok(list(
            self.sanctuary_plugin_mcp().call_list_tools(store).await?,
        ))
    }

    pub(crate) async fn call_tool(
        &self,
        store: &mut Store<StoreState>,
        name: &str,
        arguments: &str,
    ) -> Outcome<Vec<super::mcp::Content>> {
        upgrade_list(
            self.sanctuary_plugin_mcp()
                .call_call_tool(store, name, arguments)
                .await,
        )
    }

    pub(crate) async fn list_resources(
        &self,
        store: &mut Store<StoreState>,
    ) -> wasmtime::Result<Vec<super::mcp::Resource>> {
        Ok(list(
            self.sanctuary_plugin_mcp()
                .call_list_resources(store)
                .await?,
        ))
    }

    pub(crate) async fn read_resource(
        &self,
        store: &mut Store<StoreState>,
        uri: &str,
    ) -> Outcome<String> {
        upgrade(
            self.sanctuary_plugin_mcp()
                .call_read_resource(store, uri)
                .await,
        )
    }

    pub(crate) async fn list_prompts(
        &self,
        store: &mut Store<StoreState>,
    ) -> wasmtime::Result<Vec<super::mcp::Prompt>> {
        Ok(list(
            self.sanctuary_plugin_mcp().call_list_prompts(store).await?,
        ))
    }

    pub(crate) async fn get_prompt(
        &self,
        store: &mut Store<StoreState>,
        name: &str,
        arguments: &str,
    ) -> Outcome<Vec<super::mcp::PromptMessage>> {
        upgrade_list(
            self.sanctuary_plugin_mcp()
                .call_get_prompt(store, name, arguments)
                .await,
        )
    }
}

/// `provider` export calls of a 0.1.0 ai-provider.
impl provider::AiProvider {
    pub(crate) async fn describe(
        &self,
        store: &mut Store<StoreState>,
    ) -> wasmtime::Result<super::provider::ProviderInfo> {
        Ok(self
            .sanctuary_plugin_provider()
            .call_describe(store)
            .await?
            .into())
    }

    pub(crate) async fn chat(
        &self,
        store: &mut Store<StoreState>,
        request: &super::provider::ChatRequest,
    ) -> Outcome<super::provider::ChatResponse> {
        let request = provider::ChatRequest::from(request);
        upgrade(
            self.sanctuary_plugin_provider()
                .call_chat(store, &request)
                .await,
        )
    }
}

/// `scout` export calls of a 0.1.0 scout-check.
impl scout::ScoutCheck {
    pub(crate) async fn check(
        &self,
        store: &mut Store<StoreState>,
        project: &super::scout::Project,
    ) -> Outcome<super::scout::Findings> {
        let project = scout::Project {
            name: project.name.clone(),
            path: project.path.clone(),
        };
        upgrade(
            self.sanctuary_plugin_scout()
                .call_check(store, &project)
                .await,
        )
    }
}

/// `probe` export calls of a 0.1.0 health-probe.
impl probe::HealthProbe {
    pub(crate) async fn probe(
        &self,
        store: &mut Store<StoreState>,
    ) -> Outcome<super::probe::ProbeReport> {
        upgrade(self.sanctuary_plugin_probe().call_probe(store).await)
    }
}

// ---- Type conversions, old to latest (results) and latest to old (arguments). ----

impl From<types::LogLevel> for latest::types::LogLevel {
    fn from(level: types::LogLevel) -> Self {
        match level {
            types::LogLevel::Trace => Self::Trace,
            types::LogLevel::Debug => Self::Debug,
            types::LogLevel::Info => Self::Info,
            types::LogLevel::Warn => Self::Warn,
            types::LogLevel::Error => Self::Error,
        }
    }
}

impl From<types::PluginError> for latest::types::PluginError {
    fn from(error: types::PluginError) -> Self {
        match error {
            types::PluginError::InvalidInput(m) => Self::InvalidInput(m),
            types::PluginError::Denied(m) => Self::Denied(m),
            types::PluginError::Unavailable(m) => Self::Unavailable(m),
            types::PluginError::Failed(m) => Self::Failed(m),
        }
    }
}

impl From<types::Metric> for latest::types::Metric {
    fn from(m: types::Metric) -> Self {
        Self {
            name: m.name,
            value: m.value,
            unit: m.unit,
        }
    }
}

impl From<latest::host::PluginSummary> for host::PluginSummary {
    fn from(p: latest::host::PluginSummary) -> Self {
        Self {
            id: p.id,
            name: p.name,
            kind: p.kind,
            version: p.version,
            description: p.description,
            tools: p.tools,
        }
    }
}

impl From<latest::system::CpuFigures> for system::CpuFigures {
    fn from(c: latest::system::CpuFigures) -> Self {
        Self {
            usage_percent: c.usage_percent,
            cores: c.cores,
            load_average: c.load_average,
        }
    }
}

impl From<latest::system::MemoryFigures> for system::MemoryFigures {
    fn from(m: latest::system::MemoryFigures) -> Self {
        Self {
            total_bytes: m.total_bytes,
            used_bytes: m.used_bytes,
            available_bytes: m.available_bytes,
            host_process_bytes: m.host_process_bytes,
        }
    }
}

impl From<latest::system::DiskFigures> for system::DiskFigures {
    fn from(d: latest::system::DiskFigures) -> Self {
        Self {
            mount_point: d.mount_point,
            total_bytes: d.total_bytes,
            available_bytes: d.available_bytes,
        }
    }
}

impl From<latest::system::NetworkFigures> for system::NetworkFigures {
    fn from(n: latest::system::NetworkFigures) -> Self {
        Self {
            received_bytes: n.received_bytes,
            transmitted_bytes: n.transmitted_bytes,
        }
    }
}

impl From<mcp::Tool> for super::mcp::Tool {
    fn from(t: mcp::Tool) -> Self {
        Self {
            name: t.name,
            description: t.description,
            input_schema: t.input_schema,
        }
    }
}

impl From<mcp::Content> for super::mcp::Content {
    fn from(c: mcp::Content) -> Self {
        match c {
            mcp::Content::Text(t) => Self::Text(t),
            mcp::Content::Json(j) => Self::Json(j),
        }
    }
}

impl From<mcp::Resource> for super::mcp::Resource {
    fn from(r: mcp::Resource) -> Self {
        Self {
            uri: r.uri,
            name: r.name,
            description: r.description,
            mime_type: r.mime_type,
        }
    }
}

impl From<mcp::PromptArgument> for super::mcp::PromptArgument {
    fn from(a: mcp::PromptArgument) -> Self {
        Self {
            name: a.name,
            description: a.description,
            required: a.required,
        }
    }
}

impl From<mcp::Prompt> for super::mcp::Prompt {
    fn from(p: mcp::Prompt) -> Self {
        Self {
            name: p.name,
            description: p.description,
            arguments: list(p.arguments),
        }
    }
}

impl From<mcp::PromptMessage> for super::mcp::PromptMessage {
    fn from(m: mcp::PromptMessage) -> Self {
        Self {
            role: m.role,
            text: m.text,
        }
    }
}

impl From<&super::provider::ChatRequest> for provider::ChatRequest {
    fn from(r: &super::provider::ChatRequest) -> Self {
        Self {
            model: r.model.clone(),
            messages: r
                .messages
                .iter()
                .map(|m| provider::Message {
                    role: match m.role {
                        super::provider::Role::System => provider::Role::System,
                        super::provider::Role::User => provider::Role::User,
                        super::provider::Role::Assistant => provider::Role::Assistant,
                    },
                    content: m.content.clone(),
                })
                .collect(),
            max_tokens: r.max_tokens,
            temperature: r.temperature,
            streaming: r.streaming,
            context: r.context.clone(),
        }
    }
}

impl From<provider::ProviderInfo> for super::provider::ProviderInfo {
    fn from(i: provider::ProviderInfo) -> Self {
        Self {
            name: i.name,
            models: i.models,
            default_model: i.default_model,
            offline: i.offline,
        }
    }
}

impl From<provider::ChatResponse> for super::provider::ChatResponse {
    fn from(r: provider::ChatResponse) -> Self {
        Self {
            text: r.text,
            model: r.model,
            usage: super::provider::Usage {
                prompt_tokens: r.usage.prompt_tokens,
                completion_tokens: r.usage.completion_tokens,
            },
            finish_reason: r.finish_reason,
        }
    }
}

impl From<scout::Findings> for super::scout::Findings {
    fn from(f: scout::Findings) -> Self {
        Self {
            git: f.git.map(|g| super::scout::GitInfo {
                branch: g.branch,
                last_commit: g.last_commit,
                dirty: g.dirty,
            }),
            dependencies: f.dependencies.map(|d| super::scout::DependencyInfo {
                installed: d.installed,
                total: d.total,
                outdated: d.outdated,
                names: d.names,
            }),
            build: f.build.map(|b| super::scout::BuildInfo {
                last_build: b.last_build,
                success: b.success,
                errors: b.errors,
            }),
            performance: f.performance.map(|p| super::scout::PerformanceInfo {
                build_time: p.build_time,
                memory_usage: p.memory_usage,
                cpu_usage: p.cpu_usage,
            }),
            score: f.score,
            last_updated: f.last_updated,
            notes: f.notes,
        }
    }
}

impl From<probe::ProbeReport> for super::probe::ProbeReport {
    fn from(r: probe::ProbeReport) -> Self {
        Self {
            status: match r.status {
                probe::HealthStatus::Healthy => super::probe::HealthStatus::Healthy,
                probe::HealthStatus::Degraded => super::probe::HealthStatus::Degraded,
                probe::HealthStatus::Unhealthy => super::probe::HealthStatus::Unhealthy,
            },
            detail: r.detail,
            metrics: list(r.metrics),
        }
    }
}
