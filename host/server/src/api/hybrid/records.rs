//! Documents and projects of the hybrid API, per user (`hybrid_documents`,
//! `hybrid_projects`, migration 0011): `GET/POST /api/v1/{documents,projects}` and
//! `GET/PUT/DELETE /api/v1/{documents,projects}/{id}`. Lists take `limit` (default 50, at
//! most 100) and `offset`, documents also `project_id`; they answer
//! `{documents|projects: [...], total, limit, offset}` with `X-Total-Count`. A record of
//! another user is as good as unknown (404).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::V1User;
use crate::clock;
use crate::error::{Envelope, EnvelopeError};
use crate::state::AppState;

mod schema;

/// How a field is kept.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A string, at most this many characters.
    Text(usize),
    /// A string or null.
    OptText(usize),
    /// A JSON object, kept as text.
    Object,
}

/// One field of a record: its JSON name, column, kind and default (`None`: required).
struct Field {
    name: &'static str,
    column: &'static str,
    kind: Kind,
    default: Option<&'static str>,
}

/// A kind of record.
struct Spec {
    table: &'static str,
    plural: &'static str,
    singular: &'static str,
    fields: &'static [Field],
}

const DOCUMENTS: Spec = Spec {
    table: "hybrid_documents",
    plural: "documents",
    singular: "document",
    fields: &[
        Field {
            name: "title",
            column: "title",
            kind: Kind::Text(512),
            default: None,
        },
        Field {
            name: "content",
            column: "content",
            kind: Kind::Text(1 << 20),
            default: Some(""),
        },
        Field {
            name: "type",
            column: "doc_type",
            kind: Kind::Text(64),
            default: Some("document"),
        },
        Field {
            name: "project_id",
            column: "project_id",
            kind: Kind::OptText(64),
            default: Some(""),
        },
        Field {
            name: "metadata",
            column: "metadata",
            kind: Kind::Object,
            default: Some("{}"),
        },
    ],
};

const PROJECTS: Spec = Spec {
    table: "hybrid_projects",
    plural: "projects",
    singular: "project",
    fields: &[
        Field {
            name: "name",
            column: "name",
            kind: Kind::Text(256),
            default: None,
        },
        Field {
            name: "description",
            column: "description",
            kind: Kind::Text(16 * 1024),
            default: Some(""),
        },
        Field {
            name: "status",
            column: "status",
            kind: Kind::Text(64),
            default: Some("active"),
        },
        Field {
            name: "metadata",
            column: "metadata",
            kind: Kind::Object,
            default: Some("{}"),
        },
    ],
};

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/documents",
            get(list_documents).post(create_document),
        )
        .route(
            "/api/v1/documents/{id}",
            get(get_document)
                .put(update_document)
                .delete(delete_document),
        )
        .route("/api/v1/projects", get(list_projects).post(create_project))
        .route(
            "/api/v1/projects/{id}",
            get(get_project).put(update_project).delete(delete_project),
        )
}

fn internal(err: impl Into<anyhow::Error>) -> EnvelopeError {
    EnvelopeError::internal(err.into())
}

/// Query of the list routes.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
    offset: Option<String>,
    project_id: Option<String>,
}

fn number(name: &str, text: Option<&str>, default: i64, max: i64) -> Result<i64, EnvelopeError> {
    match text {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=max).contains(n))
            .ok_or_else(|| {
                EnvelopeError::bad_request(format!("{name} must be a whole number from 0 to {max}"))
                    .with_details(json!({ "field": name }))
            }),
    }
}

/// A stored row as JSON.
fn to_json(spec: &Spec, row: &AnyRow) -> Result<Value, EnvelopeError> {
    let mut out = Map::new();
    for column in ["id", "user_id", "created_at", "updated_at"] {
        let value: String = row.try_get(column).map_err(internal)?;
        out.insert(column.to_owned(), Value::String(value));
    }
    for field in spec.fields {
        let value = match field.kind {
            Kind::Text(_) => Value::String(row.try_get(field.column).map_err(internal)?),
            Kind::OptText(_) => row
                .try_get::<Option<String>, _>(field.column)
                .map_err(internal)?
                .map_or(Value::Null, Value::String),
            Kind::Object => {
                let text: String = row.try_get(field.column).map_err(internal)?;
                serde_json::from_str(&text).unwrap_or_else(|_| json!({}))
            }
        };
        out.insert(field.name.to_owned(), value);
    }
    Ok(Value::Object(out))
}

