//! What the runtime tells its host about every call: one [`PluginCall`] per call, from
//! the call path's one exit point, to a [`CallObserver`] (the server's recorder, which
//! writes the `calls` table and the Prometheus counters). Observing never slows or fails
//! a call: an observer must not block.

use std::time::Duration;

use crate::CallError;

/// How a plugin call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It answered.
    Ok,
    /// The plugin refused (its own typed error) or the call could not be set up.
    Error,
    /// Stopped at its time cap.
    Timeout,
    /// A WebAssembly trap (a panic, `unreachable`, ...).
    Trap,
    /// Stopped at its memory cap.
    Memory,
}

impl Outcome {
    /// The outcome of a call that returned `result`.
    pub fn of<T>(result: &Result<T, CallError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Ok,
            Err(CallError::Timeout { .. }) => Outcome::Timeout,
            Err(CallError::Trap { .. }) => Outcome::Trap,
            Err(CallError::MemoryCap { .. }) => Outcome::Memory,
            Err(
                CallError::Plugin { .. }
                | CallError::Setup { .. }
                | CallError::Busy { .. }
                | CallError::Quota { .. },
            ) => Outcome::Error,
        }
    }

    /// As the API, the table and the metrics spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Trap => "trap",
            Outcome::Memory => "memory",
        }
    }
}

/// One plugin call.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginCall {
    /// Plugin id.
    pub plugin: String,
    /// Its kind (`mcp-server`, ...).
    pub kind: String,
    /// What was called: a tool name, `chat`, `probe`, ...
    pub operation: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The failure's code, when it failed.
    pub error_code: Option<&'static str>,
    /// How long it took.
    pub duration: Duration,
}

/// Receives every finished call. Must not block.
pub trait CallObserver: Send + Sync {
    /// `call` finished.
    fn plugin_call(&self, call: PluginCall);
}
