//! Rich tool results and progress (API 0.2.2): [`Structured`] output with its schema
//! ([`ToolOutput`]), images, audio and embedded resources ([`RichContent`]), whole
//! results ([`ToolResult`]), and [`progress`] reports to the MCP client that called the
//! tool. A host older than 0.2.2 calls `call-tool` instead: rich pieces then reach it
//! flattened to text and JSON ([`ToolResult::into_contents`]).

use serde::Serialize;
use serde_json::{Value, json};

use crate::__private::mcp_server::exports::sanctuary::plugin::mcp_ext as ext;
use crate::PluginError;
use crate::mcp::{Content, SchemaType};

pub use ext::{
    EmbeddedResource, Media, ResourceBody, ResourceTemplate, RichContent, RichPromptMessage,
    ToolAnnotations, ToolInfo, ToolResult,
};

/// A type a tool returns as structured content: its [`SchemaType::schema`] is the tool's
/// output schema. Derive it with `#[derive(ToolOutput)]` on a `Serialize` struct (one
/// property per field, described by its `///` doc comment; see [`Structured`]).
pub trait ToolOutput: SchemaType + Serialize {
    /// The JSON Schema of the structured content (an object schema).
    fn output_schema() -> Value {
        Self::schema()
    }
}

/// A tool's structured result: `value` as the call's `structuredContent` (the tool lists
/// `T`'s schema as its `outputSchema`), also given as JSON content for clients that read
/// only the content, after an optional text summary.
///
/// ```
/// use sanctuary_plugin_api::mcp::{Content, Structured, ToolFn, ToolOutput};
/// use sanctuary_plugin_api::{PluginError, tool};
/// use serde::Serialize;
///
/// #[derive(Serialize, ToolOutput)]
/// struct Dice {
///     /// The number rolled, 1-6.
///     value: u8,
/// }
///
/// /// Rolls a die (a fair one, chosen by a fair roll).
/// #[tool(title = "Roll a die", read_only, idempotent)]
/// fn roll() -> Result<Structured<Dice>, PluginError> {
///     Ok(Structured::new(Dice { value: 4 }).with_text("You rolled a 4."))
/// }
///
/// let info = roll::info();
/// assert_eq!(info.title.as_deref(), Some("Roll a die"));
/// assert_eq!(info.annotations.read_only, Some(true));
/// let schema: serde_json::Value = serde_json::from_str(info.output_schema.as_deref().unwrap())?;
/// assert_eq!(schema["properties"]["value"]["description"], "The number rolled, 1-6.");
/// let result = roll::call_rich("{}")?;
/// assert_eq!(result.structured_content.as_deref(), Some(r#"{"value":4}"#));
/// assert_eq!(roll::call("{}")?[0], Content::text("You rolled a 4."));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Structured<T> {
    value: T,
    text: Option<String>,
}

impl<T: ToolOutput> Structured<T> {
    /// `value` as the structured result.
    pub fn new(value: T) -> Self {
        Self { value, text: None }
    }

    /// With a text summary before the JSON content.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// The value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// As plain contents: the text, then the value as JSON.
    pub(crate) fn into_contents(self) -> Result<Vec<Content>, PluginError> {
        let json = Content::json(&self.value)?;
        Ok(self
            .text
            .map(Content::Text)
            .into_iter()
            .chain([json])
            .collect())
    }

    /// As a rich result: the same contents, and the value as structured content.
    pub(crate) fn into_result(self) -> Result<ToolResult, PluginError> {
        let contents = self.into_contents()?;
        let structured = contents.iter().rev().find_map(|c| match c {
            Content::Json(json) => Some(json.clone()),
            Content::Text(_) => None,
        });
        let mut result = ToolResult::from(contents);
        result.structured_content = structured;
        Ok(result)
    }
}

impl ResourceTemplate {
    /// Resources at the URIs `uri_template` (RFC 6570, e.g. `notes://{name}`) expands to,
    /// holding `mime_type` contents when given.
    pub fn new(
        uri_template: impl Into<String>,
        name: impl Into<String>,
        description: impl Into<String>,
        mime_type: Option<&str>,
    ) -> Self {
        Self {
            uri_template: uri_template.into(),
            name: name.into(),
            description: description.into(),
            mime_type: mime_type.map(Into::into),
        }
    }
}

impl ToolResult {
    /// A result of `content`, without structured content.
    pub fn new(content: Vec<RichContent>) -> Self {
        Self {
            content,
            structured_content: None,
        }
    }

