//! `files.upload` and `files.analyze`. An upload is `multipart/form-data` with one `file`
//! part; it must be text (a text type or extension, valid UTF-8 without NUL bytes) of at
//! most `[oropendola] max_upload_bytes`. The bytes are kept under
//! `<data-dir>/uploads/<user>/<id>`, the record in the database (`user_files`), and only
//! their owner sees them. `files.analyze {file_id, prompt?, route?}` sends the stored text
//! with an analysis prompt to a chat route (default `mama-bear`) and answers what it said.

use std::path::PathBuf;

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;
use utoipa::ToSchema;

use super::{Answer, Args, Caller, answer};
use crate::api::chat::chat_error;
use crate::chat::{self, ChatInput};
use crate::clock;
use crate::error::{ApiError, ApiResult};
use crate::providers::MAMA_BEAR;
use crate::state::AppState;

/// Media types accepted besides `text/*`.
const TEXT_TYPES: [&str; 8] = [
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-yaml",
    "application/yaml",
    "application/toml",
    "application/x-sh",
    "application/sql",
];

/// File name extensions accepted whatever the declared type.
const TEXT_EXTENSIONS: [&str; 24] = [
    "txt", "md", "markdown", "rs", "py", "ts", "tsx", "js", "jsx", "json", "yaml", "yml", "toml",
    "csv", "tsv", "html", "css", "xml", "log", "sh", "sql", "go", "java", "rst",
];

/// Most characters of a file sent to the chat route by `files.analyze`.
const ANALYZE_CHARS: usize = 24_000;

/// The default analysis prompt.
const DEFAULT_PROMPT: &str = "Analyze this file: summarise what it contains, point out \
     anything notable (errors, risks, structure), and suggest improvements.";

fn internal(err: impl Into<anyhow::Error>) -> ApiError {
    ApiError::internal(err.into())
}

/// The directory of one user's uploads.
fn user_dir(state: &AppState, caller: &Caller) -> PathBuf {
    let safe: String = caller
        .id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    state.config.data_dir.join("uploads").join(safe)
}

fn is_text_type(content_type: &str, file_name: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    media.starts_with("text/")
        || TEXT_TYPES.contains(&media.as_str())
        || TEXT_EXTENSIONS.contains(&extension.as_str())
}

/// The multipart form of `files.upload` (the handler reads it part by part).
#[derive(Debug, ToSchema)]
#[allow(
    dead_code,
    reason = "the schema of the form the handler reads part by part"
)]
pub struct UploadForm {
    /// The file: a text file (`text/*`, JSON, XML, YAML, TOML, or a source/text
    /// extension) of at most `[oropendola] max_upload_bytes`; other parts are ignored.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// The arguments of `files.analyze` (a JSON object or a form-encoded body).
#[derive(Debug, ToSchema)]
#[allow(
    dead_code,
    reason = "the schema of the arguments the handler reads from `Args`"
)]
pub struct AnalyzeArgs {
    /// The uploaded file (`files.upload`'s `file_id`).
    pub file_id: String,
    /// What to ask about it (a default analysis prompt when absent).
    pub prompt: Option<String>,
    /// The chat route (default `mama-bear`).
    pub route: Option<String>,
}

