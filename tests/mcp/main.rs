//! MCP tests: the `/mcp` endpoint driven by a real client (the official MCP Python SDK,
//! `client.py`) against a server started here, and the first-party MCP servers
//! (`time`, `filesystem`, `memory`, `fetch`) through the one tool-call path
//! (`sanctuary::mcp::call_tool`, and its rich twin) that the endpoint, the REST route and
//! the terminal share; tool metadata, rich results and progress (API 0.2.2) in [`rich`];
//! and the official MCP conformance suite against a fixture plugin ([`conformance`]).

mod conformance;
mod rich;
mod support;

use axum::body::Body;
use http::Request;
use sanctuary::mcp::{self, Error};
use sanctuary::runtime::CallError;
use sanctuary::runtime::mcp::Content;
use serde_json::{Value, json};
use tower::ServiceExt;

use support::{
    ADMIN_KEY, ClockRegistry, PAGE, bundled, fixture, grant_fetch_loopback, serve, start,
    web_server,
};

/// All text of a tool result.
fn text(contents: &[Content]) -> String {
    contents
        .iter()
        .map(|c| match c {
            Content::Text(t) | Content::Json(t) => t.as_str(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The refusal of a failed plugin call: `(code, message)`.
fn refusal(err: Error) -> (&'static str, String) {
    match err {
        Error::Call(CallError::Plugin { code, message, .. }) => (code, message),
        other => panic!("expected the plugin's own error, got {other:?}"),
    }
}

/// A data directory whose `files/` (the filesystem plugin's grant) holds a few files, a
/// symlink to `/etc` and one climbing out of the data directory.
fn data_dir_with_files() -> tempfile::TempDir {
    let data = tempfile::tempdir().expect("tempdir");
    let files = data.path().join("files");
    std::fs::create_dir_all(files.join("docs")).expect("dirs");
    std::fs::write(files.join("hello.txt"), "hello from the sandbox\n").expect("file");
    std::fs::write(files.join("docs/guide.md"), "# Guide\n").expect("file");
    std::fs::write(files.join("docs/long.md"), "0123456789abcdefghij").expect("file");
    std::fs::write(data.path().join("secret.txt"), "outside the grant").expect("file");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc", files.join("outside")).expect("symlink");
        std::os::unix::fs::symlink("..", files.join("up")).expect("symlink");
    }
    data
}

fn assert_contains(haystack: &str, needle: &str) {
    assert!(haystack.contains(needle), "`{needle}` not in:\n{haystack}");
}

#[tokio::test]
async fn the_python_sdk_uses_every_first_party_tool_and_follows_installs() {
    if !support::python_with_mcp() {
        return;
    }
    let data = data_dir_with_files();
    let registry = ClockRegistry::new();
    let registry_path = registry.path();
    let state = start(data.path(), |c| c.registry = Some(registry_path)).await;
    grant_fetch_loopback(&state).await;
    let addr = serve(state).await;
    let web = web_server().await;
    let report = support::run_python_client(&[
        format!("--base=http://{addr}"),
        format!("--web=http://{web}"),
        format!("--key={ADMIN_KEY}"),
        "--install=clock".into(),
    ])
    .await;
    let legacy = &report["legacy"];
    let calls = &legacy["calls"];
    let call_text = |key: &str| -> String {
        let call = &calls[key];
        assert!(call["text"].is_string(), "{key}: {call}");
        call["text"].as_str().unwrap_or_default().to_string()
    };
    let ok = |key: &str| {
        assert_eq!(calls[key]["is_error"], false, "{key}: {}", calls[key]);
        call_text(key)
    };
    let failed = |key: &str| {
        assert_eq!(calls[key]["is_error"], true, "{key}: {}", calls[key]);
        call_text(key)
    };

    // The handshake and the namespaced tool list.
    assert_eq!(legacy["protocol_version"], "2025-11-25");
    assert_eq!(legacy["server_name"], "sanctuary");
    let tools: Vec<&str> = legacy["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tool list: {}", legacy["tools"]))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for tool in [
        "time__current_time",
        "time__convert_time",
        "filesystem__list_directory",
        "filesystem__read_file",
        "filesystem__search_files",
        "filesystem__write_file",
        "memory__create_entities",
        "memory__read_graph",
        "memory__open_nodes",
        "fetch__fetch",
    ] {
        assert!(tools.contains(&tool), "{tool} not in {tools:?}");
    }
    let schema = &legacy["schemas"]["time__convert_time"];
    assert_eq!(schema["additionalProperties"], false, "{schema}");
    assert_eq!(
        schema["required"],
        json!(["time", "source_timezone", "target_timezone"])
    );

    // time
    assert_contains(&ok("current_time"), "Europe/Paris");
    assert_eq!(
        calls["current_time"]["structured"]["timezone"],
        "Europe/Paris"
    );
    assert_contains(&ok("convert_time"), "2024-01-15 21:00");

    // filesystem: inside the grant; a write to the read-only grant and both escapes denied
    let listing = ok("list_directory");
    assert_contains(&listing, "hello.txt");
    assert_contains(&listing, "[directory] docs");
    assert_contains(&ok("read_file"), "hello from the sandbox");
    let capped = ok("read_file_capped");
    assert_contains(&capped, "0123456789");
    assert_contains(&capped, "truncated");
    assert!(!capped.contains("abcdef"), "{capped}");
    let found = ok("search_files");
    assert_contains(&found, "/files/docs/guide.md");
    assert_contains(&found, "/files/docs/long.md");
    assert_contains(&failed("write_file"), "read-only");
    for escape in ["read_dot_dot", "read_symlink_out"] {
        let message = failed(escape);
        assert_contains(&message, "denied");
        assert!(!message.contains("root:"), "{escape} leaked: {message}");
    }

    // memory: the reference server's tool set, end to end
    assert_contains(&ok("create_entities"), "created 2 entities");
    assert_contains(&ok("create_relations"), "created 1 relations");
    assert_contains(&ok("add_observations"), "makes anvils");
    assert_contains(&ok("search_nodes"), "Acme");
    assert_contains(&ok("open_nodes"), "works_at");
    assert_contains(&ok("read_graph"), "2 entities, 1 relations");
    ok("delete_observations");
    assert_contains(&ok("delete_relations"), "deleted 1 relations");
    ok("delete_entities");
    let graph_after = ok("read_graph_after");
    assert_contains(&graph_after, "1 entities, 0 relations");
    assert!(!graph_after.contains("writes programs"), "{graph_after}");

    // fetch: a local page as text, capped, raw text, a redirect, a host not allowed
    let page = ok("fetch_page");
    assert_contains(&page, "# Fetch & read");
    assert_contains(&page, "Plugins run in a sandbox — <safely>.");
    assert_contains(&page, "- first item\n- second item");
    for hidden in ["should not show", "color: red", "a comment", "<p>"] {
        assert!(!page.contains(hidden), "`{hidden}` shows in:\n{page}");
    }
    let capped = ok("fetch_capped");
    assert_contains(&capped, "[Content truncated: characters 0-20 of");
    assert_contains(&capped, "start_index=20");
    assert_contains(&ok("fetch_raw"), "plain notes\nline two");
    assert_contains(&ok("fetch_redirect"), "# Fetch & read");
    let denied = failed("fetch_denied");
    assert_contains(&denied, "denied");
    assert_contains(&denied, "example.invalid");

    // bad arguments: error results naming the field, before the plugin is called
    let bad_type = failed("bad_type");
    assert_contains(&bad_type, "invalid arguments for `time__convert_time`");
    assert_contains(&bad_type, "`time`");
    assert_contains(&failed("bad_extra"), "'tz'");
    assert_contains(&failed("bad_missing"), "entityType");
    // a name that designates nothing is a protocol error
    let unknown = &calls["unknown_tool"];
    assert!(
        unknown["protocol_error"]
            .as_str()
            .is_some_and(|m| m.contains("nope")),
        "{unknown}"
    );

    // resources and prompts
    let resources = legacy["resources"].to_string();
    for uri in ["time://zones", "memory://graph", "filesystem://roots"] {
        assert_contains(&resources, uri);
    }
    assert!(
        legacy["zones_lines"].as_u64().is_some_and(|n| n > 300),
        "{legacy}"
    );
    assert_contains(&legacy["prompts"].to_string(), "time__meeting_planner");
    assert_contains(
        legacy["prompt_text"].as_str().unwrap_or_default(),
        "Asia/Tokyo (UTC+09:00",
    );

    // an install through the API reaches the open session
    assert_eq!(legacy["install_status"], 200);
    assert_eq!(
        legacy["saw_list_changed"], true,
        "notifications: {}",
        legacy["notifications"]
    );
    assert_contains(
        &legacy["tools_after_install"].to_string(),
        "clock__current_time",
    );
    assert_eq!(legacy["installed_call"]["is_error"], false, "{legacy}");

    // the 2026-07-28 client: no session, discover, subscriptions/listen
    let modern = &report["modern"];
    assert_eq!(modern["protocol_version"], "2026-07-28");
    assert_contains(&modern["tools"].to_string(), "clock__current_time");
    assert_eq!(modern["call"]["is_error"], false, "{modern}");
    assert_eq!(modern["bad_type"]["is_error"], true, "{modern}");
    assert_contains(
        modern["bad_type"]["text"].as_str().unwrap_or_default(),
        "`timezone`",
    );
    assert_eq!(modern["honored_tools"], true);
    assert_eq!(modern["uninstall_status"], 200);
    assert_eq!(modern["event"], "ToolsListChanged", "{modern}");
    let after = modern["tools_after_uninstall"].to_string();
    assert!(!after.contains("clock__"), "{after}");
    assert_contains(&after, "time__current_time");
}

#[tokio::test]
async fn the_filesystem_plugin_refuses_dot_dot_and_symlinks_leading_out() {
    let data = data_dir_with_files();
    let state = start(data.path(), |_| {}).await;
    let read = |path: &'static str| {
        let plugins = state.plugins.clone();
        async move { mcp::call_tool(&plugins, "filesystem", "read_file", json!({ "path": path })).await }
    };
    // The control: inside the grant, reading works.
    let hello = read("/files/hello.txt").await.expect("inside the grant");
    assert_contains(&text(&hello), "hello from the sandbox");
    for escape in [
        "../../etc/passwd",
        "/files/../secret.txt",
        "/etc/passwd",
        "/files/outside/passwd",
        "/files/up/secret.txt",
    ] {
        let err = read(escape).await.expect_err(escape);
        let (code, message) = refusal(err);
        assert_eq!(code, "denied", "{escape}: {message}");
        assert!(!message.contains("root:"), "{escape}: {message}");
    }
}

#[tokio::test]
async fn the_wasi_preopens_alone_refuse_the_same_escapes() {
    let data = data_dir_with_files();
    let state = start(data.path(), |_| {}).await;
    let plugins = &state.plugins;
    let (manifest, bytes) = fixture("hostile-escape");
    let live = plugins
        .load_bytes(manifest, bytes, plugins.plugins_dir())
        .await
        .expect("the fixture loads");
    plugins.insert(live);
    let read = |path: &'static str| {
        mcp::call_tool(plugins, "hostile-escape", "read", json!({ "path": path }))
    };
    // The fixture checks nothing itself; the control shows that it does read.
    let hello = read("/files/hello.txt").await.expect("inside the pre-open");
    assert_contains(&text(&hello), "hello from the sandbox");
    for escape in [
        "/files/../../../../etc/passwd",
        "/files/../secret.txt",
        "/etc/passwd",
        "/files/outside/passwd",
        "/files/up/secret.txt",
    ] {
        match read(escape).await {
            Ok(contents) => panic!("the sandbox let `{escape}` through: {}", text(&contents)),
            Err(err) => {
                let (code, message) = refusal(err);
                assert_eq!(code, "denied", "{escape}: {message}");
            }
        }
    }
}

