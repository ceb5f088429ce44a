//! Hot reload: plugins written into, replaced in and removed from the plugins directory
//! while the host runs, picked up by the watcher. Real components (the `version-probe`
//! fixtures answer `v1` or `v2`), the real app over SQLite, real Socket.IO clients.

mod signatures;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sanctuary::manifest::Kind;
use sanctuary::plugins::PluginEvent;
use sanctuary_test_support::InProcess;
use sanctuary_test_support::socketio::SocketIo;
use serde_json::Value;
use support::{
    Harness, VERSION_PROBE, WAIT, fixture, installable, load_error, loaded, next_event, sealed,
};

#[tokio::test]
async fn loads_a_plugin_dropped_into_the_plugins_directory() {
    let h = Harness::start().await;
    assert!(h.plugins().get(VERSION_PROBE).is_none());
    let mut events = h.plugins().subscribe();

    let (manifest, bytes) = installable("version-probe-v1");
    h.drop_in(VERSION_PROBE, &manifest, &bytes);

    let replaced = loaded(&mut events, VERSION_PROBE, "1.0.0").await;
    assert_eq!(replaced, None, "nothing was there before");
    assert_eq!(h.probe(VERSION_PROBE).await, "v1");
    let live = h.plugins().get(VERSION_PROBE).expect("listed");
    assert_eq!(live.plugin.kind(), Kind::HealthProbe);
    assert_eq!(live.dir, h.dir_of(VERSION_PROBE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaps_to_a_new_version_without_losing_a_call() {
    let h = Harness::start().await;
    let mut events = h.plugins().subscribe();
    h.install("version-probe-v1", &mut events).await;

    let answered = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let caller = tokio::spawn({
        let plugins = h.plugins().clone();
        let answered = answered.clone();
        let stop = stop.clone();
        async move {
            // Which version answered, run-length encoded, and every failure.
            let mut answers: Vec<(String, u64)> = Vec::new();
            let mut failures: Vec<String> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                // One `Arc` per call, as a request handler holds it.
                let Some(live) = plugins.get(VERSION_PROBE) else {
                    failures.push("not loaded".into());
                    tokio::task::yield_now().await;
                    continue;
                };
                match plugins.runtime().probe(&live.plugin).await {
                    Ok(report) => {
                        match answers.last_mut() {
                            Some((detail, n)) if *detail == report.detail => *n += 1,
                            _ => answers.push((report.detail, 1)),
                        }
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => failures.push(e.to_string()),
                }
            }
            (answers, failures)
        }
    });
    let wait_for_answers = |at_least: u64| {
        let answered = answered.clone();
        async move {
            tokio::time::timeout(WAIT, async {
                while answered.load(Ordering::Relaxed) < at_least {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("{at_least} calls answered within {WAIT:?}"));
        }
    };

    wait_for_answers(1).await;
    let at_write = answered.load(Ordering::Relaxed);
    let (manifest, bytes) = installable("version-probe-v2");
    h.drop_in(VERSION_PROBE, &manifest, &bytes);
    let replaced = loaded(&mut events, VERSION_PROBE, "2.0.0").await;
    let at_swap = answered.load(Ordering::Relaxed);
    wait_for_answers(at_swap + 20).await;
    stop.store(true, Ordering::Relaxed);
    let (answers, failures) = caller.await.expect("the caller finishes");

    assert!(
        failures.is_empty(),
        "{} calls failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(replaced.as_deref(), Some("1.0.0"));
    let order: Vec<&str> = answers.iter().map(|(detail, _)| detail.as_str()).collect();
    assert_eq!(
        order,
        ["v1", "v2"],
        "answers switch once and never go back: {answers:?}"
    );
    // The old version kept answering while the new one was written and loaded (the
    // debounce alone leaves it a 50 ms window).
    assert!(
        at_swap > at_write,
        "no call was answered during the swap ({at_write} before, {at_swap} after)"
    );
    assert_eq!(h.probe(VERSION_PROBE).await, "v2");
}

#[tokio::test]
async fn a_broken_replacement_keeps_the_old_version_serving() {
    let h = Harness::start().await;
    let mut events = h.plugins().subscribe();
    h.install("version-probe-v1", &mut events).await;
    let (v2, _) = fixture("version-probe-v2");

    // Garbage whose checksum matches: it gets as far as the compiler.
    let garbage = b"this is not a WebAssembly component".repeat(64);
    h.drop_in(VERSION_PROBE, &sealed(v2.clone(), &garbage), &garbage);
    let error = load_error(&mut events, VERSION_PROBE).await;
    assert!(
        error.contains(VERSION_PROBE) && error.contains("not a loadable WebAssembly component"),
        "{error}"
    );
    assert_eq!(h.probe(VERSION_PROBE).await, "v1");
    let failures = h.plugins().failures();
    assert!(
        failures.get(VERSION_PROBE).is_some_and(|f| f == &error),
        "{failures:?}"
    );

    // A real component, but of another world than its manifest claims.
    let (_, health_probe) = fixture("trivial-probe");
    let mut mcp = v2.clone();
    mcp.kind = Kind::McpServer;
    h.drop_in(VERSION_PROBE, &sealed(mcp, &health_probe), &health_probe);
    let error = load_error(&mut events, VERSION_PROBE).await;
    assert!(
        error.contains("manifest says kind `mcp-server`")
            && error.contains("implements `health-probe`"),
        "{error}"
    );
    assert_eq!(h.probe(VERSION_PROBE).await, "v1");
    let live = h.plugins().get(VERSION_PROBE).expect("still loaded");
    assert_eq!(live.plugin.manifest.version.to_string(), "1.0.0");

    // A good replacement after the broken ones goes in.
    let (manifest, bytes) = installable("version-probe-v2");
    h.drop_in(VERSION_PROBE, &manifest, &bytes);
    assert_eq!(
        loaded(&mut events, VERSION_PROBE, "2.0.0").await.as_deref(),
        Some("1.0.0")
    );
    assert_eq!(h.probe(VERSION_PROBE).await, "v2");
    assert!(!h.plugins().failures().contains_key(VERSION_PROBE));
}

#[tokio::test]
async fn removing_the_directory_unloads_the_plugin() {
    let h = Harness::start().await;
    let mut events = h.plugins().subscribe();
    h.install("version-probe-v1", &mut events).await;
    let others = h.plugins().list().len() - 1;

    std::fs::remove_dir_all(h.dir_of(VERSION_PROBE)).expect("remove the directory");
    next_event(
        &mut events,
        "plugin_unloaded",
        |e| matches!(e, PluginEvent::PluginUnloaded { id } if id == VERSION_PROBE),
    )
    .await;
    assert!(h.plugins().get(VERSION_PROBE).is_none());
    assert_eq!(h.plugins().list().len(), others, "only that plugin went");
}

#[tokio::test]
async fn socket_io_clients_see_plugins_come_and_go() {
    let h = Harness::start().await;
    let server = InProcess::serve(h.state.clone()).await;
    let mut client = SocketIo::connect(server.addr).await;
    client.wait_for_where("connected", |_| true).await;

    let (manifest, bytes) = installable("version-probe-v1");
    h.drop_in(VERSION_PROBE, &manifest, &bytes);
    let is_ours = |data: &Value| data["id"] == VERSION_PROBE;
    let data = client.wait_for_where("plugin_loaded", is_ours).await;
    assert_eq!(data["kind"], "health-probe");
    assert_eq!(data["version"], "1.0.0");
    assert_eq!(data["replaced"], Value::Null);
    assert!(data["timestamp"].is_string(), "{data}");

    let garbage = b"not a component".to_vec();
    let (v2, _) = fixture("version-probe-v2");
    h.drop_in(VERSION_PROBE, &sealed(v2, &garbage), &garbage);
    let data = client.wait_for_where("plugin_error", is_ours).await;
    assert!(
        data["error"]
            .as_str()
            .is_some_and(|e| e.contains("not a loadable WebAssembly component")),
        "{data}"
    );

    std::fs::remove_dir_all(h.dir_of(VERSION_PROBE)).expect("remove the directory");
    let data = client.wait_for_where("plugin_unloaded", is_ours).await;
    assert!(data["timestamp"].is_string(), "{data}");
}

#[tokio::test]
async fn reading_the_plugin_files_is_not_a_change() {
    let h = Harness::start().await;
    let mut events = h.plugins().subscribe();
    h.install("version-probe-v1", &mut events).await;
    // Unloaded by hand (as disabling does) with its files left in place: only a change to
    // those files may bring it back, not someone reading them.
    assert!(h.plugins().unload(VERSION_PROBE));
    for entry in std::fs::read_dir(h.dir_of(VERSION_PROBE)).expect("the directory") {
        std::fs::read(entry.expect("an entry").path()).expect("read a plugin file");
    }
    // Ten times the debounce: a watcher that took reads for changes would have acted.
    tokio::time::sleep(sanctuary::watch::DEBOUNCE * 10).await;
    assert!(
        h.plugins().get(VERSION_PROBE).is_none(),
        "reloaded by a read"
    );

    let (manifest, bytes) = installable("version-probe-v2");
    h.drop_in(VERSION_PROBE, &manifest, &bytes);
    assert_eq!(loaded(&mut events, VERSION_PROBE, "2.0.0").await, None);
}
