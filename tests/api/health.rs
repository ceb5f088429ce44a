//! `/health` against a real server: a spinning probe costs its own entry a `timeout`
//! while the host's own routes and the other probes keep answering, concurrent calls
//! share one probe run, pressure turns the status only once it lasts, and the seeds'
//! fields are all there.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use super::support::{Server, start};

/// Loads test fixture `name` into the server's live set, as an install would.
async fn install_fixture(server: &Server, name: &str) {
    let (manifest, bytes) = sanctuary_test_support::fixture(name);
    let plugins = &server.state.plugins;
    let live = plugins
        .load_bytes(manifest, bytes, plugins.plugins_dir())
        .await
        .unwrap_or_else(|e| panic!("load {name}: {e}"));
    plugins.insert(live);
}

// Several workers, as the server has: guest code that spins holds one of them until its
// time cap (the runtime's business); the others must keep serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_probe_is_a_timeout_of_its_own_while_ping_and_the_other_probes_answer() {
    let fx = start(|config| {
        config.health.probe_timeout_ms = 100;
        config.health.cache_ttl_ms = 0;
        config.health.degraded_after_secs = 3600;
    })
    .await;
    let server = Arc::new(fx.server);
    install_fixture(&server, "hostile-loop").await;
    install_fixture(&server, "trivial-probe").await;

    // Three concurrent /health calls while the probe spins; ping is asked meanwhile.
    let done = Arc::new(AtomicBool::new(false));
    let checks = {
        let server = server.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let calls = (0..3).map(|_| server.get("/health"));
            let answers = futures::future::join_all(calls).await;
            done.store(true, Ordering::SeqCst);
            answers
        })
    };
    let mut pings_during = 0;
    while !done.load(Ordering::SeqCst) {
        let (status, body) = server.get("/api/dev/ping").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "pong");
        if !done.load(Ordering::SeqCst) {
            pings_during += 1;
        }
    }
    assert!(
        pings_during > 0,
        "ping answered while /health waited on the probe"
    );

    for (status, body) in checks.await.expect("the /health calls") {
        assert_eq!(status, 200, "{body}");
        let spinning = &body["probes"]["hostile-loop"];
        assert_eq!(spinning["status"], "timeout", "{body}");
        assert!(
            spinning["detail"]
                .as_str()
                .is_some_and(|d| d.contains("hostile-loop") && d.contains("100 ms")),
            "{body}"
        );
        assert_eq!(body["services"]["hostile-loop"], "timeout");
        assert_eq!(
            body["probes"]["trivial-probe"]["status"], "healthy",
            "{body}"
        );
        let system = body["services"]["system"].as_str().unwrap_or_default();
        assert!(["healthy", "degraded"].contains(&system), "{body}");
        // A timeout is pressure, not an outage: the status waits for it to last.
        assert_eq!(body["status"], "healthy", "{body}");
        let pressure = body["pressure"].as_array().expect("pressure listed");
        let entry = pressure
            .iter()
            .find(|p| p["probe"] == "hostile-loop")
            .unwrap_or_else(|| panic!("the timeout is listed as pressure: {body}"));
        assert_eq!(entry["sustained"], false);
        assert!(entry["since"].is_string());
    }
    // The server still serves other plugins' routes after the attack.
    let (status, body) = server.get("/api/dev/ping").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn concurrent_health_calls_share_one_probe_run_within_the_ttl() {
    let fx = start(|config| {
        config.health.cache_ttl_ms = 600_000;
    })
    .await;
    let server = Arc::new(fx.server);
    install_fixture(&server, "trivial-probe").await;
    let calls_of = |id: &str| {
        server
            .state
            .plugins
            .get(id)
            .expect("loaded")
            .plugin
            .stats
            .snapshot()
            .calls
    };
    let (trivial, system) = (calls_of("trivial-probe"), calls_of("system"));
    let answers = futures::future::join_all((0..40).map(|_| server.get("/health"))).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200);
        assert_eq!(
            body["probes"]["trivial-probe"]["status"], "healthy",
            "{body}"
        );
    }
    assert_eq!(
        calls_of("trivial-probe"),
        trivial + 1,
        "one run for 40 calls"
    );
    assert_eq!(calls_of("system"), system + 1, "one run for 40 calls");
    let first = &answers[0].1["checked_at"];
    assert!(answers.iter().all(|(_, b)| b["checked_at"] == *first));

    // A new probe is never missing from a shared answer: the run is over another set.
    install_fixture(&server, "api-v0-1-probe").await;
    let (_, body) = server.get("/health").await;
    assert!(body["probes"]["api-v0-1-probe"].is_object(), "{body}");
}

