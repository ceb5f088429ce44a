//! Crash safety and races against the real binary: an install, update or uninstall cut
//! by `kill -9` at each of its steps leaves the old state or the new one after a restart,
//! never a half-installed plugin; concurrent installs and uninstalls of one plugin never
//! answer 5xx; a bad registry entry is skipped and the server starts.
//!
//! The steps are reached with the debug-only pause hook (`SANCTUARY_TEST_PAUSE_AT`, see
//! `sanctuary::plugins::pause_at`): the server writes the step's name to
//! `SANCTUARY_TEST_PAUSE_FILE` and sleeps there until it is killed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sanctuary_test_support::{Server, sanctuary};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::support::fixture;

const KEY: &str = "crash-test-admin-key";
const ID: &str = "crash-probe";

/// A running `sanctuary` binary over a data directory that outlives it.
struct Node {
    addr: SocketAddr,
    client: reqwest::Client,
    server: Server,
}

impl Node {
    /// Starts the binary on `data` with `registry` and the extra environment `env`;
    /// returns once it listens.
    async fn launch(data: &Path, registry: &Path, env: &[(&str, String)]) -> Node {
        std::fs::create_dir_all(data).expect("data dir");
        let mut launch = sanctuary!()
            .data_dir(data)
            .arg("--registry")
            .arg(registry)
            .env("SANCTUARY_ADMIN_TOKEN", KEY)
            .env_remove("SANCTUARY_TEST_PAUSE_AT")
            .current_dir(data);
        for (name, value) in env {
            launch = launch.env(name, value);
        }
        let server = launch.spawn().await;
        Node {
            addr: server.addr,
            client: server.client.clone(),
            server,
        }
    }

    /// `kill -9`, and waits for the process to be gone.
    async fn kill(self) {
        self.server.kill().await;
    }

    async fn send(&self, method: &str, path: &str) -> (u16, Value) {
        send(&self.client, self.addr, method, path).await
    }
}

async fn send(
    client: &reqwest::Client,
    addr: SocketAddr,
    method: &str,
    path: &str,
) -> (u16, Value) {
    let method = method.parse().expect("method");
    let response = client
        .request(method, format!("http://{addr}{path}"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// A registry offering fixture `name` as plugin [`ID`]; returns the registry file.
fn registry(dir: &Path, name: &str) -> PathBuf {
    let (manifest, bytes) = fixture(name);
    let mut value = serde_json::to_value(&manifest).expect("manifest json");
    let sha = hex::encode(Sha256::digest(&bytes));
    let file = format!("{ID}-{}.wasm", &sha[..12]);
    std::fs::create_dir_all(dir).expect("registry dir");
    std::fs::write(dir.join(&file), &bytes).expect("component");
    value["id"] = json!(ID);
    value["sha256"] = json!(sha);
    value["component"] = json!(file);
    let path = dir.join("registry.json");
    let registry = json!({ "schema_version": 1, "name": "crash", "plugins": [value] });
    std::fs::write(&path, registry.to_string()).expect("registry");
    path
}

/// Starts a server paused at `point`, sends `method path` (without waiting for the
/// answer, which never comes), waits until the server reports the pause, and kills it.
async fn kill_at(data: &Path, registry: &Path, point: &str, method: &str, path: &str) {
    let marker = data.join("paused-at");
    let _ = std::fs::remove_file(&marker);
    let env = [
        ("SANCTUARY_TEST_PAUSE_AT", point.to_string()),
        ("SANCTUARY_TEST_PAUSE_FILE", marker.display().to_string()),
    ];
    let node = Node::launch(data, registry, &env).await;
    let (client, addr) = (node.client.clone(), node.addr);
    let (method, path) = (method.to_string(), path.to_string());
    let request = tokio::spawn(async move {
        let _ = client
            .request(
                method.parse().expect("method"),
                format!("http://{addr}{path}"),
            )
            .bearer_auth(KEY)
            .send()
            .await;
    });
    let reached = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            if std::fs::read_to_string(&marker).is_ok_and(|p| p == point) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(reached.is_ok(), "the server never paused at `{point}`");
    node.kill().await;
    request.abort();
}

/// What a restarted server says of [`ID`] after checking that disk, database and live
/// set agree: `Some(version)` when installed (and then loaded, with its files in place),
/// `None` when not installed at all (no directory, no row).
async fn consistent_state(node: &Node, data: &Path) -> Option<String> {
    let plugins = data.join("plugins");
    for entry in std::fs::read_dir(&plugins).expect("plugins dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            !name.starts_with('.') && !name.contains(".tmp-"),
            "left over: {name}"
        );
        let dir = entry.path();
        for file in std::fs::read_dir(&dir).expect("plugin dir").flatten() {
            let file = file.file_name().to_string_lossy().into_owned();
            assert!(
                !file.contains(".tmp-") && file != "manifest.next.json",
                "left over in {name}: {file}"
            );
        }
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("manifest.json"))
                .unwrap_or_else(|e| panic!("{name} has no manifest: {e}")),
        )
        .expect("manifest json");
        let component = manifest["component"].as_str().expect("component named");
        assert!(dir.join(component).is_file(), "{name}: {component} missing");
    }
    let (status, list) = node.send("GET", "/api/plugins").await;
    assert_eq!(status, 200, "{list}");
    for plugin in list["plugins"].as_array().expect("plugins") {
        if plugin["installed"] == true {
            assert_eq!(plugin["state"], "loaded", "{plugin}");
        }
    }
    let (status, shown) = node.send("GET", &format!("/api/plugins/{ID}")).await;
    assert_eq!(status, 200, "{shown}");
    let plugin = &shown["plugin"];
    let on_disk = plugins.join(ID).is_dir();
    if plugin["installed"] == true {
        assert!(on_disk, "a row without its files: {plugin}");
        assert_eq!(plugin["state"], "loaded", "{plugin}");
        Some(
            plugin["installed_version"]
                .as_str()
                .expect("version")
                .to_string(),
        )
    } else {
        assert!(!on_disk, "files without a row: {plugin}");
        None
    }
}

