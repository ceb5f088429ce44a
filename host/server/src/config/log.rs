//! Logging (`[log]`, `--log-format`, `--access-log`): the format of log lines and whether
//! every request gets an access-log line. Read at start; a change needs a restart.
//!
//! ```toml
//! [log]
//! format = "json"   # or "pretty" (the default): one JSON object per line
//! access = true     # one `info` line per request (the default)
//! ```

use serde::{Deserialize, Serialize};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines; coloured only when the output is a terminal.
    #[default]
    Pretty,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`, `spans`), for
    /// log shippers.
    Json,
}

/// `[log]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// How log lines are written (default `pretty`).
    pub format: LogFormat,
    /// One `info` line per HTTP request, target `sanctuary::access`: method, matched
    /// route, status, latency, client address and request id (default on).
    pub access: bool,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            format: LogFormat::Pretty,
            access: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_reads_both_formats_and_refuses_others() {
        let json: LogConfig = toml::from_str("format = \"json\"\naccess = false").expect("reads");
        assert_eq!(
            json,
            LogConfig {
                format: LogFormat::Json,
                access: false
            }
        );
        let empty: LogConfig = toml::from_str("").expect("reads");
        assert_eq!(empty, LogConfig::default());
        assert!(toml::from_str::<LogConfig>("format = \"xml\"").is_err());
    }
}
