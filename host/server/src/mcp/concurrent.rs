//! The memory plugin under concurrent writers, through the real host: tool calls as every
//! surface makes them ([`super::call_tool`]), the bundled component, the runtime's `kv`
//! imports and the database. Its updates are read-modify-writes of one entity's key, which
//! the `kv` interface's compare-and-swap keeps from losing each other's writes, on one
//! host and across hosts sharing a database.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::config::Config;
use crate::db::{Db, testing};
use crate::manifest::Manifest;
use crate::plugins::PluginHost;
use crate::runtime::mcp::Content;

/// Concurrent calls per host: more than the plugin's `max_concurrent` (16), so some wait
/// for a slot, as under a burst of real traffic.
const CALLS_PER_HOST: usize = 20;

/// A plugin host (one node) over `db` with the bundled memory plugin loaded.
async fn node(root: &std::path::Path, db: Db) -> Arc<PluginHost> {
    let config = Config {
        data_dir: root.join("data"),
        cache_dir: root.join("cache"),
        ..Config::default()
    };
    let audit = Arc::new(crate::audit::Audit::new(Some(db.clone())));
    let host = crate::state::plugin_host(&config, &db, audit).expect("a plugin host");
    let bundled = crate::plugins::artifacts::BUNDLED
        .iter()
        .find(|b| b.dir == "memory")
        .expect("the memory plugin is bundled");
    let manifest = Manifest::from_json(bundled.manifest).expect("its manifest");
    let dir = config.data_dir.join("plugins").join("memory");
    let live = host
        .load_bytes(manifest, bundled.component.to_vec(), &dir)
        .await
        .expect("the memory plugin loads");
    host.insert(live);
    Arc::new(host)
}

/// The JSON content of a tool's answer.
fn json_of(contents: &[Content]) -> Value {
    contents
        .iter()
        .find_map(|c| match c {
            Content::Json(j) => serde_json::from_str(j).ok(),
            Content::Text(_) => None,
        })
        .expect("a JSON content")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_add_observations_on_one_entity_keep_every_one_on_one_host_and_across_two() {
    for db in testing::all().await {
        let kind = db.kind();
        let (a, b) = (
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        );
        // Two hosts on one database, as two nodes behind a load balancer.
        let nodes = [node(a.path(), db.db()).await, node(b.path(), db.db()).await];
        super::call_tool(
            &nodes[0],
            "memory",
            "create_entities",
            json!({ "entities": [{ "name": "Ada", "entityType": "person", "observations": [] }] }),
        )
        .await
        .expect("Ada is created");

        let calls = (0..2 * CALLS_PER_HOST).map(|i| {
            let node = nodes[i % 2].clone();
            tokio::spawn(async move {
                let arguments = json!({ "observations": [
                    { "entityName": "Ada", "contents": [format!("observation {i}")] }
                ] });
                super::call_tool(&node, "memory", "add_observations", arguments).await
            })
        });
        for (i, answer) in futures::future::join_all(calls)
            .await
            .into_iter()
            .enumerate()
        {
            let added = json_of(&answer.expect("the call ran").expect("the tool answered"));
            // Each call reports its own observation as new: none was lost and retried away.
            assert_eq!(
                added[0]["addedObservations"],
                json!([format!("observation {i}")]),
                "{kind}"
            );
        }

        // Every observation is stored, read back through either host.
        for node in &nodes {
            let graph = json_of(
                &super::call_tool(node, "memory", "open_nodes", json!({ "names": ["Ada"] }))
                    .await
                    .expect("read"),
            );
            let mut kept: Vec<String> = graph["entities"][0]["observations"]
                .as_array()
                .expect("observations")
                .iter()
                .filter_map(|o| o.as_str().map(str::to_string))
                .collect();
            kept.sort();
            let mut expected: Vec<String> = (0..2 * CALLS_PER_HOST)
                .map(|i| format!("observation {i}"))
                .collect();
            expected.sort();
            assert_eq!(
                kept,
                expected,
                "{kind}: {} of {} kept",
                kept.len(),
                expected.len()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_calls_creating_one_entity_exactly_one_creates_it() {
    for db in testing::all().await {
        let kind = db.kind();
        let (a, b) = (
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        );
        let nodes = [node(a.path(), db.db()).await, node(b.path(), db.db()).await];
        let calls = (0..2 * CALLS_PER_HOST).map(|i| {
            let node = nodes[i % 2].clone();
            tokio::spawn(async move {
                let arguments = json!({ "entities": [
                    { "name": "Acme", "entityType": format!("company {i}"), "observations": [] }
                ] });
                super::call_tool(&node, "memory", "create_entities", arguments).await
            })
        });
        let mut creators = Vec::new();
        for answer in futures::future::join_all(calls).await {
            let created = json_of(&answer.expect("the call ran").expect("the tool answered"));
            creators.extend(created.as_array().expect("a list").iter().cloned());
        }
        assert_eq!(creators.len(), 1, "{kind}: {creators:?}");
        let graph = json_of(
            &super::call_tool(&nodes[1], "memory", "read_graph", json!({}))
                .await
                .expect("read"),
        );
        // The stored entity is the one its creator was told it created.
        assert_eq!(graph["entities"], json!([creators[0]]), "{kind}");
    }
}
