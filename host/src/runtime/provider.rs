//! AI-provider plugins (world `ai-provider`): describe the provider, answer a chat, and
//! stream chunks through the `progress` import to whoever is listening.

use std::time::Instant;

use tokio::sync::mpsc;

use super::{CallError, CallOptions, Plugin, Pre, Runtime};

wasmtime::component::bindgen!({
    world: "ai-provider",
    path: "../wit",
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

impl Runtime {
    /// Asks `plugin` to describe itself.
    pub async fn describe_provider(&self, plugin: &Plugin) -> Result<ProviderInfo, CallError> {
        let Pre::Provider(pre) = &plugin.pre else {
            return Err(super::wrong_kind(plugin, "ai-provider"));
        };
        let mut store = self.store(plugin, CallOptions::default())?;
        let started = Instant::now();
        let outcome = Runtime::capped(plugin, async {
            let bindings = pre.instantiate_async(&mut store).await?;
            bindings
                .sanctuary_plugin_provider()
                .call_describe(&mut store)
                .await
                .map(Ok)
        })
        .await;
        self.finish(plugin, store, started, outcome)
    }

    /// Sends `request` to `plugin`. When `progress` is given, chunks the plugin streams
    /// arrive there while the call runs.
    pub async fn chat(
        &self,
        plugin: &Plugin,
        request: &ChatRequest,
        progress: Option<mpsc::UnboundedSender<String>>,
    ) -> Result<ChatResponse, CallError> {
        let Pre::Provider(pre) = &plugin.pre else {
            return Err(super::wrong_kind(plugin, "ai-provider"));
        };
        let opts = CallOptions {
            progress,
            ..CallOptions::default()
        };
        let mut store = self.store(plugin, opts)?;
        let started = Instant::now();
        let outcome = Runtime::capped(plugin, async {
            let bindings = pre.instantiate_async(&mut store).await?;
            bindings
                .sanctuary_plugin_provider()
                .call_chat(&mut store, request)
                .await
        })
        .await;
        self.finish(plugin, store, started, outcome)
    }
}
