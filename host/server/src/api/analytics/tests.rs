//! Tests of [`super`] (analytics).

use axum::http::StatusCode;
use chrono::TimeZone;
use serde_json::Value;

use super::*;
use crate::api::test_support::{get, send, state, state_on};

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("a valid time")
}

fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_default_period_is_the_last_seven_days_by_day() {
    let now = at(2025, 10, 8, 12, 30);
    let period = Period::parse(&[], now).expect("valid");
    assert_eq!(period.end, now);
    assert_eq!(period.start, at(2025, 10, 1, 12, 30));
    assert_eq!(period.granularity, Granularity::Day);
    // Oct 1 (partial) .. Oct 8 (partial).
    assert_eq!(period.bucket_count(), 8);
}

#[test]
fn dates_are_rfc3339_or_whole_days_and_a_bare_end_date_covers_its_day() {
    let now = at(2030, 1, 1, 0, 0);
    let period = Period::parse(
        &query(&[
            ("start_date", "2025-10-01"),
            ("end_date", "2025-10-07"),
            ("granularity", "day"),
        ]),
        now,
    )
    .expect("valid");
    assert_eq!(
        (period.start, period.end),
        (at(2025, 10, 1, 0, 0), at(2025, 10, 8, 0, 0))
    );
    assert_eq!(period.bucket_count(), 7);
    let period = Period::parse(
        &query(&[
            ("start_date", "2025-10-08T10:30:00+02:00"),
            ("end_date", "2025-10-08T13:00:00Z"),
            ("granularity", "hour"),
        ]),
        now,
    )
    .expect("valid");
    assert_eq!(period.start, at(2025, 10, 8, 8, 30));
    let buckets: Vec<String> = period
        .buckets()
        .iter()
        .map(|b| crate::clock::format(*b))
        .collect();
    assert_eq!(
        buckets,
        [
            "2025-10-08T08:00:00.000000Z",
            "2025-10-08T09:00:00.000000Z",
            "2025-10-08T10:00:00.000000Z",
            "2025-10-08T11:00:00.000000Z",
            "2025-10-08T12:00:00.000000Z",
        ]
    );
    assert_eq!(
        period.bucket_of(at(2025, 10, 8, 8, 29)),
        None,
        "before the start"
    );
    assert_eq!(period.bucket_of(at(2025, 10, 8, 8, 30)), Some(0));
    assert_eq!(period.bucket_of(at(2025, 10, 8, 12, 59)), Some(4));
    assert_eq!(
        period.bucket_of(at(2025, 10, 8, 13, 0)),
        None,
        "the end is exclusive"
    );
}

#[test]
fn bad_parameters_are_refused_naming_the_parameter() {
    let now = at(2025, 10, 8, 0, 0);
    for (pairs, needle) in [
        (vec![("granularity", "week")], "granularity"),
        (vec![("start_date", "yesterday")], "start_date"),
        (vec![("end_date", "2025-13-01")], "end_date"),
        (
            vec![
                ("start_date", "2025-10-09"),
                ("end_date", "2025-10-08T00:00:00Z"),
            ],
            "before",
        ),
        (
            vec![("start_date", "2020-01-01"), ("granularity", "hour")],
            "buckets",
        ),
    ] {
        let err = Period::parse(&query(&pairs), now).expect_err("refused");
        assert!(err.contains(needle), "{pairs:?}: {err}");
    }
}

#[test]
fn percentiles_use_the_nearest_rank() {
    let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&hundred, 50.0), Some(50.0));
    assert_eq!(percentile(&hundred, 95.0), Some(95.0));
    assert_eq!(percentile(&hundred, 99.0), Some(99.0));
    assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
    assert_eq!(percentile(&[], 50.0), None);
    let latency = Latency::of(vec![30.0, 10.0, 20.0, 1000.0]);
    assert_eq!(latency.p50, Some(20.0));
    assert_eq!(latency.p95, Some(1000.0));
    assert_eq!(Latency::of(Vec::new()).p99, None);
}

