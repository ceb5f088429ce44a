//! Socket.IO rooms: terminal sessions shared by two clients, workspace subscriptions with
//! file and plugin updates, operator notices, and `batch_events`.

use serde_json::json;

use super::support::{project, start};

#[tokio::test]
async fn two_clients_in_a_terminal_room_both_see_its_output() {
    let fx = start(|_| {}).await;
    let mut alice = fx.server.socket().await;
    let mut bob = fx.server.socket().await;
    for client in [&mut alice, &mut bob] {
        client
            .emit("join_terminal", json!({"session_id": "t1"}))
            .await;
        let joined = client.wait_for("terminal_joined").await;
        assert_eq!(joined["session_id"], "t1");
    }

    alice
        .emit(
            "terminal_input",
            json!({"session_id": "t1", "command": "time.current_time {\"timezone\": \"UTC\"}", "timestamp": "2024-01-01T00:00:00Z"}),
        )
        .await;
    for client in [&mut alice, &mut bob] {
        let output = client.wait_for("terminal_output").await;
        assert_eq!(output["session_id"], "t1");
        assert_eq!(
            output["command"],
            "time.current_time {\"timezone\": \"UTC\"}"
        );
        assert_eq!(output["success"], true, "{output}");
        assert!(
            output["output"].as_str().is_some_and(|o| o.contains("UTC")),
            "{output}"
        );
        assert!(output["timestamp"].is_string());
    }

    bob.emit(
        "terminal_input",
        json!({"session_id": "t1", "command": "plugins"}),
    )
    .await;
    for client in [&mut alice, &mut bob] {
        let output = client.wait_for("terminal_output").await;
        let listing = output["output"].as_str().expect("text");
        for id in ["time", "local", "git", "dependencies", "build"] {
            assert!(listing.contains(id), "{id} listed: {listing}");
        }
    }

    // No shell behind it.
    alice
        .emit(
            "terminal_input",
            json!({"session_id": "t1", "command": "ls -la /"}),
        )
        .await;
    let refused = bob.wait_for("terminal_output").await;
    assert_eq!(refused["success"], false);
    assert!(
        refused["output"]
            .as_str()
            .is_some_and(|o| o.contains("help"))
    );

    alice
        .emit("leave_terminal", json!({"session_id": "t1"}))
        .await;
    let left = alice.wait_for("terminal_left").await;
    assert_eq!(left["session_id"], "t1");

    // A malformed input is an `error`, and the socket stays up.
    bob.emit("terminal_input", json!({"session_id": "t1"}))
        .await;
    let error = bob.wait_for("error").await;
    assert_eq!(error["event"], "terminal_input");
    bob.emit(
        "terminal_input",
        json!({"session_id": "t1", "command": "help"}),
    )
    .await;
    let help = bob.wait_for("terminal_output").await;
    assert_eq!(help["success"], true);
}

#[tokio::test]
async fn a_client_outside_a_terminal_room_cannot_run_commands_in_it() {
    let fx = start(|_| {}).await;
    let mut member = fx.server.socket().await;
    let mut stranger = fx.server.socket().await;
    member
        .emit("join_terminal", json!({"session_id": "t-private"}))
        .await;
    member.wait_for("terminal_joined").await;
    stranger
        .emit(
            "terminal_input",
            json!({"session_id": "t-private", "command": "plugins"}),
        )
        .await;
    let error = stranger.wait_for("error").await;
    assert_eq!(error["event"], "terminal_input", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("join_terminal")),
        "{error}"
    );
    // The member's next output is its own command's, not the stranger's.
    member
        .emit(
            "terminal_input",
            json!({"session_id": "t-private", "command": "help"}),
        )
        .await;
    let output = member.wait_for("terminal_output").await;
    assert_eq!(output["command"], "help", "{output}");
}

#[tokio::test]
async fn an_unknown_socket_io_event_gets_an_error_naming_it_and_the_socket_stays_up() {
    let fx = start(|_| {}).await;
    let mut client = fx.server.socket().await;
    client.emit("no_such_event", json!({"x": 1})).await;
    let error = client.wait_for("error").await;
    assert_eq!(error["event"], "no_such_event", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("no_such_event")),
        "{error}"
    );
    client.emit("test_event", json!({"still": "here"})).await;
    let answer = client.wait_for("test_response").await;
    assert_eq!(answer["data"]["still"], "here");
}

