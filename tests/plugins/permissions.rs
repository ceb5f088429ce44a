//! Permissions that cannot be turned against the host, through the real router and real
//! components: reserved names, file grants, plugins copied in by hand, tool lists checked
//! at load, and the key-value data an uninstall removes.

use base64::Engine as _;
use serde_json::{Value, json};

use super::support::{Harness, fixture};

const KEY: &str = "permissions-test-admin-key";

async fn app(edit: impl FnOnce(&mut sanctuary::config::Config)) -> Harness {
    Harness::with_config(move |c| {
        c.admin_token = Some(KEY.into());
        edit(c);
    })
    .await
}

/// `POST /api/plugins/upload` of fixture `name` with its manifest edited by `edit`.
async fn upload(h: &Harness, name: &str, edit: impl FnOnce(&mut Value)) -> (u16, Value) {
    let (manifest, bytes) = fixture(name);
    let mut manifest = serde_json::to_value(&manifest).expect("manifest json");
    edit(&mut manifest);
    let body = json!({
        "manifest": manifest,
        "component_base64": base64::engine::general_purpose::STANDARD.encode(&bytes),
    });
    h.send("POST", "/api/plugins/upload", Some(KEY), Some(body))
        .await
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_manifest_asking_for_the_admin_token_is_refused_at_upload_naming_it() {
    let h = app(|_| {}).await;
    for key in ["secrets", "env"] {
        let (status, body) = upload(&h, "trivial-probe", |m| {
            m["permissions"][key] = json!(["SANCTUARY_ADMIN_TOKEN"]);
        })
        .await;
        assert_eq!(status, 422, "{key}: {body}");
        assert!(
            message(&body).contains("SANCTUARY_ADMIN_TOKEN") && message(&body).contains("reserved"),
            "{key}: {body}"
        );
    }
    let (status, shown) = h.get("/api/plugins/trivial-probe").await;
    assert!(
        status == 404 || shown["plugin"]["installed"] == false,
        "{shown}"
    );
    // Both refusals are in the plugin's audit (written in the background).
    for kind in ["secret", "env"] {
        let path = format!("/api/plugins/trivial-probe/audit?kind={kind}");
        let mut page = Value::Null;
        for _ in 0..200 {
            page = h.send("GET", &path, Some(KEY), None).await.1;
            if page["total"].as_u64().unwrap_or(0) > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert!(
            page["entries"][0]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("SANCTUARY_ADMIN_TOKEN")),
            "{kind}: {page}"
        );
    }
}

#[tokio::test]
async fn names_the_operator_reserves_are_refused_at_upload_and_in_a_grant() {
    let h = app(|c| c.security.reserved_env = vec!["DATABASE_PASSWORD".into()]).await;
    let (status, body) = upload(&h, "trivial-probe", |m| {
        m["permissions"]["secrets"] = json!(["DATABASE_PASSWORD"]);
    })
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "Permission refused", "{body}");
    assert!(message(&body).contains("DATABASE_PASSWORD"), "{body}");

    let (status, body) = upload(&h, "trivial-probe", |_| {}).await;
    assert_eq!(status, 200, "{body}");
    let mut granted = body["plugin"]["granted"].clone();
    granted["env"] = json!(["SANCTUARY_ADMIN_TOKEN"]);
    let (status, body) = h
        .send(
            "POST",
            "/api/plugins/trivial-probe/permissions",
            Some(KEY),
            Some(granted),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("SANCTUARY_ADMIN_TOKEN"), "{body}");
}

#[tokio::test]
async fn file_grants_reaching_the_data_directory_or_climbing_out_are_refused() {
    let h = app(|_| {}).await;
    let data = h.state().config.data_dir.clone();
    let refused = [
        json!({ "path": "../..", "guest_path": "/up" }),
        json!({ "path": data.display().to_string(), "guest_path": "/data", "write": true }),
        json!({ "path": data.join("plugins").display().to_string(), "guest_path": "/p" }),
        json!({ "path": data.parent().expect("parent").display().to_string(), "guest_path": "/p" }),
    ];
    for grant in refused {
        let (status, body) = upload(&h, "trivial-probe", |m| {
            m["permissions"]["files"] = json!([grant]);
        })
        .await;
        assert_eq!(status, 422, "{grant}: {body}");
        assert!(
            message(&body).contains("permissions.files")
                || message(&body).contains("file grant refused"),
            "{grant}: {body}"
        );
    }
    let (status, body) = upload(&h, "trivial-probe", |m| {
        m["permissions"]["files"] = json!([{ "path": "docs", "guest_path": "/docs" }]);
    })
    .await;
    assert_eq!(status, 200, "a directory inside <data-dir>/files: {body}");
    assert!(data.join("files/docs").is_dir());
}