fn call(
    source: &str,
    at: DateTime<Utc>,
    plugin: &str,
    kind: Option<&str>,
    outcome: &str,
) -> CallRow {
    CallRow {
        source: source.into(),
        at,
        plugin_id: Some(plugin.into()),
        plugin_kind: kind.map(Into::into),
        operation: if source == "chat" {
            "chat".into()
        } else {
            "now".into()
        },
        route: (source == "chat").then(|| "mama-bear".to_string()),
        outcome: outcome.into(),
        cached: false,
        duration_ms: 10.0,
        tokens: (source == "chat").then_some(5),
        count: 1,
    }
}

#[test]
fn figures_count_each_call_once_and_every_bucket_is_present() {
    let period = Period {
        start: at(2025, 10, 1, 0, 0),
        end: at(2025, 10, 4, 0, 0),
        granularity: Granularity::Day,
    };
    let day1 = at(2025, 10, 1, 9, 0);
    let day3 = at(2025, 10, 3, 23, 59);
    let calls = vec![
        call("chat", day1, "local", None, "ok"),
        CallRow {
            cached: true,
            duration_ms: 0.5,
            ..call("chat", day1, "local", None, "ok")
        },
        call("chat", day3, "gemini", None, "failed"),
        // The provider's own call behind the first chat: a plugin call, not a request.
        call("plugin", day1, "local", Some("ai-provider"), "ok"),
        call("plugin", day3, "time", Some("mcp-server"), "ok"),
        call("plugin", day3, "time", Some("mcp-server"), "timeout"),
        // Outside the period.
        call("chat", at(2025, 10, 4, 0, 0), "local", None, "ok"),
    ];
    let jobs = vec![
        JobRow {
            status: "completed".into(),
            created_at: day1,
            processing_ms: Some(1500),
        },
        JobRow {
            status: "completed".into(),
            created_at: day3,
            processing_ms: Some(500),
        },
        JobRow {
            status: "failed".into(),
            created_at: day3,
            processing_ms: None,
        },
    ];
    let a = compute(&period, &calls, &jobs);
    assert_eq!(a.totals.requests, 5);
    assert_eq!(a.totals.failures, 2);
    assert_eq!(a.totals.failure_rate, 0.4);
    assert_eq!(a.totals.tokens, 10, "the cached answer spent none");
    assert_eq!((a.chat.calls, a.chat.failures, a.chat.cached), (3, 1, 1));
    assert_eq!(
        a.chat.by_provider["local"].calls, 1,
        "cached answers are not the provider's"
    );
    assert_eq!(a.chat.by_provider["gemini"].failures, 1);
    assert_eq!(a.chat.by_route["mama-bear"].calls, 3);
    assert_eq!(a.chat.by_route["mama-bear"].cached, 1);
    assert_eq!((a.plugins.calls, a.plugins.errors), (3, 1));
    let time = &a.plugins.by_plugin["time"];
    assert_eq!(
        (time.kind.as_str(), time.calls, time.errors, time.timeouts),
        ("mcp-server", 2, 1, 1)
    );
    assert_eq!(time.operations["now"], 2);
    assert_eq!(a.jobs.created, 3);
    assert_eq!(a.jobs.by_status["completed"], 2);
    assert_eq!(a.jobs.by_status["pending"], 0);
    assert_eq!(a.jobs.avg_processing_time, Some(1.0));
    let timeline: Vec<(&str, u64, u64, u64, u64, i64)> = a
        .timeline
        .iter()
        .map(|b| {
            (
                b.bucket.as_str(),
                b.chat_calls,
                b.plugin_calls,
                b.jobs_created,
                b.failures,
                b.tokens,
            )
        })
        .collect();
    assert_eq!(
        timeline,
        [
            ("2025-10-01T00:00:00Z", 2, 1, 1, 0, 5),
            ("2025-10-02T00:00:00Z", 0, 0, 0, 0, 0),
            ("2025-10-03T00:00:00Z", 1, 2, 2, 2, 5),
        ]
    );
}

