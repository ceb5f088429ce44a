//! Plugin tests: the first-party plugins and the hostile fixtures, all real components
//! built from source by the host's build script, loaded into the real runtime. Each
//! hostile plugin must fail its own call only, with an error naming it, and leave the host
//! answering `/health`.

mod crash;
mod install;
mod permissions;
mod reuse;
mod support;
mod versions;

use std::time::{Duration, Instant};

use sanctuary::manifest::Kind;
use sanctuary::runtime::CallError;
use serde_json::Value;
use support::{Harness, fixture};

#[tokio::test]
async fn stops_an_infinite_loop_within_its_time_cap() {
    let h = Harness::new().await;
    let plugin = h.load_fixture("hostile-loop").await;
    let started = Instant::now();
    let err = h
        .rt()
        .probe(&plugin)
        .await
        .expect_err("a loop cannot succeed");
    assert!(matches!(err, CallError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("hostile-loop"), "{err}");
    // The cap is 500 ms; the loop must not run on for anything like as long as a
    // client would wait.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(plugin.stats.snapshot().timeouts, 1);
}

#[tokio::test]
async fn refuses_a_1_gib_allocation_under_the_memory_cap() {
    let h = Harness::new().await;
    let plugin = h.load_fixture("hostile-memory").await;
    let err = h
        .rt()
        .probe(&plugin)
        .await
        .expect_err("1 GiB is over a 16 MiB cap");
    assert!(
        matches!(err, CallError::MemoryCap { mb: 16, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("hostile-memory"), "{err}");
}

#[tokio::test]
async fn reports_a_panicking_plugin_as_a_crash_naming_it() {
    let h = Harness::new().await;
    let plugin = h.load_fixture("hostile-trap").await;
    let err = h.rt().probe(&plugin).await.expect_err("it panics");
    assert!(matches!(err, CallError::Trap { .. }), "{err:?}");
    assert!(err.to_string().contains("hostile-trap"), "{err}");
    // A trap kills that call's instance only: the next call gets a fresh one and fails
    // the same way instead of hitting a poisoned instance.
    let again = h.rt().probe(&plugin).await.expect_err("still panics");
    assert!(matches!(again, CallError::Trap { .. }), "{again:?}");
}

#[tokio::test]
async fn denies_reading_etc_passwd() {
    let h = Harness::new().await;
    let plugin = h.load_fixture("hostile-files").await;
    match h.rt().probe(&plugin).await {
        Ok(report) => panic!("the plugin read /etc/passwd: {}", report.detail),
        Err(CallError::Plugin { code, message, .. }) => {
            assert_eq!(code, "denied", "{message}");
        }
        Err(other) => panic!("expected the plugin's own denied error, got {other:?}"),
    }
}

#[tokio::test]
#[allow(unsafe_code)]
async fn hides_environment_variables_the_manifest_did_not_declare() {
    // SAFETY: these two names are unique to this test; no other thread reads or writes
    // them, so setting them cannot race with a reader.
    unsafe {
        std::env::set_var("FIXTURE_ENV_ALLOWED", "visible");
        std::env::set_var("FIXTURE_ENV_SECRET", "must-not-leak");
    }
    let h = Harness::new().await;
    let plugin = h.load_fixture("hostile-env").await;
    let report = h.rt().probe(&plugin).await.expect("reading env is allowed");
    let seen: Value = serde_json::from_str(&report.detail).expect("the fixture reports JSON");
    assert_eq!(seen["FIXTURE_ENV_ALLOWED"], "visible", "declared: {seen}");
    assert!(seen.get("FIXTURE_ENV_SECRET").is_none(), "leaked: {seen}");
    assert!(
        seen.get("PATH").is_none() && seen.get("HOME").is_none(),
        "leaked: {seen}"
    );
}

#[tokio::test]
async fn denies_raw_network_access() {
    let h = Harness::new().await;
    let plugin = h.load_fixture("hostile-network").await;
    match h.rt().probe(&plugin).await {
        Ok(report) => panic!("the plugin opened a socket: {}", report.detail),
        Err(CallError::Plugin { code, .. }) => assert_eq!(code, "denied"),
        Err(other) => panic!("expected denied, got {other:?}"),
    }
}

#[tokio::test]
async fn refuses_a_component_whose_sha256_does_not_match() {
    let h = Harness::new().await;
    let (mut manifest, bytes) = fixture("trivial-probe");
    manifest.sha256 = Some("0".repeat(64));
    let err = h
        .rt()
        .load(manifest, bytes, &serde_json::json!({}))
        .await
        .err()
        .expect("checksum mismatch");
    assert!(err.to_string().contains("sha256 mismatch"), "{err}");
}

#[tokio::test]
async fn refuses_a_component_whose_world_differs_from_its_manifest() {
    let h = Harness::new().await;
    let (mut manifest, bytes) = fixture("trivial-probe");
    manifest.kind = Kind::McpServer;
    let err = h
        .rt()
        .load(manifest, bytes, &serde_json::json!({}))
        .await
        .err()
        .expect("wrong world");
    let text = err.to_string();
    assert!(
        text.contains("mcp-server") && text.contains("health-probe"),
        "{text}"
    );
}

#[tokio::test]
async fn refuses_bytes_that_are_not_a_component() {
    let h = Harness::new().await;
    let (manifest, _) = fixture("trivial-probe");
    let err = h
        .rt()
        .load(
            manifest,
            b"not wasm at all".to_vec(),
            &serde_json::json!({}),
        )
        .await
        .err()
        .expect("garbage");
    assert!(
        err.to_string()
            .contains("not a loadable WebAssembly component"),
        "{err}"
    );
}

#[tokio::test]
async fn the_host_answers_health_after_every_hostile_plugin() {
    let h = Harness::with_app().await;
    for name in [
        "hostile-loop",
        "hostile-memory",
        "hostile-trap",
        "hostile-files",
        "hostile-env",
        "hostile-network",
    ] {
        h.install_fixture(name).await;
    }
    let (status, body) = h.get("/health").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["backend_running"], true);
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["services"]["database"], "operational");
    // The bundled system probe still reports on its own.
    let system = body["services"]["system"]
        .as_str()
        .expect("system probe listed");
    assert!(system == "healthy" || system == "degraded", "{body}");
    for name in [
        "hostile-loop",
        "hostile-memory",
        "hostile-trap",
        "hostile-files",
    ] {
        assert_eq!(body["services"][name], "error", "{name}: {body}");
        let detail = body["probes"][name]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(name), "{name}: {detail}");
    }
    // And it keeps answering afterwards.
    let (status, body) = h.get("/api/dev/ping").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "pong");
}