#[tokio::test]
async fn write_file_works_only_where_the_grant_is_read_write() {
    let data = data_dir_with_files();
    let state = start(data.path(), |_| {}).await;
    let plugins = &state.plugins;
    let write = |path: &'static str, append: bool| {
        mcp::call_tool(
            plugins,
            "filesystem",
            "write_file",
            json!({ "path": path, "content": "line\n", "append": append, "create_dirs": true }),
        )
    };
    // The bundled grant is read-only: the write is denied and says how to grant it.
    let (code, message) = refusal(write("notes/new.txt", false).await.expect_err("read-only"));
    assert_eq!(code, "denied", "{message}");
    assert_contains(&message, "/api/plugins/filesystem/permissions");
    assert!(!data.path().join("files/notes").exists());

    // The same component granted read-write.
    let (mut manifest, bytes) = bundled("filesystem");
    manifest.permissions.files[0].write = true;
    let live = plugins
        .load_bytes(manifest, bytes, plugins.plugins_dir())
        .await
        .expect("loads");
    plugins.insert(live);
    write("notes/new.txt", false).await.expect("written");
    write("notes/new.txt", true).await.expect("appended");
    let written =
        std::fs::read_to_string(data.path().join("files/notes/new.txt")).expect("on disk");
    assert_eq!(written, "line\nline\n");
    // Still confined.
    let err = write("../escaped.txt", false).await.expect_err("outside");
    assert_eq!(refusal(err).0, "denied");
    assert!(!data.path().join("escaped.txt").exists());
}

