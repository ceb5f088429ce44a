//! The official Socket.IO clients against the real binary: `python-socketio` (PyPI) and
//! `socket.io-client` (npm), each over websocket and over long-polling, running the seed
//! flows in `socketio_client.py` / `socketio_client.mjs`. `.ci/run` installs both clients;
//! without them the tests fail under CI and print a notice elsewhere.

use std::path::Path;
use std::process::Command;

use sanctuary_test_support::sanctuary;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/clients");

/// Whether a client is installed; under CI a missing client is a failure.
fn available(what: &str, probe: &mut Command) -> bool {
    let ok = probe.output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{what} is not installed; .ci/run installs it"
        );
        eprintln!("skipping: {what} is not installed (.ci/run installs it)");
    }
    ok
}

fn run(program: &str, script: &str, url: &str, transport: &str) {
    let output = Command::new(program)
        .arg(Path::new(DIR).join(script))
        .args([url, transport])
        .current_dir(DIR)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        output.status.success(),
        "{script} over {transport} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn python_socketio_runs_the_seed_flows_over_websocket_and_polling() {
    if !available(
        "python-socketio",
        Command::new("python3").args(["-c", "import socketio, websocket"]),
    ) {
        return;
    }
    let server = sanctuary!().spawn().await;
    let url = server.url("");
    for transport in ["websocket", "polling"] {
        let url = url.clone();
        tokio::task::spawn_blocking(move || run("python3", "socketio_client.py", &url, transport))
            .await
            .expect("client ran");
    }
}

#[tokio::test]
async fn node_socket_io_client_runs_the_seed_flows_over_websocket_and_polling() {
    if !available(
        "socket.io-client (npm)",
        Command::new("node").args([
            "-e",
            &format!("require('{DIR}/node_modules/socket.io-client')"),
        ]),
    ) {
        return;
    }
    let server = sanctuary!().spawn().await;
    let url = server.url("");
    for transport in ["websocket", "polling"] {
        let url = url.clone();
        tokio::task::spawn_blocking(move || run("node", "socketio_client.mjs", &url, transport))
            .await
            .expect("client ran");
    }
}
