//! Shared set-up for the plugin tests: a runtime (or a whole app) over a fresh data
//! directory, the fixture components, and small request helpers.

use std::sync::Arc;

use axum::body::Body;
use http::Request;
use sanctuary::plugins::LivePlugin;
use sanctuary::runtime::mcp::Content;
use sanctuary::runtime::provider::{ChatRequest, Message, Role};
use sanctuary::runtime::{HostServices, Plugin, Runtime};
use sanctuary::system::Sampler;
use sanctuary::{AppState, Config};
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

pub use sanctuary_test_support::{fixture, git};

/// A runtime or a whole app over a temporary data directory.
pub struct Harness {
    runtime: Option<Runtime>,
    state: Option<AppState>,
    _data: TempDir,
}

impl Harness {
    /// Just the runtime, no database.
    pub async fn new() -> Harness {
        let data = TempDir::new().expect("tempdir");
        let services = Arc::new(HostServices::new(None, Arc::new(Sampler::new())));
        let runtime = Runtime::new(
            Some(&sanctuary_test_support::cache_dir()),
            data.path(),
            services,
        )
        .expect("runtime");
        Harness {
            runtime: Some(runtime),
            state: None,
            _data: data,
        }
    }

    /// The whole app (database, bundled plugins loaded) with the default config.
    pub async fn with_app() -> Harness {
        Harness::with_config(|_| {}).await
    }

    /// The whole app, with `edit` applied to its config first.
    pub async fn with_config(edit: impl FnOnce(&mut Config)) -> Harness {
        let data = TempDir::new().expect("tempdir");
        let mut config = Config {
            scout: Config::default().scout,
            ..sanctuary_test_support::inproc::test_config(data.path())
        };
        edit(&mut config);
        let state = AppState::start(config).await.expect("app starts");
        Harness {
            runtime: None,
            state: Some(state),
            _data: data,
        }
    }

    /// The runtime under test.
    pub fn rt(&self) -> &Runtime {
        match (&self.runtime, &self.state) {
            (Some(rt), _) => rt,
            (None, Some(state)) => state.plugins.runtime(),
            (None, None) => unreachable!("a harness has one or the other"),
        }
    }

    /// The app's state.
    pub fn state(&self) -> &AppState {
        self.state
            .as_ref()
            .expect("this test needs Harness::with_app")
    }

    /// Swaps the app's state (e.g. for one with another registry), keeping the data dir.
    pub fn replace_state(&mut self, state: AppState) {
        self.state = Some(state);
    }

    /// Loads fixture `name` into the runtime (not into the live set).
    pub async fn load_fixture(&self, name: &str) -> Plugin {
        let (manifest, bytes) = fixture(name);
        self.rt()
            .load(manifest, bytes, &serde_json::json!({}))
            .await
            .unwrap_or_else(|e| panic!("load {name}: {e}"))
    }

    /// Loads fixture `name` into the app's live set, as if installed.
    pub async fn install_fixture(&self, name: &str) {
        let (manifest, bytes) = fixture(name);
        let plugins = &self.state().plugins;
        let live = plugins
            .load_bytes(manifest, bytes, plugins.plugins_dir())
            .await
            .unwrap_or_else(|e| panic!("load {name}: {e}"));
        plugins.insert(live);
    }

    /// The live plugin `id`.
    pub fn live(&self, id: &str) -> Arc<LivePlugin> {
        self.state().plugins.get(id).unwrap_or_else(|| {
            panic!(
                "plugin {id} is not loaded: {:?}",
                self.state().plugins.failures()
            )
        })
    }

    /// `method path` through the app's router, with `key` as the bearer token and `body`
    /// as JSON; answers the status and the JSON body (`null` when not JSON).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("request");
        let response = sanctuary::app(self.state().clone())
            .oneshot(request)
            .await
            .expect("router answers");
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 200 << 20)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// `GET path` through the app's router.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = sanctuary::app(self.state().clone())
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("router answers");
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }
}

/// All text of a tool result.
pub fn contents_text(contents: &[Content]) -> String {
    contents
        .iter()
        .map(|c| match c {
            Content::Text(t) | Content::Json(t) => t.as_str(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A one-message chat request.
pub fn chat_request(text: &str, streaming: bool) -> ChatRequest {
    ChatRequest {
        model: None,
        messages: vec![Message {
            role: Role::User,
            content: text.to_string(),
        }],
        max_tokens: None,
        temperature: None,
        streaming,
        context: None,
    }
}