/// A field's value from a body, validated; `None` when absent.
fn field_value(
    field: &Field,
    body: &Map<String, Value>,
) -> Result<Option<Option<String>>, EnvelopeError> {
    let bad = |message: String| {
        EnvelopeError::bad_request(message).with_details(json!({ "field": field.name }))
    };
    let Some(value) = body.get(field.name) else {
        return Ok(None);
    };
    let kept = match (field.kind, value) {
        (Kind::OptText(_), Value::Null) => None,
        (Kind::Text(max) | Kind::OptText(max), Value::String(text)) => {
            if text.chars().count() > max {
                return Err(bad(format!(
                    "{} is longer than {max} characters",
                    field.name
                )));
            }
            if field.default.is_none() && text.trim().is_empty() {
                return Err(bad(format!("{} must not be empty", field.name)));
            }
            Some(text.clone())
        }
        (Kind::Object, Value::Object(map)) => Some(Value::Object(map.clone()).to_string()),
        (Kind::Object, _) => return Err(bad(format!("{} must be a JSON object", field.name))),
        (_, other) => {
            return Err(bad(format!(
                "{} must be a string, not {}",
                field.name,
                crate::chat::json_type(other)
            )));
        }
    };
    Ok(Some(kept))
}

fn body_object(body: &Bytes) -> Result<Map<String, Value>, EnvelopeError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(EnvelopeError::bad_request(format!(
            "The body must be a JSON object, not {}",
            crate::chat::json_type(&other)
        ))),
        Err(e) => Err(EnvelopeError::bad_request(format!(
            "The body is not valid JSON: {e}"
        ))),
    }
}

/// Checks that a document's `project_id` names one of the user's projects.
async fn check_project(
    state: &AppState,
    user: &V1User,
    project: Option<&str>,
) -> Result<(), EnvelopeError> {
    let Some(project) = project.filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let found = sqlx::query("SELECT id FROM hybrid_projects WHERE id = $1 AND user_id = $2")
        .bind(project)
        .bind(&user.id)
        .fetch_optional(state.db.pool())
        .await
        .map_err(internal)?;
    match found {
        Some(_) => Ok(()),
        None => Err(
            EnvelopeError::bad_request(format!("No project {project} belongs to you"))
                .with_details(json!({ "field": "project_id" })),
        ),
    }
}

