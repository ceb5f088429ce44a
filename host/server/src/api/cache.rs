//! The chat response cache's routes (seed 001), in the seed-001 envelope:
//! `GET /api/cache/stats` (open), `POST /api/cache/invalidate {route?, key?}` and
//! `DELETE /api/cache` (both need the `cache` scope).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{delete, get, post};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::{Require, scope};
use crate::cache::CacheStats;
use crate::error::{ApiError, Envelope, EnvelopeData, EnvelopeError, EnvelopeResult};
use crate::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/cache/stats", get(stats))
        .route("/api/cache/invalidate", post(invalidate))
        .route("/api/cache", delete(clear))
}

/// `POST /api/cache/invalidate` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invalidated {
    /// Answers dropped.
    pub invalidated: u64,
}

/// The body of `POST /api/cache/invalidate`, for the API description (the handler reads
/// it field by field, to refuse unknown ones with their name): at least one of the two.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct InvalidateBody {
    /// Drop every answer of this route.
    route: Option<String>,
    /// Drop the answer whose `metadata.cache_key` is this.
    key: Option<String>,
}

/// `DELETE /api/cache` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cleared {
    /// Answers dropped.
    pub cleared: u64,
}

#[utoipa::path(
    get, path = "/api/cache/stats", tag = "cache",
    summary = "Chat response cache figures",
    description = "Chat response cache figures",
    responses(
        (status = 200, description = "`{success, data: {hits, misses, hit_rate, entries, evictions, enabled, ttl_secs, max_entries, routes, by_route}}`", body = EnvelopeData<CacheStats>),
    ),
)]
async fn stats(State(state): State<AppState>) -> Envelope<CacheStats> {
    Envelope(state.chat.cache.stats())
}

/// What to invalidate, read from the body: `route` (every answer of that route) and/or
/// `key` (one answer, as `metadata.cache_key` names it). Anything else is refused.
fn target(body: &Value) -> Result<(Option<&str>, Option<&str>), EnvelopeError> {
    let Value::Object(fields) = body else {
        return Err(EnvelopeError::bad_request(
            "the body must be a JSON object: {route?, key?}",
        ));
    };
    if let Some(unknown) = fields.keys().find(|k| *k != "route" && *k != "key") {
        return Err(EnvelopeError::bad_request(format!(
            "unknown field `{unknown}`: the body is {{route?, key?}}"
        )));
    }
    let text = |name: &str| -> Result<Option<&str>, EnvelopeError> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.as_str())),
            Some(_) => Err(EnvelopeError::bad_request(format!(
                "`{name}` must be a non-empty string"
            ))),
        }
    };
    let (route, key) = (text("route")?, text("key")?);
    if route.is_none() && key.is_none() {
        return Err(EnvelopeError::bad_request(
            "say what to invalidate: {\"route\": \"mama-bear\"} or {\"key\": \"<cache key>\"} (DELETE /api/cache clears everything)",
        ));
    }
    Ok((route, key))
}

#[utoipa::path(
    post, path = "/api/cache/invalidate", tag = "cache",
    summary = "Drops cached chat answers",
    description = "Drops cached chat answers (`cache` scope): `{route?, key?}` (a route's answers, or the one whose `metadata.cache_key` is `key`)",
    request_body = InvalidateBody,
    responses(
        (status = 200, description = "`{success, data: {invalidated}}`", body = EnvelopeData<Invalidated>),
        (status = 400, description = "Neither `route` nor `key`, or not a JSON object", body = crate::api::openapi::EnvelopeFailure),
        (status = 403, description = "The credential lacks the `cache` scope", body = crate::api::openapi::EnvelopeFailure),
    ),
    security(("bearer" = ["cache"]), ("session" = ["cache"])),
)]
async fn invalidate(
    admin: Result<Require<scope::Cache>, ApiError>,
    State(state): State<AppState>,
    body: Bytes,
) -> EnvelopeResult<Invalidated> {
    admin?;
    // No body at all says as little as `{}`: nothing to invalidate.
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| EnvelopeError::bad_request(format!("the body is not JSON: {e}")))?
    };
    let (route, key) = target(&body)?;
    let mut invalidated = 0;
    if let Some(route) = route {
        invalidated += state.chat.cache.invalidate_route(route);
    }
    if let Some(key) = key {
        invalidated += state.chat.cache.invalidate_key(key);
    }
    tracing::info!(?route, ?key, invalidated, "response cache invalidated");
    state
        .cluster
        .publish(crate::cluster::Event::CacheInvalidated {
            route: route.map(str::to_owned),
            key: key.map(str::to_owned),
        });
    Ok(Envelope(Invalidated { invalidated }))
}