#[tokio::test]
async fn time_plugin_lists_tools_with_schemas_and_converts_between_zones() {
    let h = Harness::with_app().await;
    let time = h.live("time");
    let names: Vec<&str> = time.tools.iter().map(|t| t.name.as_str()).collect();
    assert!(
        names.contains(&"current_time") && names.contains(&"convert_time"),
        "{names:?}"
    );
    for tool in &time.tools {
        let schema: Value = serde_json::from_str(&tool.input_schema).expect("schema is JSON");
        assert_eq!(schema["type"], "object", "{}", tool.name);
        assert!(!tool.description.is_empty());
    }
    let out = h
        .rt()
        .call_tool(
            &time.plugin,
            "convert_time",
            r#"{"time":"2024-01-15T12:00:00Z","source_timezone":"UTC","target_timezone":"Asia/Tokyo"}"#,
        )
        .await
        .expect("conversion works");
    let text = support::contents_text(&out);
    assert!(
        text.contains("21:00"),
        "12:00 UTC is 21:00 in Tokyo: {text}"
    );

    let err = h
        .rt()
        .call_tool(
            &time.plugin,
            "current_time",
            r#"{"timezone":"Mars/Olympus"}"#,
        )
        .await
        .expect_err("no such zone");
    assert!(err.is_invalid_input(), "{err:?}");
    assert!(err.to_string().contains("Mars/Olympus"), "{err}");
}

#[tokio::test]
async fn system_probe_reports_degraded_when_a_configured_threshold_is_crossed() {
    let h = Harness::with_config(|c| {
        c.plugins.insert(
            "system".into(),
            serde_json::json!({ "memory_percent": 0.0 }),
        );
    })
    .await;
    let system = h.live("system");
    let report = h.rt().probe(&system.plugin).await.expect("probe runs");
    assert_eq!(report.status.as_str(), "degraded", "{}", report.detail);
    assert!(report.detail.contains("memory"), "{}", report.detail);
    assert!(report.metrics.iter().any(|m| m.name == "memory_percent"));

    let h = Harness::with_config(|c| {
        c.plugins.insert(
            "system".into(),
            serde_json::json!({ "cpu_percent": 101.0, "memory_percent": 101.0, "disk_percent": 101.0 }),
        );
    })
    .await;
    let report = h
        .rt()
        .probe(&h.live("system").plugin)
        .await
        .expect("probe runs");
    assert_eq!(report.status.as_str(), "healthy", "{}", report.detail);
}

