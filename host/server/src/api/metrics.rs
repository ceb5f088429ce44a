//! `GET /metrics` (open): the Prometheus exposition of [`crate::metrics`], in OpenMetrics
//! or the Prometheus text format by `Accept`, with the jobs gauge read at scrape time.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sqlx::Row;

use crate::error::ApiError;
use crate::metrics::exposition;
use crate::state::AppState;

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
