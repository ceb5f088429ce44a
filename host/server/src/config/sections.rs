//! The sections of the config file (`[security]`, `[runtime]`, `[routes.<name>]`,
//! `[breaker]`, `[cache]`, `[jobs]`, `[auth]`, `[rate_limit]`, `[server]`, `[cors]`,
//! `[scout]`, `[health]`, `[telemetry]`) with their defaults; [`super::Config`] resolves them
//! against flags and environment.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What plugins may never be granted (`[security]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Names (env vars and secrets) reserved for the host beyond `SANCTUARY_*`, which is
    /// always reserved: a plugin asking for one is refused at install and at load.
    pub reserved_env: Vec<String>,
}

/// The plugin runtime (`[runtime]`). Takes effect at the next start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Threads of the executor that runs guest code, apart from the threads that answer
    /// requests (default: the number of CPUs, at least 2).
    pub guest_threads: Option<usize>,
}

// The chat sections (`[routes.<name>]`, `[breaker]`, `[cache]`) belong to the chat crate,
// which reads them; the config file's shape still names them here.
pub use sanctuary_chat::settings::{BreakerConfig, CacheConfig, ChainEntry, RouteConfig};

/// Background content-generation jobs (`[jobs]`, see [`crate::jobs`]). Takes effect at the
/// next start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Jobs run at once (default 2); the others wait, `pending`, in the order they came.
    pub concurrency: u32,
    /// Runs a job may start (default 3): a job interrupted by a restart after this many is
    /// marked `failed` instead of being run again.
    pub max_attempts: u32,
    /// How long a node's claim on a running job holds without renewal, in seconds (default
    /// 10, at least 3). The owner renews it every fifth of that; a job whose node died is
    /// taken back by another node once it runs out, and a cancel sent to another node stops
    /// the run within a fifth of it.
    pub lease_secs: u32,
}

impl Default for JobsConfig {
    fn default() -> JobsConfig {
        JobsConfig {
            concurrency: 2,
            max_attempts: 3,
            lease_secs: 10,
        }
    }
}

/// Authentication settings (`[auth]`). Changing the installation always needs a key or a
/// session with the right scope; these say what anonymous clients may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Whether GET routes answer without a credential (default true). When false, only
    /// `/`, `/health`, `/api/dev/ping` and `/socket.io` do.
    pub open_read: bool,
    /// Whether chat (HTTP and Socket.IO `mama_bear_chat`) works without a credential
    /// (default true: the seeds' frontends send none).
    pub open_chat: bool,
    /// Whether plugin tools may be called without a credential (default true, for MCP
    /// clients and the terminal): the MCP endpoint `/mcp`, the REST tool calls
    /// `POST /api/mcp/servers/{name}/tools/{tool}` and Socket.IO `terminal_input`.
    pub open_tools: bool,
    /// How long a login session lasts, in hours (default 168, a week).
    pub session_hours: u64,
    /// Whether the `sid` cookie is marked `Secure` (HTTPS only; default false).
    pub secure_cookies: bool,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            open_read: true,
            open_chat: true,
            open_tools: true,
            session_hours: 168,
            secure_cookies: false,
        }
    }
}

/// Rate limits (`[rate_limit]`): a bucket per API key, session or client address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per second per client; 0 (the default) turns limits off.
    pub per_second: u32,
    /// Requests a client may make at once (default twice `per_second`).
    pub burst: Option<u32>,
    /// Whether the client address is the first `X-Forwarded-For` entry (set this only
    /// behind a reverse proxy that writes the header; default false).
    pub trust_forwarded: bool,
}

