//! The marketplace API end to end through the router: install from a registry, refusals
//! (anonymous, bad checksum, incompatible API, path-like names), permission-gated
//! updates, enable/disable and uninstall — each checked on disk and in the database.

use std::path::PathBuf;

use axum::body::Body;
use http::Request;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use super::support::{Harness, fixture};

const KEY: &str = "install-test-admin-key";

/// A registry directory holding `entries` (manifest edits of fixture `trivial-probe`
/// or `version-probe-v*`) and their components.
struct TestRegistry {
    dir: tempfile::TempDir,
}

impl TestRegistry {
    fn new(entries: &[(&str, Value)]) -> TestRegistry {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut plugins = Vec::new();
        for (fixture_name, edits) in entries {
            let (manifest, bytes) = fixture(fixture_name);
            let mut value = serde_json::to_value(&manifest).expect("manifest json");
            let sha = hex::encode(Sha256::digest(&bytes));
            value["sha256"] = json!(sha);
            for (k, v) in edits.as_object().expect("edits object") {
                value[k] = v.clone();
            }
            let id = value["id"].as_str().expect("id").to_string();
            let file = format!("{id}-{}.wasm", &sha[..8]);
            value["component"] = json!(file);
            std::fs::write(dir.path().join(&file), &bytes).expect("component");
            plugins.push(value);
        }
        let registry = json!({ "schema_version": 1, "name": "test", "plugins": plugins });
        std::fs::write(
            dir.path().join("registry.json"),
            serde_json::to_vec_pretty(&registry).expect("json"),
        )
        .expect("registry");
        TestRegistry { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("registry.json")
    }
}

async fn app_with(registry: &TestRegistry) -> Harness {
    let path = registry.path();
    Harness::with_config(move |c| {
        c.registry = Some(path);
        c.admin_token = Some(KEY.into());
    })
    .await
}

async fn send(
    h: &Harness,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request");
    let response = sanctuary::app(h.state().clone())
        .oneshot(request)
        .await
        .expect("router answers");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn plugin_dir(h: &Harness, id: &str) -> PathBuf {
    h.state().plugins.plugins_dir().join(id)
}

#[tokio::test]
async fn installs_from_the_registry_and_the_plugin_answers() {
    let reg = TestRegistry::new(&[("trivial-probe", json!({ "id": "hello-probe" }))]);
    let h = app_with(&reg).await;

    let (status, body) = send(
        &h,
        "POST",
        "/api/plugins/hello-probe/install",
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["plugin"]["state"], "loaded", "{body}");

    let live = h.live("hello-probe");
    let report = h
        .rt()
        .probe(&live.plugin)
        .await
        .expect("installed probe answers");
    assert_eq!(report.detail, "ok");
    assert!(
        plugin_dir(&h, "hello-probe")
            .join("manifest.json")
            .is_file()
    );
    let record = h
        .state()
        .db
        .install_record("hello-probe")
        .await
        .expect("db");
    assert!(record.is_some_and(|r| r.source == "registry"));

    let (status, body) = send(&h, "GET", "/api/plugins/hello-probe", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["plugin"]["installed"], true);
    assert_eq!(body["plugin"]["permissions"]["memory_mb"], 16);
}

#[tokio::test]
async fn refuses_anonymous_and_wrong_key_installs_with_401() {
    let reg = TestRegistry::new(&[("trivial-probe", json!({ "id": "hello-probe" }))]);
    let h = app_with(&reg).await;
    for key in [None, Some("wrong-key")] {
        let (status, body) = send(&h, "POST", "/api/plugins/hello-probe/install", key, None).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["success"], false);
        assert!(
            body["error"].is_string() && body["timestamp"].is_string(),
            "{body}"
        );
    }
    assert!(
        !plugin_dir(&h, "hello-probe").exists(),
        "nothing was installed"
    );
}

#[tokio::test]
async fn refuses_a_checksum_mismatch_and_writes_nothing() {
    let bad_sha = "0".repeat(64);
    let reg = TestRegistry::new(&[("trivial-probe", json!({ "id": "tampered" }))]);
    // Point the entry at a hash its component does not have.
    let text = std::fs::read_to_string(reg.path()).expect("read");
    let mut value: Value = serde_json::from_str(&text).expect("json");
    value["plugins"][0]["sha256"] = json!(bad_sha);
    std::fs::write(reg.path(), value.to_string()).expect("write");
    let h = app_with(&reg).await;

    let (status, body) = send(&h, "POST", "/api/plugins/tampered/install", Some(KEY), None).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("sha256 mismatch"),
        "{body}"
    );
    assert!(!plugin_dir(&h, "tampered").exists(), "nothing written");
    assert!(
        h.state()
            .db
            .install_record("tampered")
            .await
            .expect("db")
            .is_none()
    );
    assert!(h.state().plugins.get("tampered").is_none());
}

#[tokio::test]
async fn refuses_an_incompatible_api_saying_which_versions() {
    let reg = TestRegistry::new(&[(
        "trivial-probe",
        json!({ "id": "future-probe", "api": "^0.3" }),
    )]);
    let h = app_with(&reg).await;
    let (status, body) = send(
        &h,
        "POST",
        "/api/plugins/future-probe/install",
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("^0.3") && message.contains("0.1.0, 0.2.0"),
        "{message}"
    );
    assert!(!plugin_dir(&h, "future-probe").exists());
}

