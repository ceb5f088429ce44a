//! The whole app served in this process: [`sanctuary::serve_on`] on a listener of
//! `127.0.0.1:0`, over a state the test built (usually with [`test_config`]).

use std::net::SocketAddr;
use std::path::Path;

use reqwest::header::HeaderMap;
use sanctuary::{AppState, Config};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::socketio::SocketIo;

/// A configuration for a test app over the data directory `data`: `127.0.0.1:0`, SQLite
/// in `data`, the shared component cache ([`crate::cache_dir`]), no scout projects.
pub fn test_config(data: &Path) -> Config {
    let mut config = Config {
        host: "127.0.0.1".into(),
        port: 0,
        data_dir: data.to_path_buf(),
        database_url: format!("sqlite://{}/sanctuary.db?mode=rwc", data.display()),
        cache_dir: crate::cache_dir(),
        ..Config::default()
    };
    config.scout.projects = Vec::new();
    config
}

/// An app serving in this process until stopped or the test's runtime ends.
pub struct InProcess {
    /// Where it listens.
    pub addr: SocketAddr,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// The app's state.
    pub state: AppState,
    task: JoinHandle<()>,
}

impl InProcess {
    /// Serves `state` on a free port of 127.0.0.1.
    pub async fn serve(state: AppState) -> InProcess {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("the listener's address");
        let serving = state.clone();
        let task = tokio::spawn(async move {
            sanctuary::serve_on(listener, serving, std::future::pending())
                .await
                .expect("the app serves");
        });
        InProcess {
            addr,
            client: reqwest::Client::new(),
            state,
            task,
        }
    }

    /// Starts the app (database, plugins loaded) for `config` and serves it.
    pub async fn start(config: Config) -> InProcess {
        let state = AppState::start(config).await.expect("the app starts");
        InProcess::serve(state).await
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path`: status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        crate::http::get(&self.client, &self.url(path)).await
    }

    /// `POST path` with a JSON body: status and JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (status, _, body) = self.post_with_headers(path, body).await;
        (status, body)
    }

    /// `POST path` with a JSON body: status, headers and JSON body.
    pub async fn post_with_headers(&self, path: &str, body: &Value) -> (u16, HeaderMap, Value) {
        crate::http::post(&self.client, &self.url(path), body).await
    }

    /// A connected Socket.IO client that has seen `connected`.
    pub async fn socket(&self) -> SocketIo {
        let mut client = SocketIo::connect(self.addr).await;
        client.wait_for("connected").await;
        client
    }

    /// Stops serving (open connections are cut).
    pub fn stop(self) {
        self.task.abort();
    }

    /// Stops serving, for a holder that only has it by reference (a `Drop`).
    pub fn abort(&self) {
        self.task.abort();
    }
}
