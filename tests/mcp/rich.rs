//! Tool metadata, rich results and progress (API 0.2.2, `mcp-ext`): the official MCP
//! Python SDK (`rich_client.py`) reads the bundled tools' titles and annotations, the
//! `rich-tools` fixture's output schema, structured content, images, audio and embedded
//! resources, lists and reads through its resource template, and receives its progress
//! notifications; the REST route answers the same
//! rich results (its old fields unchanged); progress reaches the one rich call path; a
//! plugin built against 0.2.0 keeps answering through it with no metadata.

use sanctuary::AppState;
use sanctuary::mcp::rich;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::support::{self, fixture, serve, start};

/// Loads test fixture `name` into `state`'s live plugins.
async fn load_fixture(state: &AppState, name: &str) {
    let plugins = &state.plugins;
    let (manifest, bytes) = fixture(name);
    let live = plugins
        .load_bytes(manifest, bytes, plugins.plugins_dir())
        .await
        .unwrap_or_else(|e| panic!("{name} loads: {e}"));
    plugins.insert(live);
}

/// The app with the bundled plugins and the `rich-tools` fixture.
async fn app_with_rich_tools(data: &tempfile::TempDir) -> AppState {
    let state = start(data.path(), |_| {}).await;
    load_fixture(&state, "rich-tools").await;
    state
}

/// `content` items of `call` of the given MCP `type`.
fn of_type<'a>(call: &'a Value, kind: &str) -> Vec<&'a Value> {
    call["content"]
        .as_array()
        .unwrap_or_else(|| panic!("no content: {call}"))
        .iter()
        .filter(|c| c["type"] == kind)
        .collect()
}