    /// With `value` as structured content; fails (`failed`) only if `value` cannot be
    /// serialised.
    pub fn with_structured<T: Serialize + ?Sized>(
        mut self,
        value: &T,
    ) -> Result<Self, PluginError> {
        let text = serde_json::to_string(value)
            .map_err(|err| PluginError::failed(format!("could not serialise the result: {err}")))?;
        self.structured_content = Some(text);
        Ok(self)
    }

    /// The contents for a host that only takes text and JSON (`call-tool`): text and JSON
    /// stay, an embedded text resource becomes its text, images, audio and binary
    /// resources become JSON objects in MCP's shapes.
    pub fn into_contents(self) -> Vec<Content> {
        self.content
            .into_iter()
            .map(|c| match c {
                RichContent::Text(text) => Content::Text(text),
                RichContent::Json(json) => Content::Json(json),
                RichContent::Embedded(EmbeddedResource {
                    body: ResourceBody::Text(text),
                    ..
                }) => Content::Text(text),
                other => Content::Json(mcp_shape(&other).to_string()),
            })
            .collect()
    }
}

impl From<Vec<Content>> for ToolResult {
    /// Plain contents as a rich result: text stays text, JSON stays JSON.
    fn from(contents: Vec<Content>) -> Self {
        Self::new(
            contents
                .into_iter()
                .map(|c| match c {
                    Content::Text(text) => RichContent::Text(text),
                    Content::Json(json) => RichContent::Json(json),
                })
                .collect(),
        )
    }
}

/// A rich piece as MCP's JSON content object (`{"type": "image", "data", "mimeType"}`).
fn mcp_shape(content: &RichContent) -> Value {
    match content {
        RichContent::Text(text) => json!({ "type": "text", "text": text }),
        RichContent::Json(text) => json!({ "type": "text", "text": text }),
        RichContent::Image(m) => {
            json!({ "type": "image", "data": m.data, "mimeType": m.mime_type })
        }
        RichContent::Audio(m) => {
            json!({ "type": "audio", "data": m.data, "mimeType": m.mime_type })
        }
        RichContent::Embedded(r) => {
            let mut resource = json!({ "uri": r.uri });
            if let Some(mime) = &r.mime_type {
                resource["mimeType"] = json!(mime);
            }
            match &r.body {
                ResourceBody::Text(text) => resource["text"] = json!(text),
                ResourceBody::Blob(blob) => resource["blob"] = json!(blob),
            }
            json!({ "type": "resource", "resource": resource })
        }
    }
}

impl RichContent {
    /// Plain text.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// An image of type `mime_type` (`image/png`, ...) with these bytes.
    pub fn image(bytes: &[u8], mime_type: impl Into<String>) -> Self {
        Self::Image(Media {
            data: base64(bytes),
            mime_type: mime_type.into(),
        })
    }

    /// Audio of type `mime_type` (`audio/wav`, ...) with these bytes.
    pub fn audio(bytes: &[u8], mime_type: impl Into<String>) -> Self {
        Self::Audio(Media {
            data: base64(bytes),
            mime_type: mime_type.into(),
        })
    }

    /// An embedded text resource at `uri`.
    pub fn resource_text(
        uri: impl Into<String>,
        mime_type: Option<&str>,
        text: impl Into<String>,
    ) -> Self {
        Self::Embedded(EmbeddedResource {
            uri: uri.into(),
            mime_type: mime_type.map(Into::into),
            body: ResourceBody::Text(text.into()),
        })
    }

    /// An embedded binary resource at `uri`.
    pub fn resource_blob(uri: impl Into<String>, mime_type: Option<&str>, bytes: &[u8]) -> Self {
        Self::Embedded(EmbeddedResource {
            uri: uri.into(),
            mime_type: mime_type.map(Into::into),
            body: ResourceBody::Blob(base64(bytes)),
        })
    }
}

impl EmbeddedResource {
    /// The text contents of resource `uri`.
    pub fn text(uri: impl Into<String>, mime_type: Option<&str>, text: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            mime_type: mime_type.map(Into::into),
            body: ResourceBody::Text(text.into()),
        }
    }

    /// The binary contents of resource `uri` (sent as base64).
    pub fn blob(uri: impl Into<String>, mime_type: Option<&str>, bytes: &[u8]) -> Self {
        Self {
            uri: uri.into(),
            mime_type: mime_type.map(Into::into),
            body: ResourceBody::Blob(base64(bytes)),
        }
    }
}

impl RichPromptMessage {
    /// A message from the user saying `content`.
    pub fn user(content: RichContent) -> Self {
        Self {
            role: "user".into(),
            content,
        }
    }

    /// A message from the assistant saying `content`.
    pub fn assistant(content: RichContent) -> Self {
        Self {
            role: "assistant".into(),
            content,
        }
    }
}

