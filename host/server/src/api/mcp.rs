//! The seed's MCP marketplace: `GET /api/mcp/servers` (the mcp-server plugins, as
//! MCPServer objects plus installed state), `GET /api/mcp/search?query=&category=`, and
//! `POST /api/mcp/servers/{server_name}/install` (`plugins` scope; `server_name` is the
//! registry id), and `POST /api/mcp/servers/{server_name}/tools/{tool}`, which calls a tool
//! the way the MCP endpoint does ([`crate::mcp::rich::call_tool_rich`]).

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::api::plugin_view::{self, PluginView};
use crate::auth::{Require, scope};
use crate::clock;
use crate::error::ApiError;
use crate::manifest::Kind;
use crate::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/mcp/servers", get(servers))
        .route("/api/mcp/search", get(search))
        .route("/api/mcp/servers/{server_name}/install", post(install))
        .route(
            "/api/mcp/servers/{server_name}/tools/{tool}",
            post(call_tool),
        )
}

/// The seed answers a bare array of MCPServer objects.
#[utoipa::path(
    get, path = "/api/mcp/servers", tag = "mcp",
    summary = "The MCP-server plugins as the seeds' MCPServer objects",
    description = "The MCP-server plugins as the seeds' MCPServer objects",
    responses(
        (status = 200, description = "An array of MCPServer", body = Vec<PluginView>),
    ),
)]
async fn servers(State(state): State<AppState>) -> Result<Json<Vec<PluginView>>, ApiError> {
    Ok(Json(plugin_view::all(&state, Some(Kind::McpServer)).await?))
}

#[derive(Deserialize)]
struct SearchQuery {
    query: Option<String>,
    category: Option<String>,
}

#[utoipa::path(
    get, path = "/api/mcp/search", tag = "mcp",
    summary = "Searches MCP servers by query and category",
    description = "Searches MCP servers by `query` and `category`",
    params(
        ("query" = Option<String>, Query, description = "Words to find in a server's name, description or tools"),
        ("category" = Option<String>, Query, description = "Only servers of this category"),
    ),
    responses(
        (status = 200, description = "`{servers, total, query, category, timestamp}`", body = SearchResult),
    ),
)]
async fn search(
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> Result<Json<SearchResult>, ApiError> {
    let ids: Vec<String> = state
        .registry
        .search(
            q.query.as_deref(),
            q.category.as_deref(),
            Some(Kind::McpServer),
        )
        .map(|e| e.manifest.id.clone())
        .collect();
    let mut servers = Vec::with_capacity(ids.len());
    for id in &ids {
        servers.push(plugin_view::one(&state, id).await?);
    }
    Ok(Json(SearchResult {
        category: q.category,
        query: q.query,
        total: servers.len(),
        servers,
        timestamp: clock::timestamp(),
    }))
}

/// `GET /api/mcp/search` answer (fields alphabetical, as the body always was).
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    /// The category asked for.
    category: Option<String>,
    /// The words asked for.
    query: Option<String>,
    /// The servers found.
    servers: Vec<PluginView>,
    /// When (RFC 3339).
    timestamp: String,
    /// How many.
    total: usize,
}

/// A piece of a [`ToolResult`]'s content (built as JSON by the MCP layer).
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "the schema of the content pieces built as JSON")]
pub struct ToolContent {
    /// `text`, `json`, `image`, `audio` or `resource` (the last three from plugins built
    /// against API 0.2.2).
    #[schema(rename = "type")]
    kind: String,
    /// The text (a `text` piece).
    text: Option<String>,
    /// The value (a `json` piece): free-form, as the tool answers.
    #[schema(value_type = Option<Object>)]
    json: Option<Value>,
    /// The base64 bytes (an `image` or `audio` piece).
    data: Option<String>,
    /// Their MIME type (an `image` or `audio` piece).
    #[schema(rename = "mimeType")]
    mime_type: Option<String>,
    /// The embedded resource (a `resource` piece).
    resource: Option<ToolResource>,
}

/// The resource of a `resource` piece of a [`ToolResult`]'s content.
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "the schema of the resources built as JSON")]
pub struct ToolResource {
    /// Its URI.
    uri: String,
    /// Its MIME type, when known.
    #[schema(rename = "mimeType")]
    mime_type: Option<String>,
    /// Its text (a text resource).
    text: Option<String>,
    /// Its bytes in base64 (a binary resource).
    blob: Option<String>,
}

/// A tool's result as `POST /api/mcp/servers/{server_name}/tools/{tool}` answers it
/// (fields alphabetical, as the body always was).
#[derive(Debug, Serialize, ToSchema)]
pub struct ToolResult {
    /// `[{type: "text", text} | {type: "json", json}]`.
    #[schema(value_type = Vec<ToolContent>)]
    content: Vec<Value>,
    /// On a failure inside the plugin: `{code, message}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ToolError>,
    /// Whether the call failed inside the plugin.
    is_error: bool,
    /// The server.
    server: String,
    /// The structured result, when the tool gave one (its own, or the one JSON object
    /// among its contents), as MCP's `structuredContent`: free-form, as the tool answers
    /// (matching its output schema when it has one).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    structured_content: Option<Value>,
    /// `!is_error`.
    success: bool,
    /// When (RFC 3339).
    timestamp: String,
    /// The tool.
    tool: String,
}