#[tokio::test]
async fn a_plugin_copied_in_by_hand_runs_with_nothing_until_an_operator_grants_it() {
    let h = app(|_| {}).await;
    let plugins = &h.state().plugins;
    let (mut manifest, bytes) = fixture("hostile-env");
    manifest.sha256 = Some(hex::encode(sanctuary::signing::digest(&bytes)));
    let dir = plugins.plugins_dir().join(&manifest.id);
    sanctuary::plugins::write_plugin(&dir, &manifest, &bytes).expect("copy the plugin in");
    // SAFETY: the name is unique to this test; no other thread reads or writes it.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("FIXTURE_ENV_ALLOWED", "visible");
    }
    let live = plugins.load_dir(&dir).await.expect("it loads");
    let report = h.rt().probe(&live.plugin).await.expect("it runs");
    let seen: Value = serde_json::from_str(&report.detail).expect("JSON");
    assert!(
        seen.get("FIXTURE_ENV_ALLOWED").is_none(),
        "not granted yet: {seen}"
    );

    let (_, shown) = h.get("/api/plugins/hostile-env").await;
    let plugin = &shown["plugin"];
    assert_eq!(plugin["source"], "disk", "{shown}");
    assert_eq!(
        plugin["permissions"]["env"],
        json!(["FIXTURE_ENV_ALLOWED"]),
        "{shown}"
    );
    assert_eq!(plugin["granted"]["env"], json!([]), "{shown}");
    assert_eq!(
        plugin["pending_permissions"],
        json!(["environment variable `FIXTURE_ENV_ALLOWED`"]),
        "{shown}"
    );

    let mut granted = plugin["granted"].clone();
    granted["env"] = json!(["FIXTURE_ENV_ALLOWED"]);
    let (status, body) = h
        .send(
            "POST",
            "/api/plugins/hostile-env/permissions",
            Some(KEY),
            Some(granted),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["plugin"]["pending_permissions"], json!([]), "{body}");
    let live = h.live("hostile-env");
    let report = h.rt().probe(&live.plugin).await.expect("it runs");
    let seen: Value = serde_json::from_str(&report.detail).expect("JSON");
    assert_eq!(
        seen["FIXTURE_ENV_ALLOWED"], "visible",
        "granted now: {seen}"
    );
}

#[tokio::test]
async fn a_first_party_plugin_copied_in_by_hand_keeps_what_it_asks_for() {
    let h = app(|_| {}).await;
    let plugins = &h.state().plugins;
    h.send("DELETE", "/api/plugins/filesystem", Some(KEY), None)
        .await;
    let bundled = sanctuary::plugins::artifacts::BUNDLED
        .iter()
        .find(|b| b.dir == "filesystem")
        .expect("bundled");
    let mut manifest =
        sanctuary::manifest::Manifest::from_json(bundled.manifest).expect("manifest");
    manifest.sha256 = Some(bundled.sha256.into());
    let dir = plugins.plugins_dir().join("filesystem");
    sanctuary::plugins::write_plugin(&dir, &manifest, bundled.component).expect("copy");
    plugins.load_dir(&dir).await.expect("it loads");
    let (_, shown) = h.get("/api/plugins/filesystem").await;
    assert_eq!(shown["plugin"]["pending_permissions"], json!([]), "{shown}");
    assert_eq!(
        shown["plugin"]["granted"]["files"], shown["plugin"]["permissions"]["files"],
        "{shown}"
    );
}

#[tokio::test]
async fn tools_that_break_the_mcp_rules_fail_the_load_with_the_reason() {
    for (mode, why) in [
        ("traversal", "../../etc"),
        ("duplicate", "listed twice"),
        ("long", "this one has 10000"),
        ("schema", "not JSON"),
        ("many", "1000 tools"),
    ] {
        let h = app(|c| {
            c.plugins
                .insert("hostile-tools".into(), json!({ "mode": mode }));
        })
        .await;
        let (status, body) = upload(&h, "hostile-tools", |_| {}).await;
        assert_eq!(status, 422, "{mode}: {body}");
        assert!(message(&body).contains(why), "{mode}: {body}");
        assert!(
            message(&body).len() < 1000,
            "{mode}: the reason stays short"
        );
        let names: Vec<String> = sanctuary::mcp::tools(&h.state().plugins)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with("hostile-tools")),
            "{mode}: {names:?}"
        );
    }
}

#[tokio::test]
async fn a_plugin_whose_tool_list_hangs_fails_its_load_and_the_others_serve() {
    let h = app(|_| {}).await;
    let (status, body) = upload(&h, "hostile-list-hang", |_| {}).await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("hostile-list-hang"), "{body}");
    let (status, ping) = h.get("/api/dev/ping").await;
    assert_eq!(status, 200, "{ping}");
    assert!(h.state().plugins.get("time").is_some());
}

