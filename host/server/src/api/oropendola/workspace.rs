//! `workspace.index`, `workspace.search` and `workspace.get_memory`, served by the bundled
//! plugins. The workspace is a directory the `filesystem` plugin is granted (`[oropendola]
//! workspace`, a guest path, default `/files`, i.e. `<data-dir>/files`): `index` walks it
//! with the plugin's `list_directory` and reads each text file with `read_file` (files over
//! `max_index_file_bytes` and binary files are skipped, at most `max_index_files` files),
//! keeping the text in the database (`workspace_index`). `search` ranks the indexed lines
//! against the query's words. `get_memory` reads the caller's memory through the `memory`
//! plugin (`search_nodes` for the caller's name, or for `query`).

use std::collections::VecDeque;

use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;
use utoipa::ToSchema;

use super::{Answer, Args, Caller, answer};
use crate::clock;
use crate::error::{ApiError, ApiResult};
use crate::mcp::{self, Error as McpError};
use crate::runtime::mcp::Content;
use crate::state::AppState;

/// Longest `query` of `workspace.search`.
const MAX_QUERY: usize = 512;

fn tool_error(err: McpError) -> ApiError {
    if err.is_not_found() {
        ApiError::unavailable(format!(
            "{err}; install and enable the plugin to use this method"
        ))
    } else {
        ApiError::new(axum::http::StatusCode::BAD_GATEWAY, err.to_string())
    }
}

/// The JSON content of a tool result.
fn json_of(contents: &[Content]) -> Option<Value> {
    contents.iter().find_map(|c| match c {
        Content::Json(text) => serde_json::from_str(text).ok(),
        Content::Text(_) => None,
    })
}

