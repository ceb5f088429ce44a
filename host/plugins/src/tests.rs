//! Unit tests of the plugin host: signatures of plugins copied in by hand, and grants of
//! refreshed first-party plugins.

use super::*;
use crate::signing::{self, SignaturesConfig};

/// A host without records over `root`, with `signatures` as its policy.
fn host(root: &Path, signatures: SignaturesConfig) -> anyhow::Result<PluginHost> {
    let settings = Settings {
        signatures,
        ..Settings::under(root)
    };
    PluginHost::new(settings, Backing::none())
}

/// The trivial-probe fixture as an install writes it (sha256 and file name filled in).
fn trivial_probe() -> (Manifest, Vec<u8>) {
    let (_, wasm, manifest) = sanctuary_test_artifacts::FIXTURES
        .iter()
        .find(|(dir, _, _)| *dir == "trivial-probe")
        .expect("the trivial-probe fixture is built");
    let bytes = std::fs::read(wasm).expect("component");
    let text = std::fs::read_to_string(manifest).expect("manifest");
    let mut manifest = Manifest::from_json(&text).expect("valid manifest");
    let sha256 = hex::encode(signing::digest(&bytes));
    manifest.component = Some(component_file_name(&manifest.id, &sha256));
    manifest.sha256 = Some(sha256);
    (manifest, bytes)
}

#[tokio::test]
async fn a_plugin_copied_by_hand_is_held_to_the_signature_policy() {
    let root = tempfile::tempdir().expect("tempdir");
    let trusted = signing::generate().expect("key");
    let stranger = signing::generate().expect("key");
    let host = host(
        root.path(),
        SignaturesConfig {
            trusted_keys: vec![signing::encode_public(&trusted.verifying_key())],
            require_signed: true,
        },
    )
    .expect("a plugin host");
    let mut events = host.subscribe();
    let (manifest, bytes) = trivial_probe();
    let id = manifest.id.clone();
    let dir = host.plugins_dir().join(&id);
    let digest = signing::digest(&bytes);

    let refusals = [
        (None, "not signed, and this host requires signed plugins"),
        (Some(signing::sign(&stranger, &digest)), "unknown key"),
        (
            Some(signing::sign(&trusted, &signing::digest(b"other bytes"))),
            "bad signature",
        ),
    ];
    for (signature, why) in refusals {
        let mut m = manifest.clone();
        m.signature = signature;
        write_plugin(&dir, &m, &bytes).expect("write the plugin");
        let err = match host.load_dir(&dir).await {
            Ok(_) => panic!("{why}: loaded"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(&format!("plugin `{id}`")) && err.contains(why),
            "{why}: {err}"
        );
        assert!(host.get(&id).is_none(), "{why}: loaded");
        assert_eq!(host.failures().get(&id), Some(&err), "{why}");
        match events.try_recv() {
            Ok(PluginEvent::PluginError { id: i, error }) => {
                assert_eq!((i.as_str(), error.as_str()), (id.as_str(), err.as_str()));
            }
            other => panic!("{why}: expected a plugin_error, got {other:?}"),
        }
    }

    let mut m = manifest.clone();
    m.signature = Some(signing::sign(&trusted, &digest));
    write_plugin(&dir, &m, &bytes).expect("write the plugin");
    let live = host
        .load_dir(&dir)
        .await
        .expect("a trusted signature loads");
    assert_eq!(live.id(), id);
    assert!(host.get(&id).is_some());
    assert!(!host.failures().contains_key(&id));
}

#[tokio::test]
async fn without_a_policy_unsigned_plugins_load_but_signatures_still_must_verify() {
    let root = tempfile::tempdir().expect("tempdir");
    let host = host(root.path(), SignaturesConfig::default()).expect("a plugin host");
    let (manifest, bytes) = trivial_probe();
    let dir = host.plugins_dir().join(&manifest.id);

    let mut forged = manifest.clone();
    let stranger = signing::generate().expect("key");
    forged.signature = Some(signing::sign(&stranger, &signing::digest(&bytes)));
    write_plugin(&dir, &forged, &bytes).expect("write the plugin");
    let err = host.load_dir(&dir).await.err().expect("an untrusted key");
    assert!(err.to_string().contains("unknown key"), "{err}");

    write_plugin(&dir, &manifest, &bytes).expect("write the plugin");
    host.load_dir(&dir).await.expect("an unsigned plugin loads");
    assert!(host.get(&manifest.id).is_some());
}

#[test]
fn a_refreshed_first_party_grant_drops_what_the_old_manifest_asked_and_keeps_operator_hosts() {
    let with_network = |hosts: &[&str]| {
        let (mut m, _) = trivial_probe();
        m.permissions.network = hosts.iter().map(|h| h.to_string()).collect();
        m
    };
    let old = with_network(&["127.0.0.1", "docs.rs"]);
    let new = with_network(&["docs.rs"]);
    let mut granted = old.permissions.clone();
    granted.network.push("wiki.internal".into());
    let grant = bundled_grant(&new, Some(&old), granted);
    assert_eq!(grant.network, ["docs.rs", "wiki.internal"]);
}

#[test]
fn a_bad_trusted_key_stops_the_host_from_starting() {
    let root = tempfile::tempdir().expect("tempdir");
    let err = host(
        root.path(),
        SignaturesConfig {
            trusted_keys: vec!["not a key".into()],
            require_signed: false,
        },
    )
    .err()
    .expect("refused");
    assert!(
        format!("{err:#}").contains("signatures.trusted_keys"),
        "{err:#}"
    );
}