/// Restarts the server on `data` and answers the consistent state of [`ID`].
async fn restart_and_check(data: &Path, registry: &Path) -> (Node, Option<String>) {
    let node = Node::launch(data, registry, &[]).await;
    let state = consistent_state(&node, data).await;
    (node, state)
}

#[tokio::test]
async fn a_kill_at_any_step_of_an_install_update_or_uninstall_leaves_the_old_or_the_new_state() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let v1 = registry(&root.path().join("reg-v1"), "version-probe-v1");
    let v2 = registry(&root.path().join("reg-v2"), "version-probe-v2");
    // First start: the bundled plugins are written and recorded.
    Node::launch(&data, &v1, &[]).await.kill().await;

    // A first install, killed before and after its database commit.
    for (point, expected) in [
        ("stage", None),
        ("manifest-staged", None),
        ("staged", None),
        ("commit", Some("1.0.0")),
    ] {
        kill_at(
            &data,
            &v1,
            point,
            "POST",
            &format!("/api/plugins/{ID}/install"),
        )
        .await;
        let (node, state) = restart_and_check(&data, &v1).await;
        assert_eq!(state.as_deref(), expected, "install killed at `{point}`");
        if state.is_some() {
            let (status, body) = node.send("DELETE", &format!("/api/plugins/{ID}")).await;
            assert_eq!(status, 200, "{body}");
        }
        node.kill().await;
    }

    // An update from 1.0.0 to 2.0.0, killed at each step.
    for (point, expected) in [
        ("stage", "1.0.0"),
        ("manifest-staged", "1.0.0"),
        ("staged", "1.0.0"),
        ("commit", "2.0.0"),
    ] {
        let node = Node::launch(&data, &v1, &[]).await;
        let (status, body) = node
            .send("POST", &format!("/api/plugins/{ID}/install"))
            .await;
        assert_eq!(status, 200, "{body}");
        node.kill().await;
        kill_at(
            &data,
            &v2,
            point,
            "POST",
            &format!("/api/plugins/{ID}/install"),
        )
        .await;
        let (node, state) = restart_and_check(&data, &v2).await;
        assert_eq!(
            state.as_deref(),
            Some(expected),
            "update killed at `{point}`"
        );
        let (status, body) = node.send("DELETE", &format!("/api/plugins/{ID}")).await;
        assert_eq!(status, 200, "{body}");
        node.kill().await;
    }

    // An uninstall, killed before and after the database forgets the plugin.
    for (point, expected) in [("trashed", Some("1.0.0")), ("forgotten", None)] {
        let node = Node::launch(&data, &v1, &[]).await;
        let (status, body) = node
            .send("POST", &format!("/api/plugins/{ID}/install"))
            .await;
        assert_eq!(status, 200, "{body}");
        node.kill().await;
        kill_at(&data, &v1, point, "DELETE", &format!("/api/plugins/{ID}")).await;
        let (node, state) = restart_and_check(&data, &v1).await;
        assert_eq!(state.as_deref(), expected, "uninstall killed at `{point}`");
        if state.is_some() {
            let (status, body) = node.send("DELETE", &format!("/api/plugins/{ID}")).await;
            assert_eq!(status, 200, "{body}");
        }
        node.kill().await;
    }
}

