//! MCP-server plugins (worlds `mcp-server` and `mcp-server-ext`): list and call tools,
//! read resources, render prompts; for components that export `mcp-ext` (0.2.2), the
//! tools' metadata (title, annotations, output schema), rich results, with progress
//! reports relayed to the caller, and resource templates. The bindings here are the latest API version's; a
//! component built against an older version is called through that version's module,
//! which returns these types.
//!
//! One binding serves both worlds of the latest minor: the `mcp` export is required, the
//! `mcp-ext` export is looked up only when the component has it ([`LatestPre::new`]), so
//! a 0.2.0 or 0.2.1 component (which exports `mcp` alone) is served unchanged and its
//! results are converted to rich ones ([`rich`]).

use tokio::sync::mpsc;
use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::call::GuestFuture;
use super::state::{StoreState, ToolNotice};
use super::{CallError, CallOptions, Plugin, Pre, Runtime, v0_1_0};

wasmtime::component::bindgen!({
    world: "mcp-server-ext",
    path: "../../wit/v0.2.2",
    imports: { default: async },
    exports: { default: async },
    with: {
        "sanctuary:plugin/types": super::imports::types,
        "sanctuary:plugin/host": super::imports::host,
        "sanctuary:plugin/kv": super::imports::kv,
        "sanctuary:plugin/mcp-client": super::imports::mcp_client,
    },
});

pub use exports::sanctuary::plugin::mcp::{
    Content, Prompt, PromptArgument, PromptMessage, Resource, Tool,
};
pub use exports::sanctuary::plugin::mcp_ext::{
    EmbeddedResource, Media, ResourceBody, ResourceTemplate, RichContent, RichPromptMessage,
    ToolAnnotations, ToolInfo, ToolResult,
};

use exports::sanctuary::plugin::{mcp as base, mcp_ext as ext};

/// The interface name of the optional export (without its version).
pub const EXT_INTERFACE: &str = "sanctuary:plugin/mcp-ext";

/// A pre-linked mcp-server component of the latest minor: its `mcp` export, and its
/// `mcp-ext` export when it has one.
#[derive(Clone)]
pub(crate) struct LatestPre {
    pre: InstancePre<StoreState>,
    mcp: base::GuestIndices,
    ext: Option<ext::GuestIndices>,
}

impl LatestPre {
    /// Finds the exports of `pre`: `mcp`, and `mcp-ext` when `with_ext` (the component
    /// names it among its exports).
    pub(crate) fn new(pre: InstancePre<StoreState>, with_ext: bool) -> wasmtime::Result<Self> {
        let mcp = base::GuestIndices::new(&pre)?;
        let ext = if with_ext {
            Some(ext::GuestIndices::new(&pre)?)
        } else {
            None
        };
        Ok(LatestPre { pre, mcp, ext })
    }

    async fn instantiate_async(&self, store: &mut Store<StoreState>) -> wasmtime::Result<Latest> {
        let instance = self.pre.instantiate_async(&mut *store).await?;
        let mcp = self.mcp.load(&mut *store, &instance)?;
        let ext = match &self.ext {
            Some(indices) => Some(indices.load(&mut *store, &instance)?),
            None => None,
        };
        Ok(Latest { mcp, ext })
    }
}

/// An instantiated component of the latest minor.
pub(crate) struct Latest {
    mcp: base::Guest,
    ext: Option<ext::Guest>,
}

/// A pre-linked mcp-server component, by the API version it is built against.
#[derive(Clone)]
pub(crate) enum McpPre {
    /// The latest version (and the earlier patches of its minor).
    Latest(LatestPre),
    /// 0.1.0.
    V0_1_0(v0_1_0::mcp::McpServerPre<StoreState>),
}

impl McpPre {
    /// Whether the component exports `mcp-ext`.
    fn has_ext(&self) -> bool {
        matches!(self, McpPre::Latest(LatestPre { ext: Some(_), .. }))
    }
}

super::call::instantiate_versions!(McpPre => Guest);

