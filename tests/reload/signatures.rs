//! The `[signatures]` policy holds for every plugin the host loads, not only for installs:
//! a plugin copied into the plugins directory by hand is refused when it is unsigned and
//! signatures are required, or when its signature does not verify against a trusted key;
//! the refusal surfaces like any failed load (a `plugin_error`, the plugin listed as
//! `failed` with the reason, the previous version serving on). Real components, the real
//! app over SQLite with its watcher, signatures made by `sanctuary plugin sign`.

use std::path::Path;
use std::process::Command;

use sanctuary::AppState;
use sanctuary::manifest::Manifest;
use sanctuary::plugins::artifacts;
use sanctuary::signing::{self, SignaturesConfig};
use serde_json::Value;
use tempfile::TempDir;

use super::support::{Harness, VERSION_PROBE, installable, load_error, loaded};

/// The app with the watcher running, over a fresh data directory, with `signatures` as
/// its policy.
struct Host {
    state: AppState,
    harness: Harness,
}

impl Host {
    async fn start(signatures: SignaturesConfig) -> Host {
        let harness = Harness::start_with(|config| config.signatures = signatures).await;
        Host {
            state: harness.state.clone(),
            harness,
        }
    }

    fn drop_in(&self, manifest: &Manifest, component: &[u8]) {
        self.harness.drop_in(&manifest.id, manifest, component);
    }

    async fn probe(&self, id: &str) -> String {
        self.harness.probe(id).await
    }
}

/// `GET /api/plugins/{id}` on the real router served over HTTP: the plugin as listed.
async fn listed(state: &AppState, id: &str) -> Value {
    let server = sanctuary_test_support::InProcess::serve(state.clone()).await;
    let response = reqwest::get(format!("http://{}/api/plugins/{id}", server.addr))
        .await
        .expect("GET the plugin");
    assert_eq!(response.status(), 200, "GET /api/plugins/{id}");
    let body: Value = response.json().await.expect("json");
    body["plugin"].clone()
}

/// A key pair made by `sanctuary plugin keygen` in `dir`: the secret key file and the
/// public key.
fn keygen(dir: &Path) -> (std::path::PathBuf, String) {
    let key = dir.join("publisher.key");
    let output = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .args(["plugin", "keygen", "--out"])
        .arg(&key)
        .output()
        .expect("run sanctuary plugin keygen");
    assert!(output.status.success(), "keygen: {output:?}");
    let public = std::fs::read_to_string(dir.join("publisher.key.pub")).expect("public key");
    (key, public.trim().to_string())
}

/// `manifest` with the signature `sanctuary plugin sign` writes into it for `component`.
fn signed_by_cli(key: &Path, manifest: &Manifest, component: &[u8]) -> Manifest {
    let work = TempDir::new().expect("tempdir");
    let wasm = work.path().join("plugin.wasm");
    std::fs::write(&wasm, component).expect("write the component");
    let manifest_path = work.path().join("manifest.json");
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(manifest).expect("json"),
    )
    .expect("write the manifest");
    let output = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .args(["plugin", "sign"])
        .arg(&wasm)
        .arg("--key")
        .arg(key)
        .arg("--manifest")
        .arg(&manifest_path)
        .output()
        .expect("run sanctuary plugin sign");
    assert!(output.status.success(), "sign: {output:?}");
    let text = std::fs::read_to_string(&manifest_path).expect("signed manifest");
    let signed = Manifest::from_json(&text).expect("the signed manifest is valid");
    assert!(signed.signature.is_some(), "{text}");
    signed
}