#[tokio::test]
async fn an_uninstall_removes_the_plugins_data_unless_asked_to_keep_it() {
    let h = app(|_| {}).await;
    let db = &h.state().db;
    for (query, kept) in [("", false), ("?keep_data=true", true)] {
        let (status, body) = upload(&h, "trivial-probe", |_| {}).await;
        assert_eq!(status, 200, "{body}");
        db.kv_set("trivial-probe", "note", "from the first install")
            .await
            .expect("kv set");
        let (status, body) = h
            .send(
                "DELETE",
                &format!("/api/plugins/trivial-probe{query}"),
                Some(KEY),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let left = db.kv_get("trivial-probe", "note").await.expect("kv get");
        assert_eq!(left.is_some(), kept, "{query}: {left:?}");
        let _ = db.kv_delete("trivial-probe", "note").await;
    }
    let (status, body) = h
        .send(
            "DELETE",
            "/api/plugins/time?keep_data=maybe",
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["success"], false, "{body}");
}

/// A web server on 127.0.0.1 holding a secret, and one more redirecting to it.
async fn local_servers() -> (std::net::SocketAddr, std::net::SocketAddr) {
    use axum::response::Redirect;
    use axum::routing::get;
    let serve = |router: axum::Router| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        addr
    };
    let secret = serve(axum::Router::new().route("/secret", get(|| async { "TOP SECRET" }))).await;
    let target = format!("http://localhost:{}/secret", secret.port());
    let hop = serve(axum::Router::new().route(
        "/hop",
        get(move || {
            let target = target.clone();
            async move { Redirect::temporary(&target) }
        }),
    ))
    .await;
    (secret, hop)
}

/// Grants `fetch` what its manifest asks for plus `network`, as an operator would.
async fn grant_fetch(h: &Harness, network: &[String]) {
    let (_, shown) = h.get("/api/plugins/fetch").await;
    let mut granted = shown["plugin"]["granted"].clone();
    let mut hosts: Vec<Value> = shown["plugin"]["permissions"]["network"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    hosts.extend(network.iter().map(|h| json!(h)));
    granted["network"] = json!(hosts);
    let (status, body) = h
        .send(
            "POST",
            "/api/plugins/fetch/permissions",
            Some(KEY),
            Some(granted),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn fetch(h: &Harness, url: String) -> Result<String, String> {
    sanctuary::mcp::call_tool(&h.state().plugins, "fetch", "fetch", json!({ "url": url }))
        .await
        .map(|contents| format!("{contents:?}"))
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_granted_name_that_resolves_to_loopback_or_a_redirect_there_reaches_nothing() {
    let h = app(|_| {}).await;
    let (secret, hop) = local_servers().await;
    let port = secret.port();
    // Names the resolver reads as 127.0.0.1: granted as names, they open nothing.
    grant_fetch(&h, &["127.1".into(), "2130706433".into()]).await;
    for host in ["127.1", "2130706433"] {
        let err = fetch(&h, format!("http://{host}:{port}/secret"))
            .await
            .expect_err("a name resolving to loopback");
        assert!(
            !err.contains("TOP SECRET")
                && err.contains("does not allow connections to the address"),
            "{host}: {err}"
        );
        let (status, _) = h.get("/api/dev/ping").await;
        assert_eq!(status, 200, "the host's own routes answer");
    }
    // A granted address whose page redirects to an address that is not granted: the hop
    // is a new request, checked again.
    grant_fetch(&h, &[format!("127.0.0.1:{}", hop.port())]).await;
    let err = fetch(&h, format!("http://127.0.0.1:{}/hop", hop.port()))
        .await
        .expect_err("the redirect leads to an address that is not granted");
    assert!(!err.contains("TOP SECRET"), "{err}");
    // Granted explicitly, the address is reachable.
    grant_fetch(&h, &[format!("127.0.0.1:{port}")]).await;
    let page = fetch(&h, format!("http://127.0.0.1:{port}/secret"))
        .await
        .expect("an explicitly granted address");
    assert!(page.contains("TOP SECRET"), "{page}");
}

#[tokio::test]
async fn a_plugin_copied_in_asking_for_the_admin_token_is_listed_as_failed_naming_it() {
    let h = app(|_| {}).await;
    let plugins = &h.state().plugins;
    let (mut manifest, bytes) = fixture("trivial-probe");
    manifest.permissions.secrets = vec!["SANCTUARY_ADMIN_TOKEN".into()];
    let dir = plugins.plugins_dir().join(&manifest.id);
    sanctuary::plugins::write_plugin(&dir, &manifest, &bytes).expect("copy the plugin in");
    let mut events = plugins.subscribe();
    let err = plugins
        .load_dir(&dir)
        .await
        .err()
        .expect("refused at load")
        .to_string();
    assert!(
        err.contains("SANCTUARY_ADMIN_TOKEN") && err.contains("reserved"),
        "{err}"
    );
    match events.try_recv() {
        Ok(sanctuary::plugins::PluginEvent::PluginError { id, error }) => {
            assert_eq!(
                (id.as_str(), error.as_str()),
                ("trivial-probe", err.as_str())
            );
        }
        other => panic!("expected a plugin_error, got {other:?}"),
    }
    let (_, list) = h.get("/api/plugins").await;
    let listed = list["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["id"] == "trivial-probe")
        .cloned()
        .unwrap_or_else(|| panic!("not listed: {list}"));
    assert_eq!(listed["state"], "failed", "{listed}");
    assert_eq!(listed["kind"], "health-probe", "{listed}");
    assert!(
        listed["error"]
            .as_str()
            .is_some_and(|e| e.contains("SANCTUARY_ADMIN_TOKEN")),
        "{listed}"
    );
}
