//! Prometheus metrics, kept with `prometheus-client` in a registry owned by the
//! [`Metrics`] value in the server's state rather than a process-wide recorder: two app
//! instances in one process (tests) each count their own. `GET /metrics` (open) is served
//! by `crate::api::metrics`.
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

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub mod exposition;

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