#[tokio::test]
async fn a_workspace_naming_a_project_gets_file_and_plugin_updates() {
    let project_dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(project_dir.path().join("src")).expect("mkdir");
    let dir = project_dir.path().to_path_buf();
    let fx = start(move |config| config.scout.projects = vec![project("web", &dir)]).await;
    let mut client = fx.server.socket().await;
    let mut other = fx.server.socket().await;

    client
        .emit("workspace_subscribe", json!({"workspace_id": "web"}))
        .await;
    let subscribed = client.wait_for("workspace_subscribed").await;
    assert_eq!(subscribed["workspace_id"], "web");
    assert_eq!(subscribed["project"], true);
    assert_eq!(subscribed["watching"], true, "{subscribed}");

    std::fs::write(project_dir.path().join("src/main.rs"), "fn main() {}").expect("write");
    // The directory's own change may come first, in a batch of its own.
    let update = client
        .wait_for_where("workspace_update", |u| {
            u["type"] == "file"
                && u["paths"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p == "src/main.rs"))
        })
        .await;
    assert_eq!(update["workspace_id"], "web");
    assert_eq!(update["event"], "changed");

    // A plugin loaded while the server runs: every workspace hears of it, and every client
    // gets an operator notice.
    let (manifest, component) = sanctuary_test_support::fixture("trivial-probe");
    let id = manifest.id.clone();
    let plugins = &fx.server.state.plugins;
    let live = plugins
        .load_bytes(manifest, component, plugins.plugins_dir())
        .await
        .expect("loads");
    plugins.insert(live);

    let update = client
        .wait_for_where("workspace_update", |u| u["type"] == "plugin")
        .await;
    assert_eq!(update["workspace_id"], "web");
    assert_eq!(update["event"], "plugin_loaded");
    assert_eq!(update["id"], id.as_str());
    for c in [&mut client, &mut other] {
        let notice = c.wait_for("msgprint").await;
        assert_eq!(notice["level"], "info");
        assert!(
            notice["message"].as_str().is_some_and(|m| m.contains(&id)),
            "{notice}"
        );
    }

    client
        .emit("workspace_unsubscribe", json!({"workspace_id": "web"}))
        .await;
    let done = client.wait_for("workspace_unsubscribed").await;
    assert_eq!(done["workspace_id"], "web");
    assert_eq!(done["was_subscribed"], true);
}

#[tokio::test]
async fn a_workspace_that_is_not_a_project_is_subscribed_without_a_watcher() {
    let fx = start(|_| {}).await;
    let mut client = fx.server.socket().await;
    client
        .emit("workspace_subscribe", json!({"workspace_id": "scratch"}))
        .await;
    let subscribed = client.wait_for("workspace_subscribed").await;
    assert_eq!(subscribed["project"], false);
    assert_eq!(subscribed["watching"], false);
    client.emit("workspace_subscribe", json!({})).await;
    let error = client.wait_for("error").await;
    assert_eq!(error["event"], "workspace_subscribe");
}

#[tokio::test]
async fn batch_events_are_each_handled_as_if_sent_alone() {
    let fx = start(|_| {}).await;
    let mut client = fx.server.socket().await;
    client
        .emit(
            "batch_events",
            json!([
                {"event": "test_event", "data": {"n": 1}},
                {"event": "ping", "data": {"timestamp": 42}},
                {"event": "join_terminal", "data": {"session_id": "b1"}},
                {"event": "terminal_input", "data": {"session_id": "b1", "command": "tools"}},
                {"event": "no_such_event", "data": {}},
            ]),
        )
        .await;
    let events = client.events_until("error").await;
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "test_response",
            "pong",
            "terminal_joined",
            "terminal_output",
            "error"
        ]
    );
    assert_eq!(events[0].1["data"]["n"], 1);
    assert_eq!(events[1].1["timestamp"], 42);
    assert!(
        events[3].1["output"]
            .as_str()
            .is_some_and(|o| o.contains("time.current_time"))
    );
    assert_eq!(events[4].1["event"], "no_such_event");

    client.emit("batch_events", json!("not a list")).await;
    let error = client.wait_for("error").await;
    assert_eq!(error["event"], "batch_events");
}