#[tokio::test]
async fn concurrent_installs_and_uninstalls_of_one_plugin_never_answer_a_server_error() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let reg = registry(&root.path().join("reg"), "version-probe-v1");
    let node = Node::launch(&data, &reg, &[]).await;
    let client = node.client.clone();
    let addr = node.addr;
    let (install_path, uninstall_path, enable_path) = (
        format!("/api/plugins/{ID}/install"),
        format!("/api/plugins/{ID}"),
        format!("/api/plugins/{ID}/enable"),
    );
    for round in 0..12 {
        let install = send(&client, addr, "POST", &install_path);
        let uninstall = send(&client, addr, "DELETE", &uninstall_path);
        let enable = send(&client, addr, "POST", &enable_path);
        let ping = send(&client, addr, "GET", "/api/dev/ping");
        let ((si, bi), (su, bu), (se, be), (sp, _)) =
            tokio::join!(install, uninstall, enable, ping);
        for (what, status, body) in [
            ("install", si, &bi),
            ("uninstall", su, &bu),
            ("enable", se, &be),
        ] {
            assert!(
                status < 500,
                "round {round}: {what} answered {status}: {body}"
            );
            if status >= 400 {
                assert_eq!(body["success"], false, "round {round}: {what}: {body}");
                assert!(body["message"].is_string(), "round {round}: {what}: {body}");
            }
        }
        assert_eq!(sp, 200, "round {round}: the host's own ping");
    }
    consistent_state(&node, &data).await;
    node.kill().await;
    let (node, _) = restart_and_check(&data, &reg).await;
    node.kill().await;
}

#[tokio::test]
async fn a_bad_registry_entry_is_listed_as_failed_and_the_server_starts() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let reg_dir = root.path().join("reg");
    let path = registry(&reg_dir, "version-probe-v1");
    let mut text: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    let good = text["plugins"][0].clone();
    let mut outside = good.clone();
    outside["id"] = json!("outside");
    outside["component"] = json!("../outside.wasm");
    let mut missing = good.clone();
    missing["id"] = json!("missing");
    missing["component"] = json!("missing.wasm");
    text["plugins"] = json!([good, outside, missing]);
    std::fs::write(&path, text.to_string()).expect("write");

    let node = Node::launch(&data, &path, &[]).await;
    let (status, list) = node.send("GET", "/api/plugins").await;
    assert_eq!(status, 200, "{list}");
    let find = |id: &str| {
        list["plugins"]
            .as_array()
            .expect("plugins")
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not listed: {list}"))
    };
    for id in ["outside", "missing"] {
        let plugin = find(id);
        assert_eq!(plugin["state"], "failed", "{plugin}");
        assert!(
            plugin["error"]
                .as_str()
                .is_some_and(|e| e.contains("component")),
            "{plugin}"
        );
    }
    let (status, body) = node
        .send("POST", &format!("/api/plugins/{ID}/install"))
        .await;
    assert_eq!(status, 200, "the good entry installs: {body}");
    let (status, body) = node.send("POST", "/api/plugins/outside/install").await;
    assert_eq!(status, 404, "{body}");
    node.kill().await;
}

/// Copies the files of plugin directory `from` into `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

#[tokio::test]
async fn after_an_uninstall_a_stale_copy_goes_at_start_but_a_plugin_dropped_under_that_id_stays() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let v1 = registry(&root.path().join("reg-v1"), "version-probe-v1");
    let dir = data.join("plugins").join(ID);
    let node = Node::launch(&data, &v1, &[]).await;
    let (status, body) = node
        .send("POST", &format!("/api/plugins/{ID}/install"))
        .await;
    assert_eq!(status, 200, "{body}");
    let stale = root.path().join("stale");
    copy_dir(&dir, &stale);
    let (status, body) = node.send("DELETE", &format!("/api/plugins/{ID}")).await;
    assert_eq!(status, 200, "{body}");
    node.kill().await;

    // The removed plugin's own files come back (a backup restored, a node that was down
    // during the uninstall): the next start removes them again.
    copy_dir(&stale, &dir);
    let node = Node::launch(&data, &v1, &[]).await;
    node.server.wait_ready().await;
    assert!(!dir.exists(), "the stale copy was removed");
    assert_eq!(consistent_state(&node, &data).await, None);
    node.kill().await;

    // Another component dropped by hand under the removed id is the operator's new
    // plugin: it stays and loads.
    let (manifest, bytes) = fixture("version-probe-v2");
    let mut value = serde_json::to_value(&manifest).expect("manifest json");
    value["id"] = json!(ID);
    value["component"] = json!(format!("{ID}.wasm"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join(format!("{ID}.wasm")), &bytes).expect("component");
    std::fs::write(dir.join("manifest.json"), value.to_string()).expect("manifest");
    let node = Node::launch(&data, &v1, &[]).await;
    node.server.wait_ready().await;
    assert!(
        dir.join("manifest.json").is_file(),
        "the dropped plugin was deleted"
    );
    assert_eq!(
        consistent_state(&node, &data).await.as_deref(),
        Some("2.0.0")
    );
    node.kill().await;
}
