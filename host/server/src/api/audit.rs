//! `GET /api/plugins/{id}/audit`: what the host denied a plugin (files, hosts, secrets,
//! env, caps, budgets, quotas), newest first, for admins. See [`crate::audit`].

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::audit::{Kind, Page};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::state::AppState;

/// Largest page.
const MAX_LIMIT: u32 = 1000;

/// The route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/plugins/{id}/audit", get(audit))
}

/// Query of the audit route.
#[derive(Debug, Deserialize)]
pub(crate) struct AuditQuery {
    /// Entries per page, 1-1000 (default 100).
    limit: Option<u32>,
    /// Entries to skip (default 0).
    offset: Option<u64>,
    /// Only denials of this kind.
    kind: Option<String>,
}

/// A plugin's denials, newest first; `X-Total-Count` is the number of entries in all.
#[utoipa::path(
    get,
    path = "/api/plugins/{id}/audit",
    tag = "plugins",
    params(
        ("id" = String, Path, description = "Plugin id"),
        ("limit" = Option<u32>, Query, description = "Entries per page, 1-1000 (default 100)"),
        ("offset" = Option<u64>, Query, description = "Entries to skip"),
        ("kind" = Option<String>, Query, description = "file, host, secret, env, cap, budget or quota"),
    ),
    responses(
        (status = 200, description = "One page of the plugin's audit", body = Page),
        (status = 400, description = "A bad limit or kind", body = crate::api::openapi::ErrorBody),
        (status = 401, description = "No credential", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::api::openapi::ErrorBody),
    )
)]
pub(crate) async fn audit(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<AuditQuery>,
) -> Result<(HeaderMap, Json<Page>), ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "`limit` must be 1..={MAX_LIMIT}"
        )));
    }
    let kind = match query.kind.as_deref() {
        None | Some("") => None,
        Some(name) => Some(Kind::parse(name).ok_or_else(|| {
            ApiError::bad_request(
                "`kind` must be one of file, host, secret, env, cap, budget, quota",
            )
        })?),
    };
    let page = state
        .audit
        .page(&id, kind, limit, query.offset.unwrap_or(0))
        .await
        .map_err(|e| ApiError::internal(anyhow::Error::new(e)))?;
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(page.total));
    Ok((headers, Json(page)))
}
