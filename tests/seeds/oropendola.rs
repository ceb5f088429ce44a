//! Seed 004 (Oropendola, a Frappe backend) against the real binary: the seed's own curl
//! flow with cookie jars, every `/api/method/oropendola.*` method, Frappe's error shape
//! for bad input, and plan limits.

use std::process::Command;

use reqwest::header::{COOKIE, RETRY_AFTER, SET_COOKIE};
use serde_json::{Value, json};

use super::server::{self, ADMIN, Server};

/// Plans for the tests: `tiny` allows 2 chat calls a day, `roomy` many.
const CONFIG: &str = r#"
[[plans]]
name = "tiny"
requests_per_minute = 1000
chat_calls_per_day = 2

[[plans]]
name = "roomy"
requests_per_minute = 1000
chat_calls_per_day = 1000

[subscriptions]
default_plan = "roomy"
users = { "tina@example.com" = "tiny" }

[oropendola]
max_upload_bytes = 4096
max_settings_bytes = 512
max_index_file_bytes = 2048

[cors]
origins = ["http://localhost:3000", "vscode-webview://*"]
"#;

/// Runs curl with `args`; its stdout.
fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["-sS"])
        .args(args)
        .output()
        .expect("curl runs");
    assert!(
        output.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Creates a user with the admin token.
async fn create_user(server: &Server, username: &str, password: &str) {
    let response = server
        .client
        .post(server.url("/api/auth/users"))
        .bearer_auth(ADMIN)
        .json(&json!({"username": username, "password": password, "scopes": ["read"]}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 201);
}

/// Logs in with a form body; the `sid` cookie's value.
async fn login(server: &Server, username: &str, password: &str) -> String {
    let response = server
        .client
        .post(server.url("/api/method/oropendola.auth.login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "usr={}&pwd={}",
            urlencode(username),
            urlencode(password)
        ))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("sid="))
        .and_then(|v| v.split(';').next())
        .expect("a sid cookie")
        .to_owned()
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Calls a method with the session; status and JSON body.
async fn method(
    server: &Server,
    sid: Option<&str>,
    name: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = server.url(&format!("/api/method/{name}"));
    let mut request = match &body {
        Some(body) => server.client.post(url).json(body),
        None => server.client.get(url),
    };
    if let Some(sid) = sid {
        request = request.header(COOKIE, format!("sid={sid}"));
    }
    let response = request.send().await.expect("answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn assert_frappe_error(status: u16, body: &Value, expected_status: u16, exc_type: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["exc_type"], exc_type, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["exception"]
            .as_str()
            .is_some_and(|e| e.contains(exc_type)),
        "{body}"
    );
    assert!(body["_server_messages"].is_string(), "{body}");
}

#[tokio::test]
async fn the_seeds_curl_flow_logs_in_with_a_cookie_jar_and_verifies_the_session() {
    let server = server::start(CONFIG, &[]).await;
    create_user(&server, "test@example.com", "password").await;
    let jar = server.dir().join("cookies.txt");
    let jar = jar.to_str().expect("utf-8 path");

    // Step 2: the health endpoint.
    let pong: Value =
        serde_json::from_str(&curl(&[&server.url("/api/method/ping")])).expect("json");
    assert_eq!(pong["message"], "pong");

    // Step 3, exactly as the seed writes it.
    let login: Value = serde_json::from_str(&curl(&[
        "-X",
        "POST",
        &server.url("/api/method/oropendola.auth.login"),
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"usr": "test@example.com", "pwd": "password"}"#,
        "-c",
        jar,
    ]))
    .expect("json");
    assert_eq!(login["message"], "Logged In", "{login}");
    let cookies = std::fs::read_to_string(jar).expect("the cookie jar");
    assert!(cookies.contains("\tsid\t"), "{cookies}");
    assert!(cookies.contains("\tuser_id\ttest@example.com"), "{cookies}");

    let verified: Value = serde_json::from_str(&curl(&[
        &server.url("/api/method/oropendola.auth.verify_session"),
        "-b",
        jar,
    ]))
    .expect("json");
    assert_eq!(verified["valid"], true, "{verified}");
    assert_eq!(verified["user"]["username"], "test@example.com");

    // A form-encoded login, as Frappe's own login form sends it.
    let form = curl(&[
        "-X",
        "POST",
        &server.url("/api/method/oropendola.auth.login"),
        "--data-urlencode",
        "usr=test@example.com",
        "--data-urlencode",
        "pwd=password",
    ]);
    assert_eq!(
        serde_json::from_str::<Value>(&form).expect("json")["message"],
        "Logged In"
    );

    // A wrong password is Frappe's AuthenticationError; logout ends the session.
    let (status, body) = method(
        &server,
        None,
        "oropendola.auth.login",
        Some(json!({"usr": "test@example.com", "pwd": "nope"})),
    )
    .await;
    assert_frappe_error(status, &body, 401, "AuthenticationError");
    curl(&[
        "-X",
        "POST",
        &server.url("/api/method/oropendola.auth.logout"),
        "-b",
        jar,
        "-c",
        jar,
    ]);
    let after = curl(&[
        "-w",
        "%{http_code}",
        "-o",
        "/dev/null",
        &server.url("/api/method/oropendola.auth.verify_session"),
        "-b",
        jar,
    ]);
    assert_eq!(after, "401");
}

#[tokio::test]
async fn chat_user_and_subscription_methods_answer_under_message() {
    let server = server::start(CONFIG, &[]).await;
    create_user(&server, "ada@example.com", "correct horse").await;
    let sid_value = login(&server, "ada@example.com", "correct horse").await;
    let sid = Some(sid_value.as_str());

    let (status, sent) = method(
        &server,
        sid,
        "oropendola.chat.send_message",
        Some(json!({"message": "Which tools are installed?", "session_id": "oro-1"})),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let reply = &sent["message"];
    assert!(
        reply["response"].as_str().is_some_and(|r| !r.is_empty()),
        "{sent}"
    );
    assert_eq!(reply["conversation_id"], "oro-1");
    assert_eq!(reply["route"], "mama-bear");
    assert_eq!(reply["user_id"], "ada@example.com");

    let (status, history) = method(
        &server,
        sid,
        "oropendola.chat.get_history?session_id=oro-1",
        None,
    )
    .await;
    assert_eq!(status, 200, "{history}");
    let messages = history["message"]["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["content"], "Which tools are installed?");
    assert_eq!(messages[1]["content"], reply["response"]);

    let (status, info) = method(&server, sid, "oropendola.user.get_info", None).await;
    assert_eq!(status, 200);
    assert_eq!(info["message"]["name"], "ada@example.com");

    let (_, empty) = method(&server, sid, "oropendola.user.get_settings", None).await;
    assert_eq!(empty["message"]["settings"], json!({}));
    let (status, updated) = method(
        &server,
        sid,
        "oropendola.user.update_settings",
        Some(json!({"settings": {"theme": "dark", "font_size": 14}})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    // A Frappe form sends the settings as a JSON string; null removes a key.
    let response = server
        .client
        .post(server.url("/api/method/oropendola.user.update_settings"))
        .header(COOKIE, format!("sid={sid_value}"))
        .form(&[("settings", r#"{"font_size": null, "language": "en"}"#)])
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    let (_, stored) = method(&server, sid, "oropendola.user.get_settings", None).await;
    assert_eq!(
        stored["message"]["settings"],
        json!({"theme": "dark", "language": "en"})
    );

    let (status, check) = method(&server, sid, "oropendola.subscription.check", None).await;
    assert_eq!(status, 200);
    assert_eq!(check["message"]["active"], true);
    assert_eq!(check["message"]["plan"], "roomy");
    let (_, plan) = method(&server, sid, "oropendola.subscription.get_info", None).await;
    assert_eq!(plan["message"]["limits"]["chat_calls_per_day"], 1000);
    assert_eq!(plan["message"]["plans"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn bad_input_gets_frappes_error_shape_and_stored_settings_survive() {
    let server = server::start(CONFIG, &[]).await;
    create_user(&server, "bob@example.com", "hunter22").await;
    let sid = login(&server, "bob@example.com", "hunter22").await;
    let sid = Some(sid.as_str());
    method(
        &server,
        sid,
        "oropendola.user.update_settings",
        Some(json!({"settings": {"theme": "light"}})),
    )
    .await;

    let (status, body) = method(&server, None, "oropendola.user.get_settings", None).await;
    assert_frappe_error(status, &body, 401, "AuthenticationError");
    let (status, body) = method(
        &server,
        sid,
        "oropendola.user.update_settings",
        Some(json!({"settings": [1, 2]})),
    )
    .await;
    assert_frappe_error(status, &body, 400, "ValidationError");
    let (status, body) = method(
        &server,
        sid,
        "oropendola.user.update_settings",
        Some(json!({"settings": {"notes": "x".repeat(600)}})),
    )
    .await;
    assert_frappe_error(status, &body, 413, "FileSizeError");
    let (status, body) = method(
        &server,
        sid,
        "oropendola.chat.send_message",
        Some(json!({})),
    )
    .await;
    assert_frappe_error(status, &body, 400, "ValidationError");
    let (status, body) = method(
        &server,
        sid,
        "oropendola.chat.send_message",
        Some(json!({"message": "hi", "route": "no-such-route"})),
    )
    .await;
    assert_frappe_error(status, &body, 404, "DoesNotExistError");
    let response = server
        .client
        .post(server.url("/api/method/oropendola.auth.login"))
        .header("content-type", "text/plain")
        .body("usr=a")
        .send()
        .await
        .expect("answer");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("json");
    assert_frappe_error(status, &body, 415, "ValidationError");

    // Nothing stored was lost, and the server still serves.
    let (_, stored) = method(&server, sid, "oropendola.user.get_settings", None).await;
    assert_eq!(stored["message"]["settings"], json!({"theme": "light"}));
    let (status, pong) = method(&server, None, "ping", None).await;
    assert_eq!((status, pong["message"].as_str()), (200, Some("pong")));
}

#[tokio::test]
async fn a_plan_limits_chat_calls_a_day_per_user() {
    let server = server::start(CONFIG, &[]).await;
    create_user(&server, "tina@example.com", "tiny-plan").await;
    create_user(&server, "rob@example.com", "roomy-plan").await;
    let tina = login(&server, "tina@example.com", "tiny-plan").await;
    let rob = login(&server, "rob@example.com", "roomy-plan").await;
    let chat = json!({"message": "hello"});
    for _ in 0..2 {
        let (status, body) = method(
            &server,
            Some(&tina),
            "oropendola.chat.send_message",
            Some(chat.clone()),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let response = server
        .client
        .post(server.url("/api/method/oropendola.chat.send_message"))
        .header(COOKIE, format!("sid={tina}"))
        .json(&chat)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key(RETRY_AFTER));
    let body: Value = response.json().await.expect("json");
    assert_frappe_error(429, &body, 429, "RateLimitExceededError");
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("tiny")),
        "{body}"
    );

    // Her plan says so; other methods and other users go on.
    let (status, check) = method(&server, Some(&tina), "oropendola.subscription.check", None).await;
    assert_eq!(status, 200);
    assert_eq!(check["message"]["plan"], "tiny");
    assert_eq!(check["message"]["remaining"]["chat_calls_today"], 0);
    let (status, _) = method(
        &server,
        Some(&rob),
        "oropendola.chat.send_message",
        Some(chat),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn chat_stream_is_an_event_stream_a_browser_event_source_can_open() {
    let server = server::start(CONFIG, &[]).await;
    create_user(&server, "eve@example.com", "streaming").await;
    let sid = login(&server, "eve@example.com", "streaming").await;
    let response = server
        .client
        .get(server.url(
            "/api/method/oropendola.chat.stream?message=Which%20tools%20are%20installed%3F&session_id=sse-1",
        ))
        .header(COOKIE, format!("sid={sid}"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/event-stream"))
    );
    let text = response.text().await.expect("the stream");
    let mut chunks = Vec::new();
    let mut done = None;
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let event = block
            .lines()
            .find_map(|l| l.strip_prefix("event:"))
            .map(str::trim);
        let data: String = block
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim_start)
            .collect();
        match event {
            // Unnamed: what `EventSource.onmessage` receives.
            None => chunks.push(serde_json::from_str::<Value>(&data).expect("chunk json")),
            Some("done") => done = Some(serde_json::from_str::<Value>(&data).expect("done json")),
            Some(other) => panic!("unexpected event {other}: {block}"),
        }
    }
    let done = done.expect("a done event");
    assert!(!chunks.is_empty(), "{text}");
    for (n, chunk) in chunks.iter().enumerate() {
        // The same fields as Socket.IO's ai_progress.
        assert_eq!(chunk["session_id"], "sse-1");
        assert_eq!(chunk["index"], n as u64);
    }
    let joined: String = chunks.iter().filter_map(|c| c["chunk"].as_str()).collect();
    assert_eq!(
        joined,
        done["message"]["response"].as_str().expect("response")
    );

    // Without a message: refused before the stream starts, in Frappe's shape.
    let (status, body) = method(&server, Some(&sid), "oropendola.chat.stream", None).await;
    assert_frappe_error(status, &body, 400, "ValidationError");
}

#[tokio::test]
async fn workspace_index_reads_text_files_through_the_filesystem_plugin_and_search_ranks_lines() {
    let server = server::start(CONFIG, &[]).await;
    let files = server.dir().join("data").join("files");
    std::fs::create_dir_all(files.join("src")).expect("dirs");
    std::fs::write(
        files.join("README.md"),
        "# Demo\nThe parser reads tokens.\n",
    )
    .expect("write");
    std::fs::write(
        files.join("src/parser.rs"),
        "fn main() {}\n// the token parser lives here\nfn parse_tokens() {}\n",
    )
    .expect("write");
    std::fs::write(files.join("blob.bin"), [0_u8, 1, 2, 3, 0]).expect("write");
    std::fs::write(files.join("huge.txt"), "parser ".repeat(1000)).expect("write");
    create_user(&server, "wes@example.com", "workspace").await;
    let sid = login(&server, "wes@example.com", "workspace").await;
    let sid = Some(sid.as_str());

    let (status, indexed) =
        method(&server, sid, "oropendola.workspace.index", Some(json!({}))).await;
    assert_eq!(status, 200, "{indexed}");
    assert_eq!(indexed["message"]["files_indexed"], 2, "{indexed}");
    assert_eq!(indexed["message"]["skipped_binary"], 1, "{indexed}");
    assert_eq!(indexed["message"]["skipped_large"], 1, "{indexed}");

    let (status, found) = method(
        &server,
        sid,
        "oropendola.workspace.search",
        Some(json!({"query": "token parser"})),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    let results = found["message"]["results"].as_array().expect("results");
    // The line holding the whole phrase ranks first, then lines with both words.
    assert_eq!(results[0]["path"], "/files/src/parser.rs", "{found}");
    assert_eq!(results[0]["line"], 2, "{found}");
    assert!(
        results
            .iter()
            .any(|r| r["path"] == "/files/README.md" && r["line"] == 2),
        "{found}"
    );
    assert!(
        results.iter().all(|r| r["path"] != "/files/huge.txt"),
        "{found}"
    );

    let (status, body) = method(&server, sid, "oropendola.workspace.search", Some(json!({}))).await;
    assert_frappe_error(status, &body, 400, "ValidationError");
}

#[tokio::test]
async fn get_memory_reads_the_callers_entities_through_the_memory_plugin() {
    let server = server::start(CONFIG, &[]).await;
    create_user(&server, "mia", "remember-me").await;
    let sid = login(&server, "mia", "remember-me").await;
    let created = server
        .client
        .post(server.url("/api/mcp/servers/memory/tools/create_entities"))
        .json(&json!({"entities": [
            {"name": "mia", "entityType": "person", "observations": ["prefers Rust"]},
            {"name": "otto", "entityType": "person", "observations": ["likes Go"]},
        ]}))
        .send()
        .await
        .expect("answer");
    assert_eq!(created.status(), 200);
    let (status, memory) =
        method(&server, Some(&sid), "oropendola.workspace.get_memory", None).await;
    assert_eq!(status, 200, "{memory}");
    let entities = memory["message"]["entities"].as_array().expect("entities");
    assert_eq!(entities.len(), 1, "{memory}");
    assert_eq!(entities[0]["name"], "mia");
    assert_eq!(entities[0]["observations"][0], "prefers Rust");
}

#[tokio::test]
async fn an_uploaded_text_file_is_kept_per_user_and_analyzed_by_the_offline_provider() {
    let server = server::start(CONFIG, &[]).await;
    create_user(&server, "ula@example.com", "uploads-pw").await;
    create_user(&server, "ivy@example.com", "other-user").await;
    let ula = login(&server, "ula@example.com", "uploads-pw").await;
    let ivy = login(&server, "ivy@example.com", "other-user").await;
    let dir = server.dir();
    std::fs::write(dir.join("notes.md"), "# Notes\nShip the calendar plugin.\n").expect("write");
    std::fs::write(dir.join("image.png"), [0x89_u8, b'P', b'N', b'G', 0, 0]).expect("write");
    std::fs::write(dir.join("big.txt"), "y".repeat(5000)).expect("write");
    let upload_url = server.url("/api/method/oropendola.files.upload");
    let upload = |file: &str, sid: &str| {
        let path = dir.join(file);
        curl(&[
            "-w",
            "\n%{http_code}",
            "-b",
            &format!("sid={sid}"),
            "-F",
            &format!("file=@{}", path.display()),
            &upload_url,
        ])
    };
    let split = |out: String| -> (u16, Value) {
        let (body, code) = out.rsplit_once('\n').expect("a status line");
        (
            code.parse().expect("status"),
            serde_json::from_str(body).unwrap_or(Value::Null),
        )
    };

    let (status, stored) = split(upload("notes.md", &ula));
    assert_eq!(status, 200, "{stored}");
    let id = stored["message"]["file_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert_eq!(stored["message"]["file_name"], "notes.md");
    assert!(
        server
            .dir()
            .join("data")
            .join("uploads")
            .read_dir()
            .expect("uploads dir")
            .next()
            .is_some()
    );
    let (status, body) = split(upload("image.png", &ula));
    assert_frappe_error(status, &body, 415, "ValidationError");
    let (status, body) = split(upload("big.txt", &ula));
    assert_frappe_error(status, &body, 413, "FileSizeError");

    let (status, analysis) = method(
        &server,
        Some(&ula),
        "oropendola.files.analyze",
        Some(json!({"file_id": id})),
    )
    .await;
    assert_eq!(status, 200, "{analysis}");
    let text = analysis["message"]["analysis"].as_str().expect("analysis");
    assert!(!text.is_empty());
    assert_eq!(analysis["message"]["metadata"]["provider"], "local");

    // Another user cannot reach it.
    let (status, body) = method(
        &server,
        Some(&ivy),
        "oropendola.files.analyze",
        Some(json!({"file_id": id})),
    )
    .await;
    assert_frappe_error(status, &body, 404, "DoesNotExistError");
}

#[tokio::test]
async fn a_vs_code_webview_origin_may_be_allowed_by_scheme() {
    let server = server::start(CONFIG, &[]).await;
    for (origin, allowed) in [
        ("vscode-webview://1a2b3c4d5e", true),
        ("http://localhost:3000", true),
        ("https://evil.example", false),
        ("vscode-webview://", false),
    ] {
        let response = server
            .client
            .request(
                reqwest::Method::OPTIONS,
                server.url("/api/method/oropendola.auth.login"),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .expect("answer");
        let granted = response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            == Some(origin);
        assert_eq!(granted, allowed, "{origin}");
    }
}
