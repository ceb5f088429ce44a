//! The MCP side of the host: the tools, resources and prompts of every loaded
//! `mcp-server` plugin, gathered under one namespace, and the single entry point every
//! surface uses to call a tool ([`call_tool`]): the MCP endpoint (`/mcp`: the protocol
//! handler in [`server`], served over Streamable HTTP by the server crate's `mcp::http`),
//! the REST route `POST /api/mcp/servers/{name}/tools/{tool}` and the Socket.IO terminal
//! (whose command language is [`terminal`]).
//!
//! This crate depends on the plugins crate (the live set) and the runtime, and on no
//! HTTP framework, database or Socket.IO crate: every surface hands it the
//! [`PluginHost`] it calls through.
//!
//! Names: a tool or prompt is offered as `<plugin-id>__<name>` ([`SEPARATOR`]). Plugin
//! ids are lowercase letters, digits and `-` (no `_`), so the first `__` always ends the
//! id and the name after it may contain anything a plugin allows. Resources keep their
//! own URIs; when two plugins offer the same URI, the later one (by id) is offered as
//! `<plugin-id>__<uri>` so that reads reach it.
//!
//! Arguments are checked against the tool's JSON Schema before the plugin is called; a
//! mismatch is an [`Error::InvalidArguments`] naming each bad field.

pub mod rich;
pub mod server;
pub mod terminal;

pub(crate) use sanctuary_plugins as plugins;
pub(crate) use sanctuary_runtime as runtime;
pub(crate) use sanctuary_runtime::manifest;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{Value, json};
use tracing::{Instrument as _, debug, info_span, warn};

use crate::manifest::Kind;
use crate::plugins::{LivePlugin, PluginHost};
use crate::runtime::CallError;
use crate::runtime::mcp::{Content, Prompt, Resource, Tool};

/// Where the MCP endpoint is mounted (`/mcp`, and `/mcp/<plugin>` for one plugin alone).
pub const PATH: &str = "/mcp";

/// Separates a plugin id from a tool or prompt name: `time__current_time` (a tool name
/// may not contain it).
pub use crate::plugins::tools::SEPARATOR;

/// Why a tool, resource or prompt could not be served.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// No mcp-server plugin with this id is loaded.
    #[error("no MCP server `{0}` is loaded")]
    UnknownServer(String),
    /// The plugin has no such tool.
    #[error("MCP server `{server}` has no tool `{tool}` (its tools: {})", .available.join(", "))]
    UnknownTool {
        /// Plugin id.
        server: String,
        /// The tool asked for.
        tool: String,
        /// The tools it has.
        available: Vec<String>,
    },
    /// No plugin offers this resource.
    #[error("no MCP server offers the resource `{0}`")]
    UnknownResource(String),
    /// The plugin has no such prompt.
    #[error("MCP server `{server}` has no prompt `{prompt}`")]
    UnknownPrompt {
        /// Plugin id.
        server: String,
        /// The prompt asked for.
        prompt: String,
    },
    /// The arguments do not match the tool's input schema (or the prompt's arguments).
    #[error("invalid arguments for `{name}`: {}", describe(.errors))]
    InvalidArguments {
        /// `<plugin>__<tool>` (or prompt).
        name: String,
        /// Each mismatch, naming the field.
        errors: Vec<ArgumentError>,
    },
    /// The plugin was called and failed: its own error, a trap, a timeout, a cap.
    #[error(transparent)]
    Call(#[from] CallError),
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A short code for APIs: `unknown_server`, `unknown_tool`, `unknown_resource`,
    /// `unknown_prompt`, `invalid_arguments`, or the [`CallError::code`] of a failed call.
    pub fn code(&self) -> &'static str {
        match self {
            Error::UnknownServer(_) => "unknown_server",
            Error::UnknownTool { .. } => "unknown_tool",
            Error::UnknownResource(_) => "unknown_resource",
            Error::UnknownPrompt { .. } => "unknown_prompt",
            Error::InvalidArguments { .. } => "invalid_arguments",
            Error::Call(e) => e.code(),
        }
    }

    /// Whether the thing asked for does not exist (as opposed to a call that failed).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Error::UnknownServer(_)
                | Error::UnknownTool { .. }
                | Error::UnknownResource(_)
                | Error::UnknownPrompt { .. }
        )
    }
}