async fn fetch(
    state: &AppState,
    spec: &Spec,
    user: &V1User,
    id: &str,
) -> Result<Value, EnvelopeError> {
    let sql = format!(
        "SELECT * FROM {} WHERE id = $1 AND user_id = $2",
        spec.table
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(&user.id)
        .fetch_optional(state.db.pool())
        .await
        .map_err(internal)?
        .ok_or_else(|| EnvelopeError::not_found(format!("No {} with id {id}", spec.singular)))?;
    to_json(spec, &row)
}

async fn list(
    state: &AppState,
    spec: &Spec,
    user: &V1User,
    query: ListQuery,
) -> Result<Response, EnvelopeError> {
    let limit = number("limit", query.limit.as_deref(), 50, 100)?.max(1);
    let offset = number("offset", query.offset.as_deref(), 0, i64::MAX)?;
    let project = query
        .project_id
        .filter(|p| !p.is_empty() && spec.table == DOCUMENTS.table);
    let filter = if project.is_some() {
        " AND project_id = $2"
    } else {
        ""
    };
    let count_sql = format!(
        "SELECT COUNT(*) AS n FROM {} WHERE user_id = $1{filter}",
        spec.table
    );
    let mut count = sqlx::query(sqlx::AssertSqlSafe(count_sql)).bind(&user.id);
    if let Some(project) = &project {
        count = count.bind(project);
    }
    let total: i64 = count
        .fetch_one(state.db.pool())
        .await
        .map_err(internal)?
        .try_get("n")
        .map_err(internal)?;
    let (l, o) = if project.is_some() {
        ("$3", "$4")
    } else {
        ("$2", "$3")
    };
    let sql = format!(
        "SELECT * FROM {} WHERE user_id = $1{filter} ORDER BY updated_at DESC, id LIMIT {l} OFFSET {o}",
        spec.table
    );
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&user.id);
    if let Some(project) = &project {
        rows = rows.bind(project);
    }
    let rows = rows
        .bind(limit)
        .bind(offset)
        .fetch_all(state.db.pool())
        .await
        .map_err(internal)?;
    let items = rows
        .iter()
        .map(|r| to_json(spec, r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut response = Envelope(json!({
        spec.plural: items,
        "total": total,
        "limit": limit,
        "offset": offset,
    }))
    .into_response();
    response
        .headers_mut()
        .insert("x-total-count", HeaderValue::from(total));
    Ok(response)
}

async fn create(
    state: &AppState,
    spec: &Spec,
    user: &V1User,
    body: Bytes,
) -> Result<Response, EnvelopeError> {
    let body = body_object(&body)?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = clock::timestamp();
    let mut values = Vec::new();
    for field in spec.fields {
        let value = match field_value(field, &body)? {
            Some(value) => value,
            None => match field.default {
                None => {
                    return Err(
                        EnvelopeError::bad_request(format!("{} is required", field.name))
                            .with_details(json!({ "field": field.name })),
                    );
                }
                Some("") if matches!(field.kind, Kind::OptText(_)) => None,
                Some(default) => Some(default.to_owned()),
            },
        };
        values.push(value);
    }
    if spec.table == DOCUMENTS.table {
        let project = spec.fields.iter().position(|f| f.name == "project_id");
        check_project(state, user, project.and_then(|i| values[i].as_deref())).await?;
    }
    let columns: Vec<&str> = spec.fields.iter().map(|f| f.column).collect();
    let placeholders: Vec<String> = (5..5 + columns.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "INSERT INTO {} (id, user_id, created_at, updated_at, {}) VALUES ($1, $2, $3, $4, {})",
        spec.table,
        columns.join(", "),
        placeholders.join(", ")
    );
    let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&id)
        .bind(&user.id)
        .bind(&now)
        .bind(&now);
    for value in values {
        insert = insert.bind(value);
    }
    insert.execute(state.db.pool()).await.map_err(internal)?;
    tracing::info!(kind = spec.singular, %id, user = %user.name, "record created");
    let record = fetch(state, spec, user, &id).await?;
    Ok((
        StatusCode::CREATED,
        Envelope(json!({ spec.singular: record })).into_response(),
    )
        .into_response())
}

async fn update(
    state: &AppState,
    spec: &Spec,
    user: &V1User,
    id: &str,
    body: Bytes,
) -> Result<Response, EnvelopeError> {
    fetch(state, spec, user, id).await?;
    let body = body_object(&body)?;
    let mut sets = Vec::new();
    let mut values = Vec::new();
    for field in spec.fields {
        if let Some(value) = field_value(field, &body)? {
            if field.name == "project_id" {
                check_project(state, user, value.as_deref()).await?;
            }
            sets.push(format!("{} = ${}", field.column, sets.len() + 4));
            values.push(value);
        }
    }
    if sets.is_empty() {
        let names: Vec<&str> = spec.fields.iter().map(|f| f.name).collect();
        return Err(EnvelopeError::bad_request(format!(
            "Nothing to update: send one of {}",
            names.join(", ")
        )));
    }
    let sql = format!(
        "UPDATE {} SET updated_at = $3, {} WHERE id = $1 AND user_id = $2",
        spec.table,
        sets.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(&user.id)
        .bind(clock::timestamp());
    for value in values {
        query = query.bind(value);
    }
    query.execute(state.db.pool()).await.map_err(internal)?;
    let record = fetch(state, spec, user, id).await?;
    Ok(Envelope(json!({ spec.singular: record })).into_response())
}

async fn delete(
    state: &AppState,
    spec: &Spec,
    user: &V1User,
    id: &str,
) -> Result<Response, EnvelopeError> {
    let sql = format!("DELETE FROM {} WHERE id = $1 AND user_id = $2", spec.table);
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(&user.id)
        .execute(state.db.pool())
        .await
        .map_err(internal)?;
    if done.rows_affected() == 0 {
        return Err(EnvelopeError::not_found(format!(
            "No {} with id {id}",
            spec.singular
        )));
    }
    tracing::info!(kind = spec.singular, %id, user = %user.name, "record deleted");
    Ok(Envelope(json!({ "id": id, "deleted": true })).into_response())
}

macro_rules! handlers {
    (
        $spec:expr,
        $(#[$l:meta])* $list:ident,
        $(#[$c:meta])* $create:ident,
        $(#[$g:meta])* $get:ident,
        $(#[$u:meta])* $update:ident,
        $(#[$d:meta])* $delete:ident
    ) => {
        $(#[$l])*
        async fn $list(
            State(state): State<AppState>,
            user: V1User,
            Query(query): Query<ListQuery>,
        ) -> Result<Response, EnvelopeError> {
            list(&state, &$spec, &user, query).await
        }

        $(#[$c])*
        async fn $create(State(state): State<AppState>, user: V1User, body: Bytes) -> Result<Response, EnvelopeError> {
            create(&state, &$spec, &user, body).await
        }

        $(#[$g])*
        async fn $get(
            State(state): State<AppState>,
            user: V1User,
            Path(id): Path<String>,
        ) -> Result<Response, EnvelopeError> {
            let record = fetch(&state, &$spec, &user, &id).await?;
            Ok(Envelope(json!({ $spec.singular: record })).into_response())
        }

        $(#[$u])*
        async fn $update(
            State(state): State<AppState>,
            user: V1User,
            Path(id): Path<String>,
            body: Bytes,
        ) -> Result<Response, EnvelopeError> {
            update(&state, &$spec, &user, &id, body).await
        }

        $(#[$d])*
        async fn $delete(
            State(state): State<AppState>,
            user: V1User,
            Path(id): Path<String>,
        ) -> Result<Response, EnvelopeError> {
            delete(&state, &$spec, &user, &id).await
        }
    };
}

handlers!(
    DOCUMENTS,
    #[utoipa::path(
        get, path = "/api/v1/documents", tag = "hybrid",
        summary = "The caller's documents, newest first",
        description = "The caller's documents, newest first (`?limit=&offset=``&project_id=`); `X-Total-Count`",
        params(
            ("limit" = Option<i64>, Query, description = "At most this many (default 50)"),
            ("offset" = Option<i64>, Query, description = "Skip this many (default 0)"),
            ("project_id" = Option<String>, Query, description = "Only documents of this project"),
        ),
        responses(
            (status = 200, description = "`{success, data: {documents, total, limit, offset}}`", body = schema::DocumentList),
            (status = 400, description = "A bad limit or offset", body = crate::api::openapi::EnvelopeFailure),
        ),
    )]
    list_documents,
    #[utoipa::path(
        post, path = "/api/v1/documents", tag = "hybrid",
        summary = "Creates a document",
        description = "Creates a document: `{title, content?, type?, project_id?, metadata?}`",
        request_body = schema::NewDocument,
        responses(
            (status = 201, description = "`{success, data: {document}}`", body = schema::DocumentAnswer),
            (status = 400, description = "A missing or invalid field", body = crate::api::openapi::EnvelopeFailure),
        ),
    )]
    create_document,
    #[utoipa::path(
        get, path = "/api/v1/documents/{id}", tag = "hybrid",
        summary = "One of the caller's documents",
        description = "One of the caller's documents",
        params(
            ("id" = String, Path, description = "The id"),
        ),
        responses(
            (status = 200, description = "`{success, data: {document}}`", body = schema::DocumentAnswer),
            (status = 404, description = "Unknown, or another user's", body = crate::api::openapi::EnvelopeFailure),
        ),
    )]
    get_document,
    #[utoipa::path(
        put, path = "/api/v1/documents/{id}", tag = "hybrid",
        summary = "Updates the fields given",
        description = "Updates the fields given",
        params(
            ("id" = String, Path, description = "The id"),
        ),
        request_body = schema::DocumentChanges,
        responses(
            (status = 200, description = "`{success, data: {document}}`", body = schema::DocumentAnswer),
            (status = 400, description = "An invalid field, or none", body = crate::api::openapi::EnvelopeFailure),
            (status = 404, description = "Unknown, or another user's", body = crate::api::openapi::EnvelopeFailure),
        ),
    )]
    update_document,
    #[utoipa::path(
        delete, path = "/api/v1/documents/{id}", tag = "hybrid",
        summary = "Deletes one of the caller's documents",
        description = "Deletes one of the caller's documents",
        params(
            ("id" = String, Path, description = "The id"),
        ),
        responses(
            (status = 200, description = "`{success, data: {id, deleted}}`", body = schema::RecordDeleted),
            (status = 404, description = "Unknown, or another user's", body = crate::api::openapi::EnvelopeFailure),
        ),
    )]
    delete_document
);
handlers!(
    PROJECTS,
    #[utoipa::path(
        get, path = "/api/v1/projects", tag = "hybrid",
        summary = "The caller's projects, newest first",
        description = "The caller's projects, newest first (`?limit=&offset=`); `X-Total-Count`",
        params(
            ("limit" = Option<i64>, Query, description = "At most this many (default 50)"),
            ("offset" = Option<i64>, Query, description = "Skip this many (default 0)"),
        ),
        responses(
            (status = 200, description = "`{success, data: {projects, total, limit, offset}}`", body = schema::ProjectList),
            (status = 400, description = "A bad limit or offset", body = crate::api::openapi::EnvelopeFailure),
        ),
    )]
    list_projects,
    #[utoipa::path(
        post, path = "/api/v1/projects", tag = "hybrid",
        summary = "Creates a project",
        description = "Creates a project: `{name, description?, status?, metadata?}`",
        request_body = schema::NewProject,
        responses(
            (status = 201, description = "`{success, data: {project}}`", body = schema::ProjectAnswer),
            (status = 400, description = "A missing or invalid field", body = crate::api::openapi::EnvelopeFailure),
        ),
    )]
    create_project,
    #[utoipa::path(
        get, path = "/api/v1/projects/{id}", tag = "hybrid",
        summary = "One of the caller's projects",
        description = "One of the caller's projects",
        params(
            ("id" = String, Path, description = "The id"),
        ),
        responses(
            (status = 200, description = "`{success, data: {project}}`", body = schema::ProjectAnswer),
            (status = 404, description = "Unknown, or another user's", body = crate::api::openapi::EnvelopeFailure),
        ),
    )]
    get_project,
    #[utoipa::path(
        put, path = "/api/v1/projects/{id}", tag = "hybrid",
        summary = "Updates the fields given",
        description = "Updates the fields given",
        params(
            ("id" = String, Path, description = "The id"),
        ),
        request_body = schema::ProjectChanges,
        responses(
            (status = 200, description = "`{success, data: {project}}`", body = schema::ProjectAnswer),
            (status = 400, description = "An invalid field, or none", body = crate::api::openapi::EnvelopeFailure),
            (status = 404, description = "Unknown, or another user's", body = crate::api::openapi::EnvelopeFailure),
        ),
    )]
    update_project,
    #[utoipa::path(
        delete, path = "/api/v1/projects/{id}", tag = "hybrid",
        summary = "Deletes one of the caller's projects",
        description = "Deletes one of the caller's projects",
        params(
            ("id" = String, Path, description = "The id"),
        ),
        responses(
            (status = 200, description = "`{success, data: {id, deleted}}`", body = schema::RecordDeleted),
            (status = 404, description = "Unknown, or another user's", body = crate::api::openapi::EnvelopeFailure),
        ),
    )]
    delete_project
);