/// `files.upload`: stores the `file` part for the caller.
#[utoipa::path(
    post, path = "/api/method/oropendola.files.upload", tag = "oropendola",
    summary = "Stores a text file for the caller",
    description = "Stores a text file for the caller (multipart part `file`)",
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "A multipart form whose `file` part is the file"),
    responses(
        (status = 200, description = "`{message: {file_id, file_name, content_type, file_size}}`", body = Answer<Uploaded>),
        (status = 400, description = "No `file` part", body = crate::api::openapi::FrappeErrorBody),
        (status = 401, description = "Not logged in: no `sid` session (or key)", body = crate::api::openapi::FrappeErrorBody),
        (status = 413, description = "Larger than `[oropendola] max_upload_bytes`", body = crate::api::openapi::FrappeErrorBody),
        (status = 415, description = "Not a text file", body = crate::api::openapi::FrappeErrorBody),
    ),
)]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    mut multipart: Multipart,
) -> ApiResult<axum::Json<Answer<Uploaded>>> {
    let max = state.config.oropendola.max_upload_bytes;
    let mut upload = None;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("The multipart body is malformed: {e}")))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let file_name = field
            .file_name()
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_owned())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "upload.txt".to_owned());
        let content_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        if !is_text_type(&content_type, &file_name) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "{file_name} is {content_type}; only text files can be uploaded (text/*, JSON, XML, YAML, TOML, or a source/text extension)"
                ),
            ));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| ApiError::bad_request(format!("The upload was cut short: {e}")))?
        {
            if bytes.len() + chunk.len() > max {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("{file_name} is larger than the {max} bytes a file may have"),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        upload = Some((file_name, content_type, bytes));
        break;
    }
    let Some((file_name, content_type, bytes)) = upload else {
        return Err(ApiError::bad_request(
            "Send the file as a multipart/form-data part named `file`",
        )
        .with_details(json!({ "field": "file" })));
    };
    if bytes.contains(&0) || std::str::from_utf8(&bytes).is_err() {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("{file_name} is not UTF-8 text; only text files can be uploaded"),
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let dir = user_dir(&state, &caller);
    tokio::fs::create_dir_all(&dir).await.map_err(internal)?;
    tokio::fs::write(dir.join(&id), &bytes)
        .await
        .map_err(internal)?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let now = clock::timestamp();
    sqlx::query(
        "INSERT INTO user_files (id, user_id, file_name, content_type, size, sha256, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&caller.id)
    .bind(&file_name)
    .bind(&content_type)
    .bind(bytes.len() as i64)
    .bind(&sha)
    .bind(&now)
    .execute(state.db.pool())
    .await
    .map_err(internal)?;
    tracing::info!(user = %caller.name, file = %file_name, size = bytes.len(), "file uploaded");
    Ok(answer(Uploaded {
        file_id: id.clone(),
        name: id,
        file_name,
        content_type,
        file_size: bytes.len(),
        sha256: sha,
        created_at: now,
    }))
}

/// `files.upload`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Uploaded {
    /// The file's id, for `files.analyze`.
    file_id: String,
    /// Frappe's `name`: the id.
    name: String,
    /// The file's name, as sent (without directories).
    file_name: String,
    /// Its media type, as sent.
    content_type: String,
    /// Its size in bytes.
    file_size: usize,
    /// Its SHA-256, hex.
    sha256: String,
    /// When it was stored (RFC 3339).
    created_at: String,
}

/// `files.analyze`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Analysis {
    /// The file's id.
    file_id: String,
    /// The file's name.
    file_name: String,
    /// The chat route's answer.
    analysis: String,
    /// Whether only the file's first part was sent.
    truncated: bool,
    /// The conversation the analysis was stored in.
    session_id: String,
    /// Figures about the answer.
    metadata: chat::ChatMetadata,
}

/// `files.analyze {file_id, prompt?, route?}`: the stored file's text to a chat route.
#[utoipa::path(
    post, path = "/api/method/oropendola.files.analyze", tag = "oropendola",
    summary = "Sends a stored file's text to a chat route with an analysis prompt",
    description = "Sends a stored file's text to a chat route with an analysis prompt (`file_id`, `prompt?`, `route?`)",
    request_body(content = AnalyzeArgs, description = "`{file_id, prompt?, route?}` as JSON (or form-encoded)"),
    responses(
        (status = 200, description = "`{message: {analysis, metadata}}`", body = Answer<Analysis>),
        (status = 401, description = "Not logged in: no `sid` session (or key)", body = crate::api::openapi::FrappeErrorBody),
        (status = 404, description = "No such file of the caller", body = crate::api::openapi::FrappeErrorBody),
    ),
)]
pub async fn analyze(
    State(state): State<AppState>,
    caller: Caller,
    args: Args,
) -> ApiResult<axum::Json<Answer<Analysis>>> {
    let id = match args.text("file_id")? {
        Some(id) => id,
        None => args.required("file_id")?,
    };
    let row = sqlx::query(
        "SELECT file_name, content_type, size FROM user_files WHERE id = $1 AND user_id = $2",
    )
    .bind(&id)
    .bind(&caller.id)
    .fetch_optional(state.db.pool())
    .await
    .map_err(internal)?
    .ok_or_else(|| ApiError::not_found(format!("No file {id} was uploaded by {}", caller.name)))?;
    let file_name: String = row.try_get("file_name").map_err(internal)?;
    let content_type: String = row.try_get("content_type").map_err(internal)?;
    let path = user_dir(&state, &caller).join(&id);
    // The id came from the database row of this user, so it names a file in their directory.
    let text = tokio::fs::read_to_string(&path).await.map_err(internal)?;
    let shown: String = text.chars().take(ANALYZE_CHARS).collect();
    let cut = shown.len() < text.len();
    let prompt = args
        .text("prompt")?
        .unwrap_or_else(|| DEFAULT_PROMPT.to_owned());
    let route = args.text("route")?.unwrap_or_else(|| MAMA_BEAR.to_owned());
    if state.chat.providers.route(&route).is_none() {
        return Err(ApiError::not_found(format!(
            "No chat route is named {route}"
        )));
    }
    let message = format!(
        "{prompt}\n\nFile `{file_name}` ({content_type}){}:\n```\n{shown}\n```",
        if cut { ", first part" } else { "" }
    );
    let input = ChatInput::from_json(json!({
        "message": message,
        "user_id": caller.name,
        "session_id": args.text("session_id")?,
    }))
    .map_err(chat_error)?;
    let reply = chat::send(&state.chat, &route, input, chat::Surface::Json)
        .outcome()
        .await
        .map_err(chat_error)?;
    Ok(answer(Analysis {
        file_id: id,
        file_name,
        analysis: reply.response,
        truncated: cut,
        session_id: reply.session_id,
        metadata: reply.metadata,
    }))
}
