//! Everything an `mcp-server` plugin needs: the [`McpServer`] trait to implement, `#[tool]`
//! functions and their [`ToolArgs`], the record types with convenience constructors, and
//! the plugin's private key-value store ([`kv`]). Export the implementation with
//! `sanctuary_plugin_api::export!(mcp: MyPlugin);`.
//!
//! Since API 0.2.2 the export also serves the tools' metadata and rich results
//! (`mcp-ext`): `#[tool(title = "...", read_only, destructive, idempotent, open_world)]`,
//! [`Structured`] results with an output schema ([`ToolOutput`]), images, audio and
//! embedded resources ([`RichContent`]), [`progress`] reports and resource templates
//! ([`McpServer::list_resource_templates`]).

use serde::Serialize;

use crate::__private::mcp_server::exports::sanctuary::plugin::mcp as raw;
use crate::__private::mcp_server::exports::sanctuary::plugin::mcp_ext as raw_ext;
pub use crate::PluginError;
pub use raw::{Content, Prompt, PromptArgument, PromptMessage, Resource, Tool};

pub use crate::tools::{IntoToolResult, NoArgs, SchemaType, ToolArgs, ToolEntry, ToolFn};
pub use rich::{
    EmbeddedResource, Media, ResourceBody, ResourceTemplate, RichContent, RichPromptMessage,
    Structured, ToolAnnotations, ToolInfo, ToolOutput, ToolResult, base64, elicit, progress,
    sample,
};
/// Derives [`ToolArgs`] for a struct of a tool's arguments: one JSON Schema property per
/// field, described by its `///` doc comment; see [`ToolFn`].
pub use sanctuary_plugin_api_macros::ToolArgs;
/// Derives [`ToolOutput`] for a struct a tool returns as [`Structured`] content: the
/// tool's output schema, one property per field, described by its `///` doc comment.
pub use sanctuary_plugin_api_macros::ToolOutput;
pub use sanctuary_plugin_api_macros::tool;

pub mod kv;
mod rich;

/// An `mcp-server` plugin: tools, resources and prompts served over MCP (`/mcp`), the REST
/// API and the Socket.IO terminal. Every method has a default, so a server implements only
/// what it offers; export the implementing type with
/// `sanctuary_plugin_api::export!(mcp: MyPlugin);`. The [crate docs](crate#an-mcp-server)
/// have an example.
pub trait McpServer {
    /// The `#[tool]` functions this server offers, in the order `tools/list` lists them:
    /// `const TOOLS: &'static [ToolEntry] = &[greet::TOOL, ping::TOOL];`. The default
    /// [`list_tools`](Self::list_tools) and [`call_tool`](Self::call_tool) serve them.
    const TOOLS: &'static [ToolEntry] = &[];

    /// The tools, each with its JSON Schema; by default those of [`TOOLS`](Self::TOOLS).
    fn list_tools() -> Vec<Tool> {
        Self::TOOLS.iter().map(ToolEntry::tool).collect()
    }

    /// Calls tool `name` with `arguments` (JSON object text, already checked by the host
    /// against the tool's schema); by default the [`TOOLS`](Self::TOOLS) entry of that
    /// name, or [`unknown_tool`].
    fn call_tool(name: String, arguments: String) -> Result<Vec<Content>, PluginError> {
        match Self::TOOLS.iter().find(|entry| entry.name() == name) {
            Some(entry) => entry.call(&arguments),
            None => Err(unknown_tool(&name)),
        }
    }

    /// What MCP clients are told about the tools beyond [`list_tools`](Self::list_tools):
    /// titles, annotations, output schemas; by default those of [`TOOLS`](Self::TOOLS)
    /// (`#[tool(title = "...", read_only, ...)]`, [`Structured`] results).
    fn describe_tools() -> Vec<ToolInfo> {
        Self::TOOLS.iter().map(ToolEntry::info).collect()
    }

    /// Calls tool `name` for a rich result (images, audio, resources, structured
    /// content); by default the [`TOOLS`](Self::TOOLS) entry of that name, or else
    /// [`call_tool`](Self::call_tool)'s contents (so a server that overrides only
    /// `call_tool` keeps answering).
    fn call_tool_rich(name: String, arguments: String) -> Result<ToolResult, PluginError> {
        match Self::TOOLS.iter().find(|entry| entry.name() == name) {
            Some(entry) => entry.call_rich(&arguments),
            None => Self::call_tool(name, arguments).map(ToolResult::from),
        }
    }

    /// The resources this server offers; none by default.
    fn list_resources() -> Vec<Resource> {
        Vec::new()
    }

    /// The resource templates this server offers (URI templates such as
    /// `notes://{name}`, whose matching URIs [`read_resource`](Self::read_resource)
    /// reads); none by default. Served by hosts from API 0.2.2.
    fn list_resource_templates() -> Vec<ResourceTemplate> {
        Vec::new()
    }

    /// The contents of resource `uri`; by default [`unknown_resource`].
    fn read_resource(uri: String) -> Result<String, PluginError> {
        Err(unknown_resource(&uri))
    }

