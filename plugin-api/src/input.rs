//! What a plugin reads from outside: a tool's arguments, the operator's configuration,
//! secrets, and the list of installed plugins.
//!
//! [`args()`] is pure and works anywhere; the others call the host.

use serde::de::DeserializeOwned;

use crate::{PluginError, PluginSummary, host};

/// Parses a tool's (or prompt's) `arguments` JSON into `T`.
///
/// An empty string or `null` counts as `{}`. A mismatch becomes an `invalid-input` error
/// whose message names the offending field, so the caller knows what to fix. Give optional
/// fields `#[serde(default)]`; add `#[serde(deny_unknown_fields)]` to reject typos.
///
/// ```
/// use sanctuary_plugin_api::args;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Args {
///     timezone: String,
///     #[serde(default)]
///     verbose: bool,
/// }
///
/// let ok: Args = args(r#"{"timezone": "Europe/Paris"}"#)?;
/// assert_eq!(ok.timezone, "Europe/Paris");
/// assert!(!ok.verbose);
///
/// let bad = args::<Args>(r#"{"timezone": 5}"#).err().expect("5 is not a string");
/// assert_eq!(bad.kind(), "invalid-input");
/// assert!(bad.message().contains("`timezone`"));
/// # Ok::<(), sanctuary_plugin_api::PluginError>(())
/// ```
pub fn args<T: DeserializeOwned>(json: &str) -> Result<T, PluginError> {
    parse_json(json, "invalid arguments").map_err(PluginError::invalid_input)
}

/// Parses this plugin's configuration (the operator's `[plugins.<id>]` table, handed over
/// by the host as JSON) into `T`.
///
/// No configuration (`{}`, or `null`) gives the defaults. Put `#[serde(default)]` on the
/// struct (with a `Default` impl holding your defaults) so that an operator only sets what
/// they want to change. A configuration that does not fit is a `failed` error naming the
/// field: the operator, not the caller, has to fix it.
///
/// ```no_run
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// #[serde(default)]
/// struct Settings {
///     threshold: f64,
/// }
///
/// impl Default for Settings {
///     fn default() -> Self {
///         Self { threshold: 90.0 }
///     }
/// }
///
/// let settings: Settings = sanctuary_plugin_api::config()?;
/// # Ok::<(), sanctuary_plugin_api::PluginError>(())
/// ```
pub fn config<T: DeserializeOwned>() -> Result<T, PluginError> {
    parse_config(&host::config())
}

/// [`config()`] on a given text: what it does once the host has answered.
fn parse_config<T: DeserializeOwned>(json: &str) -> Result<T, PluginError> {
    parse_json(json, "invalid plugin configuration").map_err(PluginError::failed)
}

/// The value of secret `name`, which the manifest must declare under
/// `permissions.secrets`; `None` when it is undeclared or not set on the host.
pub fn secret(name: &str) -> Option<String> {
    host::secret(name)
}

/// Like [`secret()`], but a missing or empty secret is a `denied` error naming it, ready
/// to be returned with `?`.
pub fn require_secret(name: &str) -> Result<String, PluginError> {
    match host::secret(name) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(PluginError::denied(format!(
            "secret `{name}` is not available: declare it under permissions.secrets in the \
             manifest and set it on the host"
        ))),
    }
}

/// The plugins installed in the host (enabled ones, every kind), with their tools.
pub fn installed_plugins() -> Vec<PluginSummary> {
    host::installed_plugins()
}

/// Deserialises `json` (empty or `null` means `{}`), describing a failure as
/// ``{context}: `{field path}`: {serde's message}``.
fn parse_json<T: DeserializeOwned>(json: &str, context: &str) -> Result<T, String> {
    let json = match json.trim() {
        "" | "null" => "{}",
        _ => json,
    };
    let mut de = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        if path == "." {
            format!("{context}: {}", err.inner())
        } else {
            format!("{context}: `{path}`: {}", err.inner())
        }
    })?;
    de.end().map_err(|err| format!("{context}: {err}"))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Args {
        time: String,
        #[serde(default)]
        zones: Vec<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(default)]
    struct Settings {
        cpu_percent: f64,
        memory_percent: f64,
    }

    impl Default for Settings {
        fn default() -> Self {
            Self {
                cpu_percent: 90.0,
                memory_percent: 90.0,
            }
        }
    }

    fn message_of<T: std::fmt::Debug>(result: Result<T, PluginError>) -> String {
        result
            .expect_err("should have been refused")
            .message()
            .to_string()
    }

    #[test]
    fn parses_arguments_and_defaults_the_optional_ones() {
        let parsed: Args = args(r#"{"time": "10:30"}"#).expect("valid arguments");
        assert_eq!(
            parsed,
            Args {
                time: "10:30".into(),
                zones: Vec::new()
            }
        );
    }

    #[test]
    fn names_the_missing_field() {
        let message = message_of(args::<Args>("{}"));
        assert!(message.starts_with("invalid arguments:"), "{message}");
        assert!(message.contains("missing field `time`"), "{message}");
    }

    #[test]
    fn names_a_field_of_the_wrong_type() {
        let message = message_of(args::<Args>(r#"{"time": 1030}"#));
        assert!(message.contains("`time`"), "{message}");
        assert!(message.contains("expected a string"), "{message}");
    }

    #[test]
    fn names_the_element_of_a_list_that_is_wrong() {
        let message = message_of(args::<Args>(r#"{"time": "1", "zones": ["UTC", 3]}"#));
        assert!(message.contains("`zones[1]`"), "{message}");
    }

    #[test]
    fn refuses_unknown_fields_when_the_struct_denies_them() {
        let message = message_of(args::<Args>(r#"{"time": "1", "tiem": "2"}"#));
        assert!(message.contains("unknown field `tiem`"), "{message}");
    }

    #[test]
    fn refuses_text_that_is_not_json_as_invalid_input() {
        let err = args::<Args>("{time: 1").expect_err("not JSON");
        assert_eq!(err.kind(), "invalid-input");
    }

    #[test]
    fn refuses_trailing_garbage() {
        let err = args::<Args>(r#"{"time": "1"} x"#).expect_err("trailing characters");
        assert_eq!(err.kind(), "invalid-input");
    }

    #[test]
    fn empty_arguments_count_as_an_empty_object() {
        #[derive(Deserialize)]
        struct Nothing {}
        assert!(args::<Nothing>("").is_ok());
        assert!(args::<Nothing>("  ").is_ok());
    }

    #[test]
    fn an_empty_configuration_gives_the_defaults() {
        let settings: Settings = parse_config("{}").expect("empty config");
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn a_null_configuration_gives_the_defaults_too() {
        let settings: Settings = parse_config("null").expect("null config");
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn a_partial_configuration_keeps_the_other_defaults() {
        let settings: Settings = parse_config(r#"{"cpu_percent": 75}"#).expect("partial config");
        assert_eq!(
            settings,
            Settings {
                cpu_percent: 75.0,
                memory_percent: 90.0
            }
        );
    }

    #[test]
    fn a_bad_configuration_is_a_failure_naming_the_field() {
        let err = parse_config::<Settings>(r#"{"memory_percent": "high"}"#).expect_err("bad type");
        assert_eq!(err.kind(), "failed");
        assert!(err.message().contains("`memory_percent`"), "{err:?}");
    }
}