#[tokio::test]
async fn git_scout_reads_branch_commit_and_dirty_state_from_a_real_repository() {
    let h = Harness::with_app().await;
    let repo = tempfile::tempdir().expect("tempdir");
    support::git(repo.path(), &["init", "-q", "-b", "trunk"]);
    std::fs::write(repo.path().join("README.md"), "hello\n").expect("write");
    support::git(repo.path(), &["add", "README.md"]);
    support::git(repo.path(), &["commit", "-q", "-m", "first commit"]);

    let git = h.live("git");
    let clean = h
        .rt()
        .scout(&git.plugin, "demo", repo.path())
        .await
        .expect("scout runs");
    let info = clean.git.expect("a git repository");
    assert_eq!(info.branch, "trunk");
    assert!(
        info.last_commit.contains("first commit"),
        "{}",
        info.last_commit
    );
    assert!(!info.dirty);

    std::fs::write(repo.path().join("README.md"), "changed\n").expect("write");
    let dirty = h
        .rt()
        .scout(&git.plugin, "demo", repo.path())
        .await
        .expect("scout runs");
    assert!(dirty.git.expect("still a repository").dirty);

    let plain = tempfile::tempdir().expect("tempdir");
    let none = h
        .rt()
        .scout(&git.plugin, "plain", plain.path())
        .await
        .expect("scout runs");
    assert!(none.git.is_none());
}

#[tokio::test]
async fn local_provider_is_honest_streams_and_describes_installed_tools() {
    let h = Harness::with_app().await;
    let local = h.live("local");
    let info = local.provider.as_ref().expect("described at load");
    assert!(info.offline);

    // Bounded like every chunk queue; large enough to read the chunks after the call.
    let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
    let request = support::chat_request("Which plugins and tools are installed?", true);
    let answer = h
        .rt()
        .chat(&local.plugin, &request, Some(tx))
        .await
        .expect("local answers");
    assert!(
        answer.text.contains("time"),
        "names the time plugin: {}",
        answer.text
    );
    assert!(
        answer.text.contains("convert_time"),
        "names its tools: {}",
        answer.text
    );
    assert!(answer.usage.completion_tokens > 0);
    let mut streamed = String::new();
    while let Ok(chunk) = rx.try_recv() {
        streamed.push_str(&chunk);
    }
    assert_eq!(
        streamed.trim(),
        answer.text.trim(),
        "chunks add up to the answer"
    );

    let hello = support::chat_request("Write me a poem about the sea", false);
    let answer = h
        .rt()
        .chat(&local.plugin, &hello, None)
        .await
        .expect("answers");
    assert!(
        answer.text.to_lowercase().contains("offline"),
        "{}",
        answer.text
    );

    let empty = support::chat_request("", false);
    let err = h
        .rt()
        .chat(&local.plugin, &empty, None)
        .await
        .expect_err("empty");
    assert!(err.is_invalid_input(), "{err:?}");
}

/// Reads every chunk of a streaming call as a slow listener would, returning how many
/// bytes arrived.
async fn drain_slowly(mut rx: tokio::sync::mpsc::Receiver<String>) -> usize {
    let mut bytes = 0;
    while let Some(chunk) = rx.recv().await {
        bytes += chunk.len();
        tokio::task::yield_now().await;
    }
    bytes
}

#[tokio::test]
async fn a_provider_streaming_more_than_its_budget_is_stopped_and_the_host_holds_little() {
    let h = Harness::new().await;
    let plugin = h.load_fixture("hostile-stream").await;
    let budget = plugin.manifest.permissions.memory_mb as usize * 1024 * 1024;
    for (prompt, what) in [
        ("big", "one chunk over the size limit"),
        ("flood", "chunks past the budget"),
    ] {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let reader = tokio::spawn(drain_slowly(rx));
        let request = support::chat_request(prompt, true);
        let err = h
            .rt()
            .chat(&plugin, &request, Some(tx))
            .await
            .expect_err(what);
        assert!(
            matches!(err, CallError::MemoryCap { .. }),
            "{what}: {err:?}"
        );
        assert!(err.to_string().contains("hostile-stream"), "{err}");
        let received = reader.await.expect("reader");
        assert!(
            received <= budget,
            "{what}: the listener got {received} bytes, more than the {budget}-byte budget"
        );
    }
}

#[tokio::test]
async fn kv_writes_past_the_quota_stop_the_call_and_keep_what_was_written() {
    let h = Harness::new().await;
    let plugin = h.load_fixture("hostile-host").await;
    let err = h
        .rt()
        .call_tool(&plugin, "kv_flood", "{}")
        .await
        .expect_err("the flood passes the 1 MiB quota");
    assert!(matches!(err, CallError::Quota { .. }), "{err:?}");
    assert!(err.to_string().contains("kv_bytes"), "{err}");
    // What fitted is kept; the plugin still answers.
    let echo = h.rt().call_tool(&plugin, "echo", "{}").await.expect("echo");
    assert_eq!(support::contents_text(&echo), "echo");
}
