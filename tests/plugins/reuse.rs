//! Warm instances (`"instances": "reuse"`): the `counter-tool` fixture answers how many
//! calls its instance has served, so each test sees which instance served a call. A warm
//! instance serves only the caller it served before; without a caller, or without the
//! manifest's consent, every call gets a fresh instance.

use std::sync::Arc;

use sanctuary::manifest::Instances;
use sanctuary::runtime::caller;
use sanctuary::runtime::{Plugin, Runtime};

use super::support::{Harness, contents_text, fixture};

/// Calls `count` as `who` (no caller when `None`) and answers the number.
async fn count(rt: &Runtime, plugin: &Plugin, who: Option<&str>) -> u32 {
    let call = rt.call_tool(plugin, "count", "{}");
    let contents = match who {
        Some(who) => caller::scope(Arc::from(who), call).await,
        None => call.await,
    }
    .expect("count answers");
    contents_text(&contents).parse().expect("a number")
}

#[tokio::test]
async fn a_warm_instance_serves_its_own_caller_again_and_no_other() {
    let h = Harness::new().await;
    let plugin = h.load_fixture("counter-tool").await;
    let rt = h.rt();
    assert_eq!(count(rt, &plugin, Some("key:alice")).await, 1);
    assert_eq!(count(rt, &plugin, Some("key:alice")).await, 2);
    assert_eq!(count(rt, &plugin, Some("key:alice")).await, 3);
    // Another caller never sees alice's instance.
    assert_eq!(count(rt, &plugin, Some("key:bob")).await, 1);
    assert_eq!(count(rt, &plugin, Some("key:alice")).await, 4);
    assert_eq!(count(rt, &plugin, Some("key:bob")).await, 2);
    assert_eq!(plugin.warm_instances(), 2);
    // A call whose caller is unknown gets a fresh instance, never kept.
    assert_eq!(count(rt, &plugin, None).await, 1);
    assert_eq!(count(rt, &plugin, None).await, 1);
    assert_eq!(plugin.warm_instances(), 2);
}

#[tokio::test]
async fn without_the_manifests_consent_every_call_gets_a_fresh_instance() {
    let h = Harness::new().await;
    let (mut manifest, bytes) = fixture("counter-tool");
    manifest.instances = Instances::Fresh;
    let plugin = h
        .rt()
        .load(manifest, bytes, &serde_json::json!({}))
        .await
        .expect("load");
    for _ in 0..3 {
        assert_eq!(count(h.rt(), &plugin, Some("key:alice")).await, 1);
    }
    assert_eq!(plugin.warm_instances(), 0);
}

#[tokio::test]
async fn a_plugin_error_keeps_the_warm_instance() {
    let h = Harness::new().await;
    let plugin = h.load_fixture("counter-tool").await;
    let rt = h.rt();
    assert_eq!(count(rt, &plugin, Some("key:alice")).await, 1);
    // The plugin's own error is an answer, not a broken instance.
    let err = caller::scope(Arc::from("key:alice"), rt.call_tool(&plugin, "nope", "{}"))
        .await
        .expect_err("unknown tool");
    assert!(err.to_string().contains("nope"), "{err}");
    assert_eq!(count(rt, &plugin, Some("key:alice")).await, 2);
    assert_eq!(plugin.warm_instances(), 1);
}
