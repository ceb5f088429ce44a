//! Tool metadata and rich results (API 0.2.2, `mcp-ext`): what `tools/list` says about a
//! tool beyond its name, description and input schema (title, annotations, output
//! schema), the one rich call path ([`call_tool_rich`]) that the MCP endpoint and the
//! REST route use, and a rich result as MCP content or as REST JSON.
//!
//! Resource templates (`resources/templates/list`) come from the same export
//! ([`resource_templates`]); reads of a URI a template matches ([`template_matches`]) go
//! to its plugin.
//!
//! A plugin that does not export `mcp-ext` (built against 0.2.1 or earlier) has no
//! metadata and no templates, and its text and JSON results are passed through as before. Either way, when
//! a result carries no structured content of its own, one JSON object among its contents
//! is taken as the structured result (as the host always did).

use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, ResourceContents};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Error, Result};
use crate::plugins::PluginHost;
use crate::runtime::mcp::{
    ResourceBody, ResourceTemplate, RichContent, Tool, ToolInfo, ToolResult,
};
use crate::runtime::state::ToolNotice;

/// Every tool of every loaded mcp-server plugin as `(plugin id, tool, its metadata)`, in
/// the order of [`super::tools`].
pub fn described_tools(plugins: &PluginHost) -> Vec<(String, Tool, Option<ToolInfo>)> {
    super::servers(plugins)
        .iter()
        .flat_map(|live| {
            let id = live.id().to_string();
            live.tools.iter().map(move |tool| {
                let info = live.tool_info.iter().find(|i| i.name == tool.name).cloned();
                (id.clone(), tool.clone(), info)
            })
        })
        .collect()
}

/// Every resource template of every loaded mcp-server plugin as `(plugin id, template)`.
/// Plugins are asked concurrently; one that fails to answer is logged and left out.
pub async fn resource_templates(plugins: &PluginHost) -> Vec<(String, ResourceTemplate)> {
    let servers = super::servers(plugins);
    let lists = futures::future::join_all(
        servers
            .iter()
            .map(|live| plugins.runtime().list_resource_templates(&live.plugin)),
    )
    .await;
    let mut out = Vec::new();
    for (live, list) in servers.iter().zip(lists) {
        match list {
            Ok(list) => out.extend(list.into_iter().map(|t| (live.id().to_string(), t))),
            Err(e) => {
                tracing::warn!(plugin = %live.id(), cause = %e, "could not list the plugin's resource templates")
            }
        }
    }
    out
}

/// A template as MCP `resources/templates/list` gives it.
pub fn mcp_resource_template(template: ResourceTemplate) -> rmcp::model::ResourceTemplate {
    let listed = rmcp::model::ResourceTemplate::new(template.uri_template, template.name)
        .with_description(template.description);
    match template.mime_type {
        Some(mime) => listed.with_mime_type(mime),
        None => listed,
    }
}

/// Whether `uri` is one the URI template `template` (RFC 6570) expands to: its literal
/// parts in order, each `{expression}` standing for at least one character — not a `/`
/// for a simple `{name}`, anything for a reserved or path expansion (`{+path}`,
/// `{/segments}`, ...).
pub fn template_matches(template: &str, uri: &str) -> bool {
    /// One part of a template.
    enum Part<'t> {
        Literal(&'t str),
        /// An expression; whether it may expand to a `/`.
        Expression(bool),
    }
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return false;
        };
        if open > 0 {
            parts.push(Part::Literal(&rest[..open]));
        }
        let expression = &rest[open + 1..open + close];
        parts.push(Part::Expression(
            expression.starts_with(['+', '#', '/', '.', ';', '?', '&']),
        ));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest));
    }
    fn matches(parts: &[Part<'_>], uri: &str) -> bool {
        match parts.split_first() {
            None => uri.is_empty(),
            Some((Part::Literal(text), rest)) => uri
                .strip_prefix(text)
                .is_some_and(|after| matches(rest, after)),
            Some((Part::Expression(slashes), rest)) => (1..=uri.len())
                .filter(|&end| uri.is_char_boundary(end))
                .take_while(|&end| *slashes || !uri[..end].contains('/'))
                .any(|end| matches(rest, &uri[end..])),
        }
    }
    matches(&parts, uri)
}

/// A JSON Schema text as an object (`{"type": "object"}` when it is not one).
pub fn schema_object(schema: &str) -> JsonObject {
    match serde_json::from_str::<Value>(schema) {
        Ok(Value::Object(object)) => object,
        _ => {
            let mut object = JsonObject::new();
            object.insert("type".into(), Value::String("object".into()));
            object
        }
    }
}

