//! MCP-server plugins (world `mcp-server`): list and call tools, read resources, render
//! prompts. The bindings here are the latest API version's; a component built against an
//! older version is called through that version's module, which returns these types.

use std::time::Instant;

use wasmtime::Store;

use super::state::StoreState;
use super::{CallError, CallOptions, Plugin, Pre, Runtime, v0_1_0};

wasmtime::component::bindgen!({
    world: "mcp-server",
    path: "../wit",
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
pub(crate) enum McpPre {
    /// The latest version.
    Latest(McpServerPre<StoreState>),
    /// 0.1.0.
    V0_1_0(v0_1_0::mcp::McpServerPre<StoreState>),
}

/// An instantiated mcp-server component; its calls take and return the latest types.
enum Guest {
    Latest(McpServer),
    V0_1_0(v0_1_0::mcp::McpServer),
}

impl McpPre {
    async fn instantiate(&self, store: &mut Store<StoreState>) -> wasmtime::Result<Guest> {
        Ok(match self {
            McpPre::Latest(pre) => Guest::Latest(pre.instantiate_async(store).await?),
            McpPre::V0_1_0(pre) => Guest::V0_1_0(pre.instantiate_async(store).await?),
        })
    }
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

/// Instantiates an mcp-server plugin and runs `$call` on its `mcp` export, with the
/// store, cap and error handling every call shares; the call is recorded as `$op`.
macro_rules! mcp_call {
    ($rt:expr, $plugin:expr, $op:expr, |$guest:ident, $store:ident| $call:expr) => {{
        let Pre::Mcp(pre) = &$plugin.pre else {
            return Err(super::wrong_kind($plugin, "mcp-server"));
        };
        let mut $store = $rt.store($plugin, CallOptions::default())?;
        let started = Instant::now();
        let outcome = Runtime::capped($plugin, async {
            let $guest = pre.instantiate(&mut $store).await?;
            $call
        })
        .await;
        $rt.finish_as($op, $plugin, $store, started, outcome)
    }};
}

impl Runtime {
    /// The tools `plugin` offers.
    pub async fn list_tools(&self, plugin: &Plugin) -> Result<Vec<Tool>, CallError> {
        mcp_call!(self, plugin, "tools/list", |guest, store| guest
            .list_tools(&mut store)
            .await
            .map(Ok))
    }

    /// Calls tool `name` with `arguments` (a JSON object text).
    pub async fn call_tool(
        &self,
        plugin: &Plugin,
        name: &str,
        arguments: &str,
    ) -> Result<Vec<Content>, CallError> {
        mcp_call!(self, plugin, name, |guest, store| guest
            .call_tool(&mut store, name, arguments)
            .await)
    }

    /// The resources `plugin` offers.
    pub async fn list_resources(&self, plugin: &Plugin) -> Result<Vec<Resource>, CallError> {
        mcp_call!(self, plugin, "resources/list", |guest, store| guest
            .list_resources(&mut store)
            .await
            .map(Ok))
    }

    /// Reads resource `uri`.
    pub async fn read_resource(&self, plugin: &Plugin, uri: &str) -> Result<String, CallError> {
        mcp_call!(self, plugin, "resources/read", |guest, store| guest
            .read_resource(&mut store, uri)
            .await)
    }

    /// The prompts `plugin` offers.
    pub async fn list_prompts(&self, plugin: &Plugin) -> Result<Vec<Prompt>, CallError> {
        mcp_call!(self, plugin, "prompts/list", |guest, store| guest
            .list_prompts(&mut store)
            .await
            .map(Ok))
    }

    /// Renders prompt `name` with `arguments` (a JSON object text).
    pub async fn get_prompt(
        &self,
        plugin: &Plugin,
        name: &str,
        arguments: &str,
    ) -> Result<Vec<PromptMessage>, CallError> {
        mcp_call!(self, plugin, "prompts/get", |guest, store| guest
            .get_prompt(&mut store, name, arguments)
            .await)
    }
}
