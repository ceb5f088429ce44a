//! The jobs target's installation (a data directory and a config file that outlive any
//! one server, so a test can kill a server and start another on the same data) and its
//! job helpers, over the shared harness (`sanctuary-test-support`).

use std::path::PathBuf;
use std::time::Duration;

use sanctuary_test_support::sanctuary;
use serde_json::Value;
use tempfile::TempDir;

pub use sanctuary_test_support::{PATIENCE, Server};

/// The admin token the servers are started with (`SANCTUARY_ADMIN_TOKEN`).
pub const ADMIN_KEY: &str = "jobs-test-admin-key";
/// The key the `openai-compatible` plugin sends to the mock upstream.
pub const OPENAI_KEY: &str = "sk-jobs-test";

/// A data directory and a config file.
pub struct Install {
    dir: TempDir,
}

impl Install {
    /// A fresh installation whose config file is `toml`.
    pub fn new(toml: &str) -> Install {
        let dir = TempDir::new().expect("tempdir");
        std::fs::write(dir.path().join("sanctuary.toml"), toml).expect("write the config");
        Install { dir }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("sanctuary.toml")
    }

    /// Starts `sanctuary` over this installation, with the admin and OpenAI keys.
    pub async fn start(&self) -> Server {
        sanctuary!()
            .data_dir(self.data_dir())
            .arg("--config")
            .arg(self.config_path())
            .current_dir(self.dir.path())
            .env("SANCTUARY_ADMIN_TOKEN", ADMIN_KEY)
            .env("OPENAI_API_KEY", OPENAI_KEY)
            .spawn()
            .await
    }
}

/// Jobs over a server's HTTP API.
pub trait JobsExt {
    /// Creates a job as the admin; its id.
    async fn create_job(&self, body: &Value) -> String;
    /// The job `job_id` (the envelope's `data`).
    async fn job(&self, job_id: &str) -> Value;
    /// Polls job `job_id` until `done` holds for it; returns it.
    async fn wait_for_job(&self, job_id: &str, done: impl Fn(&Value) -> bool) -> Value;
}

impl JobsExt for Server {
    async fn create_job(&self, body: &Value) -> String {
        let (status, answer) = self.post("/api/jobs", Some(ADMIN_KEY), Some(body)).await;
        assert_eq!(status, 201, "{answer}");
        assert_eq!(answer["success"], true);
        answer["data"]["job_id"]
            .as_str()
            .expect("a job id")
            .to_string()
    }

    async fn job(&self, job_id: &str) -> Value {
        let (status, _, body) = self.get(&format!("/api/jobs/{job_id}")).await;
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    }

    async fn wait_for_job(&self, job_id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let waited = tokio::time::timeout(PATIENCE, async {
            loop {
                let job = self.job(job_id).await;
                if done(&job) {
                    return job;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        waited
            .unwrap_or_else(|_| panic!("job {job_id} never got there; server log:\n{}", self.log()))
    }
}