/// A tool as MCP `tools/list` gives it, named `name`, with its metadata when it has some.
pub fn mcp_tool(name: String, tool: Tool, info: Option<ToolInfo>) -> rmcp::model::Tool {
    let mut listed = rmcp::model::Tool::new(
        name,
        tool.description,
        Arc::new(schema_object(&tool.input_schema)),
    );
    if let Some(info) = info {
        let hints = info.annotations;
        let said = [
            hints.read_only,
            hints.destructive,
            hints.idempotent,
            hints.open_world,
        ]
        .iter()
        .any(Option::is_some);
        if said {
            listed = listed.with_annotations(rmcp::model::ToolAnnotations::from_raw(
                None,
                hints.read_only,
                hints.destructive,
                hints.idempotent,
                hints.open_world,
            ));
        }
        if let Some(title) = info.title {
            listed = listed.with_title(title);
        }
        if let Some(schema) = info.output_schema {
            listed = listed.with_raw_output_schema(Arc::new(schema_object(&schema)));
        }
    }
    listed
}

/// Calls tool `tool` of plugin `server` with `arguments` for a rich result, after the
/// same checks as [`super::call_tool`]; the plugin's progress reports and log lines go to
/// `progress`.
pub async fn call_tool_rich(
    plugins: &PluginHost,
    server: &str,
    tool: &str,
    arguments: Value,
    progress: Option<mpsc::Sender<ToolNotice>>,
) -> Result<ToolResult> {
    use tracing::Instrument as _;
    let (live, arguments) = super::checked(plugins, server, tool, arguments)?;
    let span =
        tracing::info_span!("tool_call", plugin = %server, kind = "mcp-server", tool = %tool);
    let result = plugins
        .runtime()
        .call_tool_rich(&live.plugin, tool, &arguments.to_string(), progress)
        .instrument(span)
        .await?;
    Ok(result)
}

/// The structured result of `result`: its own, or the one JSON object among its contents.
/// Structured content that is not JSON is dropped.
pub fn structured(result: &ToolResult) -> Option<Value> {
    if let Some(text) = &result.structured_content {
        return serde_json::from_str(text).ok();
    }
    let mut objects = result.content.iter().filter_map(|c| match c {
        RichContent::Json(text) => serde_json::from_str::<Value>(text)
            .ok()
            .filter(Value::is_object),
        _ => None,
    });
    match (objects.next(), objects.next()) {
        (Some(object), None) => Some(object),
        _ => None,
    }
}

/// One piece of a rich result as MCP content: JSON is passed as its text.
pub fn content_block(content: &RichContent) -> ContentBlock {
    match content {
        RichContent::Text(text) | RichContent::Json(text) => ContentBlock::text(text.clone()),
        RichContent::Image(media) => {
            ContentBlock::image(media.data.clone(), media.mime_type.clone())
        }
        RichContent::Audio(media) => {
            ContentBlock::audio(media.data.clone(), media.mime_type.clone())
        }
        RichContent::Embedded(resource) => {
            let contents = match &resource.body {
                ResourceBody::Text(text) => ResourceContents::TextResourceContents {
                    uri: resource.uri.clone(),
                    mime_type: resource.mime_type.clone(),
                    text: text.clone(),
                    meta: None,
                },
                ResourceBody::Blob(blob) => ResourceContents::BlobResourceContents {
                    uri: resource.uri.clone(),
                    mime_type: resource.mime_type.clone(),
                    blob: blob.clone(),
                    meta: None,
                },
            };
            ContentBlock::resource(contents)
        }
    }
}

/// The MCP result of a tool call. Failures the caller should read (bad arguments, the
/// plugin's own error, a crash, a timeout) are error *results*; only a name that
/// designates nothing is a protocol error.
pub fn tool_result(outcome: Result<ToolResult>) -> Result<CallToolResult, rmcp::ErrorData> {
    match outcome {
        Ok(result) => {
            let mut answer =
                CallToolResult::success(result.content.iter().map(content_block).collect());
            answer.structured_content = structured(&result);
            Ok(answer)
        }
        Err(e @ (Error::UnknownServer(_) | Error::UnknownTool { .. })) => {
            Err(rmcp::ErrorData::invalid_params(e.to_string(), None))
        }
        Err(e) => Ok(CallToolResult::error(vec![ContentBlock::text(
            e.to_string(),
        )])),
    }
}

