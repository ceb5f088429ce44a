//! The seed's MCP marketplace: `GET /api/mcp/servers` (the mcp-server plugins, as
//! MCPServer objects plus installed state), `GET /api/mcp/search?query=&category=`, and
//! `POST /api/mcp/servers/{server_name}/install` (admin; `server_name` is the registry id).

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::plugin_view::{self, PluginView};
use crate::auth::Admin;
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
    _admin: Admin,
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
