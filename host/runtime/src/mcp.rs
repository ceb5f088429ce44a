//! MCP-server plugins (world `mcp-server`): list and call tools, read resources, render
//! prompts. The bindings here are the latest API version's; a component built against an
//! older version is called through that version's module, which returns these types.

use wasmtime::Store;

use super::call::GuestFuture;
use super::state::StoreState;
use super::{CallError, CallOptions, Plugin, Pre, Runtime, v0_1_0};

wasmtime::component::bindgen!({
    world: "mcp-server",
    path: "../../wit/v0.2.1",
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

/// A pre-linked mcp-server component, by the API version it is built against.
#[derive(Clone)]
pub(crate) enum McpPre {
    /// The latest version.
    Latest(McpServerPre<StoreState>),
    /// 0.1.0.
    V0_1_0(v0_1_0::mcp::McpServerPre<StoreState>),
}

super::call::instantiate_versions!(McpPre => Guest);

/// An instantiated mcp-server component; its calls take and return the latest types.
pub(crate) enum Guest {
    Latest(McpServer),
    V0_1_0(v0_1_0::mcp::McpServer),
}

/// The outcome of a call that may fail with the plugin's own error.
type Outcome<T> = wasmtime::Result<Result<T, super::imports::types::PluginError>>;

impl Guest {
    async fn list_tools(&self, store: &mut Store<StoreState>) -> wasmtime::Result<Vec<Tool>> {
        match self {
            Guest::Latest(b) => b.sanctuary_plugin_mcp().call_list_tools(store).await,
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
            Guest::Latest(b) => {
                b.sanctuary_plugin_mcp()
                    .call_call_tool(store, name, arguments)
                    .await
            }
            Guest::V0_1_0(b) => b.call_tool(store, name, arguments).await,
        }
    }

    async fn list_resources(
        &self,
        store: &mut Store<StoreState>,
    ) -> wasmtime::Result<Vec<Resource>> {
        match self {
            Guest::Latest(b) => b.sanctuary_plugin_mcp().call_list_resources(store).await,
            Guest::V0_1_0(b) => b.list_resources(store).await,
        }
    }

    async fn read_resource(&self, store: &mut Store<StoreState>, uri: &str) -> Outcome<String> {
        match self {
            Guest::Latest(b) => {
                b.sanctuary_plugin_mcp()
                    .call_read_resource(store, uri)
                    .await
            }
            Guest::V0_1_0(b) => b.read_resource(store, uri).await,
        }
    }

    async fn list_prompts(&self, store: &mut Store<StoreState>) -> wasmtime::Result<Vec<Prompt>> {
        match self {
            Guest::Latest(b) => b.sanctuary_plugin_mcp().call_list_prompts(store).await,
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
            Guest::Latest(b) => {
                b.sanctuary_plugin_mcp()
                    .call_get_prompt(store, name, arguments)
                    .await
            }
            Guest::V0_1_0(b) => b.get_prompt(store, name, arguments).await,
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
        let Pre::Mcp(pre) = &plugin.pre else {
            return Err(super::wrong_kind(plugin, "mcp-server"));
        };
        let pre = pre.clone();
        self.run(plugin, operation, CallOptions::default(), pre, call)
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