fn text_of(contents: &[Content]) -> String {
    contents
        .iter()
        .filter_map(|c| match c {
            Content::Text(text) => Some(text.as_str()),
            Content::Json(_) => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `workspace.index`: reads the workspace's text files into the index, replacing it.
#[utoipa::path(
    post, path = "/api/method/oropendola.workspace.index", tag = "oropendola",
    summary = "Indexes the workspace's text files through the filesystem plugin",
    description = "Indexes the workspace's text files through the `filesystem` plugin",
    responses(
        (status = 200, description = "`{message: {files_indexed, skipped_large, skipped_binary, truncated}}`", body = Answer<Indexed>),
        (status = 401, description = "Not logged in: no `sid` session (or key)", body = crate::api::openapi::FrappeErrorBody),
        (status = 503, description = "The filesystem plugin is not loaded", body = crate::api::openapi::FrappeErrorBody),
    ),
)]
pub async fn index(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<axum::Json<Answer<Indexed>>> {
    let settings = &state.config.oropendola;
    let root = settings.workspace.trim_end_matches('/').to_owned();
    let mut queue = VecDeque::from([root.clone()]);
    let mut files: Vec<(String, String, u64)> = Vec::new();
    let (mut skipped_large, mut skipped_binary, mut directories) = (0_u64, 0_u64, 0_u64);
    let mut truncated = false;
    while let Some(dir) = queue.pop_front() {
        let listed = mcp::call_tool(
            &state.plugins,
            "filesystem",
            "list_directory",
            json!({ "path": dir }),
        )
        .await
        .map_err(tool_error)?;
        directories += 1;
        let entries = json_of(&listed)
            .and_then(|v| v.get("entries").cloned())
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        for entry in entries {
            let name = entry["name"].as_str().unwrap_or_default();
            if name.is_empty() || name.starts_with('.') {
                continue;
            }
            let path = format!("{dir}/{name}");
            match entry["kind"].as_str() {
                Some("directory") => queue.push_back(path),
                Some("file") => {
                    let size = entry["size"].as_u64().unwrap_or(0);
                    if size > settings.max_index_file_bytes {
                        skipped_large += 1;
                        continue;
                    }
                    if files.len() >= settings.max_index_files {
                        truncated = true;
                        continue;
                    }
                    let read = mcp::call_tool(
                        &state.plugins,
                        "filesystem",
                        "read_file",
                        json!({ "path": path, "max_bytes": size.max(1) }),
                    )
                    .await;
                    match read {
                        Ok(contents) => files.push((path, text_of(&contents), size)),
                        // Binary files are refused by the plugin as invalid input.
                        Err(_) => skipped_binary += 1,
                    }
                }
                _ => {}
            }
        }
    }
    let now = clock::timestamp();
    let mut tx = state
        .db
        .pool()
        .begin()
        .await
        .map_err(|e| ApiError::internal(e.into()))?;
    sqlx::query("DELETE FROM workspace_index")
        .execute(&mut *tx)
        .await
        .map_err(|e| ApiError::internal(e.into()))?;
    for (path, content, size) in &files {
        sqlx::query(
            "INSERT INTO workspace_index (path, content, size, indexed_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(path)
        .bind(content)
        .bind(i64::try_from(*size).unwrap_or(i64::MAX))
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(|e| ApiError::internal(e.into()))?;
    }
    tx.commit()
        .await
        .map_err(|e| ApiError::internal(e.into()))?;
    tracing::info!(files = files.len(), workspace = %root, "workspace indexed");
    Ok(answer(Indexed {
        success: true,
        workspace: root,
        files_indexed: files.len(),
        directories,
        skipped_large,
        skipped_binary,
        truncated,
        indexed_at: now,
    }))
}

/// `workspace.index`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Indexed {
    /// Always `true`.
    success: bool,
    /// The workspace directory, as the filesystem plugin sees it.
    workspace: String,
    /// Text files indexed.
    files_indexed: usize,
    /// Directories walked.
    directories: u64,
    /// Files left out for their size.
    skipped_large: u64,
    /// Files left out as binary.
    skipped_binary: u64,
    /// Whether the walk stopped at `[oropendola] max_index_files`.
    truncated: bool,
    /// When (RFC 3339).
    indexed_at: String,
}

/// `workspace.get_memory`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemoryAnswer {
    /// The caller.
    user: String,
    /// What was looked for (the caller's name by default).
    query: String,
    /// The matching entities, as the `memory` plugin answers them (free-form).
    #[schema(value_type = Vec<Object>)]
    entities: Value,
    /// Their relations, as the `memory` plugin answers them (free-form).
    #[schema(value_type = Vec<Object>)]
    relations: Value,
    /// The plugin's text answer.
    summary: String,
}

/// `workspace.search`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchAnswer {
    /// The query.
    query: String,
    /// The best matches, best first.
    results: Vec<SearchMatch>,
    /// Matching lines in all.
    total_matches: usize,
    /// Files in the index.
    files_indexed: usize,
}

/// A line matching a `workspace.search`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchMatch {
    /// The file.
    path: String,
    /// The line's number, from 1.
    line: usize,
    /// The line (trimmed, at most 300 characters).
    text: String,
    /// The rank: the share of the query's words it holds, plus 1 for the whole query, plus
    /// 0.25 when the path holds a word.
    score: f64,
}

