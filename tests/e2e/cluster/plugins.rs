//! Plugins follow the database on every node: an upload, a disable, a grant and an
//! uninstall through node A hold on node B, live and across B's restarts, including those
//! made while B was down.

use base64::Engine as _;
use sanctuary_test_support::Server;
use serde_json::{Value, json};

use super::{Site, admin, call_tool, followed};

/// Uploads test fixture `name` through `node`, its manifest edited by `edit`: status and
/// body.
async fn upload_edited(node: &Server, name: &str, edit: impl FnOnce(&mut Value)) -> (u16, Value) {
    let fixture = sanctuary_test_support::fixtures::fixture_files(name);
    let mut manifest: Value =
        serde_json::from_str(&fixture.manifest_text()).expect("manifest JSON");
    edit(&mut manifest);
    let component = base64::engine::general_purpose::STANDARD.encode(fixture.component());
    admin(
        node,
        "POST",
        "/api/plugins/upload",
        Some(json!({ "manifest": manifest, "component_base64": component })),
    )
    .await
}

/// Uploads test fixture `name` through `node`.
async fn upload(node: &Server, name: &str) {
    let (status, body) = upload_edited(node, name, |_| {}).await;
    assert_eq!(status, 200, "upload {name}: {body}");
}

/// Whether `count` of the `counter-tool` fixture answers on `node`.
async fn counts(node: &Server) -> bool {
    call_tool(node, "counter-tool", "count", json!({})).await.0 == 200
}

/// What the `hostile-env` probe on `node` saw of its environment: `None` when the probe
/// is not there.
async fn probe_env(node: &Server) -> Option<Value> {
    let (_, _, health) = node.get("/health").await;
    let detail = health["probes"]["hostile-env"]["detail"].as_str()?;
    Some(serde_json::from_str(detail).unwrap_or(Value::Null))
}