/// A rich result's contents as JSON for REST clients: `{type:"text", text}`,
/// `{type:"json", json}` (JSON text that does not parse is given as text),
/// `{type:"image"|"audio", data, mimeType}` and `{type:"resource", resource:{uri,
/// mimeType?, text|blob}}` (MCP's shapes).
pub fn contents_json(contents: &[RichContent]) -> Vec<Value> {
    contents
        .iter()
        .map(|c| match c {
            RichContent::Text(text) => json!({ "type": "text", "text": text }),
            RichContent::Json(text) => match serde_json::from_str::<Value>(text) {
                Ok(value) => json!({ "type": "json", "json": value }),
                Err(_) => json!({ "type": "text", "text": text }),
            },
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
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::mcp::{EmbeddedResource, Media, ToolAnnotations};

    fn result(content: Vec<RichContent>, structured: Option<&str>) -> ToolResult {
        ToolResult {
            content,
            structured_content: structured.map(Into::into),
        }
    }

    #[test]
    fn the_plugins_own_structured_content_wins_and_media_and_resources_pass_through() {
        let answer = tool_result(Ok(result(
            vec![
                RichContent::Image(Media {
                    data: "iVBORw0KGgo=".into(),
                    mime_type: "image/png".into(),
                }),
                RichContent::Audio(Media {
                    data: "UklGRg==".into(),
                    mime_type: "audio/wav".into(),
                }),
                RichContent::Embedded(EmbeddedResource {
                    uri: "file:///a.md".into(),
                    mime_type: Some("text/markdown".into()),
                    body: ResourceBody::Text("# A".into()),
                }),
                RichContent::Json(r#"{"other":1}"#.into()),
            ],
            Some(r#"{"width":2}"#),
        )))
        .expect("a result");
        assert_eq!(answer.structured_content, Some(json!({"width": 2})));
        let image = answer.content[0].as_image().expect("an image");
        assert_eq!(
            (image.data.as_str(), image.mime_type.as_str()),
            ("iVBORw0KGgo=", "image/png")
        );
        assert_eq!(
            answer.content[1].as_audio().expect("audio").mime_type,
            "audio/wav"
        );
        let embedded = answer.content[2].as_resource().expect("a resource");
        assert_eq!(embedded.get_text(), "# A");
    }

    #[test]
    fn rest_json_gives_media_and_resources_in_mcp_shapes() {
        let json = contents_json(&[
            RichContent::Image(Media {
                data: "AAAA".into(),
                mime_type: "image/png".into(),
            }),
            RichContent::Embedded(EmbeddedResource {
                uri: "mem://b".into(),
                mime_type: None,
                body: ResourceBody::Blob("AQID".into()),
            }),
            RichContent::Json("not json".into()),
        ]);
        assert_eq!(
            json,
            [
                json!({"type": "image", "data": "AAAA", "mimeType": "image/png"}),
                json!({"type": "resource", "resource": {"uri": "mem://b", "blob": "AQID"}}),
                json!({"type": "text", "text": "not json"}),
            ]
        );
    }

    #[test]
    fn uri_templates_match_their_expansions_only() {
        let notes = "notes://{name}";
        assert!(template_matches(notes, "notes://groceries"));
        assert!(!template_matches(notes, "notes://"));
        assert!(
            !template_matches(notes, "notes://a/b"),
            "a simple expression has no `/`"
        );
        assert!(!template_matches(notes, "files://groceries"));
        let files = "file:///{+path}";
        assert!(template_matches(files, "file:///home/ada/notes.md"));
        let two = "repo://{owner}/{name}/readme";
        assert!(template_matches(two, "repo://ada/engine/readme"));
        assert!(!template_matches(two, "repo://ada/readme"));
        assert!(!template_matches("broken://{name", "broken://x"));
        assert!(template_matches("exact://only", "exact://only"));
    }

    #[test]
    fn listed_tools_carry_title_hints_and_output_schema_only_when_said() {
        let tool = Tool {
            name: "write".into(),
            description: "Writes".into(),
            input_schema: r#"{"type":"object"}"#.into(),
        };
        let plain = mcp_tool("fs__write".into(), tool.clone(), None);
        assert_eq!(
            (plain.title, plain.annotations, plain.output_schema),
            (None, None, None)
        );
        let info = ToolInfo {
            name: "write".into(),
            title: Some("Write a file".into()),
            annotations: ToolAnnotations {
                read_only: Some(false),
                destructive: Some(true),
                idempotent: None,
                open_world: None,
            },
            output_schema: Some(
                r#"{"type":"object","properties":{"n":{"type":"integer"}}}"#.into(),
            ),
        };
        let listed = mcp_tool("fs__write".into(), tool, Some(info));
        assert_eq!(listed.title.as_deref(), Some("Write a file"));
        let hints = listed.annotations.expect("annotations");
        assert_eq!(
            (
                hints.read_only_hint,
                hints.destructive_hint,
                hints.idempotent_hint
            ),
            (Some(false), Some(true), None)
        );
        assert_eq!(
            listed.output_schema.expect("schema")["properties"]["n"]["type"],
            "integer"
        );
    }
}
