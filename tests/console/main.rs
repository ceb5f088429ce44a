//! The operator console (`/console`) driven in headless Chromium (Debian's `chromium`,
//! through `playwright-core` from npm) against the real binary, as an operator uses it:
//! `console.mjs` signs in, installs a plugin from the registry, uploads its next version
//! and grants what it asks for with the diff shown, disables it, binds a route, watches a
//! job complete live, reads health, analytics and the API reference, signs out, and checks
//! the navigation at phone width, asserting what the page shows and that no request
//! leaves 127.0.0.1. This test then checks through the API that the installation really
//! changed. `.ci/run` installs chromium and playwright-core; without them the test fails
//! under CI (`CI` set) and prints why it skipped elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use sanctuary_test_support::{Server, sanctuary};

const CLIENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/clients");
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/console/console.mjs"
);
const ADMIN_KEY: &str = "console-test-admin-key";
const USERNAME: &str = "operator";
const PASSWORD: &str = "console-test-password";

/// The Chromium binary (`CHROMIUM` overrides Debian's path).
fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// Whether node, playwright-core and chromium are installed; under CI a missing one is a
/// failure, elsewhere the test says what is missing and skips.
fn tools_present() -> bool {
    let runs = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .current_dir(CLIENTS)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let mut missing = Vec::new();
    if !runs("node", &["--version"]) {
        missing.push("node".to_string());
    } else if !runs("node", &["-e", "require.resolve('playwright-core')"]) {
        missing.push("playwright-core (npm, in tests/clients)".to_string());
    }
    if !runs(&chromium(), &["--version"]) {
        missing.push(format!("chromium ({})", chromium()));
    }
    if missing.is_empty() {
        return true;
    }
    let what = missing.join(", ");
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} not installed; .ci/run installs them (apt-get install chromium; npm ci in tests/clients)"
    );
    eprintln!(
        "SKIPPED the console browser test: {what} not installed \
         (apt-get install -y chromium; cd tests/clients && npm ci). Under CI this fails."
    );
    false
}

/// A fixture's manifest (as JSON) and component bytes.
fn fixture(name: &str) -> (Value, Vec<u8>) {
    let (_, wasm, manifest) = sanctuary_test_support::fixtures::FIXTURES
        .iter()
        .find(|(n, _, _)| *n == name)
        .unwrap_or_else(|| panic!("no fixture named {name}"));
    let manifest = std::fs::read_to_string(manifest).expect("fixture manifest");
    let bytes = std::fs::read(wasm).expect("fixture component was built");
    (
        serde_json::from_str(&manifest).expect("manifest JSON"),
        bytes,
    )
}

/// A registry offering `version-probe` 1.0.0, in `dir`; answers the registry file.
fn write_registry(dir: &Path) -> PathBuf {
    let (mut entry, bytes) = fixture("version-probe-v1");
    let sha = hex::encode(Sha256::digest(&bytes));
    let file = format!("version-probe-{}.wasm", &sha[..8]);
    std::fs::write(dir.join(&file), &bytes).expect("registry component");
    entry["sha256"] = json!(sha);
    entry["component"] = json!(file);
    let registry = json!({ "schema_version": 1, "name": "console-test", "plugins": [entry] });
    let path = dir.join("registry.json");
    std::fs::write(&path, registry.to_string()).expect("registry");
    path
}

/// Version 2.0.0 of the same plugin, asking for a network host and a secret more: what
/// the operator uploads through the page (`manifest.json`, `component.wasm` in `dir`).
fn write_upload(dir: &Path) {
    let (mut manifest, bytes) = fixture("version-probe-v2");
    manifest["permissions"]["network"] = json!(["example.org"]);
    manifest["permissions"]["secrets"] = json!(["EXTRA_TOKEN"]);
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).expect("manifest");
    std::fs::write(dir.join("component.wasm"), bytes).expect("component");
}