/// An instantiated mcp-server component; its calls take and return the latest types.
pub(crate) enum Guest {
    Latest(Latest),
    V0_1_0(v0_1_0::mcp::McpServer),
}

/// A plain result as a rich one: text stays text, JSON stays JSON, no structured content.
pub fn rich(contents: Vec<Content>) -> ToolResult {
    ToolResult {
        content: contents
            .into_iter()
            .map(|c| match c {
                Content::Text(text) => RichContent::Text(text),
                Content::Json(json) => RichContent::Json(json),
            })
            .collect(),
        structured_content: None,
    }
}

/// The outcome of a call that may fail with the plugin's own error.
type Outcome<T> = wasmtime::Result<Result<T, super::imports::types::PluginError>>;

impl Guest {
    async fn list_tools(&self, store: &mut Store<StoreState>) -> wasmtime::Result<Vec<Tool>> {
        match self {
            Guest::Latest(b) => b.mcp.call_list_tools(store).await,
            Guest::V0_1_0(b) => b.list_tools(store).await,
        }
    }

    async fn call_tool(
        &self,
        store: &mut Store<StoreState>,
        name: &str,
        arguments: &str,
    ) -> Outcome<Vec<Content>> {
        match self {
            Guest::Latest(b) => b.mcp.call_call_tool(store, name, arguments).await,
            Guest::V0_1_0(b) => b.call_tool(store, name, arguments).await,
        }
    }

    async fn list_resources(
        &self,
        store: &mut Store<StoreState>,
    ) -> wasmtime::Result<Vec<Resource>> {
        match self {
            Guest::Latest(b) => b.mcp.call_list_resources(store).await,
            Guest::V0_1_0(b) => b.list_resources(store).await,
        }
    }

    async fn read_resource(&self, store: &mut Store<StoreState>, uri: &str) -> Outcome<String> {
        match self {
            Guest::Latest(b) => b.mcp.call_read_resource(store, uri).await,
            Guest::V0_1_0(b) => b.read_resource(store, uri).await,
        }
    }

    async fn list_prompts(&self, store: &mut Store<StoreState>) -> wasmtime::Result<Vec<Prompt>> {
        match self {
            Guest::Latest(b) => b.mcp.call_list_prompts(store).await,
            Guest::V0_1_0(b) => b.list_prompts(store).await,
        }
    }

    async fn get_prompt(
        &self,
        store: &mut Store<StoreState>,
        name: &str,
        arguments: &str,
    ) -> Outcome<Vec<PromptMessage>> {
        match self {
            Guest::Latest(b) => b.mcp.call_get_prompt(store, name, arguments).await,
            Guest::V0_1_0(b) => b.get_prompt(store, name, arguments).await,
        }
    }

    async fn describe_tools(
        &self,
        store: &mut Store<StoreState>,
    ) -> wasmtime::Result<Vec<ToolInfo>> {
        match self {
            Guest::Latest(Latest { ext: Some(ext), .. }) => ext.call_describe_tools(store).await,
            _ => Ok(Vec::new()),
        }
    }

    async fn list_resource_templates(
        &self,
        store: &mut Store<StoreState>,
    ) -> wasmtime::Result<Vec<ResourceTemplate>> {
        match self {
            Guest::Latest(Latest { ext: Some(ext), .. }) => {
                ext.call_list_resource_templates(store).await
            }
            _ => Ok(Vec::new()),
        }
    }

    async fn call_tool_rich(
        &self,
        store: &mut Store<StoreState>,
        name: &str,
        arguments: &str,
    ) -> Outcome<ToolResult> {
        match self {
            Guest::Latest(Latest { ext: Some(ext), .. }) => {
                ext.call_call_tool_rich(store, name, arguments).await
            }
            _ => Ok(self.call_tool(store, name, arguments).await?.map(rich)),
        }
    }