#[tokio::test]
async fn the_memory_graph_survives_a_restart() {
    let data = tempfile::tempdir().expect("tempdir");
    {
        let state = start(data.path(), |_| {}).await;
        mcp::call_tool(
            &state.plugins,
            "memory",
            "create_entities",
            json!({ "entities": [{ "name": "Ada", "entityType": "person", "observations": ["likes tea"] }] }),
        )
        .await
        .expect("created");
        drop(state);
    }
    let state = start(data.path(), |_| {}).await;
    let graph = mcp::call_tool(
        &state.plugins,
        "memory",
        "open_nodes",
        json!({ "names": ["Ada"] }),
    )
    .await
    .expect("read");
    let graph = text(&graph);
    assert_contains(&graph, "1 entities");
    assert_contains(&graph, "likes tea");
}

#[tokio::test]
async fn fetch_reads_a_local_page_and_names_a_host_it_may_not_reach() {
    let data = tempfile::tempdir().expect("tempdir");
    let state = start(data.path(), |_| {}).await;
    let web = web_server().await;
    // Out of the box, fetch may not reach a loopback address.
    let refused = mcp::call_tool(
        &state.plugins,
        "fetch",
        "fetch",
        json!({ "url": format!("http://{web}/page") }),
    )
    .await
    .expect_err("loopback is not granted");
    let (code, message) = refusal(refused);
    assert_eq!(code, "denied", "{message}");
    grant_fetch_loopback(&state).await;
    let fetch =
        |url: String| mcp::call_tool(&state.plugins, "fetch", "fetch", json!({ "url": url }));
    let page = text(&fetch(format!("http://{web}/page")).await.expect("fetched"));
    assert_contains(&page, "Sanctuary test page");
    assert_contains(&page, "The end.");
    assert!(!page.contains("<html"), "{page}");
    assert!(PAGE.contains("<html"));
    let (code, message) = refusal(
        fetch("https://example.invalid/".into())
            .await
            .expect_err("not allowed"),
    );
    assert_eq!(code, "denied", "{message}");
    assert_contains(&message, "example.invalid");
    let (code, _) = refusal(
        fetch(format!("http://{web}/missing"))
            .await
            .expect_err("404"),
    );
    assert_eq!(code, "invalid-input");
}

