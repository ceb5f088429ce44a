//! The HTTP API: one sub-router per group of `API.md` (`api/<group>.rs`, each exposing
//! `routes()`), merged here with what every route shares: a JSON 404/405 in the seeds'
//! error body, plain-text rejections reshaped into each route's error body
//! ([`crate::error::uniform_errors`]) and request tracing. The CORS policy ([`cors_layer`])
//! and the cross-origin WebSocket check ([`origin_guard`]) are added by [`crate::app`]
//! outside the Socket.IO layer, so polling requests get them too.

pub mod analytics;
pub mod audit;
pub mod auth;
pub mod batch;
pub mod cache;
pub mod chat;
pub mod dev;
pub mod health;
pub mod hybrid;
pub mod jobs;
pub mod mcp;
pub mod metrics;
pub mod openai;
pub mod openapi;
pub mod oropendola;
pub mod plugin_view;
pub mod plugins;
pub mod providers;
pub mod root;
pub mod scout;
pub mod stream;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::config::CorsConfig;
use crate::error::ApiError;
use crate::state::AppState;

/// The API over `state`: every route group plus the shared fallbacks and layers.
pub fn router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    let auth_state = state.clone();
    let batch_deadline = std::time::Duration::from_secs(state.config.server.batch_timeout_secs);
    let routes = Router::new()
        .merge(root::routes())
        .merge(dev::routes())
        .merge(health::routes())
        .merge(plugins::routes())
        .merge(audit::routes())
        .merge(mcp::routes())
        .merge(chat::routes())
        .merge(stream::routes())
        .merge(providers::routes())
        .merge(openai::routes())
        .merge(scout::routes())
        .merge(openapi::routes())
        .merge(analytics::routes())
        .merge(cache::routes())
        .merge(jobs::routes())
        .merge(metrics::routes())
        .merge(auth::routes())
        .merge(oropendola::routes(&state))
        .merge(hybrid::routes())
        .merge(crate::mcp::http::routes(&state))
        .with_state(state);
    // Closes reading or chat when `[auth]` says so; on the routes, so a batch's requests
    // pass it too.
    let routes = crate::auth::guard::gate(routes, &auth_state);
    // Rejections and library answers in plain text, reshaped to each route's error body.
    let routes = routes.layer(axum::middleware::from_fn(crate::error::uniform_errors));
    // `POST /api/batch` runs its requests through every other route (not itself).
    let batch = batch::routes(with_fallbacks(routes.clone()), batch_deadline);
    // Counted by matched route template; a layer on the router so `MatchedPath` is known.
    // The console's page and assets sit outside the gate: its API calls carry credentials.
    with_shared_layers(routes.merge(batch).merge(crate::console::routes())).layer(
        axum::middleware::from_fn_with_state(metrics, crate::metrics::track_http),
    )
}

/// Fallbacks and layers shared by every route, applied to routes that already have state.
fn with_shared_layers(routes: Router) -> Router {
    with_fallbacks(routes).layer(TraceLayer::new_for_http())
}

/// The JSON 404 and 405 answers.
fn with_fallbacks(routes: Router) -> Router {
    routes
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
}

/// The seeds' CORS policy for the configured origins. Origins were validated when the
/// configuration was loaded; one that still fails to parse is skipped with a warning.
/// An origin written `<scheme>://*` (e.g. `vscode-webview://*`, whose host part is a
/// random id per installation) allows every origin of that scheme.
pub fn cors_layer(cors: &CorsConfig) -> CorsLayer {
    let (patterns, exact): (Vec<&String>, Vec<&String>) = cors
        .origins
        .iter()
        .partition(|origin| origin.ends_with("://*"));
    let origins: Vec<HeaderValue> = exact
        .into_iter()
        .filter_map(|origin| {
            HeaderValue::from_str(origin)
                .inspect_err(|_| tracing::warn!(%origin, "ignoring an invalid CORS origin"))
                .ok()
        })
        .collect();
    let schemes: Vec<String> = patterns
        .into_iter()
        .map(|origin| origin.trim_end_matches('*').to_owned())
        .collect();
    let allow = if schemes.is_empty() {
        AllowOrigin::list(origins)
    } else {
        AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origins.contains(origin)
                || origin.to_str().is_ok_and(|text| {
                    schemes.iter().any(|scheme| {
                        text.strip_prefix(scheme.as_str())
                            .is_some_and(|host| !host.is_empty() && !host.contains('/'))
                    })
                })
        })
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-requested-with"),
            header::ACCEPT,
            header::ORIGIN,
            // The MCP endpoint's (`/mcp`) headers, for browser clients.
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static("x-total-count"),
            HeaderName::from_static("mcp-session-id"),
        ])
        .allow_credentials(true)
        .max_age(std::time::Duration::from_secs(600))
}

