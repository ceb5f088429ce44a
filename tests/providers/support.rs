//! Shared set-up for the provider tests: the real app over a config file (loaded the way
//! `sanctuary --config FILE` loads it, and watched the way `serve` watches it), served on
//! `127.0.0.1:0`, with small request helpers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::HeaderMap;
use sanctuary::cli::ServeArgs;
use sanctuary::reload::ConfigWatch;
use sanctuary::{AppState, Config};
use sanctuary_test_support::InProcess;
use sanctuary_test_support::http::read;
use sanctuary_test_support::mocks::Mock;
use serde_json::Value;
use tempfile::TempDir;

pub use sanctuary_test_support::eventually;
pub use sanctuary_test_support::sse::events as sse_events;

/// The admin key of test servers.
pub const ADMIN_KEY: &str = "providers-test-admin-key";

/// The mock upstreams' API keys, set through the secrets file.
pub const OPENAI_KEY: &str = "sk-test-openai";
/// Anthropic's.
pub const ANTHROPIC_KEY: &str = "sk-ant-test";
/// Gemini's.
pub const GEMINI_KEY: &str = "gm-test";

/// A running app and what it was started from.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// HTTP client.
    pub client: reqwest::Client,
    /// The config file it watches.
    pub config_path: PathBuf,
    /// The secrets file it reads.
    pub secrets_path: PathBuf,
    _watch: Option<ConfigWatch>,
    serving: InProcess,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

/// `[plugins.*]` tables pointing each vendor plugin at its mock.
pub fn plugin_tables(openai: &Mock, anthropic: &Mock, gemini: &Mock) -> String {
    format!(
        r#"
[plugins.openai-compatible]
base_url = "{}/v1"
default_model = "gpt-mock"
models = ["gpt-mock", "gpt-mock-large"]

[plugins.anthropic]
base_url = "{}"
default_model = "claude-mock"

[plugins.gemini]
base_url = "{}"
default_model = "gemini-mock"
models = ["gemini-mock", "gemini-mock-pro"]
"#,
        openai.base_url(),
        anthropic.base_url(),
        gemini.base_url()
    )
}

impl Server {
    /// Starts the app with `toml` as its config file (plus `secrets_file`, pointing at a
    /// file holding the three mock keys).
    pub async fn start(toml: &str) -> Server {
        Server::start_with_secrets(
            toml,
            &format!(
                "# test keys\nOPENAI_API_KEY={OPENAI_KEY}\nANTHROPIC_API_KEY={ANTHROPIC_KEY}\nGEMINI_API_KEY=\"{GEMINI_KEY}\"\n"
            ),
        )
        .await
    }

    /// Like [`Server::start`], with `secrets` as the secrets file.
    pub async fn start_with_secrets(toml: &str, secrets: &str) -> Server {
        // `RUST_LOG=sanctuary=debug` shows the host's logs in failing tests.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let dir = TempDir::new().expect("tempdir");
        let secrets_path = dir.path().join("secrets.env");
        std::fs::write(&secrets_path, secrets).expect("write secrets");
        let config_path = dir.path().join("sanctuary.toml");
        write_atomic(&config_path, &with_secrets(toml, &secrets_path));
        let args = ServeArgs {
            host: Some("127.0.0.1".into()),
            port: Some(0),
            data_dir: Some(dir.path().join("data")),
            cache_dir: Some(sanctuary_test_support::cache_dir()),
            config: Some(config_path.clone()),
            ..ServeArgs::default()
        };
        let mut config = Config::load(&args).expect("the config loads");
        config.scout.projects = Vec::new();
        config.admin_token = Some(ADMIN_KEY.into());
        let state = AppState::start(config).await.expect("the app starts");
        let watch = sanctuary::reload::spawn(state.clone())
            .await
            .expect("the config is watched");
        let serving = InProcess::serve(state).await;
        Server {
            addr: serving.addr,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            config_path,
            secrets_path,
            _watch: watch,
            serving,
            _dir: dir,
        }
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `POST path` with a JSON body: status, headers, body as JSON (`Null` if not JSON).
    pub async fn post(&self, path: &str, body: &Value) -> (u16, HeaderMap, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the server answers");
        read(response).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("the server answers");
        let (status, _, body) = read(response).await;
        (status, body)
    }

    /// One chat on `mama-bear`.
    pub async fn chat(&self, message: &str) -> (u16, Value) {
        let (status, _, body) = self
            .post(
                "/api/chat/mama-bear",
                &serde_json::json!({ "message": message }),
            )
            .await;
        (status, body)
    }

    /// `POST path` and the raw text of the answer (server-sent events).
    pub async fn post_text(&self, path: &str, body: &Value) -> (u16, HeaderMap, String) {
        let response = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.expect("body"))
    }

    /// Replaces the config file (atomically, as editors and deploy tools do).
    pub fn rewrite_config(&self, toml: &str) {
        write_atomic(&self.config_path, &with_secrets(toml, &self.secrets_path));
    }

    /// The route `name` as `GET /api/providers` shows it.
    pub async fn route_status(&self, name: &str) -> Value {
        let (status, body) = self.get("/api/providers").await;
        assert_eq!(status, 200, "{body}");
        body["routes"]
            .as_array()
            .expect("routes")
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Provider `id` as `GET /api/providers` shows it.
    pub async fn provider_status(&self, id: &str) -> Value {
        let (status, body) = self.get("/api/providers").await;
        assert_eq!(status, 200, "{body}");
        body["providers"]
            .as_array()
            .expect("providers")
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

fn with_secrets(toml: &str, secrets: &Path) -> String {
    format!("secrets_file = {:?}\n{toml}", secrets.display().to_string())
}

/// Writes `text` to `path` through a temporary file renamed over it.
pub fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}