#[tokio::test]
async fn the_python_sdk_reads_tool_metadata_rich_results_and_progress() {
    if !support::python_with_mcp() {
        return;
    }
    let data = tempfile::tempdir().expect("tempdir");
    let state = app_with_rich_tools(&data).await;
    let addr = serve(state).await;
    let report =
        support::run_python_script("rich_client.py", &[format!("--base=http://{addr}")]).await;
    let combined = &report["combined"];
    let listed = &combined["listed"];
    let tool = |name: &str| {
        let tool = &listed[name];
        assert!(tool.is_object(), "{name} not listed: {listed}");
        tool
    };

    // Titles and honest annotations of the bundled tools.
    assert_eq!(tool("time__current_time")["title"], "Current time");
    assert_eq!(
        tool("time__convert_time")["annotations"]["readOnlyHint"],
        true
    );
    assert_eq!(
        tool("time__current_time")["annotations"]["openWorldHint"],
        false
    );
    let write = &tool("filesystem__write_file")["annotations"];
    assert_eq!(write["destructiveHint"], true, "{write}");
    assert_eq!(write["readOnlyHint"], false, "{write}");
    assert_eq!(
        tool("filesystem__read_file")["annotations"]["readOnlyHint"],
        true
    );
    let fetch = &tool("fetch__fetch")["annotations"];
    assert_eq!(
        (&fetch["openWorldHint"], &fetch["readOnlyHint"]),
        (&json!(true), &json!(true))
    );
    // A plugin that says nothing gets nothing invented for it.
    assert_eq!(tool("memory__read_graph")["annotations"], Value::Null);
    assert_eq!(tool("memory__read_graph")["title"], Value::Null);

    // An output schema derived from the fixture's `Measure` struct.
    let measure = tool("rich-tools__measure");
    assert_eq!(measure["title"], "Measure a text");
    assert_eq!(measure["annotations"]["idempotentHint"], true);
    let schema = &measure["output_schema"];
    assert_eq!(schema["type"], "object", "{schema}");
    assert_eq!(
        schema["properties"]["words"]["description"],
        "Whitespace-separated words in the text."
    );
    assert_eq!(
        schema["properties"]["longest"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(schema["required"], json!(["length", "words"]));
    assert!(tool("time__convert_time")["output_schema"]["properties"]["target"].is_object());

    // Structured content, validated by the SDK against those schemas.
    let calls = &combined["calls"];
    let call = |key: &str| {
        let call = &calls[key];
        assert_eq!(call["is_error"], false, "{key}: {call}");
        call
    };
    assert_eq!(
        call("measure")["structured"],
        json!({"length": 13, "words": 3, "longest": "world"})
    );
    assert_eq!(
        of_type(call("measure"), "text")[0]["text"],
        "13 characters, 3 words"
    );
    assert_eq!(call("current_time")["structured"]["timezone"], "Asia/Tokyo");
    assert_eq!(
        call("convert_time")["structured"]["target"]["time"],
        "21:00:00"
    );

    // Images, audio and embedded resources, in MCP's shapes.
    let media = call("media");
    let image = of_type(media, "image");
    assert_eq!(image.len(), 1, "{media}");
    assert_eq!(image[0]["mimeType"], "image/png");
    assert!(
        image[0]["data"]
            .as_str()
            .is_some_and(|d| d.starts_with("iVBORw0KGgo")),
        "{media}"
    );
    assert_eq!(of_type(media, "audio")[0]["mimeType"], "audio/wav");
    let resources = of_type(media, "resource");
    assert_eq!(
        resources[0]["resource"],
        json!({"uri": "fixture://notes/a.md", "mimeType": "text/markdown", "text": "# A note"})
    );
    assert_eq!(resources[1]["resource"]["blob"], "AQID");

    // Resource templates, and a read routed by one.
    let templates = &combined["templates"];
    assert_eq!(
        templates["listed"],
        json!([{
            "uriTemplate": "fixture://notes/{name}",
            "name": "Notes",
            "description": "A note by name: its title as Markdown",
            "mimeType": "text/markdown"
        }]),
        "{templates}"
    );
    assert_eq!(templates["read"][0]["text"], "# groceries", "{templates}");
    assert_eq!(
        templates["read"][0]["mimeType"], "text/markdown",
        "{templates}"
    );

    // Progress: every report, in order, before the answer.
    let progress = &combined["progress"];
    assert_eq!(progress["text"], "counted to 3", "{progress}");
    assert_eq!(
        progress["reports"],
        json!([
            {"progress": 1.0, "total": 3.0, "message": "step 1 of 3"},
            {"progress": 2.0, "total": 3.0, "message": "step 2 of 3"},
            {"progress": 3.0, "total": 3.0, "message": "step 3 of 3"},
        ])
    );

    // One plugin's own endpoint, without a session: the same metadata and progress.
    let scoped = &report["scoped"];
    assert_eq!(
        scoped["listed"]["count"]["title"], "Count with progress",
        "{scoped}"
    );
    assert_eq!(
        scoped["progress"]["reports"].as_array().map(Vec::len),
        Some(2),
        "{scoped}"
    );
}

#[tokio::test]
async fn the_rest_route_answers_rich_results_and_keeps_its_old_fields() {
    let data = tempfile::tempdir().expect("tempdir");
    let state = app_with_rich_tools(&data).await;
    let (status, body) =
        super::post_json(&state, "/api/mcp/servers/rich-tools/tools/media", "{}").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    let types: Vec<&str> = body["content"]
        .as_array()
        .expect("content")
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    assert_eq!(types, ["text", "image", "audio", "resource", "resource"]);
    assert_eq!(body["content"][1]["mimeType"], "image/png");
    assert!(body.get("structured_content").is_none(), "{body}");

    let (status, body) = super::post_json(
        &state,
        "/api/mcp/servers/rich-tools/tools/measure",
        r#"{"text": "two words"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["structured_content"]["words"], 2, "{body}");
    // Structured results still come as text and JSON contents, as before 0.2.2.
    assert_eq!(
        body["content"][0],
        json!({"type": "text", "text": "9 characters, 2 words"})
    );
    assert_eq!(body["content"][1]["type"], "json");
    assert_eq!(body["content"][1]["json"]["length"], 9);
}

#[tokio::test]
async fn progress_reaches_the_caller_of_a_rich_call_and_only_when_asked_for() {
    let data = tempfile::tempdir().expect("tempdir");
    let state = app_with_rich_tools(&data).await;
    let (sink, mut reports) = mpsc::channel(32);
    let result = rich::call_tool_rich(
        &state.plugins,
        "rich-tools",
        "count",
        json!({"steps": 4}),
        Some(sink),
    )
    .await
    .expect("counts");
    let mut seen = Vec::new();
    while let Ok(notice) = reports.try_recv() {
        if let sanctuary::runtime::state::ToolNotice::Progress(report) = notice {
            seen.push((report.progress, report.total, report.message));
        }
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen[3], (4.0, Some(4.0), Some("step 4 of 4".to_string())));
    assert_eq!(
        rich::contents_json(&result.content)[0]["text"],
        "counted to 4"
    );

    // Without a sink the reports go nowhere and the call answers the same.
    let result = rich::call_tool_rich(
        &state.plugins,
        "rich-tools",
        "count",
        json!({"steps": 2}),
        None,
    )
    .await
    .expect("counts");
    assert_eq!(
        rich::contents_json(&result.content)[0]["text"],
        "counted to 2"
    );
    // The same checks as every call: arguments against the input schema.
    let err = rich::call_tool_rich(
        &state.plugins,
        "rich-tools",
        "count",
        json!({"steps": 999}),
        None,
    )
    .await
    .expect_err("over the maximum");
    assert_eq!(err.code(), "invalid_arguments");
}

#[tokio::test]
async fn a_call_relays_at_most_a_hundred_progress_reports_and_still_answers() {
    let data = tempfile::tempdir().expect("tempdir");
    let state = app_with_rich_tools(&data).await;
    // A small queue read while the plugin runs: a full queue makes the plugin wait.
    let (sink, mut reports) = mpsc::channel::<sanctuary::runtime::state::ToolNotice>(4);
    let collector = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(notice) = reports.recv().await {
            if let sanctuary::runtime::state::ToolNotice::Progress(report) = notice {
                seen.push(report.progress);
            }
        }
        seen
    });
    let result = rich::call_tool_rich(
        &state.plugins,
        "rich-tools",
        "count",
        json!({"steps": 150}),
        Some(sink),
    )
    .await
    .expect("counts");
    assert_eq!(
        rich::contents_json(&result.content)[0]["text"],
        "counted to 150"
    );
    // The call is over: its sink is gone with its store, so the collector ends.
    let seen = collector.await.expect("collected");
    assert_eq!(seen.len(), 100, "{seen:?}");
    assert_eq!(seen.first(), Some(&1.0));
    assert_eq!(seen.last(), Some(&100.0));
}

#[tokio::test]
async fn a_plugin_built_against_0_2_0_answers_rich_calls_without_metadata() {
    let data = tempfile::tempdir().expect("tempdir");
    let state = start(data.path(), |_| {}).await;
    load_fixture(&state, "api-v0-2").await;
    let live = state.plugins.get("api-v0-2").expect("loaded");
    assert!(live.tool_info.is_empty());
    assert!(!state.plugins.runtime().serves_mcp_ext(&live.plugin));
    let described = rich::described_tools(&state.plugins);
    let (_, _, info) = described
        .iter()
        .find(|(server, tool, _)| server == "api-v0-2" && tool.name == "version")
        .expect("listed");
    assert!(info.is_none());
    let result = rich::call_tool_rich(&state.plugins, "api-v0-2", "version", json!({}), None)
        .await
        .expect("answers");
    assert_eq!(rich::contents_json(&result.content)[0]["text"], "0.2.0");
    assert_eq!(result.structured_content, None);

    // The bundled plugins, built through the SDK, serve the extension.
    let time = state.plugins.get("time").expect("bundled");
    assert!(state.plugins.runtime().serves_mcp_ext(&time.plugin));
    assert_eq!(time.tool_info.len(), 2);
}
