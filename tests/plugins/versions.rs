//! Versioned API: one host serves a plugin built against the frozen API 0.1.0 (fixture
//! `api-v0-1`, raw `wit_bindgen` over `wit/v0.1.0`) beside one built against 0.2.0
//! (fixture `api-v0-2`, raw `wit_bindgen` over `wit/v0.2.0`), with the same tools; the
//! 0.1.0 one's host imports (log, config, kv, installed plugins) and exports go through
//! the 0.1.0 conversion layer, the 0.2.0 one links straight to the latest (0.2.2)
//! bindings, which wasmtime's linker matches semver-compatibly. The bundled plugins,
//! built through the SDK, are 0.2.2 components (`mcp-server-ext` for MCP servers). A plugin needing an API this host lacks (fixture `api-v0-3`, built
//! against a future 0.3.0) is refused at install and at load, naming the version it needs
//! and the versions the host supports.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::Request;
use sanctuary::manifest::Kind;
use sanctuary::runtime::api_version_of;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use super::support::{Harness, fixture};

const ADMIN: &str = "versions-test-admin-key";

/// `method uri` with an optional JSON body and admin key, through the app's router.
async fn send(h: &Harness, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", "application/json");
    let request = match body {
        Some(body) => request.body(Body::from(body.to_string())),
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

/// Calls `tool` of `server` through `POST /api/mcp/servers/{server}/tools/{tool}` and
/// returns its content array.
async fn call(h: &Harness, server: &str, tool: &str, args: Value) -> Value {
    let (status, body) = send(
        h,
        "POST",
        &format!("/api/mcp/servers/{server}/tools/{tool}"),
        Some(args),
    )
    .await;
    assert_eq!(status, 200, "{server}.{tool}: {body}");
    assert_eq!(body["success"], true, "{server}.{tool}: {body}");
    body["content"].clone()
}

/// The text of the first content item.
fn text(content: &Value) -> &str {
    content[0]["text"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn serves_a_plugin_built_against_0_1_0_beside_one_built_against_0_2_0() {
    let h = Harness::with_config(|c| {
        c.plugins
            .insert("api-v0-1".into(), json!({ "greeting": "from 0.1.0" }));
        c.plugins
            .insert("api-v0-2".into(), json!({ "greeting": "from 0.2.0" }));
    })
    .await;
    h.install_fixture("api-v0-1").await;
    h.install_fixture("api-v0-2").await;

    let old = h.live("api-v0-1");
    let new = h.live("api-v0-2");
    assert_eq!(old.plugin.api_version, "0.1.0");
    assert_eq!(new.plugin.api_version, "0.2.0");
    // The old plugin's tool list came through the conversion layer and matches.
    let names = |tools: &[sanctuary::runtime::mcp::Tool]| {
        tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(&old.tools), names(&new.tools));
    assert!(names(&old.tools).contains(&"remember".to_string()));

    for (id, version, greeting) in [
        ("api-v0-1", "0.1.0", "from 0.1.0"),
        ("api-v0-2", "0.2.0", "from 0.2.0"),
    ] {
        assert_eq!(text(&call(&h, id, "version", json!({})).await), version);
        // host.config: each sees its own operator configuration.
        let config = call(&h, id, "config", json!({})).await;
        assert_eq!(config[0]["json"]["greeting"], greeting, "{id}: {config}");
        // host.installed-plugins: each sees both, with their tools.
        let plugins = call(&h, id, "plugins", json!({})).await;
        let listed = plugins[0]["json"].as_array().expect("a list").clone();
        for other in ["api-v0-1", "api-v0-2"] {
            let entry = listed
                .iter()
                .find(|p| p["id"] == other)
                .unwrap_or_else(|| panic!("{id} does not see {other}: {plugins}"));
            assert_eq!(entry["kind"], "mcp-server");
            assert!(
                entry["tools"]
                    .as_array()
                    .is_some_and(|t| t.contains(&json!("recall"))),
                "{entry}"
            );
        }
    }

    // kv: stored through the 0.1.0 imports, read back through them; private to the plugin.
    let stored = call(
        &h,
        "api-v0-1",
        "remember",
        json!({ "key": "color", "value": "blue" }),
    )
    .await;
    assert_eq!(text(&stored), "remembered color");
    call(
        &h,
        "api-v0-1",
        "remember",
        json!({ "key": "colour", "value": "teal" }),
    )
    .await;
    assert_eq!(
        text(&call(&h, "api-v0-1", "recall", json!({ "key": "color" })).await),
        "blue"
    );
    let keys = call(&h, "api-v0-1", "keys", json!({ "prefix": "col" })).await;
    assert_eq!(keys[0]["json"], json!(["color", "colour"]));
    let (_, body) = send(
        &h,
        "POST",
        "/api/mcp/servers/api-v0-2/tools/recall",
        Some(json!({ "key": "color" })),
    )
    .await;
    assert_eq!(body["success"], false, "kv is per plugin: {body}");

    // The old plugin's own typed error comes through converted.
    let err = h
        .rt()
        .call_tool(&old.plugin, "recall", r#"{"key":"missing"}"#)
        .await
        .expect_err("nothing stored");
    assert!(err.is_invalid_input(), "{err:?}");
    assert!(err.to_string().contains("missing"), "{err}");

    // Resources and prompts, converted from 0.1.0 records.
    for (plugin, version) in [(&old.plugin, "0.1.0"), (&new.plugin, "0.2.0")] {
        let resources = h.rt().list_resources(plugin).await.expect("resources");
        assert_eq!(resources[0].uri, "api://version");
        assert_eq!(resources[0].mime_type, "text/plain");
        let read = h
            .rt()
            .read_resource(plugin, "api://version")
            .await
            .expect("read");
        assert_eq!(read, version);
        let prompts = h.rt().list_prompts(plugin).await.expect("prompts");
        assert_eq!(prompts[0].name, "greet");
        assert!(prompts[0].arguments[0].required);
        let messages = h
            .rt()
            .get_prompt(plugin, "greet", r#"{"name":"Ada"}"#)
            .await
            .expect("prompt");
        assert_eq!(messages[0].role, "user");
        assert_eq!(
            messages[0].text,
            format!("Say hello to Ada (API {version})")
        );
    }

    // The operator sees which API each plugin is served through.
    let (status, detailed) = send(&h, "GET", "/health/detailed", None).await;
    assert_eq!(status, 200);
    let listed = detailed["plugins"].as_array().expect("plugins listed");
    let api_of = |id: &str| {
        listed
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["api_version"].clone())
    };
    assert_eq!(api_of("api-v0-1"), Some(json!("0.1.0")), "{detailed}");
    assert_eq!(api_of("api-v0-2"), Some(json!("0.2.0")), "{detailed}");
}

/// Plugin log lines (`target: "plugin"`) recorded by a test-local subscriber, as field
/// maps (the message under `message`).
#[derive(Clone, Default)]
struct PluginLines(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> Layer<S> for PluginLines {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "plugin" {
            return;
        }
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        fields.insert("level".into(), event.metadata().level().to_string());
        if let Ok(mut lines) = self.0.lock() {
            lines.push(fields);
        }
    }
}

impl PluginLines {
    fn find(&self, message: &str) -> Option<BTreeMap<String, String>> {
        let lines = self.0.lock().ok()?;
        lines.iter().find(|l| l["message"] == message).cloned()
    }
}

#[tokio::test]
async fn logs_of_both_versions_reach_the_host_log_and_0_2_0_adds_structured_fields() {
    let h = Harness::with_app().await;
    h.install_fixture("api-v0-1").await;
    h.install_fixture("api-v0-2").await;
    // `#[tokio::test]` runs on this one thread, plugin calls included: a thread-local
    // subscriber sees their host calls.
    let lines = PluginLines::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(lines.clone()));

    call(
        &h,
        "api-v0-1",
        "log",
        json!({ "message": "hello from 0.1.0" }),
    )
    .await;
    call(
        &h,
        "api-v0-2",
        "log",
        json!({ "message": "hello from 0.2.0", "fields": { "user_id": "42", "Bad Name": "dropped" } }),
    )
    .await;

    let old = lines
        .find("hello from 0.1.0")
        .expect("the 0.1.0 line was logged");
    assert_eq!(old["plugin"], "api-v0-1");
    assert_eq!(old["kind"], "mcp-server");
    assert_eq!(old["level"], "INFO");
    assert!(!old.contains_key("fields"), "{old:?}");

    let new = lines
        .find("hello from 0.2.0")
        .expect("the 0.2.0 line was logged");
    assert_eq!(new["plugin"], "api-v0-2");
    let fields: Value = serde_json::from_str(&new["fields"]).expect("fields are JSON");
    assert_eq!(
        fields,
        json!({ "user_id": "42" }),
        "invalid names are dropped"
    );
}

#[tokio::test]
async fn refuses_at_load_a_component_built_against_an_api_the_host_does_not_serve() {
    let h = Harness::new().await;
    let (manifest, bytes) = fixture("api-v0-3");

    // Its manifest asks for ^0.3: refused before the component is even looked at.
    let err = h
        .rt()
        .load(manifest.clone(), bytes.clone(), &json!({}))
        .await
        .err()
        .expect("^0.3 is not served")
        .to_string();
    assert!(
        err.contains("needs API ^0.3") && err.contains("0.1.0, 0.2.0"),
        "{err}"
    );

    // A manifest claiming ^0.2 does not make a 0.3.0 component loadable.
    let mut claims_0_2 = manifest;
    claims_0_2.api = "^0.2".parse().expect("req");
    let err = h
        .rt()
        .load(claims_0_2, bytes, &json!({}))
        .await
        .err()
        .expect("the component imports sanctuary:plugin/host@0.3.0")
        .to_string();
    assert!(
        err.contains("needs API 0.3.0") && err.contains("0.1.0, 0.2.0"),
        "{err}"
    );
}

#[tokio::test]
async fn refuses_a_manifest_whose_api_does_not_match_its_component() {
    let h = Harness::new().await;
    // A 0.2.0 component cannot hide behind an old `^0.1` manifest, nor the reverse.
    for (name, api, built) in [("api-v0-2", "^0.1", "0.2.0"), ("api-v0-1", "^0.2", "0.1.0")] {
        let (mut manifest, bytes) = fixture(name);
        manifest.api = api.parse().expect("req");
        let err = h
            .rt()
            .load(manifest, bytes, &json!({}))
            .await
            .err()
            .unwrap_or_else(|| panic!("{name} with api {api} must be refused"))
            .to_string();
        assert!(
            err.contains(api) && err.contains(&format!("built against {built}")),
            "{err}"
        );
    }
}

#[tokio::test]
async fn refuses_at_install_a_component_needing_an_api_the_host_lacks() {
    // A registry whose entry claims ^0.2 but whose component is built against 0.3.0.
    let registry = tempfile::tempdir().expect("tempdir");
    let (manifest, bytes) = fixture("api-v0-3");
    let sha = hex::encode(Sha256::digest(&bytes));
    let mut entry = serde_json::to_value(&manifest).expect("manifest json");
    entry["id"] = json!("future");
    entry["api"] = json!("^0.2");
    entry["sha256"] = json!(sha);
    entry["component"] = json!("future.wasm");
    std::fs::write(registry.path().join("future.wasm"), &bytes).expect("component");
    std::fs::write(
        registry.path().join("registry.json"),
        json!({ "schema_version": 1, "name": "test", "plugins": [entry] }).to_string(),
    )
    .expect("registry");

    let path = registry.path().join("registry.json");
    let h = Harness::with_config(move |c| {
        c.registry = Some(path);
        c.admin_token = Some(ADMIN.into());
    })
    .await;
    let (status, body) = send(&h, "POST", "/api/plugins/future/install", None).await;
    assert_eq!(status, 422, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("needs API 0.3.0") && message.contains("0.1.0, 0.2.0"),
        "{message}"
    );
    assert!(h.state().plugins.get("future").is_none());
    assert!(!h.state().plugins.plugins_dir().join("future").exists());
}

#[test]
fn reads_which_api_version_and_kind_a_component_implements() {
    let (_, old) = fixture("api-v0-1");
    let api = api_version_of(&old).expect("a component");
    assert_eq!(api.version.to_string(), "0.1.0");
    assert_eq!(api.kind, Some(Kind::McpServer));
    assert!(api.supported);
    assert!(
        api.imports
            .contains(&"sanctuary:plugin/kv@0.1.0".to_string()),
        "{api:?}"
    );

    let (_, new) = fixture("api-v0-2");
    let api = api_version_of(&new).expect("a component");
    assert_eq!(api.version.to_string(), "0.2.0");
    assert_eq!(api.exports, vec!["sanctuary:plugin/mcp@0.2.0".to_string()]);
    assert!(api.supported);

    // Built through the SDK: the latest, 0.2.2 (whose kv has 0.2.1's compare-and-swap),
    // an `mcp-server-ext`: it exports `mcp-ext` (tool metadata, rich results) beside `mcp`.
    let (_, memory) = sanctuary_test_support::bundled("memory");
    let api = api_version_of(&memory).expect("a component");
    assert_eq!(api.version.to_string(), "0.2.2");
    assert_eq!(api.kind, Some(Kind::McpServer));
    assert!(
        api.imports
            .contains(&"sanctuary:plugin/kv@0.2.2".to_string()),
        "{api:?}"
    );
    for export in [
        "sanctuary:plugin/mcp@0.2.2",
        "sanctuary:plugin/mcp-ext@0.2.2",
    ] {
        assert!(api.exports.contains(&export.to_string()), "{api:?}");
    }
    assert!(api.exports_interface(sanctuary::runtime::mcp::EXT_INTERFACE));
    assert!(api.supported);
    // The 0.2.0 component exports `mcp` alone: served without the extension.
    assert!(
        !api_version_of(&new)
            .expect("a component")
            .exports_interface(sanctuary::runtime::mcp::EXT_INTERFACE)
    );

    let (_, future) = fixture("api-v0-3");
    let api = api_version_of(&future).expect("a component");
    assert_eq!(api.version.to_string(), "0.3.0");
    assert_eq!(api.kind, Some(Kind::HealthProbe));
    assert!(!api.supported);
    assert!(
        api.imports
            .contains(&"sanctuary:plugin/host@0.3.0".to_string()),
        "{api:?}"
    );
}

#[tokio::test]
async fn a_0_1_0_probe_reads_the_host_system_figures_through_the_conversion_layer() {
    let h = Harness::new().await;
    let plugin = h.load_fixture("api-v0-1-probe").await;
    assert_eq!(plugin.api_version, "0.1.0");
    let report = h.rt().probe(&plugin).await.expect("the probe runs");
    assert_eq!(report.status.as_str(), "degraded");
    assert_eq!(report.detail, "0.1.0");
    let figure = |name: &str| {
        report
            .metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
            .unwrap_or_else(|| panic!("no metric {name}: {:?}", report.metrics))
    };
    let system = &h.rt().services().system;
    assert_eq!(figure("cores"), f64::from(system.cpu().cores));
    assert_eq!(figure("memory_total"), system.memory().total_bytes as f64);
    assert!(figure("memory_total") >= figure("memory_used"));
    assert!(figure("host_process") > 0.0, "the host process uses memory");
    assert!(figure("uptime") >= 0.0);
}
