//! `/api/providers`: AI routing status (open) and route bindings (`providers` scope). A
//! binding made here is stored in the database and beats the config file's
//! `[routes.<name>]`; deleting it lets the config file's (or the built-in) definition apply
//! again.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::openapi::ErrorBody;
use crate::auth::{Require, scope};
use crate::config::RouteConfig;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::providers::status::{self, ProvidersView, RouteView};
use crate::providers::{self, store};
use crate::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/providers", get(status_view))
        .route(
            "/api/providers/routes/{name}",
            put(bind_route).delete(unbind_route),
        )
}

/// The answer to a binding change.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouteChange {
    /// Always `true`.
    pub success: bool,
    /// What happened, in words.
    pub message: String,
    /// The route as it now stands (none: it no longer exists).
    pub route: Option<RouteView>,
    /// Things worth knowing: a provider of the chain that is not loaded, or loaded but
    /// missing its API key or endpoint (each is also logged at WARN).
    pub warnings: Vec<String>,
    /// When (RFC 3339).
    pub timestamp: String,
}

/// Every route (its chain, which provider serves it now and why, its last outcome) and
/// every provider (its circuit breaker and call figures).
#[utoipa::path(
    get, path = "/api/providers", tag = "providers",
    responses((status = 200, description = "Routing status", body = ProvidersView))
)]
pub async fn status_view(State(state): State<AppState>) -> Json<ProvidersView> {
    Json(status::view(&state))
}

/// Binds route `name` to a chain of providers (`providers` scope). Takes effect for the next call;
/// calls in flight finish on the chain they started with.
#[utoipa::path(
    put, path = "/api/providers/routes/{name}", tag = "providers",
    params(("name" = String, Path, description = "Route name, e.g. `mama-bear`")),
    request_body = RouteConfig,
    responses(
        (status = 200, description = "The route as it now stands", body = RouteChange),
        (status = 400, description = "Invalid name or chain", body = ErrorBody),
        (status = 401, description = "No credential", body = ErrorBody),
        (status = 403, description = "No `providers` scope", body = ErrorBody),
    )
)]
pub async fn bind_route(
    _auth: Require<scope::Providers>,
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(route): ApiJson<RouteConfig>,
) -> ApiResult<Json<RouteChange>> {
    providers::validate_route(&name, &route).map_err(ApiError::bad_request)?;
    store::put(&state.db, &name, &route)
        .await
        .map_err(|e| ApiError::internal(e.into()))?;
    let warnings = providers::configured::binding_warnings(&state, &name, &route);
    for change in state.chat.providers.set_api_route(&name, route) {
        tracing::info!(change = %change, "chat route bound through the API");
    }
    state.cluster.publish(crate::cluster::Event::RoutesChanged);
    Ok(Json(RouteChange {
        success: true,
        message: format!("Route {name} bound"),
        route: current(&state, &name),
        warnings,
        timestamp: crate::clock::timestamp(),
    }))
}

