//! The seed's MCP marketplace: `GET /api/mcp/servers` (the mcp-server plugins, as
//! MCPServer objects plus installed state), `GET /api/mcp/search?query=&category=`, and
//! `POST /api/mcp/servers/{server_name}/install` (`plugins` scope; `server_name` is the
//! registry id), and `POST /api/mcp/servers/{server_name}/tools/{tool}`, which calls a tool
//! the way the MCP endpoint does ([`crate::mcp::call_tool`]).

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

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
async fn servers(State(state): State<AppState>) -> Result<Json<Vec<PluginView>>, ApiError> {
    Ok(Json(plugin_view::all(&state, Some(Kind::McpServer)).await?))
}

#[derive(Deserialize)]
struct SearchQuery {
    query: Option<String>,
    category: Option<String>,
}

async fn search(
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({
        "servers": servers,
        "total": servers.len(),
        "query": q.query,
        "category": q.category,
        "timestamp": clock::timestamp(),
    })))
}

async fn install(
    _auth: Require<scope::Plugins>,
    State(state): State<AppState>,
    Path(server_name): Path<String>,
) -> Result<Json<Value>, ApiError> {
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
/// `{success, is_error, content: [{type: "text", text} | {type: "json", json}]}`; a call
/// that reached the plugin and failed (its own error, a crash, a timeout) is still 200,
/// with `is_error: true`, the message as text content and `error: {code, message}`. An
/// unknown server or tool is 404, arguments that do not fit the schema 422 (with
/// `details.errors`, one `{field, message}` each), a body that is not JSON 400.
async fn call_tool(
    State(state): State<AppState>,
    Path((server_name, tool)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let arguments = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?
    };
    let outcome = crate::mcp::call_tool(&state.plugins, &server_name, &tool, arguments).await;
    match outcome {
        Ok(contents) => Ok(Json(json!({
            "success": true,
            "is_error": false,
            "server": server_name,
            "tool": tool,
            "content": crate::mcp::contents_json(&contents),
            "timestamp": clock::timestamp(),
        }))),
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
        Err(e) => Ok(Json(json!({
            "success": false,
            "is_error": true,
            "server": server_name,
            "tool": tool,
            "content": [{ "type": "text", "text": e.to_string() }],
            "error": { "code": e.code(), "message": e.to_string() },
            "timestamp": clock::timestamp(),
        }))),
    }
}
