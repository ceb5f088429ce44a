//! Prometheus metrics (`GET /metrics`, open), kept with `prometheus-client` in a registry
//! owned by the [`Metrics`] value in [`AppState`] rather than a process-wide recorder: two
//! app instances in one process (tests) each count their own.
//!
//! Series: HTTP requests by matched route template, method and status with a latency
//! histogram ([`track_http`], a layer on the API router); plugin calls by plugin, kind and
//! outcome with a duration histogram, and chat calls by route, provider and outcome (both
//! fed by [`crate::telemetry`]); Socket.IO connections; jobs by state (read from the `jobs`
//! table at scrape time); response-cache hits and misses by route; call records dropped;
//! the process's CPU, memory, file descriptors and threads, and the build
//! ([`exposition`], which also picks OpenMetrics or the Prometheus text format by `Accept`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sqlx::Row;

use crate::error::ApiError;
use crate::state::AppState;

mod exposition;

/// The content type of the exposition in OpenMetrics (what Prometheus asks for).
pub const CONTENT_TYPE: &str = exposition::OPENMETRICS;

/// Job states always exported (at 0 when no job is in them).
pub const JOB_STATES: [&str; 5] = ["pending", "in_progress", "completed", "failed", "cancelled"];

/// The route label of requests no route matched (404s): raw paths would let any client
/// create series without bound.
const UNMATCHED: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpRouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DenialLabels {
    plugin: String,
    /// What was denied: file, host, secret, env, cap, budget, quota.
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginIdLabels {
    plugin: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChatLabels {
    route: String,
    provider: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The host's metrics and the registry they are exported from.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<HttpRouteLabels, Histogram>,
    plugin_calls: Family<PluginLabels, Counter>,
    plugin_duration: Family<PluginIdLabels, Histogram>,
    chat_calls: Family<ChatLabels, Counter>,
    socket_connections: Gauge,
    jobs: Family<StateLabels, Gauge>,
    cache_hits: Family<RouteLabels, Counter>,
    cache_misses: Family<RouteLabels, Counter>,
    records_dropped: Counter,
    plugin_denials: Family<DenialLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh registry with every series registered (and none observed).
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("sanctuary");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by matched route template, method and status",
            http_requests.clone(),
        );
        let http_duration = Family::<HttpRouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (to the response head)",
            http_duration.clone(),
        );
        let plugin_calls = Family::<PluginLabels, Counter>::default();
        registry.register(
            "plugin_calls",
            "Plugin calls by plugin, kind and outcome (ok, error, timeout, trap, memory)",
            plugin_calls.clone(),
        );
        let plugin_duration = Family::<PluginIdLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "plugin_call_duration_seconds",
            "Duration of plugin calls",
            plugin_duration.clone(),
        );
        let chat_calls = Family::<ChatLabels, Counter>::default();
        registry.register(
            "chat_calls",
            "Chat calls by route, serving provider and outcome (ok, failed, cached)",
            chat_calls.clone(),
        );
        let socket_connections = Gauge::default();
        registry.register(
            "socketio_connections",
            "Connected Socket.IO clients",
            socket_connections.clone(),
        );
        let jobs = Family::<StateLabels, Gauge>::default();
        registry.register("jobs", "Jobs by state, read at scrape time", jobs.clone());
        let cache_hits = Family::<RouteLabels, Counter>::default();
        registry.register(
            "cache_hits",
            "Chat answers served from the response cache, by route",
            cache_hits.clone(),
        );
        let cache_misses = Family::<RouteLabels, Counter>::default();
        registry.register(
            "cache_misses",
            "Cacheable chats the response cache could not answer, by route",
            cache_misses.clone(),
        );
        let records_dropped = Counter::default();
        registry.register(
            "call_records_dropped",
            "Call records dropped because the recorder's queue was full",
            records_dropped.clone(),
        );
        let plugin_denials = Family::<DenialLabels, Counter>::default();
        registry.register(
            "plugin_denials",
            "Plugin accesses denied by the host, by plugin and what was denied (file, host, secret, env, cap, budget, quota)",
            plugin_denials.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            plugin_calls,
            plugin_duration,
            chat_calls,
            socket_connections,
            jobs,
            cache_hits,
            cache_misses,
            records_dropped,
            plugin_denials,
        }
    }

    /// Counts one HTTP request answered with `status` after `elapsed`.
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&HttpRouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one plugin call.
    pub fn plugin_call(&self, plugin: &str, kind: &str, outcome: &str, elapsed: Duration) {
        self.plugin_calls
            .get_or_create(&PluginLabels {
                plugin: plugin.to_string(),
                kind: kind.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        self.plugin_duration
            .get_or_create(&PluginIdLabels {
                plugin: plugin.to_string(),
                kind: kind.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one chat call; `provider` is empty when none answered.
    pub fn chat_call(&self, route: &str, provider: &str, outcome: &str) {
        self.chat_calls
            .get_or_create(&ChatLabels {
                route: route.to_string(),
                provider: provider.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Counts one response-cache lookup on `route`.
    pub fn cache_lookup(&self, route: &str, hit: bool) {
        let family = if hit {
            &self.cache_hits
        } else {
            &self.cache_misses
        };
        family
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .inc();
    }

    /// Counts one denial of `plugin` (see [`crate::audit`]).
    pub fn plugin_denial(&self, plugin: &str, kind: &str) {
        self.plugin_denials
            .get_or_create(&DenialLabels {
                plugin: plugin.to_string(),
                kind: kind.to_string(),
            })
            .inc();
    }

    /// Counts one dropped call record.
    pub fn record_dropped(&self) {
        self.records_dropped.inc();
    }

    /// A Socket.IO client connected; the returned guard counts it gone when dropped.
    pub fn socket_connected(self: &Arc<Metrics>) -> ConnectionGuard {
        self.socket_connections.inc();
        ConnectionGuard {
            metrics: self.clone(),
        }
    }

    /// Connected Socket.IO clients now.
    pub fn socket_connections(&self) -> i64 {
        self.socket_connections.get()
    }

    /// Sets the jobs gauge from `(state, count)` pairs; the states of [`JOB_STATES`] that
    /// are not listed read 0.
    pub fn set_jobs(&self, counts: &[(String, i64)]) {
        for state in JOB_STATES {
            let count = counts
                .iter()
                .filter(|(s, _)| s == state)
                .map(|(_, n)| *n)
                .sum();
            self.jobs
                .get_or_create(&StateLabels {
                    state: state.to_string(),
                })
                .set(count);
        }
        for (state, count) in counts {
            if !JOB_STATES.contains(&state.as_str()) {
                self.jobs
                    .get_or_create(&StateLabels {
                        state: state.clone(),
                    })
                    .set(*count);
            }
        }
    }

    /// The exposition text.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Keeps one Socket.IO connection counted; kept in the socket's extensions, so it is
/// dropped (and the connection uncounted) when socketioxide drops the socket.
#[derive(Debug)]
pub struct ConnectionGuard {
    metrics: Arc<Metrics>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.metrics.socket_connections.dec();
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Middleware counting every request by its matched route template (axum's
/// [`MatchedPath`], never the raw path), method and status.
pub async fn track_http(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| UNMATCHED.to_string());
    let mut response = next.run(request).await;
    metrics.http_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    // For the access log, written outside the router.
    response
        .extensions_mut()
        .insert(crate::access::RouteTemplate(route));
    response
}

/// `GET /metrics`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

/// The Prometheus exposition. The jobs gauge is read from the database now; a database
/// that cannot answer (or has no `jobs` table yet) leaves it as last read.
#[utoipa::path(
    get, path = "/metrics", tag = "meta",
    summary = "Prometheus metrics",
    description = "Prometheus metrics (OpenMetrics text): HTTP requests by route template, plugin and chat calls, Socket.IO connections, jobs by state, cache hits and misses",
    responses(
        (status = 200, description = "The exposition text", content(
            (String = "text/plain; version=0.0.4"),
            (String = "application/openmetrics-text; version=1.0.0"),
        )),
    ),
)]
async fn scrape(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    match job_counts(&state).await {
        Ok(counts) => state.metrics.set_jobs(&counts),
        Err(e) => tracing::debug!(cause = %e, "jobs gauge not refreshed"),
    }
    let mut text = state
        .metrics
        .encode()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("encode metrics: {e}")))?;
    exposition::add_process_and_build(&mut text);
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let (text, content_type) = if exposition::wants_openmetrics(accept) {
        (text, exposition::OPENMETRICS)
    } else {
        (
            exposition::to_prometheus_text(&text),
            exposition::PROMETHEUS_TEXT,
        )
    };
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

async fn job_counts(state: &AppState) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        .fetch_all(state.db.pool())
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("status")?, row.try_get("n")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_carry_their_labels_in_the_exposition() {
        let metrics = Arc::new(Metrics::new());
        metrics.http_request("GET", "/api/jobs/{id}", 200, Duration::from_millis(3));
        metrics.plugin_call("time", "mcp-server", "timeout", Duration::from_millis(40));
        metrics.chat_call("mama-bear", "local", "ok");
        metrics.cache_lookup("mama-bear", true);
        metrics.cache_lookup("mama-bear", false);
        metrics.cache_lookup("mama-bear", false);
        metrics.set_jobs(&[("completed".into(), 3)]);
        let text = metrics.encode().expect("encodes");
        for line in [
            r#"sanctuary_http_requests_total{method="GET",route="/api/jobs/{id}",status="200"} 1"#,
            r#"sanctuary_plugin_calls_total{plugin="time",kind="mcp-server",outcome="timeout"} 1"#,
            r#"sanctuary_plugin_call_duration_seconds_count{plugin="time",kind="mcp-server"} 1"#,
            r#"sanctuary_chat_calls_total{route="mama-bear",provider="local",outcome="ok"} 1"#,
            r#"sanctuary_cache_hits_total{route="mama-bear"} 1"#,
            r#"sanctuary_cache_misses_total{route="mama-bear"} 2"#,
            r#"sanctuary_jobs{state="completed"} 3"#,
            r#"sanctuary_jobs{state="pending"} 0"#,
            "sanctuary_socketio_connections 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in\n{text}"
            );
        }
    }

    #[test]
    fn a_connection_guard_uncounts_its_connection_when_dropped() {
        let metrics = Arc::new(Metrics::new());
        let first = metrics.socket_connected();
        let second = metrics.socket_connected();
        assert_eq!(metrics.socket_connections(), 2);
        drop(first);
        assert_eq!(metrics.socket_connections(), 1);
        drop(second);
        assert_eq!(metrics.socket_connections(), 0);
    }

    #[test]
    fn two_instances_count_separately() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.chat_call("r", "p", "ok");
        assert!(
            a.encode()
                .expect("a")
                .contains("sanctuary_chat_calls_total{")
        );
        assert!(
            !b.encode()
                .expect("b")
                .contains("sanctuary_chat_calls_total{")
        );
    }
}

#[cfg(test)]
mod route_tests {
    use axum::body::{Body, to_bytes};
    use axum::http::StatusCode;
    use tower::ServiceExt;

    use crate::api::test_support::{get, send, state_on};

    async fn scrape(app: axum::Router) -> (StatusCode, String, String) {
        let mut request = get("/metrics");
        request.headers_mut().insert(
            axum::http::header::ACCEPT,
            axum::http::HeaderValue::from_static(
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
            ),
        );
        let response = app.oneshot(request).await.expect("infallible");
        let status = response.status();
        let content_type = response.headers()[axum::http::header::CONTENT_TYPE]
            .to_str()
            .unwrap_or_default()
            .to_string();
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            content_type,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_template_and_jobs_by_state_on_every_database() {
        for db in crate::db::testing::all().await {
            let (state, db, _dir) = state_on(db).await;
            let now = crate::clock::timestamp();
            sqlx::query(
                "INSERT INTO jobs (job_id, status, prompt, route, created_at, updated_at) \
                 VALUES ('job-1', 'failed', 'p', 'mama-bear', $1, $1)",
            )
            .bind(&now)
            .execute(db.pool())
            .await
            .expect("insert a job");
            let app = crate::app(state);
            send(app.clone(), get("/api/dev/ping")).await;
            send(app.clone(), get("/api/dev/ping")).await;
            let (status, _, _) = send(app.clone(), get("/api/plugins/no-such-plugin")).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            send(app.clone(), get("/api/no/such/route")).await;
            let request = axum::http::Request::delete("/api/dev/ping")
                .body(Body::empty())
                .expect("request");
            send(app.clone(), request).await;

            let (status, content_type, text) = scrape(app).await;
            assert_eq!(status, StatusCode::OK);
            assert!(
                content_type.starts_with("application/openmetrics-text"),
                "{content_type}"
            );
            for line in [
                r#"sanctuary_http_requests_total{method="GET",route="/api/dev/ping",status="200"} 2"#,
                r#"sanctuary_http_requests_total{method="GET",route="/api/plugins/{id}",status="404"} 1"#,
                r#"sanctuary_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
                r#"sanctuary_http_request_duration_seconds_count{method="GET",route="/api/dev/ping"} 2"#,
                r#"sanctuary_jobs{state="failed"} 1"#,
                r#"sanctuary_jobs{state="completed"} 0"#,
            ] {
                assert!(
                    text.lines().any(|l| l == line),
                    "{}: missing `{line}` in\n{text}",
                    db.kind()
                );
            }
            assert!(
                !text.contains("no-such-plugin"),
                "raw paths never become labels"
            );
            assert!(
                text.contains(r#"method="DELETE",route="/api/dev/ping",status="405""#),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn a_client_not_asking_for_openmetrics_gets_the_prometheus_text_format() {
        let (state, _db, _dir) = crate::api::test_support::state().await;
        let app = crate::app(state);
        send(app.clone(), get("/api/dev/ping")).await;
        let response = app.oneshot(get("/metrics")).await.expect("infallible");
        assert_eq!(
            response.headers()[axum::http::header::CONTENT_TYPE],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("# TYPE sanctuary_http_requests_total counter"),
            "{text}"
        );
        assert!(text.contains("# TYPE sanctuary_build_info gauge"), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
        assert!(!text.contains("_created"), "{text}");
    }
}