/// Refuses, with 403 in the seeds' error body, a WebSocket upgrade (any path: `/socket.io/`,
/// `/ws/jobs`, and any later one) or a Socket.IO polling request whose `Origin` is neither
/// one of `[cors] origins` nor the server's own (the `Host` it was asked for). A request
/// without `Origin` is not a browser's and passes. A page on another origin thus cannot
/// ride a logged-in user's `sid` cookie over a transport CORS does not cover.
pub fn origin_guard(router: Router, cors: &CorsConfig) -> Router {
    let allowed: std::sync::Arc<[String]> = cors.origins.clone().into();
    router.layer(axum::middleware::from_fn_with_state(allowed, check_origin))
}

async fn check_origin(
    axum::extract::State(allowed): axum::extract::State<std::sync::Arc<[String]>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let headers = request.headers();
    let upgrade = headers.contains_key(header::UPGRADE)
        || headers.get(header::SEC_WEBSOCKET_KEY).is_some()
        || request.method() == Method::CONNECT;
    let socketio = request.uri().path().starts_with(crate::socket::PATH);
    if (upgrade || socketio)
        && let Some(origin) = headers.get(header::ORIGIN)
        && !crate::mcp::http::origin_allowed(&allowed, Some(origin))
        && !same_origin(origin, headers.get(header::HOST))
    {
        let shown = crate::logsafe::safe(origin.to_str().unwrap_or("(not text)"));
        tracing::warn!(origin = %shown, path = %crate::logsafe::Safe(request.uri().path()), "cross-origin websocket or Socket.IO request refused");
        return axum::response::IntoResponse::into_response(ApiError::forbidden(format!(
            "origin `{shown}` may not open this connection: it is not one of the configured \
             CORS origins ([cors] origins)"
        )));
    }
    next.run(request).await
}