#[tokio::test]
async fn refuses_a_path_as_a_plugin_name() {
    let reg = TestRegistry::new(&[]);
    let h = app_with(&reg).await;
    for uri in [
        "/api/plugins/..%2Fx/install",
        "/api/mcp/servers/..%2F..%2Fetc/install",
    ] {
        let (status, body) = send(&h, "POST", uri, Some(KEY), None).await;
        assert_eq!(status, 400, "{uri}: {body}");
        assert_eq!(body["success"], false);
    }
    let outside = h
        .state()
        .plugins
        .plugins_dir()
        .parent()
        .map(|p| p.join("x"));
    assert!(outside.is_some_and(|p| !p.exists()));
}

#[tokio::test]
async fn uninstall_removes_the_files_and_the_database_row() {
    let reg = TestRegistry::new(&[("trivial-probe", json!({ "id": "hello-probe" }))]);
    let h = app_with(&reg).await;
    let (status, _) = send(
        &h,
        "POST",
        "/api/plugins/hello-probe/install",
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(status, 200);

    let (status, body) = send(&h, "DELETE", "/api/plugins/hello-probe", None, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = send(&h, "DELETE", "/api/plugins/hello-probe", Some(KEY), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(!plugin_dir(&h, "hello-probe").exists());
    assert!(
        h.state()
            .db
            .install_record("hello-probe")
            .await
            .expect("db")
            .is_none()
    );
    assert!(h.state().plugins.get("hello-probe").is_none());
    let (_, body) = send(&h, "GET", "/api/plugins/hello-probe", None, None).await;
    assert_eq!(
        body["plugin"]["state"], "available",
        "back to a registry entry: {body}"
    );
}

#[tokio::test]
async fn an_update_asking_for_more_permissions_waits_for_a_grant() {
    let v1 = TestRegistry::new(&[("version-probe-v1", json!({}))]);
    let mut h = app_with(&v1).await;
    let (status, body) = send(
        &h,
        "POST",
        "/api/plugins/version-probe/install",
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // The registry now offers v2, which also wants a secret.
    let v2 = TestRegistry::new(&[(
        "version-probe-v2",
        json!({ "permissions": { "secrets": ["EXTRA_TOKEN"], "memory_mb": 16, "timeout_ms": 2000 } }),
    )]);
    let mut state = h.state().clone();
    state.registry = std::sync::Arc::new(
        sanctuary::registry::Registry::load(Some(&v2.path())).expect("registry"),
    );
    h.replace_state(state);
    let h2 = h;
    let (status, body) = send(
        &h2,
        "POST",
        "/api/plugins/version-probe/install",
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["details"]["needs"][0]
            .as_str()
            .unwrap_or_default()
            .contains("EXTRA_TOKEN"),
        "{body}"
    );
    let live = h2.live("version-probe");
    assert_eq!(
        h2.rt().probe(&live.plugin).await.expect("v1 serves").detail,
        "v1"
    );

    let grant = json!({ "permissions": { "secrets": ["EXTRA_TOKEN"], "memory_mb": 16, "timeout_ms": 2000 } });
    let (status, body) = send(
        &h2,
        "POST",
        "/api/plugins/version-probe/permissions",
        Some(KEY),
        Some(grant),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let live = h2.live("version-probe");
    assert_eq!(
        h2.rt().probe(&live.plugin).await.expect("v2 serves").detail,
        "v2"
    );
}

#[tokio::test]
async fn disable_unloads_and_enable_reloads_across_a_restart() {
    let reg = TestRegistry::new(&[("trivial-probe", json!({ "id": "hello-probe" }))]);
    let h = app_with(&reg).await;
    send(
        &h,
        "POST",
        "/api/plugins/hello-probe/install",
        Some(KEY),
        None,
    )
    .await;
    let (status, body) = send(
        &h,
        "POST",
        "/api/plugins/hello-probe/disable",
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["plugin"]["state"], "disabled");
    assert!(h.state().plugins.get("hello-probe").is_none());

    let (status, body) = send(
        &h,
        "POST",
        "/api/plugins/hello-probe/enable",
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["plugin"]["state"], "loaded");
}

#[tokio::test]
async fn the_mcp_marketplace_lists_and_searches_mcp_servers_in_the_seed_shape() {
    let h = Harness::with_app().await;
    let (status, body) = send(&h, "GET", "/api/mcp/servers", None, None).await;
    assert_eq!(status, 200);
    let servers = body.as_array().expect("the seed answers an array");
    let time = servers
        .iter()
        .find(|s| s["id"] == "time")
        .expect("time listed");
    for field in [
        "id",
        "name",
        "description",
        "version",
        "author",
        "category",
        "tags",
        "download_count",
        "rating",
        "last_updated",
        "repository_url",
        "documentation_url",
    ] {
        assert!(
            time.get(field).is_some(),
            "MCPServer.{field} missing: {time}"
        );
    }
    assert!(servers.iter().all(|s| s["kind"] == "mcp-server"));

    let (_, body) = send(
        &h,
        "GET",
        "/api/mcp/search?query=zone&category=utilities",
        None,
        None,
    )
    .await;
    let ids: Vec<&str> = body["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["time"], "{body}");
    let (_, body) = send(
        &h,
        "GET",
        "/api/mcp/search?query=nothing-like-this",
        None,
        None,
    )
    .await;
    assert_eq!(body["servers"].as_array().map(Vec::len), Some(0));
}