#[tokio::test]
async fn tool_names_are_namespaced_by_plugin_and_listed_in_a_stable_order() {
    let data = tempfile::tempdir().expect("tempdir");
    let state = start(data.path(), |_| {}).await;
    let names: Vec<String> = mcp::tools(&state.plugins)
        .into_iter()
        .map(|(plugin, tool)| mcp::qualified(&plugin, &tool.name))
        .collect();
    let mut sorted_by_plugin = names.clone();
    sorted_by_plugin.sort_by_key(|n| mcp::split(n).map(|(p, _)| p.to_string()));
    assert_eq!(names, sorted_by_plugin);
    for name in &names {
        let (plugin, tool) = mcp::split(name).expect("qualified");
        assert!(!plugin.contains('_'), "{name}");
        assert_eq!(mcp::qualified(plugin, tool), *name);
    }
    assert!(
        names.contains(&"time__current_time".to_string()),
        "{names:?}"
    );
}

async fn post_json(state: &sanctuary::AppState, uri: &str, body: &str) -> (u16, Value) {
    let request = Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let response = sanctuary::app(state.clone())
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

#[tokio::test]
async fn the_rest_route_calls_a_tool_with_the_same_checks() {
    let data = data_dir_with_files();
    let state = start(data.path(), |_| {}).await;
    let uri = "/api/mcp/servers/time/tools/current_time";
    let (status, body) = post_json(&state, uri, r#"{"timezone": "Asia/Tokyo"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["is_error"], false);
    assert_eq!(body["content"][1]["type"], "json");
    assert_eq!(body["content"][1]["json"]["timezone"], "Asia/Tokyo");
    // An empty body means no arguments.
    let (status, _) = post_json(&state, uri, "").await;
    assert_eq!(status, 200);

    let (status, body) = post_json(&state, uri, r#"{"timezone": 9}"#).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["details"]["errors"][0]["field"], "timezone");
    assert_contains(body["message"].as_str().unwrap_or_default(), "`timezone`");

    let (status, body) = post_json(&state, uri, r#"{"timezone": "Mars/Olympus"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["is_error"], true);
    assert_eq!(body["error"]["code"], "invalid-input");
    assert_contains(
        body["content"][0]["text"].as_str().unwrap_or_default(),
        "Mars/Olympus",
    );

    let (status, body) = post_json(
        &state,
        "/api/mcp/servers/filesystem/tools/read_file",
        r#"{"path": "../../etc/passwd"}"#,
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (200, &json!("denied")),
        "{body}"
    );

    for missing in [
        "/api/mcp/servers/nope/tools/x",
        "/api/mcp/servers/time/tools/nope",
    ] {
        let (status, body) = post_json(&state, missing, "{}").await;
        assert_eq!(status, 404, "{missing}: {body}");
    }
    let (status, _) = post_json(&state, uri, "{not json").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_terminal_calls_tools_through_the_same_checks() {
    let data = tempfile::tempdir().expect("tempdir");
    let state = start(data.path(), |_| {}).await;
    let out =
        sanctuary::terminal::run(&state.plugins, r#"time.current_time {"timezone": "UTC"}"#).await;
    assert!(out.success, "{}", out.output);
    assert_contains(&out.output, "UTC");
    let out =
        sanctuary::terminal::run(&state.plugins, r#"time.current_time {"timezone": 1}"#).await;
    assert!(!out.success);
    assert_contains(
        &out.output,
        "invalid arguments for `time__current_time`: `timezone`",
    );
    let out = sanctuary::terminal::run(&state.plugins, "memory.read_graph").await;
    assert!(out.success, "{}", out.output);
}

#[tokio::test]
async fn one_plugins_endpoint_serves_its_tools_and_prompts_under_their_own_names() {
    use sanctuary_test_support::mcp::McpClient;
    let data = tempfile::tempdir().expect("tempdir");
    let addr = serve(start(data.path(), |_| {}).await).await;
    let mut client = McpClient::new(format!("http://{addr}/mcp/time"));
    let info = client.initialize("scoped-test").await;
    assert!(info["capabilities"]["logging"].is_object(), "{info}");
    assert!(info["capabilities"]["completions"].is_object(), "{info}");
    assert_eq!(
        info["capabilities"]["resources"]["subscribe"], true,
        "{info}"
    );

    let listed = client.call("tools/list", json!({})).await;
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"current_time"), "{names:?}");
    assert!(names.iter().all(|n| !n.contains("__")), "{names:?}");
    assert!(
        !names.contains(&"read_file"),
        "another plugin's tool: {names:?}"
    );

    let called = client
        .call(
            "tools/call",
            json!({"name": "current_time", "arguments": {"timezone": "UTC"}}),
        )
        .await;
    assert_eq!(called["result"]["isError"], false, "{called}");
    assert!(
        called["result"]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("UTC"))
    );
    let other = client
        .call(
            "tools/call",
            json!({"name": "filesystem__read_file", "arguments": {}}),
        )
        .await;
    assert!(
        other.get("error").is_some() || other["result"]["isError"] == true,
        "a tool of another plugin is not reachable here: {other}"
    );

    let prompts = client.call("prompts/list", json!({})).await;
    for prompt in prompts["result"]["prompts"].as_array().expect("prompts") {
        assert!(
            !prompt["name"].as_str().expect("name").contains("__"),
            "{prompt}"
        );
    }
    let level = client
        .call("logging/setLevel", json!({"level": "warning"}))
        .await;
    assert_eq!(level["result"], json!({}), "{level}");
    let unknown = client
        .call("resources/subscribe", json!({"uri": "nowhere://at-all"}))
        .await;
    assert!(unknown.get("error").is_some(), "{unknown}");

    let missing = reqwest::Client::new()
        .post(format!("http://{addr}/mcp/no-such-plugin"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.expect("json-rpc error");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no-such-plugin"))
    );
}