impl From<crate::mcp::PromptMessage> for RichPromptMessage {
    fn from(message: crate::mcp::PromptMessage) -> Self {
        Self {
            role: message.role,
            content: RichContent::Text(message.text),
        }
    }
}

impl From<Content> for RichContent {
    fn from(content: Content) -> Self {
        match content {
            Content::Text(text) => Self::Text(text),
            Content::Json(json) => Self::Json(json),
        }
    }
}

/// `bytes` in standard base64 with padding, as MCP carries binary data.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Reports how far the current tool call has got to the MCP client that called it:
/// `progress` so far (increase it with every report), out of `total` when known, with an
/// optional `message`. The host relays it as `notifications/progress` when the client
/// asked for progress, and ignores it otherwise (and outside tool calls); it relays at
/// most 100 reports a call. Needs a 0.2.2 host (`"api": "^0.2.2"` in the manifest).
///
/// ```no_run
/// use sanctuary_plugin_api::mcp::progress;
///
/// for (done, file) in ["a.txt", "b.txt"].iter().enumerate() {
///     progress(done as f64, Some(2.0), Some(&format!("reading {file}")));
/// }
/// ```
pub fn progress(progress: f64, total: Option<f64>, message: Option<&str>) {
    crate::__private::mcp_server::sanctuary::plugin::mcp_client::notify_progress(
        progress, total, message,
    );
}

/// Asks the MCP client that called the current tool to sample its model
/// (`sampling/createMessage`) with `request`, the request's params (`messages`,
/// `maxTokens`, optional `systemPrompt`, ...), and returns the client's result (`role`,
/// `content`, `model`, `stopReason`). Fails with [`PluginError::Unavailable`] when the
/// tool was not called over MCP, or by a client without the sampling capability, or when
/// the client refuses. Waiting for the answer counts against the call's time limit. Needs
/// a 0.2.2 host.
///
/// ```no_run
/// use sanctuary_plugin_api::mcp::sample;
/// use serde_json::json;
///
/// let answer = sample(&json!({
///     "messages": [{ "role": "user", "content": { "type": "text", "text": "Name a colour" } }],
///     "maxTokens": 20,
/// }))?;
/// let colour = answer["content"]["text"].as_str().unwrap_or_default();
/// # Ok::<(), sanctuary_plugin_api::PluginError>(())
/// ```
pub fn sample(request: &serde_json::Value) -> Result<serde_json::Value, PluginError> {
    let answer = crate::__private::mcp_server::sanctuary::plugin::mcp_client::create_message(
        &request.to_string(),
    )?;
    serde_json::from_str(&answer)
        .map_err(|e| PluginError::failed(format!("the host's sampling answer is not JSON: {e}")))
}

/// Asks the user of the MCP client that called the current tool for input
/// (`elicitation/create`): `message` to show and `schema`, the JSON Schema of what to ask
/// (an object of primitive properties: strings, numbers, booleans, enums, with defaults).
/// Returns the client's result: `action` (`accept`, `decline` or `cancel`) and, when
/// accepted, `content`. Fails as [`sample`] does. Needs a 0.2.2 host.
///
/// ```no_run
/// use sanctuary_plugin_api::mcp::elicit;
/// use serde_json::json;
///
/// let answer = elicit(
///     "Which branch should I deploy?",
///     &json!({ "type": "object", "properties": { "branch": { "type": "string", "default": "main" } } }),
/// )?;
/// if answer["action"] == "accept" {
///     let branch = answer["content"]["branch"].as_str().unwrap_or("main");
/// }
/// # Ok::<(), sanctuary_plugin_api::PluginError>(())
/// ```
pub fn elicit(message: &str, schema: &serde_json::Value) -> Result<serde_json::Value, PluginError> {
    let answer = crate::__private::mcp_server::sanctuary::plugin::mcp_client::elicit(
        message,
        &schema.to_string(),
    )?;
    serde_json::from_str(&answer)
        .map_err(|e| PluginError::failed(format!("the host's elicitation answer is not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_standard_and_padded() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
    }

    #[test]
    fn rich_pieces_flatten_to_text_and_json_for_older_hosts() {
        let contents = ToolResult::new(vec![
            RichContent::text("hi"),
            RichContent::image(&[1, 2, 3], "image/png"),
            RichContent::resource_text("mem://a", Some("text/plain"), "body"),
        ])
        .into_contents();
        assert_eq!(contents[0], Content::text("hi"));
        let Content::Json(image) = &contents[1] else {
            panic!("an image becomes JSON: {contents:?}");
        };
        let image: Value = serde_json::from_str(image).expect("JSON");
        assert_eq!(
            image,
            json!({"type": "image", "data": "AQID", "mimeType": "image/png"})
        );
        assert_eq!(contents[2], Content::text("body"));
    }
}
