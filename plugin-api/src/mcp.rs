//! Everything an `mcp-server` plugin needs: the [`Guest`] trait to implement, its record
//! types with convenience constructors, and the plugin's private key-value store
//! ([`kv`]). Export the implementation with [`crate::export_mcp_server!`].

use serde::Serialize;

pub use crate::PluginError;
pub use crate::mcp_server::exports::sanctuary::plugin::mcp::{
    Content, Guest, Prompt, PromptArgument, PromptMessage, Resource, Tool,
};

/// A small persistent key-value store private to this plugin (world `mcp-server` only).
pub use crate::mcp_server::sanctuary::plugin::kv;

pub use crate::tools::{IntoToolResult, NoArgs, SchemaType, ToolArgs, ToolFn};
/// Derives [`ToolArgs`] for a struct of a tool's arguments: one JSON Schema property per
/// field, described by its `///` doc comment; see [`crate::mcp_tools!`].
pub use plugin_api_macros::ToolArgs;
pub use plugin_api_macros::tool;

impl Tool {
    /// A tool named `name` whose arguments follow the JSON Schema `input_schema`.
    ///
    /// ```
    /// use sanctuary_plugin_api::mcp::Tool;
    ///
    /// let tool = Tool::new("ping", "Answers pong", &serde_json::json!({"type": "object"}));
    /// assert_eq!(tool.input_schema, r#"{"type":"object"}"#);
    /// ```
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: &serde_json::Value,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            input_schema: input_schema.to_string(),
        }
    }
}

impl Content {
    /// Plain-text content.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// JSON content holding `value`; fails (`failed`) only if `value` cannot be
    /// serialised, such as a map with non-string keys.
    ///
    /// ```
    /// use sanctuary_plugin_api::mcp::Content;
    ///
    /// let content = Content::json(&serde_json::json!({"zone": "UTC"}))?;
    /// assert_eq!(content, Content::Json(r#"{"zone":"UTC"}"#.into()));
    /// # Ok::<(), sanctuary_plugin_api::PluginError>(())
    /// ```
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, PluginError> {
        serde_json::to_string(value)
            .map(Self::Json)
            .map_err(|err| PluginError::failed(format!("could not serialise the result: {err}")))
    }
}

impl Resource {
    /// A resource at `uri` holding `mime_type` contents.
    pub fn new(
        uri: impl Into<String>,
        name: impl Into<String>,
        description: impl Into<String>,
        mime_type: impl Into<String>,
    ) -> Self {
        Self {
            uri: uri.into(),
            name: name.into(),
            description: description.into(),
            mime_type: mime_type.into(),
        }
    }
}

impl PromptArgument {
    /// An argument `name` of a prompt, `required` or not.
    pub fn new(name: impl Into<String>, description: impl Into<String>, required: bool) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            required,
        }
    }
}

impl PromptMessage {
    /// A message from the user.
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: "user".into(),
            text: text.into(),
        }
    }

    /// A message from the assistant.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self {
            role: "assistant".into(),
            text: text.into(),
        }
    }
}

/// The `invalid-input` error for a tool this plugin does not offer.
///
/// ```
/// let err = sanctuary_plugin_api::mcp::unknown_tool("frobnicate");
/// assert_eq!(err.message(), "unknown tool `frobnicate`");
/// ```
pub fn unknown_tool(name: &str) -> PluginError {
    PluginError::invalid_input(format!("unknown tool `{name}`"))
}

/// The `invalid-input` error for a resource this plugin does not offer.
pub fn unknown_resource(uri: &str) -> PluginError {
    PluginError::invalid_input(format!("unknown resource `{uri}`"))
}

/// The `invalid-input` error for a prompt this plugin does not offer.
pub fn unknown_prompt(name: &str) -> PluginError {
    PluginError::invalid_input(format!("unknown prompt `{name}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_content_holds_the_text() {
        assert_eq!(Content::text("hi"), Content::Text("hi".into()));
    }

    #[test]
    fn json_content_is_compact_json_text() {
        let content = Content::json(&[1, 2]).expect("serialisable");
        assert_eq!(content, Content::Json("[1,2]".into()));
    }

    #[test]
    fn json_content_of_an_unserialisable_value_is_a_failure() {
        let mut map = std::collections::HashMap::new();
        map.insert((1, 2), "pair keys are not strings");
        let err = Content::json(&map).expect_err("non-string keys");
        assert_eq!(err.kind(), "failed");
    }

    #[test]
    fn prompt_messages_carry_their_role() {
        assert_eq!(PromptMessage::user("q").role, "user");
        assert_eq!(PromptMessage::assistant("a").role, "assistant");
    }
}