    /// Resource `uri` as text or binary pieces; a plain plugin's text, with no MIME type
    /// (the caller knows the one it lists) and the URI asked for.
    async fn read_resource_rich(
        &self,
        store: &mut Store<StoreState>,
        uri: &str,
    ) -> Outcome<Vec<EmbeddedResource>> {
        match self {
            Guest::Latest(Latest { ext: Some(ext), .. }) => {
                ext.call_read_resource_rich(store, uri).await
            }
            _ => Ok(self.read_resource(store, uri).await?.map(|text| {
                vec![EmbeddedResource {
                    uri: uri.to_string(),
                    mime_type: None,
                    body: ResourceBody::Text(text),
                }]
            })),
        }
    }

    /// Prompt `name` with rich messages; a plain plugin's text messages.
    async fn get_prompt_rich(
        &self,
        store: &mut Store<StoreState>,
        name: &str,
        arguments: &str,
    ) -> Outcome<Vec<RichPromptMessage>> {
        match self {
            Guest::Latest(Latest { ext: Some(ext), .. }) => {
                ext.call_get_prompt_rich(store, name, arguments).await
            }
            _ => Ok(self
                .get_prompt(store, name, arguments)
                .await?
                .map(|messages| {
                    messages
                        .into_iter()
                        .map(|m| RichPromptMessage {
                            role: m.role,
                            content: RichContent::Text(m.text),
                        })
                        .collect()
                })),
        }
    }
}

impl Runtime {
    /// Runs `call` on a fresh instance of the mcp-server `plugin`, recorded as `operation`.
    async fn mcp<T, F>(&self, plugin: &Plugin, operation: &str, call: F) -> Result<T, CallError>
    where
        T: Send + 'static,
        F: for<'s> FnOnce(&'s mut Store<StoreState>, &'s Guest) -> GuestFuture<'s, T>
            + Send
            + 'static,
    {
        self.mcp_with(plugin, operation, CallOptions::default(), call)
            .await
    }

    /// [`Runtime::mcp`] with call options.
    async fn mcp_with<T, F>(
        &self,
        plugin: &Plugin,
        operation: &str,
        opts: CallOptions,
        call: F,
    ) -> Result<T, CallError>
    where
        T: Send + 'static,
        F: for<'s> FnOnce(&'s mut Store<StoreState>, &'s Guest) -> GuestFuture<'s, T>
            + Send
            + 'static,
    {
        let Pre::Mcp(pre) = &plugin.pre else {
            return Err(super::wrong_kind(plugin, "mcp-server"));
        };
        let pre = pre.clone();
        self.run(plugin, operation, opts, pre, call).await
    }

    /// Whether the mcp-server `plugin` exports `mcp-ext` (tool metadata, rich results).
    pub fn serves_mcp_ext(&self, plugin: &Plugin) -> bool {
        matches!(&plugin.pre, Pre::Mcp(pre) if pre.has_ext())
    }

    /// What `plugin` says about its tools beyond `list_tools` (title, annotations, output
    /// schema); empty, without a call, for a plugin that does not export `mcp-ext`.
    pub async fn describe_tools(&self, plugin: &Plugin) -> Result<Vec<ToolInfo>, CallError> {
        if !self.serves_mcp_ext(plugin) {
            return Ok(Vec::new());
        }
        self.mcp(plugin, "tools/describe", |store, guest| {
            Box::pin(async move { guest.describe_tools(store).await.map(Ok) })
        })
        .await
    }

    /// The resource templates `plugin` offers; empty, without a call, for a plugin that
    /// does not export `mcp-ext`.
    pub async fn list_resource_templates(
        &self,
        plugin: &Plugin,
    ) -> Result<Vec<ResourceTemplate>, CallError> {
        if !self.serves_mcp_ext(plugin) {
            return Ok(Vec::new());
        }
        self.mcp(plugin, "resources/templates/list", |store, guest| {
            Box::pin(async move { guest.list_resource_templates(store).await.map(Ok) })
        })
        .await
    }

