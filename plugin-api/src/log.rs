//! Logging to the host's log, through the `host.log` import.
//!
//! Each line is tagged by the host with the plugin's id and kind, rate-limited and
//! truncated. Never log secrets.
//!
//! ```no_run
//! use sanctuary_plugin_api::log;
//!
//! log::info("starting");
//! log::warn(format!("zone {} unknown, using UTC", "Mars/Olympus"));
//! ```

use crate::{LogLevel, host};

/// Writes `message` at `level`.
pub fn log(level: LogLevel, message: impl AsRef<str>) {
    host::log(level, message.as_ref());
}

/// Very detailed tracing, normally hidden.
pub fn trace(message: impl AsRef<str>) {
    log(LogLevel::Trace, message);
}

/// Diagnostic detail for plugin authors.
pub fn debug(message: impl AsRef<str>) {
    log(LogLevel::Debug, message);
}

/// Normal operation worth recording.
pub fn info(message: impl AsRef<str>) {
    log(LogLevel::Info, message);
}

/// Something unexpected that the plugin recovered from.
pub fn warn(message: impl AsRef<str>) {
    log(LogLevel::Warn, message);
}

/// A failure the operator should look at.
pub fn error(message: impl AsRef<str>) {
    log(LogLevel::Error, message);
}