/// Whether `origin` is the server itself as the client addressed it (`Host`).
fn same_origin(origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), host.map(HeaderValue::to_str)) else {
        return false;
    };
    ["http://", "https://"].iter().any(|scheme| {
        origin
            .strip_prefix(scheme)
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
    })
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("No route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// Helpers for route tests in this module and its children.
#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use serde_json::Value;
    use tower::ServiceExt;

    use crate::config::Config;
    use crate::db::testing::TestDb;
    use crate::state::AppState;

    /// The admin key of test states.
    pub const ADMIN_KEY: &str = "test-admin-key";

    /// What must outlive a test state: its database and its data directory.
    pub type Guards = (TestDb, tempfile::TempDir);

    /// A state over a fresh database, an empty plugin host and a temporary data directory.
    /// Keep the returned guards alive as long as the state.
    pub async fn state() -> (AppState, TestDb, tempfile::TempDir) {
        state_on(crate::db::testing::db().await).await
    }

    /// [`state`] over `db` (e.g. each of `crate::db::testing::all()`).
    pub async fn state_on(db: TestDb) -> (AppState, TestDb, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config {
            data_dir: dir.path().join("data"),
            cache_dir: dir.path().join("cache"),
            ..Config::default()
        };
        let audit = Arc::new(crate::audit::Audit::new(Some(db.db())));
        let plugins =
            crate::state::plugin_host(&config, &db.db(), audit.clone()).expect("a plugin host");
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let calls = crate::telemetry::Recorder::start(db.db(), metrics.clone());
        let cluster = Arc::new(crate::cluster::Cluster::single("node-test"));
        let plugins = Arc::new(plugins);
        let providers = Arc::new(crate::providers::for_config(&config));
        let cache = Arc::new(crate::cache::ChatCache::new(&config.cache));
        let state = AppState {
            chat: crate::state::chats(&plugins, &providers, &cache, &db.db(), &calls),
            config: Arc::new(config),
            db: db.db(),
            plugins,
            audit,
            registry: Arc::new(crate::registry::Registry::load(None).expect("embedded registry")),
            admin: Arc::new(crate::auth::AdminKeys::from_token(ADMIN_KEY)),
            started_at: std::time::Instant::now(),
            started_wall: chrono::Utc::now(),
            metrics: metrics.clone(),
            calls: calls.clone(),
            // No workers: a test that runs jobs calls `state.jobs.start(&state)`.
            jobs: Arc::new(crate::jobs::Jobs::new(
                db.db(),
                crate::config::JobsConfig::default(),
                cluster.clone(),
            )),
            health: Arc::new(crate::api::health::Monitor::new(
                crate::config::HealthConfig::default(),
            )),
            scout: Arc::new(crate::scout::StatusCache::new(0)),
            cluster,
        };
        state
            .plugins
            .runtime()
            .services()
            .set_recorder(Arc::new(calls));
        (state, db, dir)
    }

    /// Sends `request` to `app`; the status, headers and the body parsed as JSON
    /// (`Value::Null` when it is not JSON).
    pub async fn send(
        app: axum::Router,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let response = app.oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, body)
    }

    /// A GET request for `uri`.
    pub fn get(uri: &str) -> Request<Body> {
        Request::get(uri).body(Body::empty()).expect("request")
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};

    use super::test_support::{get, send, state};

    #[tokio::test]
    async fn an_unknown_path_is_a_json_404_in_the_seed_body() {
        let (state, _db, _dir) = state().await;
        let (status, _, body) = send(crate::app(state), get("/api/nope")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["success"], false);
        assert_eq!(body["error"], "Not Found");
        assert_eq!(body["message"], "No route for GET /api/nope");
        assert!(body["timestamp"].is_string());
    }

    #[tokio::test]
    async fn a_wrong_method_is_a_json_405() {
        let (state, _db, _dir) = state().await;
        let request = Request::delete("/api/dev/ping")
            .body(Body::empty())
            .expect("request");
        let (status, _, body) = send(crate::app(state), request).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["success"], false);
        assert_eq!(body["error"], "Method Not Allowed");
    }

    #[tokio::test]
    async fn every_group_is_mounted() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        for uri in ["/", "/api/dev/ping", "/api/dev/database/info"] {
            let (status, _, _) = send(app.clone(), get(uri)).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
        }
    }

    #[tokio::test]
    async fn a_preflight_from_an_allowed_origin_gets_the_seed_cors_policy() {
        let (state, _db, _dir) = state().await;
        let request = Request::options("/api/dev/echo")
            .header("origin", "http://localhost:5173")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,x-requested-with",
            )
            .body(Body::empty())
            .expect("request");
        let (status, headers, _) = send(crate::app(state), request).await;
        assert!(status.is_success(), "{status}");
        assert_eq!(
            headers["access-control-allow-origin"],
            "http://localhost:5173"
        );
        assert_eq!(headers["access-control-allow-credentials"], "true");
        assert_eq!(headers["access-control-max-age"], "600");
        let methods = headers["access-control-allow-methods"]
            .to_str()
            .expect("ascii");
        for method in ["GET", "POST", "PUT", "DELETE", "OPTIONS"] {
            assert!(methods.contains(method), "{methods}");
        }
        let allowed = headers["access-control-allow-headers"]
            .to_str()
            .expect("ascii");
        for name in ["content-type", "authorization", "x-requested-with"] {
            assert!(allowed.contains(name), "{allowed}");
        }
    }

    #[tokio::test]
    async fn a_response_to_an_allowed_origin_exposes_x_total_count() {
        let (state, _db, _dir) = state().await;
        let request = Request::get("/api/dev/ping")
            .header("origin", "http://localhost:3000")
            .body(Body::empty())
            .expect("request");
        let (_, headers, _) = send(crate::app(state), request).await;
        assert_eq!(
            headers["access-control-allow-origin"],
            "http://localhost:3000"
        );
        let exposed = headers["access-control-expose-headers"]
            .to_str()
            .expect("ascii");
        assert!(
            exposed.to_ascii_lowercase().contains("x-total-count"),
            "{exposed}"
        );
    }

    #[tokio::test]
    async fn another_origin_gets_no_cors_grant() {
        let (state, _db, _dir) = state().await;
        let request = Request::get("/api/dev/ping")
            .header("origin", "http://evil.example")
            .body(Body::empty())
            .expect("request");
        let (_, headers, _) = send(crate::app(state), request).await;
        assert!(headers.get("access-control-allow-origin").is_none());
    }

    #[tokio::test]
    async fn bad_query_strings_and_paths_answer_400_in_the_seed_body() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        for uri in ["/api/chat/sessions?limit=abc", "/api/chat/sessions/%FF%FE"] {
            let (status, headers, body) = send(app.clone(), get(uri)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert!(
                headers["content-type"]
                    .to_str()
                    .is_ok_and(|t| t.contains("json")),
                "{uri}"
            );
            assert_eq!(body["success"], false, "{uri}");
            assert!(body["message"].is_string() && body["timestamp"].is_string());
        }
    }

    fn big_post(uri: &str) -> Request<Body> {
        let body = serde_json::json!({"message": "x".repeat(3 << 20), "model": "local"});
        Request::post(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request")
    }

    #[tokio::test]
    async fn an_over_size_body_is_a_413_in_each_surfaces_shape() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        let (status, _, body) = send(app.clone(), big_post("/api/chat/mama-bear")).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["success"], false);
        let (status, _, body) = send(app.clone(), big_post("/v1/chat/completions")).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
        let (status, _, body) =
            send(app, big_post("/api/mcp/servers/time/tools/current_time")).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["success"], false, "{body}");
    }

    #[tokio::test]
    async fn chat_parameters_out_of_range_are_refused_on_every_surface() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        for (uri, body) in [
            (
                "/api/chat/mama-bear",
                serde_json::json!({"message": "hi", "max_tokens": -1}),
            ),
            (
                "/api/chat/stream",
                serde_json::json!({"message": "hi", "temperature": 1e308}),
            ),
            (
                "/v1/chat/completions",
                serde_json::json!({"model": "local", "messages": [{"role": "user", "content": "hi"}], "top_p": 2}),
            ),
        ] {
            let request = Request::post(uri)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .expect("request");
            let (status, _, answer) = send(app.clone(), request).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {answer}");
        }
    }

    fn upgrade(path: &str, origin: Option<&str>) -> Request<Body> {
        let mut request = Request::get(path)
            .header("host", "sanctuary.example:5000")
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.body(Body::empty()).expect("request")
    }

    #[tokio::test]
    async fn a_websocket_upgrade_from_a_foreign_origin_is_refused_with_403() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        for path in ["/socket.io/?EIO=4&transport=websocket", "/ws/jobs"] {
            let (status, _, body) =
                send(app.clone(), upgrade(path, Some("http://evil.example"))).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert_eq!(body["success"], false);
            assert!(
                body["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("evil.example")),
                "{body}"
            );
        }
        let polling = Request::get("/socket.io/?EIO=4&transport=polling")
            .header("origin", "http://evil.example")
            .body(Body::empty())
            .expect("request");
        let (status, _, _) = send(app, polling).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "polling rides cookies too");
    }

    #[tokio::test]
    async fn a_websocket_upgrade_without_origin_or_from_an_allowed_or_the_same_origin_passes_the_check()
     {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        for origin in [
            None,
            Some("http://localhost:3000"),
            Some("http://sanctuary.example:5000"),
        ] {
            let polling = Request::get("/socket.io/?EIO=4&transport=polling")
                .header("host", "sanctuary.example:5000");
            let polling = match origin {
                Some(origin) => polling.header("origin", origin),
                None => polling,
            };
            let (status, _, _) =
                send(app.clone(), polling.body(Body::empty()).expect("request")).await;
            assert_eq!(status, StatusCode::OK, "{origin:?}");
        }
    }

    #[tokio::test]
    async fn configured_origins_replace_the_defaults() {
        let (mut state, _db, _dir) = state().await;
        let mut config = (*state.config).clone();
        config.cors.origins = vec!["https://app.example".into()];
        state.config = std::sync::Arc::new(config);
        let app = crate::app(state);
        for (origin, granted) in [
            ("https://app.example", true),
            ("http://localhost:3000", false),
        ] {
            let request = Request::get("/")
                .header("origin", origin)
                .body(Body::empty())
                .expect("request");
            let (_, headers, _) = send(app.clone(), request).await;
            assert_eq!(
                headers.contains_key("access-control-allow-origin"),
                granted,
                "{origin}"
            );
        }
    }
}