#[tokio::test]
async fn with_a_ttl_of_zero_every_call_gets_a_run_of_its_own() {
    let fx = start(|config| config.health.cache_ttl_ms = 0).await;
    install_fixture(&fx.server, "trivial-probe").await;
    let calls = || {
        fx.server
            .state
            .plugins
            .get("trivial-probe")
            .expect("loaded")
            .plugin
            .stats
            .snapshot()
            .calls
    };
    let before = calls();
    for _ in 0..3 {
        let (status, _) = fx.server.get("/health").await;
        assert_eq!(status, 200);
    }
    assert_eq!(calls(), before + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pressure_counts_once_it_lasts_and_a_failing_probe_at_once() {
    let fx = start(|config| {
        config.health.probe_timeout_ms = 100;
        config.health.cache_ttl_ms = 0;
        config.health.degraded_after_secs = 0;
    })
    .await;
    install_fixture(&fx.server, "hostile-loop").await;
    let (_, body) = fx.server.get("/health").await;
    assert_eq!(
        body["status"], "degraded",
        "sustained at once with 0 s: {body}"
    );

    let fx = start(|config| {
        config.health.cache_ttl_ms = 0;
        config.health.degraded_after_secs = 3600;
    })
    .await;
    install_fixture(&fx.server, "hostile-trap").await;
    let (_, body) = fx.server.get("/health").await;
    assert_eq!(body["probes"]["hostile-trap"]["status"], "error", "{body}");
    assert_eq!(
        body["status"], "degraded",
        "a failed probe is no pressure: {body}"
    );
}

#[tokio::test]
async fn health_has_the_fields_of_every_seed_and_readiness_and_liveness_answer() {
    let fx = start(|_| {}).await;
    let server = &fx.server;
    let (status, body) = server.get("/health").await;
    assert_eq!(status, 200);
    // Seed 000.
    assert_eq!(body["backend_running"], true);
    assert!(body["timestamp"].is_string() && body["uptime"].is_number());
    for service in ["database", "mama_bear_agent", "marketplace_manager"] {
        assert!(body["services"][service].is_string(), "{service}: {body}");
    }
    // Seed 001 and 002.
    assert_eq!(body["service"], "podplay-sanctuary");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        body["checks"]["database"]["status"], "operational",
        "{body}"
    );
    assert_eq!(body["checks"]["plugins"]["status"], "loaded", "{body}");
    assert_eq!(body["checks"]["plugins"]["loading"], Value::Array(vec![]));
    assert!(body["checks"]["probes"]["system"]["status"].is_string());
    assert_eq!(body["loading"], Value::Array(vec![]));

    let (status, detailed) = server.get("/health/detailed").await;
    assert_eq!(status, 200);
    assert_eq!(detailed["service"], "podplay-sanctuary");
    assert!(detailed["checks"].is_object() && detailed["system"]["cpu"].is_object());

    let (status, live) = server.get("/health/live").await;
    assert_eq!((status, &live["status"]), (200, &Value::from("alive")));
    let (status, ready) = server.get("/health/ready").await;
    assert_eq!(status, 200, "every plugin is loaded: {ready}");
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["loading"], Value::Array(vec![]));
    assert!(ready["loaded"].as_u64().is_some_and(|n| n >= 4), "{ready}");
}