#[tokio::test]
async fn the_route_answers_recorded_calls_and_jobs_in_the_envelope_on_every_database() {
    for db in crate::db::testing::all().await {
        let (state, db, _dir) = state_on(db).await;
        state.calls.plugin_call(crate::telemetry::PluginCall {
            plugin: "time".into(),
            kind: "mcp-server".into(),
            operation: "current_time".into(),
            outcome: crate::telemetry::Outcome::Trap,
            error_code: Some("trap"),
            duration: std::time::Duration::from_millis(8),
        });
        state.calls.chat_call(crate::telemetry::ChatCall {
            route: "mama-bear".into(),
            provider: Some("local".into()),
            model: Some("local".into()),
            ok: true,
            cached: false,
            error_code: None,
            duration: std::time::Duration::from_millis(4),
            tokens: Some(9),
        });
        // Jobs as the jobs module stores them (milliseconds and a `Z`), in final states
        // so the job workers leave them alone.
        let created = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        for (id, status, ms) in [
            ("job-a", "completed", Some(2000_i64)),
            ("job-b", "cancelled", None),
        ] {
            sqlx::query(
                "INSERT INTO jobs (job_id, status, prompt, route, processing_ms, created_at, updated_at) \
                 VALUES ($1, $2, 'p', 'mama-bear', $3, $4, $4)",
            )
            .bind(id)
            .bind(status)
            .bind(ms)
            .bind(&created)
            .execute(db.pool())
            .await
            .expect("insert a job");
        }
        let (status, _, body) = send(
            crate::app(state.clone()),
            get("/api/analytics?granularity=hour"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", db.kind());
        assert_eq!(body["success"], true);
        let data = &body["data"];
        assert_eq!(data["period"]["granularity"], "hour");
        assert_eq!(data["totals"]["requests"], 2, "{}: {data}", db.kind());
        assert_eq!(data["totals"]["failures"], 1);
        assert_eq!(data["totals"]["tokens"], 9);
        assert_eq!(data["totals"]["latency_ms"]["p99"], 8.0);
        assert_eq!(data["chat"]["by_provider"]["local"]["calls"], 1);
        assert_eq!(data["plugins"]["by_plugin"]["time"]["errors"], 1);
        assert_eq!(
            data["plugins"]["by_plugin"]["time"]["operations"]["current_time"],
            1
        );
        assert_eq!(data["jobs"]["created"], 2);
        assert_eq!(data["jobs"]["by_status"]["cancelled"], 1);
        assert_eq!(data["jobs"]["by_status"]["pending"], 0);
        assert_eq!(data["jobs"]["avg_processing_time"], 2.0);
        let timeline = data["timeline"].as_array().expect("a timeline");
        assert_eq!(
            timeline.len(),
            7 * 24 + 1,
            "every hour of the week is present"
        );
        let sum = |field: &str| {
            timeline
                .iter()
                .map(|b| b[field].as_u64().unwrap_or(0))
                .sum::<u64>()
        };
        assert_eq!(
            (sum("chat_calls"), sum("plugin_calls"), sum("jobs_created")),
            (1, 1, 2)
        );
    }
}

#[tokio::test]
async fn bad_parameters_are_a_400_in_the_envelope() {
    let (state, _db, _dir) = state().await;
    let app = crate::app(state);
    for uri in [
        "/api/analytics?granularity=minute",
        "/api/analytics?start_date=not-a-date",
        "/api/analytics?start_date=2025-10-09&end_date=2025-10-01",
    ] {
        let (status, _, body) = send(app.clone(), get(uri)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["status"], 400);
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert_eq!(body.get("data"), None::<&Value>);
    }
    // Still serving.
    let (status, _, body) = send(app, get("/api/analytics")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["timeline"].as_array().map(Vec::len), Some(8));
}