/// `workspace.search {query, limit?}`: indexed lines holding the query's words, best first
/// (more distinct words, then the whole query as written), each with its path and line.
#[utoipa::path(
    method(get, post), path = "/api/method/oropendola.workspace.search", tag = "oropendola",
    summary = "Ranked matches of query in the index",
    description = "Ranked matches of `query` in the index (`limit?`)",
    params(
        ("query" = Option<String>, Query, description = "What to find (required, here or in the body)"),
        ("limit" = Option<i64>, Query, description = "At most this many results"),
    ),
    responses(
        (status = 200, description = "`{message: {results: [{path, line, text, score}]}}`", body = Answer<SearchAnswer>),
        (status = 400, description = "No `query`", body = crate::api::openapi::FrappeErrorBody),
        (status = 401, description = "Not logged in: no `sid` session (or key)", body = crate::api::openapi::FrappeErrorBody),
    ),
)]
pub async fn search(
    State(state): State<AppState>,
    _caller: Caller,
    args: Args,
) -> ApiResult<axum::Json<Answer<SearchAnswer>>> {
    let query = args.required("query")?;
    if query.chars().count() > MAX_QUERY {
        return Err(ApiError::bad_request(format!(
            "query is longer than {MAX_QUERY} characters"
        )));
    }
    let limit = args.number("limit", 20, 1, 500)? as usize;
    let phrase = query.to_lowercase();
    let mut words: Vec<String> = phrase
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    words.sort();
    words.dedup();
    if words.is_empty() {
        return Err(
            ApiError::bad_request("query must contain a word to look for")
                .with_details(json!({ "field": "query" })),
        );
    }
    let rows = sqlx::query("SELECT path, content FROM workspace_index ORDER BY path")
        .fetch_all(state.db.pool())
        .await
        .map_err(|e| ApiError::internal(e.into()))?;
    let mut matches = Vec::new();
    for row in &rows {
        let path: String = row
            .try_get("path")
            .map_err(|e| ApiError::internal(e.into()))?;
        let content: String = row
            .try_get("content")
            .map_err(|e| ApiError::internal(e.into()))?;
        for (n, line) in content.lines().enumerate() {
            let lower = line.to_lowercase();
            let hits = words.iter().filter(|w| lower.contains(w.as_str())).count();
            if hits == 0 {
                continue;
            }
            let mut score = hits as f64 / words.len() as f64;
            if words.len() > 1 && lower.contains(&phrase) {
                score += 1.0;
            }
            let path_lower = path.to_lowercase();
            if words.iter().any(|w| path_lower.contains(w.as_str())) {
                score += 0.25;
            }
            matches.push((
                score,
                path.clone(),
                n + 1,
                line.trim().chars().take(300).collect::<String>(),
            ));
        }
    }
    matches.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.1.cmp(&b.1))
            .then_with(|| a.2.cmp(&b.2))
    });
    let total = matches.len();
    let results: Vec<SearchMatch> = matches
        .into_iter()
        .take(limit)
        .map(|(score, path, line, text)| SearchMatch {
            path,
            line,
            text,
            score: (score * 1000.0).round() / 1000.0,
        })
        .collect();
    Ok(answer(SearchAnswer {
        query,
        results,
        total_matches: total,
        files_indexed: rows.len(),
    }))
}

/// `workspace.get_memory {query?}`: the caller's memory from the `memory` plugin's
/// knowledge graph: the entities (with their relations) that mention the caller, or `query`.
#[utoipa::path(
    method(get, post), path = "/api/method/oropendola.workspace.get_memory", tag = "oropendola",
    summary = "The caller's entities in the memory plugin's graph",
    description = "The caller's entities in the `memory` plugin's graph (`query?`)",
    params(
        ("query" = Option<String>, Query, description = "Only entities matching this"),
    ),
    responses(
        (status = 200, description = "`{message: {entities, relations}}`", body = Answer<MemoryAnswer>),
        (status = 401, description = "Not logged in: no `sid` session (or key)", body = crate::api::openapi::FrappeErrorBody),
        (status = 503, description = "The memory plugin is not loaded", body = crate::api::openapi::FrappeErrorBody),
    ),
)]
pub async fn get_memory(
    State(state): State<AppState>,
    caller: Caller,
    args: Args,
) -> ApiResult<axum::Json<Answer<MemoryAnswer>>> {
    let query = args.text("query")?.unwrap_or_else(|| caller.name.clone());
    let contents = mcp::call_tool(
        &state.plugins,
        "memory",
        "search_nodes",
        json!({ "query": query }),
    )
    .await
    .map_err(tool_error)?;
    let graph = json_of(&contents).unwrap_or_else(|| json!({ "entities": [], "relations": [] }));
    Ok(answer(MemoryAnswer {
        user: caller.name,
        query,
        entities: graph.get("entities").cloned().unwrap_or_else(|| json!([])),
        relations: graph.get("relations").cloned().unwrap_or_else(|| json!([])),
        summary: text_of(&contents),
    }))
}