#[utoipa::path(
    delete, path = "/api/cache", tag = "cache",
    summary = "Drops every cached chat answer",
    description = "Drops every cached chat answer (`cache` scope)",
    responses(
        (status = 200, description = "`{success, data: {cleared}}`", body = EnvelopeData<Cleared>),
        (status = 403, description = "The credential lacks the `cache` scope", body = crate::api::openapi::EnvelopeFailure),
    ),
    security(("bearer" = ["cache"]), ("session" = ["cache"])),
)]
async fn clear(
    admin: Result<Require<scope::Cache>, ApiError>,
    State(state): State<AppState>,
) -> EnvelopeResult<Cleared> {
    admin?;
    let cleared = state.chat.cache.clear();
    tracing::info!(cleared, "response cache cleared");
    state.cluster.publish(crate::cluster::Event::CacheCleared);
    Ok(Envelope(Cleared { cleared }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::json;

    use super::*;
    use crate::api::test_support::{ADMIN_KEY, get, send, state, state_on};
    use crate::cache::ChatCache;
    use crate::config::CacheConfig;
    use crate::manifest::Manifest;

    /// Installs and loads the bundled offline `local` provider.
    async fn load_local(state: &AppState) {
        let bundled = crate::plugins::artifacts::BUNDLED
            .iter()
            .find(|b| b.dir == "local")
            .expect("`local` is bundled");
        let mut manifest = Manifest::from_json(bundled.manifest).expect("its manifest");
        manifest.sha256 = Some(bundled.sha256.into());
        manifest.component = Some(crate::plugins::component_file_name(
            &manifest.id,
            bundled.sha256,
        ));
        let dir = state.plugins.plugins_dir().join(&manifest.id);
        crate::plugins::write_plugin(&dir, &manifest, bundled.component).expect("written");
        state.plugins.load_dir(&dir).await.expect("`local` loads");
    }

    fn json_request(method: &str, uri: &str, body: Option<Value>, admin: bool) -> Request<Body> {
        let mut request = Request::builder().method(method).uri(uri);
        if admin {
            request = request.header("authorization", format!("Bearer {ADMIN_KEY}"));
        }
        match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("request")
    }

    #[tokio::test]
    async fn a_repeated_chat_is_answered_from_the_cache_until_invalidated_on_every_database() {
        for db in crate::db::testing::all().await {
            let (mut state, db, _dir) = state_on(db).await;
            state.chat.cache = Arc::new(ChatCache::new(&CacheConfig {
                enabled: true,
                ..CacheConfig::default()
            }));
            load_local(&state).await;
            let app = crate::app(state.clone());
            let chat = || {
                json_request(
                    "POST",
                    "/api/chat/mama-bear",
                    Some(json!({"message": "What time is it?"})),
                    false,
                )
            };

            let (status, _, first) = send(app.clone(), chat()).await;
            assert_eq!(status, StatusCode::OK, "{}: {first}", db.kind());
            assert_eq!(first["metadata"]["cached"], false);
            let key = first["metadata"]["cache_key"]
                .as_str()
                .expect("a cache key")
                .to_string();
            let (_, _, second) = send(app.clone(), chat()).await;
            assert_eq!(second["metadata"]["cached"], true, "{second}");
            assert_eq!(second["response"], first["response"]);
            assert_eq!(second["metadata"]["cache_key"], key.as_str());
            assert_ne!(
                second["session_id"], first["session_id"],
                "each turn still has its session"
            );

            let (status, _, stats) = send(app.clone(), get("/api/cache/stats")).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(stats["success"], true);
            let data = &stats["data"];
            assert_eq!(
                (
                    data["hits"].as_u64(),
                    data["misses"].as_u64(),
                    data["entries"].as_u64()
                ),
                (Some(1), Some(1), Some(1))
            );
            assert_eq!(data["hit_rate"], 0.5);
            assert_eq!(data["enabled"], true);
            assert_eq!(data["ttl_secs"], 300);
            assert_eq!(data["max_entries"], 1000);
            assert_eq!(data["by_route"]["mama-bear"]["hits"], 1);

            // The hit is a chat call recorded as cached; the provider was called once.
            state.calls.flush().await;
            let (_, _, analytics) = send(app.clone(), get("/api/analytics")).await;
            assert_eq!(analytics["data"]["chat"]["calls"], 2, "{analytics}");
            assert_eq!(analytics["data"]["chat"]["cached"], 1);
            assert_eq!(
                analytics["data"]["chat"]["by_provider"]["local"]["calls"],
                1
            );
            assert_eq!(
                analytics["data"]["plugins"]["by_plugin"]["local"]["operations"]["chat"],
                1
            );

            let by_key = json_request(
                "POST",
                "/api/cache/invalidate",
                Some(json!({"key": key})),
                true,
            );
            let (status, _, body) = send(app.clone(), by_key).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["data"]["invalidated"], 1);
            let (_, _, third) = send(app.clone(), chat()).await;
            assert_eq!(
                third["metadata"]["cached"], false,
                "asked the provider again"
            );

            let by_route = json_request(
                "POST",
                "/api/cache/invalidate",
                Some(json!({"route": "mama-bear"})),
                true,
            );
            let (_, _, body) = send(app.clone(), by_route).await;
            assert_eq!(body, json!({"success": true, "data": {"invalidated": 1}}));
            let (_, _, stats) = send(app, get("/api/cache/stats")).await;
            assert_eq!(stats["data"]["entries"], 0);
        }
    }

    #[tokio::test]
    async fn changing_the_cache_needs_an_admin_key_and_says_what_to_drop() {
        let (mut state, _db, _dir) = state().await;
        state.chat.cache = Arc::new(ChatCache::new(&CacheConfig {
            enabled: true,
            ..CacheConfig::default()
        }));
        let app = crate::app(state);
        for request in [
            json_request("DELETE", "/api/cache", None, false),
            json_request(
                "POST",
                "/api/cache/invalidate",
                Some(json!({"route": "mama-bear"})),
                false,
            ),
        ] {
            let (status, _, body) = send(app.clone(), request).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(body["success"], false);
            assert_eq!(body["error"]["status"], 401);
        }
        for body in [
            None,
            Some(json!({})),
            Some(json!({"route": ""})),
            Some(json!({"route": 3})),
            Some(json!([])),
            Some(json!({"rute": "x"})),
        ] {
            let request = json_request("POST", "/api/cache/invalidate", body.clone(), true);
            let (status, _, answer) = send(app.clone(), request).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}: {answer}");
            assert_eq!(answer["error"]["status"], 400);
        }
        let (status, _, body) = send(app, json_request("DELETE", "/api/cache", None, true)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"success": true, "data": {"cleared": 0}}));
    }
}