/// One way the arguments failed the schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArgumentError {
    /// The field, as a path into the arguments (`timezone`, `entities[0].name`); empty
    /// for the arguments object itself (a missing or unexpected property, a wrong type).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

fn describe(errors: &[ArgumentError]) -> String {
    errors
        .iter()
        .map(|e| {
            if e.field.is_empty() {
                e.message.clone()
            } else {
                format!("`{}`: {}", e.field, e.message)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `<plugin>__<name>`.
pub fn qualified(plugin: &str, name: &str) -> String {
    format!("{plugin}{SEPARATOR}{name}")
}

/// Splits `<plugin>__<name>` at the first separator.
pub fn split(qualified: &str) -> Option<(&str, &str)> {
    qualified
        .split_once(SEPARATOR)
        .filter(|(plugin, name)| !plugin.is_empty() && !name.is_empty())
}

/// The loaded mcp-server plugins, by id.
pub fn servers(plugins: &PluginHost) -> Vec<Arc<LivePlugin>> {
    plugins.of_kind(Kind::McpServer)
}

/// The loaded mcp-server plugin `id`.
pub fn server(plugins: &PluginHost, id: &str) -> Result<Arc<LivePlugin>> {
    plugins
        .get(id)
        .filter(|live| live.plugin.kind() == Kind::McpServer)
        .ok_or_else(|| Error::UnknownServer(id.to_string()))
}

/// Every tool of every loaded mcp-server plugin as `(plugin id, tool)`, by plugin id then
/// in the plugin's order. Tools are learned when a plugin loads, so this is cheap.
pub fn tools(plugins: &PluginHost) -> Vec<(String, Tool)> {
    servers(plugins)
        .iter()
        .flat_map(|live| {
            let id = live.id().to_string();
            live.tools.iter().map(move |t| (id.clone(), t.clone()))
        })
        .collect()
}

/// Calls tool `tool` of plugin `server` with `arguments` (a JSON object; `null` means
/// `{}`), after checking them against the tool's input schema. The one way every surface
/// calls a tool: the terminal and the host's own features here, MCP and the REST route
/// through its rich twin, [`rich::call_tool_rich`], which makes the same checks.
pub async fn call_tool(
    plugins: &PluginHost,
    server: &str,
    tool: &str,
    arguments: Value,
) -> Result<Vec<Content>> {
    let (live, arguments) = checked(plugins, server, tool, arguments)?;
    let span = info_span!("tool_call", plugin = %server, kind = "mcp-server", tool = %tool);
    let contents = plugins
        .runtime()
        .call_tool(&live.plugin, tool, &arguments.to_string())
        .instrument(span)
        .await?;
    Ok(contents)
}

/// The plugin `server` and the arguments of a call of its tool `tool`, once the tool is
/// known and the arguments (`null` meaning `{}`) fit its input schema.
fn checked(
    plugins: &PluginHost,
    server: &str,
    tool: &str,
    arguments: Value,
) -> Result<(Arc<LivePlugin>, Value)> {
    let live = self::server(plugins, server)?;
    let Some(spec) = live.tools.iter().find(|t| t.name == tool) else {
        return Err(Error::UnknownTool {
            server: server.to_string(),
            tool: tool.to_string(),
            available: live.tools.iter().map(|t| t.name.clone()).collect(),
        });
    };
    let arguments = match arguments {
        Value::Null => json!({}),
        other => other,
    };
    check_arguments(&spec.input_schema, &arguments).map_err(|errors| Error::InvalidArguments {
        name: qualified(server, tool),
        errors,
    })?;
    Ok((live, arguments))
}

/// Compiled input schemas, by schema text: tools keep their schema for the life of a
/// plugin version, so each is compiled once (bounded, cleared when full).
static VALIDATORS: LazyLock<Mutex<HashMap<String, Option<Arc<jsonschema::Validator>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
const VALIDATOR_CACHE_SIZE: usize = 1024;

fn validator(schema: &str) -> Option<Arc<jsonschema::Validator>> {
    let mut cache = VALIDATORS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(found) = cache.get(schema) {
        return found.clone();
    }
    let compiled = serde_json::from_str::<Value>(schema)
        .ok()
        .and_then(|value| jsonschema::validator_for(&value).ok())
        .map(Arc::new);
    if compiled.is_none() {
        debug!(%schema, "a tool's input schema is not valid JSON Schema; its arguments are not checked");
    }
    if cache.len() >= VALIDATOR_CACHE_SIZE {
        cache.clear();
    }
    cache.insert(schema.to_string(), compiled.clone());
    compiled
}

/// Checks `arguments` against the JSON Schema text `schema`. The arguments must be an
/// object. A schema that is not valid JSON Schema is the plugin's fault, not the
/// caller's: the arguments then go through unchecked (the plugin parses them itself).
pub fn check_arguments(schema: &str, arguments: &Value) -> Result<(), Vec<ArgumentError>> {
    if !arguments.is_object() {
        return Err(vec![ArgumentError {
            field: String::new(),
            message: format!("the arguments must be a JSON object, not {arguments}"),
        }]);
    }
    let Some(validator) = validator(schema) else {
        return Ok(());
    };
    let errors: Vec<ArgumentError> = validator
        .iter_errors(arguments)
        .map(|e| ArgumentError {
            field: field_of(e.instance_path().as_str()),
            message: e.to_string(),
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A JSON pointer as a field path: `/entities/0/name` → `entities[0].name`.
fn field_of(pointer: &str) -> String {
    let mut field = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            field.push_str(&format!("[{part}]"));
        } else {
            if !field.is_empty() {
                field.push('.');
            }
            field.push_str(&part);
        }
    }
    field
}

/// A resource as offered to clients: under which URI, from which plugin.
#[derive(Debug, Clone)]
pub struct OfferedResource {
    /// The URI clients see: the plugin's own, or `<plugin>__<uri>` when an earlier
    /// plugin already offers that URI.
    pub uri: String,
    /// The plugin.
    pub server: String,
    /// What the plugin said about it.
    pub resource: Resource,
}

/// Every resource of every loaded mcp-server plugin. Plugins are asked concurrently; one
/// that fails to answer is logged and left out.
pub async fn resources(plugins: &PluginHost) -> Vec<OfferedResource> {
    let servers = servers(plugins);
    let lists = futures::future::join_all(
        servers
            .iter()
            .map(|live| plugins.runtime().list_resources(&live.plugin)),
    )
    .await;
    let mut seen = std::collections::HashSet::new();
    let mut offered = Vec::new();
    for (live, list) in servers.iter().zip(lists) {
        let list = match list {
            Ok(list) => list,
            Err(e) => {
                warn!(plugin = %live.id(), cause = %e, "could not list the plugin's resources");
                continue;
            }
        };
        for resource in list {
            let uri = if seen.insert(resource.uri.clone()) {
                resource.uri.clone()
            } else {
                qualified(live.id(), &resource.uri)
            };
            offered.push(OfferedResource {
                uri,
                server: live.id().to_string(),
                resource,
            });
        }
    }
    offered
}

/// Reads resource `uri` (as offered by [`resources`]): `(contents, listed mime type,
/// plugin id)`, the contents as text or binary pieces (API 0.2.2 `read-resource-rich`, or
/// a plain plugin's text), each under the URI asked for unless the plugin named another.
///
/// Routing: the first plugin listing exactly `uri`; otherwise `<plugin>__<uri>` goes to
/// that plugin; otherwise the first plugin with a resource template `uri` matches;
/// otherwise the first listing a resource with the same scheme (resources a plugin can
/// read without listing them, such as one per file).
pub async fn read_resource(
    plugins: &PluginHost,
    uri: &str,
) -> Result<(Vec<crate::runtime::mcp::EmbeddedResource>, String, String)> {
    let offered = resources(plugins).await;
    let routed = offered
        .iter()
        .find(|o| o.uri == uri)
        .map(|o| {
            (
                o.server.clone(),
                o.resource.uri.clone(),
                o.resource.mime_type.clone(),
            )
        })
        .or_else(|| {
            let (server, rest) = split(uri)?;
            self::server(plugins, server).ok()?;
            Some((server.to_string(), rest.to_string(), String::new()))
        });
    let routed = match routed {
        Some(routed) => Some(routed),
        None => rich::resource_templates(plugins)
            .await
            .into_iter()
            .find(|(_, t)| rich::template_matches(&t.uri_template, uri))
            .map(|(server, t)| (server, uri.to_string(), t.mime_type.unwrap_or_default())),
    };
    let routed = routed.or_else(|| {
        let scheme = scheme_of(uri)?;
        offered
            .iter()
            .find(|o| scheme_of(&o.resource.uri) == Some(scheme))
            .map(|o| (o.server.clone(), uri.to_string(), String::new()))
    });
    let Some((server, original, mime)) = routed else {
        return Err(Error::UnknownResource(uri.to_string()));
    };
    let live = self::server(plugins, &server)?;
    let mut pieces = plugins
        .runtime()
        .read_resource_rich(&live.plugin, &original)
        .await?;
    // The contents of what was asked for carry the URI it was asked by.
    for piece in &mut pieces {
        if piece.uri.is_empty() || piece.uri == original {
            piece.uri = uri.to_string();
        }
    }
    let mime = if mime.is_empty() {
        "text/plain".to_string()
    } else {
        mime
    };
    Ok((pieces, mime, server))
}

fn scheme_of(uri: &str) -> Option<&str> {
    uri.split_once("://").map(|(scheme, _)| scheme)
}

/// Every prompt of every loaded mcp-server plugin as `(qualified name, prompt)`.
pub async fn prompts(plugins: &PluginHost) -> Vec<(String, Prompt)> {
    let servers = servers(plugins);
    let lists = futures::future::join_all(
        servers
            .iter()
            .map(|live| plugins.runtime().list_prompts(&live.plugin)),
    )
    .await;
    let mut out = Vec::new();
    for (live, list) in servers.iter().zip(lists) {
        match list {
            Ok(list) => out.extend(list.into_iter().map(|p| (qualified(live.id(), &p.name), p))),
            Err(e) => warn!(plugin = %live.id(), cause = %e, "could not list the plugin's prompts"),
        }
    }
    out
}

/// Renders prompt `<plugin>__<prompt>` with `arguments`; required arguments must be there.
pub async fn get_prompt(
    plugins: &PluginHost,
    name: &str,
    arguments: BTreeMap<String, String>,
) -> Result<(Prompt, Vec<crate::runtime::mcp::RichPromptMessage>)> {
    let (server, prompt) = split(name).ok_or_else(|| Error::UnknownPrompt {
        server: String::new(),
        prompt: name.to_string(),
    })?;
    let live = self::server(plugins, server)?;
    let listed = plugins.runtime().list_prompts(&live.plugin).await?;
    let Some(spec) = listed.into_iter().find(|p| p.name == prompt) else {
        return Err(Error::UnknownPrompt {
            server: server.to_string(),
            prompt: prompt.to_string(),
        });
    };
    let missing: Vec<ArgumentError> = spec
        .arguments
        .iter()
        .filter(|a| a.required && !arguments.contains_key(&a.name))
        .map(|a| ArgumentError {
            field: a.name.clone(),
            message: "is required".into(),
        })
        .collect();
    if !missing.is_empty() {
        return Err(Error::InvalidArguments {
            name: name.to_string(),
            errors: missing,
        });
    }
    let text = serde_json::to_string(&arguments).unwrap_or_else(|_| "{}".into());
    let messages = plugins
        .runtime()
        .get_prompt_rich(&live.plugin, prompt, &text)
        .await?;
    Ok((spec, messages))
}

/// A tool result's contents as JSON for REST clients: `{type:"text", text}` or
/// `{type:"json", json}` (JSON text that does not parse is given as text); rich results
/// have [`rich::contents_json`].
pub fn contents_json(contents: &[Content]) -> Vec<Value> {
    let rich = crate::runtime::mcp::rich(contents.to_vec());
    rich::contents_json(&rich.content)
}

/// What the unit tests share.
#[cfg(test)]
pub(crate) mod testing {
    use sanctuary_plugins::{Backing, PluginHost, Settings};

    /// A plugin host with nothing loaded and no records, over a temporary directory (keep
    /// it alive as long as the host).
    pub fn empty_host() -> (PluginHost, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = Settings::under(dir.path());
        let host = PluginHost::new(settings, Backing::none()).expect("a plugin host");
        (host, dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{
        "type": "object",
        "properties": {
            "timezone": { "type": "string" },
            "entities": { "type": "array", "items": {
                "type": "object",
                "properties": { "name": { "type": "string", "minLength": 1 } },
                "required": ["name"]
            } }
        },
        "required": ["timezone"],
        "additionalProperties": false
    }"#;

    #[test]
    fn qualified_names_split_at_the_first_separator() {
        assert_eq!(qualified("time", "current_time"), "time__current_time");
        assert_eq!(split("time__current_time"), Some(("time", "current_time")));
        assert_eq!(split("my-plugin__a__b"), Some(("my-plugin", "a__b")));
        for bad in ["time", "__x", "time__", "time_current"] {
            assert_eq!(split(bad), None, "{bad}");
        }
    }

    #[test]
    fn valid_arguments_pass() {
        assert_eq!(
            check_arguments(
                SCHEMA,
                &json!({"timezone": "UTC", "entities": [{"name": "a"}]})
            ),
            Ok(())
        );
    }

    #[test]
    fn a_wrongly_typed_field_is_named() {
        let errors = check_arguments(SCHEMA, &json!({"timezone": 3})).expect_err("refused");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "timezone");
        assert!(errors[0].message.contains("string"), "{errors:?}");
    }

    #[test]
    fn a_missing_required_field_is_named_in_the_message() {
        let errors = check_arguments(SCHEMA, &json!({})).expect_err("refused");
        assert_eq!(errors[0].field, "");
        assert!(errors[0].message.contains("\"timezone\""), "{errors:?}");
    }

    #[test]
    fn an_unexpected_field_is_named_in_the_message() {
        let errors =
            check_arguments(SCHEMA, &json!({"timezone": "UTC", "tiem": 1})).expect_err("refused");
        assert!(errors[0].message.contains("tiem"), "{errors:?}");
    }

    #[test]
    fn a_nested_field_is_named_by_its_path() {
        let errors = check_arguments(
            SCHEMA,
            &json!({"timezone": "UTC", "entities": [{"name": "ok"}, {"name": ""}]}),
        )
        .expect_err("refused");
        assert_eq!(errors[0].field, "entities[1].name");
        let error = Error::InvalidArguments {
            name: "memory__create_entities".into(),
            errors,
        };
        assert!(
            error.to_string().starts_with(
                "invalid arguments for `memory__create_entities`: `entities[1].name`:"
            ),
            "{error}"
        );
    }

    #[test]
    fn arguments_that_are_not_an_object_are_refused() {
        let errors = check_arguments(SCHEMA, &json!([1])).expect_err("refused");
        assert!(errors[0].message.contains("JSON object"), "{errors:?}");
    }

    #[test]
    fn a_schema_that_is_not_json_schema_lets_the_arguments_through() {
        assert_eq!(check_arguments("not json", &json!({"x": 1})), Ok(()));
        assert_eq!(check_arguments(r#"{"type": 12}"#, &json!({"x": 1})), Ok(()));
    }

    #[test]
    fn json_contents_are_given_as_values_for_rest_clients() {
        let contents = contents_json(&[
            Content::Text("hi".into()),
            Content::Json(r#"{"a":1}"#.into()),
            Content::Json("not json".into()),
        ]);
        assert_eq!(
            contents,
            [
                json!({"type": "text", "text": "hi"}),
                json!({"type": "json", "json": {"a": 1}}),
                json!({"type": "text", "text": "not json"}),
            ]
        );
    }

    #[tokio::test]
    async fn calling_a_tool_of_a_plugin_that_is_not_loaded_is_an_unknown_server() {
        let (host, _dir) = testing::empty_host();
        let err = call_tool(&host, "time", "current_time", json!({}))
            .await
            .expect_err("nothing is loaded");
        assert!(
            matches!(err, Error::UnknownServer(ref id) if id == "time"),
            "{err:?}"
        );
        assert!(err.is_not_found());
    }
}
