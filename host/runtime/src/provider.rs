//! AI-provider plugins (world `ai-provider`): describe the provider, answer a chat, and
//! stream chunks through the `progress` import to whoever is listening. The bindings
//! here are the latest API version's; older versions are called through their modules.

use tokio::sync::mpsc;
use wasmtime::Store;

use super::state::StoreState;
use super::{CallError, CallOptions, Plugin, Pre, Runtime, v0_1_0};

wasmtime::component::bindgen!({
    world: "ai-provider",
    path: "../../wit/v0.2.2",
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

/// A pre-linked ai-provider component, by the API version it is built against.
#[derive(Clone)]
pub(crate) enum ProviderPre {
    /// The latest version.
    Latest(AiProviderPre<StoreState>),
    /// 0.1.0.
    V0_1_0(v0_1_0::provider::AiProviderPre<StoreState>),
}

super::call::instantiate_versions!(ProviderPre => Guest);

/// An instantiated ai-provider component; its calls take and return the latest types.
pub(crate) enum Guest {
    Latest(AiProvider),
    V0_1_0(v0_1_0::provider::AiProvider),
}

impl Guest {
    async fn describe(&self, store: &mut Store<StoreState>) -> wasmtime::Result<ProviderInfo> {
        match self {
            Guest::Latest(b) => b.sanctuary_plugin_provider().call_describe(store).await,
            Guest::V0_1_0(b) => b.describe(store).await,
        }
    }

    async fn chat(
        &self,
        store: &mut Store<StoreState>,
        request: &ChatRequest,
    ) -> wasmtime::Result<Result<ChatResponse, super::imports::types::PluginError>> {
        match self {
            Guest::Latest(b) => {
                b.sanctuary_plugin_provider()
                    .call_chat(store, request)
                    .await
            }
            Guest::V0_1_0(b) => b.chat(store, request).await,
        }
    }
}

impl Runtime {
    /// Asks `plugin` to describe itself.
    pub async fn describe_provider(&self, plugin: &Plugin) -> Result<ProviderInfo, CallError> {
        let Pre::Provider(pre) = &plugin.pre else {
            return Err(super::wrong_kind(plugin, "ai-provider"));
        };
        let pre = pre.clone();
        self.run(
            plugin,
            "describe",
            CallOptions::default(),
            pre,
            |store, guest| Box::pin(async move { guest.describe(store).await.map(Ok) }),
        )
        .await
    }

    /// Sends `request` to `plugin`. When `progress` is given, chunks the plugin streams
    /// arrive there while the call runs (at most [`CHUNK_QUEUE`] waiting: a slow listener
    /// makes the plugin wait).
    ///
    /// [`CHUNK_QUEUE`]: super::call::CHUNK_QUEUE
    pub async fn chat(
        &self,
        plugin: &Plugin,
        request: &ChatRequest,
        progress: Option<mpsc::Sender<String>>,
    ) -> Result<ChatResponse, CallError> {
        let Pre::Provider(pre) = &plugin.pre else {
            return Err(super::wrong_kind(plugin, "ai-provider"));
        };
        let pre = pre.clone();
        let request = request.clone();
        let opts = CallOptions {
            progress,
            ..CallOptions::default()
        };
        self.run(plugin, "chat", opts, pre, move |store, guest| {
            Box::pin(async move { guest.chat(store, &request).await })
        })
        .await
    }
}
