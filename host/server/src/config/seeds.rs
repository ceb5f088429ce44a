//! Settings of the seed surfaces: the Socket.IO engine's limits (`[socketio]`), the
//! subscription plans of the Oropendola method surface (`[[plans]]`, `[subscriptions]`),
//! and its workspace and file-upload bounds (`[oropendola]`).

use std::collections::BTreeMap;

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// Socket.IO engine limits (`[socketio]`); the defaults are what the seeds recommend
/// (`maxHttpBufferSize` 1e6, `pingTimeout` 60 s, `pingInterval` 25 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocketIoConfig {
    /// Largest message or polling payload in bytes (default 1000000).
    pub max_payload: u64,
    /// Milliseconds to wait for a pong before the connection is closed (default 60000).
    pub ping_timeout_ms: u64,
    /// Milliseconds between pings (default 25000).
    pub ping_interval_ms: u64,
    /// Packets buffered per connection before `emit` refuses more (default 8192).
    pub max_buffer_size: usize,
}

impl Default for SocketIoConfig {
    fn default() -> SocketIoConfig {
        SocketIoConfig {
            max_payload: 1_000_000,
            ping_timeout_ms: 60_000,
            ping_interval_ms: 25_000,
            max_buffer_size: super::SOCKET_BUFFER_PACKETS,
        }
    }
}

/// One subscription plan (`[[plans]]`): a name and its limits; `0` means unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanConfig {
    /// The plan's name, as `subscription.get_info` shows it.
    pub name: String,
    /// Requests a minute on the Oropendola method surface (0: unlimited).
    #[serde(default)]
    pub requests_per_minute: u32,
    /// Chat calls a day (`chat.send_message`, `chat.stream`, `files.analyze`; 0: unlimited).
    #[serde(default)]
    pub chat_calls_per_day: u32,
}

/// Which plan each user has (`[subscriptions]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscriptionsConfig {
    /// The plan of users not listed in `users` (default: the first `[[plans]]` entry,
    /// or no limits when there are no plans).
    pub default_plan: Option<String>,
    /// Username to plan name.
    pub users: BTreeMap<String, String>,
}

/// Bounds of the Oropendola workspace and file methods (`[oropendola]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OropendolaConfig {
    /// The directory `workspace.index` reads, as the `filesystem` plugin sees it (a guest
    /// path it is granted); default `/files`, the plugin's own `<data-dir>/files`.
    pub workspace: String,
    /// Files larger than this many bytes are not indexed (default 262144).
    pub max_index_file_bytes: u64,
    /// At most this many files are indexed (default 2000).
    pub max_index_files: usize,
    /// Largest upload of `files.upload`, in bytes (default 5 MiB).
    pub max_upload_bytes: usize,
    /// Largest settings document of `user.update_settings`, in bytes of JSON (default 16384).
    pub max_settings_bytes: usize,
}

impl Default for OropendolaConfig {
    fn default() -> OropendolaConfig {
        OropendolaConfig {
            workspace: "/files".to_owned(),
            max_index_file_bytes: 256 * 1024,
            max_index_files: 2000,
            max_upload_bytes: 5 * 1024 * 1024,
            max_settings_bytes: 16 * 1024,
        }
    }
}

/// Checks the seed settings together.
pub fn validate(
    socketio: &SocketIoConfig,
    plans: &[PlanConfig],
    subscriptions: &SubscriptionsConfig,
) -> anyhow::Result<()> {
    if socketio.max_payload == 0 {
        bail!("socketio.max_payload must be at least 1");
    }
    if socketio.ping_interval_ms == 0 || socketio.ping_timeout_ms == 0 {
        bail!("socketio.ping_interval_ms and ping_timeout_ms must be at least 1");
    }
    if socketio.max_buffer_size == 0 {
        bail!("socketio.max_buffer_size must be at least 1");
    }
    let mut names = std::collections::BTreeSet::new();
    for plan in plans {
        if plan.name.trim().is_empty() {
            bail!("plans: a plan has an empty name");
        }
        if !names.insert(plan.name.as_str()) {
            bail!("plans: the name {:?} is used twice", plan.name);
        }
    }
    let known = |name: &str| names.contains(name);
    if let Some(plan) = &subscriptions.default_plan
        && !known(plan)
    {
        bail!("subscriptions.default_plan: no [[plans]] entry is named {plan:?}");
    }
    for (user, plan) in &subscriptions.users {
        if !known(plan) {
            bail!("subscriptions.users.{user}: no [[plans]] entry is named {plan:?}");
        }
    }
    Ok(())
}

/// Bearer JWTs accepted on the hybrid backend's API (`[jwt]`, seed 003's Supabase
/// frontend). With neither key set, JWTs are refused (sessions and API keys still work).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtConfig {
    /// Environment variable holding the HS256 secret (Supabase's JWT secret); default
    /// `SANCTUARY_JWT_SECRET`. The secret itself is never read from this file.
    pub secret_env: Option<String>,
    /// A PEM file with the RS256 public key tokens are signed with.
    pub public_key_file: Option<std::path::PathBuf>,
    /// The `aud` tokens must carry (Supabase: `authenticated`); not checked when unset.
    pub audience: Option<String>,
    /// The `iss` tokens must carry; not checked when unset.
    pub issuer: Option<String>,
}