#[tokio::test]
async fn with_signatures_required_only_signed_plugins_dropped_in_load() {
    let keys = TempDir::new().expect("tempdir");
    let (key, public) = keygen(keys.path());
    let host = Host::start(SignaturesConfig {
        trusted_keys: vec![public.clone()],
        require_signed: true,
    })
    .await;
    let plugins = host.state.plugins.clone();

    // The first-party plugins carry no signature and are trusted by their digest.
    for bundled in artifacts::BUNDLED {
        let id = Manifest::from_json(bundled.manifest).expect("manifest").id;
        assert!(
            plugins.get(&id).is_some(),
            "bundled {id} did not load: {:?}",
            plugins.failures()
        );
    }
    assert!(plugins.failures().is_empty(), "{:?}", plugins.failures());

    // Unsigned, copied in by hand: refused, saying why, and listed as failed.
    let mut events = plugins.subscribe();
    let (v1, v1_bytes) = installable("version-probe-v1");
    host.drop_in(&v1, &v1_bytes);
    let error = load_error(&mut events, VERSION_PROBE).await;
    assert!(
        error.contains(&format!("plugin `{VERSION_PROBE}`"))
            && error.contains("not signed")
            && error.contains("require_signed"),
        "{error}"
    );
    assert!(
        plugins.get(VERSION_PROBE).is_none(),
        "an unsigned plugin loaded"
    );
    let view = listed(&host.state, VERSION_PROBE).await;
    assert_eq!(view["state"], "failed", "{view}");
    assert_eq!(view["error"], error.as_str(), "{view}");

    // The same component signed with the trusted key: loads and answers.
    let signed_v1 = signed_by_cli(&key, &v1, &v1_bytes);
    host.drop_in(&signed_v1, &v1_bytes);
    assert_eq!(loaded(&mut events, VERSION_PROBE, "1.0.0").await, None);
    assert_eq!(host.probe(VERSION_PROBE).await, "v1");
    let view = listed(&host.state, VERSION_PROBE).await;
    assert_eq!(view["state"], "loaded", "{view}");

    // An unsigned v2, then one whose signature is for other bytes: refused, v1 serves on.
    let (v2, v2_bytes) = installable("version-probe-v2");
    host.drop_in(&v2, &v2_bytes);
    let error = load_error(&mut events, VERSION_PROBE).await;
    assert!(error.contains("not signed"), "{error}");
    assert_eq!(host.probe(VERSION_PROBE).await, "v1");

    let mut tampered = v2.clone();
    tampered.signature = signed_v1.signature.clone();
    host.drop_in(&tampered, &v2_bytes);
    let error = load_error(&mut events, VERSION_PROBE).await;
    assert!(error.contains("bad signature"), "{error}");
    assert_eq!(host.probe(VERSION_PROBE).await, "v1");
    let view = listed(&host.state, VERSION_PROBE).await;
    assert_eq!(view["installed_version"], "1.0.0", "{view}");

    // Signed by a key the host does not trust: refused too.
    let stranger = signing::generate().expect("key");
    let mut foreign = v2.clone();
    foreign.signature = Some(signing::sign(&stranger, &signing::digest(&v2_bytes)));
    host.drop_in(&foreign, &v2_bytes);
    let error = load_error(&mut events, VERSION_PROBE).await;
    assert!(error.contains("unknown key"), "{error}");
    assert_eq!(host.probe(VERSION_PROBE).await, "v1");

    // The properly signed v2 replaces v1.
    host.drop_in(&signed_by_cli(&key, &v2, &v2_bytes), &v2_bytes);
    assert_eq!(
        loaded(&mut events, VERSION_PROBE, "2.0.0").await.as_deref(),
        Some("1.0.0")
    );
    assert_eq!(host.probe(VERSION_PROBE).await, "v2");
    assert!(plugins.failures().is_empty(), "{:?}", plugins.failures());
}

#[tokio::test]
async fn without_require_signed_unsigned_and_signed_plugins_both_load() {
    let trusted = signing::generate().expect("key");
    let host = Host::start(SignaturesConfig {
        trusted_keys: vec![signing::encode_public(&trusted.verifying_key())],
        require_signed: false,
    })
    .await;
    let mut events = host.state.plugins.subscribe();

    let (v1, v1_bytes) = installable("version-probe-v1");
    host.drop_in(&v1, &v1_bytes);
    assert_eq!(loaded(&mut events, VERSION_PROBE, "1.0.0").await, None);
    assert_eq!(host.probe(VERSION_PROBE).await, "v1");

    let (mut v2, v2_bytes) = installable("version-probe-v2");
    v2.signature = Some(signing::sign(&trusted, &signing::digest(&v2_bytes)));
    host.drop_in(&v2, &v2_bytes);
    assert_eq!(
        loaded(&mut events, VERSION_PROBE, "2.0.0").await.as_deref(),
        Some("1.0.0")
    );
    assert_eq!(host.probe(VERSION_PROBE).await, "v2");
}

#[tokio::test]
async fn by_default_unsigned_plugins_load_and_a_signature_must_still_verify() {
    let h = Harness::start().await;
    let mut events = h.plugins().subscribe();
    h.install("version-probe-v1", &mut events).await;
    assert_eq!(h.probe(VERSION_PROBE).await, "v1");

    // A signature nobody trusts is not ignored: a plugin that claims one must verify.
    let (mut v2, v2_bytes) = installable("version-probe-v2");
    let stranger = signing::generate().expect("key");
    v2.signature = Some(signing::sign(&stranger, &signing::digest(&v2_bytes)));
    h.drop_in(VERSION_PROBE, &v2, &v2_bytes);
    let error = load_error(&mut events, VERSION_PROBE).await;
    assert!(error.contains("unknown key"), "{error}");
    assert_eq!(h.probe(VERSION_PROBE).await, "v1");

    // Unsigned, it loads.
    let (v2, v2_bytes) = installable("version-probe-v2");
    h.drop_in(VERSION_PROBE, &v2, &v2_bytes);
    assert_eq!(
        loaded(&mut events, VERSION_PROBE, "2.0.0").await.as_deref(),
        Some("1.0.0")
    );
    assert_eq!(h.probe(VERSION_PROBE).await, "v2");
}