/// The `error` of a failed [`ToolResult`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ToolError {
    /// A machine-readable code.
    code: String,
    /// What went wrong.
    message: String,
}

#[utoipa::path(
    post, path = "/api/mcp/servers/{server_name}/install", tag = "mcp",
    summary = "Installs an MCP server from the registry",
    description = "Installs an MCP server from the registry (admin)",
    params(
        ("server_name" = String, Path, description = "The server name"),
    ),
    responses(
        (status = 200, description = "Installed", body = crate::api::plugins::PluginDone),
        (status = 404, description = "Unknown plugin", body = crate::api::openapi::ErrorBody),
    ),
    security(("bearer" = ["plugins"]), ("session" = ["plugins"])),
)]
async fn install(
    _auth: Require<scope::Plugins>,
    State(state): State<AppState>,
    Path(server_name): Path<String>,
) -> Result<Json<crate::api::plugins::PluginDone>, ApiError> {
    if let Some(entry) = state.registry.get(&server_name)
        && entry.manifest.kind != Kind::McpServer
    {
        return Err(ApiError::bad_request(format!(
            "`{server_name}` is a {} plugin, not an MCP server; install it with POST /api/plugins/{server_name}/install",
            entry.manifest.kind
        )));
    }
    crate::api::plugins::install_plugin(&state, &server_name).await
}

/// Calls `tool` of `server_name` with the request body (a JSON object; empty means `{}`)
/// as its arguments, checked against the tool's schema first. Answers
/// `{success, is_error, content: [{type: "text", text} | {type: "json", json} | ...],
/// structured_content?}` (images, audio and resources in MCP's shapes); a call
/// that reached the plugin and failed (its own error, a crash, a timeout) is still 200,
/// with `is_error: true`, the message as text content and `error: {code, message}`. An
/// unknown server or tool is 404, arguments that do not fit the schema 422 (with
/// `details.errors`, one `{field, message}` each), a body that is not JSON 400.
#[utoipa::path(
    post, path = "/api/mcp/servers/{server_name}/tools/{tool}", tag = "mcp",
    summary = "Calls an MCP server's tool with the JSON body",
    description = "Calls an MCP server's tool with the JSON body (an object, empty means `{}`) as its arguments: `{success, is_error, server, tool, content, timestamp}`",
    params(
        ("server_name" = String, Path, description = "The server name"),
        ("tool" = String, Path, description = "The tool"),
    ),
    request_body(content = Object, description = "The tool's arguments: free-form here, each tool's own JSON Schema (`GET /api/mcp/servers` lists them); an empty body means `{}`"),
    responses(
        (status = 200, description = "The tool's result (also a failure inside the plugin, with `is_error: true`)", body = ToolResult),
        (status = 429, description = "The plugin's calls per minute are spent", body = crate::api::openapi::ErrorBody),
        (status = 503, description = "The plugin is busy (its concurrent calls are spent)", body = crate::api::openapi::ErrorBody),
        (status = 400, description = "The body is not JSON", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "Unknown server or tool", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "Arguments that do not fit the tool's schema", body = crate::api::openapi::ErrorBody),
    ),
)]
async fn call_tool(
    State(state): State<AppState>,
    Path((server_name, tool)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<ToolResult>, ApiError> {
    let arguments = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?
    };
    let outcome =
        crate::mcp::rich::call_tool_rich(&state.plugins, &server_name, &tool, arguments, None)
            .await;
    match outcome {
        Ok(result) => Ok(Json(ToolResult {
            content: crate::mcp::rich::contents_json(&result.content),
            structured_content: crate::mcp::rich::structured(&result),
            error: None,
            is_error: false,
            server: server_name,
            success: true,
            timestamp: clock::timestamp(),
            tool,
        })),
        Err(e) if e.is_not_found() => Err(ApiError::not_found(e.to_string())),
        // A spent budget is not the tool's answer: 429 (calls per minute) or 503 (busy).
        Err(crate::mcp::Error::Call(busy @ crate::runtime::CallError::Busy { .. })) => {
            let status = if busy.is_rate_limited() {
                axum::http::StatusCode::TOO_MANY_REQUESTS
            } else {
                axum::http::StatusCode::SERVICE_UNAVAILABLE
            };
            Err(ApiError::new(status, busy.to_string())
                .with_details(json!({ "code": busy.code(), "plugin": busy.plugin() })))
        }
        Err(crate::mcp::Error::InvalidArguments { name, errors }) => Err(ApiError::unprocessable(
            crate::mcp::Error::InvalidArguments {
                name,
                errors: errors.clone(),
            }
            .to_string(),
        )
        .with_details(json!({ "errors": errors }))),
        Err(e) => Ok(Json(ToolResult {
            content: vec![json!({ "type": "text", "text": e.to_string() })],
            error: Some(ToolError {
                code: e.code().to_string(),
                message: e.to_string(),
            }),
            is_error: true,
            server: server_name,
            structured_content: None,
            success: false,
            timestamp: clock::timestamp(),
            tool,
        })),
    }
}