/// The version of plugin `id` loaded on `node`.
async fn live_version(node: &Server, id: &str) -> String {
    let detailed = node.get_json("/health/detailed").await;
    detailed["plugins"]
        .as_array()
        .and_then(|plugins| plugins.iter().find(|p| p["id"] == id))
        .and_then(|p| p["version"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// Grants `hostile-env` the environment variables `env` through `node`.
async fn grant_env(node: &Server, env: Value) {
    let (_, shown) = admin(node, "GET", "/api/plugins/hostile-env", None).await;
    let mut granted = shown["plugin"]["granted"].clone();
    assert!(granted.is_object(), "{shown}");
    granted["env"] = env;
    let (status, body) = admin(
        node,
        "POST",
        "/api/plugins/hostile-env/permissions",
        Some(granted),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn installs_disables_grants_and_uninstalls_on_one_node_hold_on_the_other_across_restarts() {
    let Some(site) = Site::new(
        "installs_disables_grants_and_uninstalls_on_one_node_hold_on_the_other_across_restarts",
        "",
    )
    .await
    else {
        return;
    };
    let site = site.env("FIXTURE_ENV_ALLOWED", "visible");
    let (a, b) = site.start_two().await;
    let workspace = format!("cluster-{}", uuid::Uuid::new_v4().simple());
    let mut watcher_on_a = a.socket_io().await;
    let mut watcher_on_b = b.socket_io().await;
    for watcher in [&mut watcher_on_a, &mut watcher_on_b] {
        watcher
            .emit("workspace_subscribe", json!({ "workspace_id": workspace }))
            .await;
        watcher.wait_for("workspace_subscribed").await;
    }

    // Uploaded through A: B answers its tool, and B's clients hear of it once.
    assert!(!counts(&b).await, "not installed yet");
    upload(&a, "counter-tool").await;
    followed("an upload on A", [&a, &b], || counts(&b)).await;
    watcher_on_b.emit("test_event", json!({})).await;
    let mut heard = Vec::new();
    while heard.last().is_none_or(|(name, _)| name != "test_response") {
        heard.push(watcher_on_b.next_event().await);
    }
    let loaded = heard
        .iter()
        .filter(|(name, data)| {
            name == "workspace_update"
                && data["event"] == "plugin_loaded"
                && data["id"] == "counter-tool"
        })
        .count();
    assert_eq!(loaded, 1, "one workspace_update on B: {heard:?}");
    // B loaded it once, following A: its plugins-directory watcher, seeing the files the
    // follow wrote, found them already served.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let reloads: Vec<String> = b
        .log_lines()
        .into_iter()
        .filter(|l| l.contains("hot-reloaded") && l.contains("counter-tool"))
        .collect();
    assert!(reloads.is_empty(), "B loaded it a second time: {reloads:?}");

    // Disabled through A: B stops answering; enabled again: B answers again.
    let (status, body) = admin(&a, "POST", "/api/plugins/counter-tool/disable", None).await;
    assert_eq!(status, 200, "{body}");
    followed("a disable on A", [&a, &b], || async { !counts(&b).await }).await;
    let (status, body) = call_tool(&b, "counter-tool", "count", json!({})).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = admin(&a, "POST", "/api/plugins/counter-tool/enable", None).await;
    assert_eq!(status, 200, "{body}");
    followed("an enable on A", [&a, &b], || counts(&b)).await;

    // hostile-env asking for no variable: its probe on B sees none.
    let (status, body) = upload_edited(&a, "hostile-env", |m| {
        m["permissions"]["env"] = json!([]);
    })
    .await;
    assert_eq!(status, 200, "{body}");
    followed("the hostile-env upload on A", [&a, &b], || async {
        probe_env(&b)
            .await
            .is_some_and(|env| env.is_object() && env.get("FIXTURE_ENV_ALLOWED").is_none())
    })
    .await;
    // An update asking for the variable waits for a grant; granted through A, B runs the
    // update with it.
    let (status, body) = upload_edited(&a, "hostile-env", |m| m["version"] = json!("0.2.0")).await;
    assert_eq!(status, 409, "{body}");
    grant_env(&a, json!(["FIXTURE_ENV_ALLOWED"])).await;
    followed("a grant on A", [&a, &b], || async {
        probe_env(&b)
            .await
            .is_some_and(|env| env["FIXTURE_ENV_ALLOWED"] == "visible")
    })
    .await;
    assert_eq!(live_version(&b, "hostile-env").await, "0.2.0");

    // While B is down, A uninstalls the uploaded plugin and a bundled one, and disables
    // hostile-env: B starts with all three as A left them.
    b.terminate().await;
    let (status, body) = admin(&a, "DELETE", "/api/plugins/counter-tool", None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin(&a, "DELETE", "/api/plugins/time", None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin(&a, "POST", "/api/plugins/hostile-env/disable", None).await;
    assert_eq!(status, 200, "{body}");
    let b = site.start(1).await;
    b.wait_ready().await;
    let (status, body) = call_tool(&b, "counter-tool", "count", json!({})).await;
    assert_eq!(status, 404, "uninstalled while B was down: {body}");
    assert!(
        !site.data_dir(1).join("plugins/counter-tool").exists(),
        "its files went from B's disk"
    );
    let (status, body) = call_tool(&b, "time", "current_time", json!({"timezone": "UTC"})).await;
    assert_eq!(status, 404, "the bundled plugin stays uninstalled: {body}");
    assert_eq!(probe_env(&b).await, None, "disabled while B was down");
    let (status, body) = admin(&a, "POST", "/api/plugins/hostile-env/enable", None).await;
    assert_eq!(status, 200, "{body}");
    followed("an enable on A", [&a, &b], || async {
        probe_env(&b)
            .await
            .is_some_and(|env| env["FIXTURE_ENV_ALLOWED"] == "visible")
    })
    .await;

    // Uninstalled through A while B runs: gone from B, and a restart of B does not bring
    // it back.
    let (status, body) = admin(&a, "DELETE", "/api/plugins/hostile-env", None).await;
    assert_eq!(status, 200, "{body}");
    followed("an uninstall on A", [&a, &b], || async {
        probe_env(&b).await.is_none()
    })
    .await;
    b.terminate().await;
    let b = site.start(1).await;
    b.wait_ready().await;
    assert_eq!(probe_env(&b).await, None, "not back after B's restart");
    let (status, body) = admin(&b, "GET", "/api/plugins/hostile-env", None).await;
    assert_eq!(status, 404, "{body}");
    assert!(!counts(&b).await);
    // A, restarted too, agrees.
    a.terminate().await;
    let a = site.start(0).await;
    a.wait_ready().await;
    assert_eq!(probe_env(&a).await, None);
    assert!(!counts(&a).await);
}
