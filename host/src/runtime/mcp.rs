//! MCP-server plugins (world `mcp-server`): list and call tools, read resources, render
//! prompts.

use std::time::Instant;

use super::{CallError, CallOptions, Plugin, Pre, Runtime};

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

/// Instantiates an mcp-server plugin and runs `$call` on its `mcp` export, with the
/// store, cap and error handling every call shares.
macro_rules! mcp_call {
    ($rt:expr, $plugin:expr, |$guest:ident, $store:ident| $call:expr) => {{
        let Pre::Mcp(pre) = &$plugin.pre else {
            return Err(super::wrong_kind($plugin, "mcp-server"));
        };
        let mut $store = $rt.store($plugin, CallOptions::default())?;
        let started = Instant::now();
        let outcome = Runtime::capped($plugin, async {
            let bindings = pre.instantiate_async(&mut $store).await?;
            let $guest = bindings.sanctuary_plugin_mcp();
            $call
        })
        .await;
        $rt.finish($plugin, $store, started, outcome)
    }};
}

impl Runtime {
    /// The tools `plugin` offers.
    pub async fn list_tools(&self, plugin: &Plugin) -> Result<Vec<Tool>, CallError> {
        mcp_call!(self, plugin, |guest, store| guest
            .call_list_tools(&mut store)
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
        mcp_call!(self, plugin, |guest, store| guest
            .call_call_tool(&mut store, name, arguments)
            .await)
    }

    /// The resources `plugin` offers.
    pub async fn list_resources(&self, plugin: &Plugin) -> Result<Vec<Resource>, CallError> {
        mcp_call!(self, plugin, |guest, store| guest
            .call_list_resources(&mut store)
            .await
            .map(Ok))
    }

    /// Reads resource `uri`.
    pub async fn read_resource(&self, plugin: &Plugin, uri: &str) -> Result<String, CallError> {
        mcp_call!(self, plugin, |guest, store| guest
            .call_read_resource(&mut store, uri)
            .await)
    }

    /// The prompts `plugin` offers.
    pub async fn list_prompts(&self, plugin: &Plugin) -> Result<Vec<Prompt>, CallError> {
        mcp_call!(self, plugin, |guest, store| guest
            .call_list_prompts(&mut store)
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
        mcp_call!(self, plugin, |guest, store| guest
            .call_get_prompt(&mut store, name, arguments)
            .await)
    }
}