    /// Calls tool `name` with `arguments` (a JSON object text) for a rich result: through
    /// `mcp-ext` when the plugin exports it, else its plain result converted ([`rich`]).
    /// Progress the plugin reports, and the lines it logs, go to `progress`, when given.
    pub async fn call_tool_rich(
        &self,
        plugin: &Plugin,
        name: &str,
        arguments: &str,
        progress: Option<mpsc::Sender<ToolNotice>>,
    ) -> Result<ToolResult, CallError> {
        let (tool, arguments) = (name.to_string(), arguments.to_string());
        let opts = CallOptions {
            tool_notices: progress,
            ..CallOptions::default()
        };
        self.mcp_with(plugin, name, opts, move |store, guest| {
            Box::pin(async move { guest.call_tool_rich(store, &tool, &arguments).await })
        })
        .await
    }

    /// The tools `plugin` offers.
    pub async fn list_tools(&self, plugin: &Plugin) -> Result<Vec<Tool>, CallError> {
        self.mcp(plugin, "tools/list", |store, guest| {
            Box::pin(async move { guest.list_tools(store).await.map(Ok) })
        })
        .await
    }

    /// Calls tool `name` with `arguments` (a JSON object text).
    pub async fn call_tool(
        &self,
        plugin: &Plugin,
        name: &str,
        arguments: &str,
    ) -> Result<Vec<Content>, CallError> {
        let (tool, arguments) = (name.to_string(), arguments.to_string());
        self.mcp(plugin, name, move |store, guest| {
            Box::pin(async move { guest.call_tool(store, &tool, &arguments).await })
        })
        .await
    }

    /// The resources `plugin` offers.
    pub async fn list_resources(&self, plugin: &Plugin) -> Result<Vec<Resource>, CallError> {
        self.mcp(plugin, "resources/list", |store, guest| {
            Box::pin(async move { guest.list_resources(store).await.map(Ok) })
        })
        .await
    }

    /// Reads resource `uri`.
    pub async fn read_resource(&self, plugin: &Plugin, uri: &str) -> Result<String, CallError> {
        let uri = uri.to_string();
        self.mcp(plugin, "resources/read", move |store, guest| {
            Box::pin(async move { guest.read_resource(store, &uri).await })
        })
        .await
    }

    /// The prompts `plugin` offers.
    pub async fn list_prompts(&self, plugin: &Plugin) -> Result<Vec<Prompt>, CallError> {
        self.mcp(plugin, "prompts/list", |store, guest| {
            Box::pin(async move { guest.list_prompts(store).await.map(Ok) })
        })
        .await
    }

    /// Reads resource `uri` as text or binary pieces with their MIME types: through
    /// `mcp-ext` when the plugin exports it, else its text.
    pub async fn read_resource_rich(
        &self,
        plugin: &Plugin,
        uri: &str,
    ) -> Result<Vec<EmbeddedResource>, CallError> {
        let uri = uri.to_string();
        self.mcp(plugin, "resources/read", move |store, guest| {
            Box::pin(async move { guest.read_resource_rich(store, &uri).await })
        })
        .await
    }

    /// Renders prompt `name` with `arguments` (a JSON object text) as rich messages:
    /// through `mcp-ext` when the plugin exports it, else its text messages.
    pub async fn get_prompt_rich(
        &self,
        plugin: &Plugin,
        name: &str,
        arguments: &str,
    ) -> Result<Vec<RichPromptMessage>, CallError> {
        let (prompt, arguments) = (name.to_string(), arguments.to_string());
        self.mcp(plugin, "prompts/get", move |store, guest| {
            Box::pin(async move { guest.get_prompt_rich(store, &prompt, &arguments).await })
        })
        .await
    }

    /// Renders prompt `name` with `arguments` (a JSON object text).
    pub async fn get_prompt(
        &self,
        plugin: &Plugin,
        name: &str,
        arguments: &str,
    ) -> Result<Vec<PromptMessage>, CallError> {
        let (prompt, arguments) = (name.to_string(), arguments.to_string());
        self.mcp(plugin, "prompts/get", move |store, guest| {
            Box::pin(async move { guest.get_prompt(store, &prompt, &arguments).await })
        })
        .await
    }
}
