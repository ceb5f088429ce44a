//! Seed 000's own client code (`tests/clients/seed000_chat.mjs`: its SocketService,
//! APIClient and ChatService) under node with the official `socket.io-client`, over
//! websocket and over long-polling.

use std::path::Path;
use std::process::Command;

use super::server;

const CLIENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/clients");

/// Whether `socket.io-client` is installed; under CI a missing client is a failure.
fn node_client_available() -> bool {
    let ok = Command::new("node")
        .args([
            "-e",
            &format!("require('{CLIENTS}/node_modules/socket.io-client')"),
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "socket.io-client (npm) is not installed; .ci/run installs it"
        );
        eprintln!("skipping: socket.io-client (npm) is not installed (.ci/run installs it)");
    }
    ok
}

#[tokio::test]
async fn seed_000s_chat_service_shows_the_assistants_answer_and_chat_errors_over_both_transports() {
    if !node_client_available() {
        return;
    }
    let server = server::start("", &[]).await;
    for transport in ["websocket", "polling"] {
        let url = server.url("");
        let output = tokio::task::spawn_blocking(move || {
            Command::new("node")
                .arg(Path::new(CLIENTS).join("seed000_chat.mjs"))
                .args([&url, transport])
                .current_dir(CLIENTS)
                .output()
                .expect("node runs")
        })
        .await
        .expect("joined");
        assert!(
            output.status.success(),
            "seed 000 ChatService over {transport}:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