async fn send(server: &Server, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut request = server
        .client
        .request(method, server.url(path))
        .bearer_auth(ADMIN_KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let body: Value = response.json().await.expect("JSON");
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

#[tokio::test]
async fn an_operator_installs_grants_disables_binds_and_watches_a_job_in_chromium() {
    if !tools_present() {
        return;
    }
    let files = tempfile::tempdir().expect("tempdir");
    let registry = write_registry(files.path());
    let upload = files.path().join("upload");
    std::fs::create_dir(&upload).expect("upload dir");
    write_upload(&upload);
    let registry = registry.to_str().expect("utf-8 path").to_owned();
    let server = sanctuary!()
        .envs(&[
            ("SANCTUARY_ADMIN_TOKEN", ADMIN_KEY),
            ("SANCTUARY_REGISTRY", &registry),
        ])
        .spawn()
        .await;
    server.wait_ready().await;
    // A user login with the scopes an operator needs (not admin: the audit says so).
    send(
        &server,
        reqwest::Method::POST,
        "/api/auth/users",
        Some(json!({
            "username": USERNAME,
            "password": PASSWORD,
            "scopes": ["plugins", "providers", "jobs", "read"],
        })),
    )
    .await;

    let base = format!("http://{}", server.addr);
    let upload_dir = upload.to_str().expect("utf-8 path").to_owned();
    let shots = std::env::var("CONSOLE_SCREENSHOTS").unwrap_or_default();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = Command::new("node");
        command
            .arg(SCRIPT)
            .args([&base, &upload_dir, USERNAME, PASSWORD, ADMIN_KEY])
            .env("CHROMIUM", chromium())
            .current_dir(CLIENTS);
        if !shots.is_empty() {
            command.arg(shots);
        }
        command.output().expect("run node")
    })
    .await
    .expect("the browser script ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the console flow failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("console flow passed"), "{stdout}\n{stderr}");

    // What the page said happened, happened.
    let plugin = &send(
        &server,
        reqwest::Method::GET,
        "/api/plugins/version-probe",
        None,
    )
    .await["plugin"];
    assert_eq!(plugin["installed_version"], "2.0.0", "{plugin}");
    assert_eq!(plugin["enabled"], false, "{plugin}");
    assert_eq!(
        plugin["granted"]["secrets"],
        json!(["EXTRA_TOKEN"]),
        "{plugin}"
    );
    assert_eq!(
        plugin["granted"]["network"],
        json!(["example.org"]),
        "{plugin}"
    );
    assert!(plugin["budgets"]["max_concurrent"].is_u64(), "{plugin}");
    let providers = send(&server, reqwest::Method::GET, "/api/providers", None).await;
    let coder = providers["routes"]
        .as_array()
        .and_then(|routes| routes.iter().find(|r| r["name"] == "coder"))
        .unwrap_or_else(|| panic!("route coder is bound: {providers}"));
    assert_eq!(coder["source"], "api", "{coder}");
    assert_eq!(coder["chain"][0]["provider"], "local", "{coder}");
    let jobs = send(
        &server,
        reqwest::Method::GET,
        "/api/jobs?status=completed",
        None,
    )
    .await;
    let done = jobs["data"]["jobs"]
        .as_array()
        .is_some_and(|jobs| jobs.iter().any(|j| j["route"] == "coder"));
    assert!(done, "a job on coder completed: {jobs}");
}

#[tokio::test]
async fn the_console_page_names_only_its_own_assets_and_sends_a_strict_policy() {
    let server = sanctuary!().spawn().await;
    let response = server
        .client
        .get(server.url("/console"))
        .send()
        .await
        .expect("GET /console");
    assert_eq!(response.status(), 200);
    let csp = response
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "{csp}"
    );
    let page = response.text().await.expect("text");
    // Every src/href is on this server (a path), none on another host.
    for attribute in ["src=\"", "href=\""] {
        for value in page.split(attribute).skip(1) {
            let target = value.split('"').next().unwrap_or_default();
            assert!(
                target.starts_with('/') || target.starts_with('#'),
                "the page refers to {target}"
            );
        }
    }
    // `/` keeps its JSON answer.
    let root = server.get_json("/").await;
    assert_eq!(root["status"], "success");
}