/// Removes the API binding of route `name` (`providers` scope); the config file's or the built-in
/// definition applies again, if there is one.
#[utoipa::path(
    delete, path = "/api/providers/routes/{name}", tag = "providers",
    params(("name" = String, Path, description = "Route name")),
    responses(
        (status = 200, description = "Unbound; the route as it now stands, if it still exists", body = RouteChange),
        (status = 401, description = "No credential", body = ErrorBody),
        (status = 403, description = "No `providers` scope", body = ErrorBody),
        (status = 404, description = "The route has no API binding", body = ErrorBody),
    )
)]
pub async fn unbind_route(
    _auth: Require<scope::Providers>,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<RouteChange>> {
    let stored = store::delete(&state.db, &name)
        .await
        .map_err(|e| ApiError::internal(e.into()))?;
    let changes = state.chat.providers.remove_api_route(&name);
    if stored {
        state.cluster.publish(crate::cluster::Event::RoutesChanged);
    }
    if !stored && changes.is_none() {
        let message = match state.chat.providers.route(&name) {
            Some(route) => format!(
                "Route {name} has no API binding to delete; it is defined by {}",
                match route.source {
                    providers::Source::Config => "the config file: edit it there",
                    _ => "the host's defaults",
                }
            ),
            None => format!("No route is named {name}"),
        };
        return Err(ApiError::not_found(message));
    }
    for change in changes.unwrap_or_default() {
        tracing::info!(change = %change, "chat route unbound through the API");
    }
    let route = current(&state, &name);
    let message = match &route {
        Some(view) => format!(
            "Route {name} unbound; its {} definition applies again",
            match view.source {
                providers::Source::Config => "config file",
                _ => "built-in",
            }
        ),
        None => format!("Route {name} removed"),
    };
    Ok(Json(RouteChange {
        success: true,
        message,
        route,
        warnings: Vec::new(),
        timestamp: crate::clock::timestamp(),
    }))
}

fn current(state: &AppState, name: &str) -> Option<RouteView> {
    state
        .chat
        .providers
        .route(name)
        .map(|route| status::route_view(state, &route))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::{Value, json};

    use crate::api::test_support::{ADMIN_KEY, get, send, state};

    fn put_route(name: &str, body: Value, key: Option<&str>) -> Request<Body> {
        let mut request = Request::put(format!("/api/providers/routes/{name}"))
            .header("content-type", "application/json");
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        request.body(Body::from(body.to_string())).expect("request")
    }

    fn delete_route(name: &str) -> Request<Body> {
        Request::delete(format!("/api/providers/routes/{name}"))
            .header("authorization", format!("Bearer {ADMIN_KEY}"))
            .body(Body::empty())
            .expect("request")
    }

    #[tokio::test]
    async fn the_status_lists_the_default_routes_and_their_providers() {
        let (state, _db, _dir) = state().await;
        let (status, _, body) = send(crate::app(state), get("/api/providers")).await;
        assert_eq!(status, StatusCode::OK);
        let names: Vec<_> = body["routes"]
            .as_array()
            .expect("routes")
            .iter()
            .map(|r| r["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, ["mama-bear", "vertex-garden"]);
        assert_eq!(body["routes"][0]["source"], "default");
        assert_eq!(body["routes"][0]["chain"][0]["provider"], "local");
        assert_eq!(
            body["breaker"],
            json!({"failures": 5, "open_ms": 30000, "scope": "node"})
        );
        assert_eq!(body["node"], "node-test");
    }

    #[tokio::test]
    async fn binding_a_route_needs_the_admin_key() {
        let (state, _db, _dir) = state().await;
        let body = json!({"chain": [{"provider": "local"}]});
        let (status, _, _) = send(
            crate::app(state.clone()),
            put_route("coder", body.clone(), None),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _, _) = send(crate::app(state), put_route("coder", body, Some("wrong"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn a_bound_route_is_stored_served_and_unbound_back_to_its_default() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state.clone());
        let body = json!({"chain": [{"provider": "gemini", "model": "gemini-2.0-flash"}, {"provider": "local"}], "timeout_ms": 5000, "retries": 0});
        let (status, _, reply) =
            send(app.clone(), put_route("mama-bear", body, Some(ADMIN_KEY))).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["route"]["source"], "api");
        assert_eq!(reply["route"]["timeout_ms"], 5000);
        assert_eq!(reply["route"]["chain"][0]["model"], "gemini-2.0-flash");
        assert_eq!(reply["warnings"].as_array().expect("warnings").len(), 2);
        let stored = crate::providers::store::all(&state.db).await.expect("read");
        assert!(stored.contains_key("mama-bear"));

        let (status, _, reply) = send(app.clone(), delete_route("mama-bear")).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["route"]["source"], "default");
        assert_eq!(reply["route"]["chain"][0]["provider"], "local");
        let (status, _, reply) = send(app.clone(), delete_route("mama-bear")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{reply}");
        assert!(
            reply["message"]
                .as_str()
                .expect("message")
                .contains("defaults")
        );

        let (status, _, _) = send(
            app.clone(),
            put_route(
                "coder",
                json!({"chain": [{"provider": "local"}]}),
                Some(ADMIN_KEY),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, reply) = send(app, delete_route("coder")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(reply["route"], Value::Null);
        assert_eq!(reply["message"], "Route coder removed");
    }

    #[tokio::test]
    async fn a_bad_binding_is_refused_with_the_reason() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        for (name, body, expected) in [
            ("coder", json!({"chain": []}), "at least one"),
            (
                "Bad Name",
                json!({"chain": [{"provider": "local"}]}),
                "route name",
            ),
            (
                "coder",
                json!({"chain": [{"provider": "local", "modle": "x"}]}),
                "modle",
            ),
            (
                "coder",
                json!({"chain": [{"provider": "local"}], "timeout_ms": 0}),
                "timeout_ms",
            ),
        ] {
            let name = name.replace(' ', "%20");
            let (status, _, reply) =
                send(app.clone(), put_route(&name, body, Some(ADMIN_KEY))).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
            let message = reply["message"].as_str().expect("message");
            assert!(message.contains(expected), "{message}");
        }
    }
}