    /// The contents of resource `uri` as text or binary pieces, each with its MIME type
    /// (served by hosts from API 0.2.2); by default [`read_resource`](Self::read_resource)'s
    /// text, with the MIME type [`list_resources`](Self::list_resources) gives it.
    fn read_resource_rich(uri: String) -> Result<Vec<EmbeddedResource>, PluginError> {
        let text = Self::read_resource(uri.clone())?;
        let mime_type = Self::list_resources()
            .into_iter()
            .find(|r| r.uri == uri)
            .map(|r| r.mime_type);
        Ok(vec![EmbeddedResource {
            uri,
            mime_type,
            body: ResourceBody::Text(text),
        }])
    }

    /// The prompts this server offers; none by default.
    fn list_prompts() -> Vec<Prompt> {
        Vec::new()
    }

    /// Prompt `name` filled in with `arguments` (a JSON object of strings); by default
    /// [`unknown_prompt`].
    fn get_prompt(name: String, arguments: String) -> Result<Vec<PromptMessage>, PluginError> {
        let _ = arguments;
        Err(unknown_prompt(&name))
    }

    /// Prompt `name` with rich messages (images, audio, embedded resources; served by
    /// hosts from API 0.2.2); by default [`get_prompt`](Self::get_prompt)'s text messages.
    fn get_prompt_rich(
        name: String,
        arguments: String,
    ) -> Result<Vec<RichPromptMessage>, PluginError> {
        Self::get_prompt(name, arguments)
            .map(|messages| messages.into_iter().map(RichPromptMessage::from).collect())
    }
}

impl<T: McpServer> raw::Guest for T {
    fn list_tools() -> Vec<Tool> {
        <T as McpServer>::list_tools()
    }

    fn call_tool(name: String, arguments: String) -> Result<Vec<Content>, PluginError> {
        <T as McpServer>::call_tool(name, arguments)
    }

    fn list_resources() -> Vec<Resource> {
        <T as McpServer>::list_resources()
    }

    fn read_resource(uri: String) -> Result<String, PluginError> {
        <T as McpServer>::read_resource(uri)
    }

    fn list_prompts() -> Vec<Prompt> {
        <T as McpServer>::list_prompts()
    }

    fn get_prompt(name: String, arguments: String) -> Result<Vec<PromptMessage>, PluginError> {
        <T as McpServer>::get_prompt(name, arguments)
    }
}

impl<T: McpServer> raw_ext::Guest for T {
    fn describe_tools() -> Vec<ToolInfo> {
        <T as McpServer>::describe_tools()
    }

    fn call_tool_rich(name: String, arguments: String) -> Result<ToolResult, PluginError> {
        <T as McpServer>::call_tool_rich(name, arguments)
    }

    fn list_resource_templates() -> Vec<ResourceTemplate> {
        <T as McpServer>::list_resource_templates()
    }

    fn read_resource_rich(uri: String) -> Result<Vec<EmbeddedResource>, PluginError> {
        <T as McpServer>::read_resource_rich(uri)
    }

    fn get_prompt_rich(
        name: String,
        arguments: String,
    ) -> Result<Vec<RichPromptMessage>, PluginError> {
        <T as McpServer>::get_prompt_rich(name, arguments)
    }
}

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

    struct Empty;

    impl McpServer for Empty {}

    #[test]
    fn a_server_that_implements_nothing_offers_nothing() {
        assert!(Empty::list_tools().is_empty());
        assert!(Empty::list_resources().is_empty());
        assert!(Empty::list_prompts().is_empty());
        let err = Empty::call_tool("x".into(), "{}".into()).expect_err("no tools");
        assert_eq!(err.message(), "unknown tool `x`");
        let err = Empty::read_resource("mem://a".into()).expect_err("no resources");
        assert_eq!(err.message(), "unknown resource `mem://a`");
        let err = Empty::get_prompt("p".into(), "{}".into()).expect_err("no prompts");
        assert_eq!(err.kind(), "invalid-input");
    }

    /// Answers pong.
    #[crate::tool]
    fn ping() -> Result<String, PluginError> {
        Ok("pong".into())
    }

    /// Echoes its argument.
    #[crate::tool(name = "echo")]
    fn echo_text(args: EchoArgs) -> Result<String, PluginError> {
        Ok(args.text)
    }

    #[derive(serde::Deserialize, ToolArgs)]
    struct EchoArgs {
        /// What to echo.
        text: String,
    }

    struct Tools;

    impl McpServer for Tools {
        const TOOLS: &'static [ToolEntry] = &[ping::TOOL, echo_text::TOOL];
    }

    #[test]
    fn listed_tools_are_served_in_order_by_the_default_methods() {
        let names: Vec<_> = Tools::list_tools().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["ping", "echo"]);
        assert_eq!(
            Tools::call_tool("echo".into(), r#"{"text": "hi"}"#.into()),
            Ok(vec![Content::text("hi")])
        );
        assert_eq!(
            Tools::call_tool("ping".into(), String::new()),
            Ok(vec![Content::text("pong")])
        );
        let err = Tools::call_tool("echo".into(), "{}".into()).expect_err("text missing");
        assert_eq!(err.kind(), "invalid-input");
        let err = Tools::call_tool("echo_text".into(), "{}".into()).expect_err("renamed");
        assert_eq!(err.message(), "unknown tool `echo_text`");
    }

    #[test]
    fn prompt_messages_carry_their_role() {
        assert_eq!(PromptMessage::user("q").role, "user");
        assert_eq!(PromptMessage::assistant("a").role, "assistant");
    }
}
