//! Constructors and conversions for [`PluginError`], the typed error every plugin call
//! may return.
//!
//! Returning a `PluginError` is an ordinary failure of one call: the host answers the
//! caller with it and keeps the plugin loaded. Pick the case by who can fix the problem:
//! the caller ([`PluginError::invalid_input`]), the operator's grants
//! ([`PluginError::denied`]), time ([`PluginError::unavailable`]) or nobody in particular
//! ([`PluginError::failed`]).

pub use crate::types::PluginError;

impl PluginError {
    /// The input was not acceptable (unknown tool, bad arguments, unknown model); the
    /// message tells the caller what to fix.
    ///
    /// ```
    /// use sanctuary_plugin_api::PluginError;
    ///
    /// let err = PluginError::invalid_input("unknown time zone `Mars/Olympus`");
    /// assert_eq!(err.kind(), "invalid-input");
    /// assert_eq!(err.message(), "unknown time zone `Mars/Olympus`");
    /// ```
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }

    /// A permission the plugin needs was not granted (a host, a file, a secret); the
    /// message names what was missing.
    pub fn denied(message: impl Into<String>) -> Self {
        Self::Denied(message.into())
    }

    /// Something the plugin depends on is unavailable right now; callers may retry or
    /// fail over.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable(message.into())
    }

    /// Any other failure.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// The message, whatever the case.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidInput(m) | Self::Denied(m) | Self::Unavailable(m) | Self::Failed(m) => m,
        }
    }

    /// The case's WIT name: `invalid-input`, `denied`, `unavailable` or `failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "invalid-input",
            Self::Denied(_) => "denied",
            Self::Unavailable(_) => "unavailable",
            Self::Failed(_) => "failed",
        }
    }
}

/// A JSON error is taken to be bad input (`invalid-input`), because JSON in a plugin
/// mostly comes from the caller: `serde_json::from_str(&arguments)?` does the right thing.
/// When you serialise your own values, map failures with [`PluginError::failed`] instead.
///
/// ```
/// use sanctuary_plugin_api::PluginError;
///
/// fn parse(text: &str) -> Result<serde_json::Value, PluginError> {
///     Ok(serde_json::from_str(text)?)
/// }
/// assert_eq!(parse("{").expect_err("not JSON").kind(), "invalid-input");
/// ```
impl From<serde_json::Error> for PluginError {
    fn from(err: serde_json::Error) -> Self {
        Self::InvalidInput(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_constructor_picks_its_case() {
        assert_eq!(
            PluginError::invalid_input("a"),
            PluginError::InvalidInput("a".into())
        );
        assert_eq!(PluginError::denied("b"), PluginError::Denied("b".into()));
        assert_eq!(
            PluginError::unavailable("c"),
            PluginError::Unavailable("c".into())
        );
        assert_eq!(PluginError::failed("d"), PluginError::Failed("d".into()));
    }

    #[test]
    fn kind_and_message_read_back_what_was_built() {
        let err = PluginError::denied("secret `OPENAI_API_KEY` is not set");
        assert_eq!(err.kind(), "denied");
        assert_eq!(err.message(), "secret `OPENAI_API_KEY` is not set");
    }

    #[test]
    fn a_json_syntax_error_becomes_invalid_input_with_its_position() {
        let json_err =
            serde_json::from_str::<serde_json::Value>("{\"a\": }").expect_err("not JSON");
        let err = PluginError::from(json_err);
        assert_eq!(err.kind(), "invalid-input");
        assert!(err.message().contains("line 1"), "{err:?}");
    }
}