/// Connection limits and deadlines (`[server]`; flags `--header-timeout`,
/// `--body-timeout`, `--idle-timeout`, `--max-connections`, `--batch-timeout`). Take effect
/// at the next start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Seconds a client has to send a request's head, from its first byte (default 15).
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's body, from the request's start (default 60).
    pub body_timeout_secs: u64,
    /// Seconds a kept-alive connection may wait for its next request (default 60).
    pub idle_timeout_secs: u64,
    /// Connections open at once (default 10000, lowered to fit the open-files limit); more
    /// are answered 503 and closed.
    pub max_connections: usize,
    /// Seconds one `POST /api/batch` may run in all (default 30); requests past it answer
    /// 504 inside the batch.
    pub batch_timeout_secs: u64,
    /// MCP sessions (`/mcp`, protocol revisions up to 2025-11-25) open at once (default
    /// 1000); an `initialize` over it is answered 503 with a JSON-RPC error.
    pub mcp_max_sessions: usize,
    /// MCP sessions one client (API key, session or address) may hold (default 16); over
    /// it, 429 with a JSON-RPC error.
    pub mcp_max_sessions_per_client: usize,
    /// Seconds an MCP session may stay unused before it is closed (default 300).
    pub mcp_session_idle_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            header_timeout_secs: 15,
            body_timeout_secs: 60,
            idle_timeout_secs: 60,
            max_connections: 10_000,
            batch_timeout_secs: 30,
            mcp_max_sessions: 1000,
            mcp_max_sessions_per_client: 16,
            mcp_session_idle_secs: 300,
        }
    }
}

/// Cross-origin policy (`[cors]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed to call the API with credentials; `*` is not allowed, but an app
    /// scheme may be allowed whole with `<scheme>://*` (e.g. `vscode-webview://*`).
    pub origins: Vec<String>,
}

/// Scout agent settings (`[scout]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoutConfig {
    /// Projects to report on (`[[scout.projects]]`).
    pub projects: Vec<ProjectConfig>,
    /// How long a project's status is shared between requests, in ms; 0 checks anew for
    /// every request (concurrent requests still share one run).
    pub status_ttl_ms: u64,
}

/// `/health` settings (`[health]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Deadline of each health probe per `/health` run, in ms; a probe past it is
    /// reported as `timeout` (`--health-probe-timeout-ms`).
    pub probe_timeout_ms: u64,
    /// How long one run of the probes (and the database check) is shared between
    /// `/health` requests, in ms; 0 runs anew for every request (concurrent requests
    /// still share one run).
    pub cache_ttl_ms: u64,
    /// How long a probe must report `degraded` or `timeout` (resource pressure) before
    /// the overall `status` says so, in seconds; 0: at once.
    pub degraded_after_secs: u64,
    /// How long a request that needs plugins waits for the start-up loading to finish
    /// before it is answered 503, in ms.
    pub startup_wait_ms: u64,
}

impl Default for HealthConfig {
    fn default() -> HealthConfig {
        HealthConfig {
            probe_timeout_ms: 1000,
            cache_ttl_ms: 1000,
            degraded_after_secs: 30,
            startup_wait_ms: 120_000,
        }
    }
}

/// Call recording settings (`[telemetry]`): whether calls are recorded, and how long the
/// `calls` table keeps rows. Rows past either limit are rolled up per hour into
/// `calls_rollup` and then deleted, so `/api/analytics` over old periods keeps its counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Whether each plugin and chat call becomes a row of `calls` (default on). Off, the
    /// Prometheus counters still count every call, but `/api/analytics` sees none.
    pub record_calls: bool,
    /// Rows older than this many days are rolled up; 0: no age limit.
    pub retention_days: u64,
    /// At most about this many rows are kept; older ones are rolled up; 0: no limit.
    pub max_rows: u64,
    /// How often the limits are applied, in seconds.
    pub prune_interval_secs: u64,
}

impl Default for TelemetryConfig {
    fn default() -> TelemetryConfig {
        TelemetryConfig {
            record_calls: true,
            retention_days: 30,
            max_rows: 1_000_000,
            prune_interval_secs: 60,
        }
    }
}

/// One project the scout agent reports on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// Name used in the API (`/projects/{project_name}`).
    pub name: String,
    /// Project directory; relative paths are relative to the working directory.
    pub path: PathBuf,
}

impl Default for CorsConfig {
    fn default() -> CorsConfig {
        CorsConfig {
            origins: [
                "http://localhost:3000",
                "http://127.0.0.1:3000",
                "http://localhost:5173",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl Default for ScoutConfig {
    /// One project: the working directory, named after it.
    fn default() -> ScoutConfig {
        let name = std::env::current_dir()
            .ok()
            .and_then(|dir| {
                dir.file_name()
                    .map(|name| name.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "sanctuary".to_owned());
        ScoutConfig {
            projects: vec![ProjectConfig {
                name,
                path: PathBuf::from("."),
            }],
            status_ttl_ms: 2000,
        }
    }
}
