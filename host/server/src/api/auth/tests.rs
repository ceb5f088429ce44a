//! Route tests of `/api/auth/*`, the scoped extractors, the `[auth]` gates and the rate
//! limits, on every test database (`crate::db::testing::all`).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::api::test_support::{ADMIN_KEY, send, state};
use crate::db::testing::TestDb;
use crate::state::AppState;

/// Test states, one per database; the guards keep each alive.
async fn states(edit: impl Fn(&mut crate::config::Config)) -> Vec<(AppState, Guards)> {
    let mut out = Vec::new();
    for db in crate::db::testing::all().await {
        let (mut state, first, dir) = state().await;
        state.db = db.db();
        let mut config = (*state.config).clone();
        edit(&mut config);
        state.config = Arc::new(config);
        out.push((state, (db, first, dir)));
    }
    out
}

type Guards = (TestDb, TestDb, tempfile::TempDir);

/// A request with an optional JSON body and optional credentials.
fn request(method: &str, uri: &str, body: Option<Value>, auth: Auth<'_>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    match auth {
        Auth::None => {}
        Auth::Key(key) => builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}")),
        Auth::Cookie(sid) => {
            builder = builder.header(header::COOKIE, format!("theme=dark; sid={sid}"))
        }
    }
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("request")
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Key(&'a str),
    Cookie(&'a str),
}

/// Creates a key with `scopes` as the admin; returns the secret and the key's id.
async fn new_key(app: &Router, scopes: &[&str]) -> (String, String) {
    let body = json!({"name": format!("key for {scopes:?}"), "scopes": scopes});
    let (status, _, reply) = send(
        app.clone(),
        request("POST", "/api/auth/keys", Some(body), Auth::Key(ADMIN_KEY)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let key = reply["key"].as_str().expect("the key").to_owned();
    let id = reply["api_key"]["id"].as_str().expect("an id").to_owned();
    (key, id)
}

/// A `plugins`-scoped operation that gets past authorization without changing anything:
/// enabling a plugin that does not exist answers 404 once authorized.
fn enable_unknown(auth: Auth<'_>) -> Request<Body> {
    request("POST", "/api/plugins/no-such-plugin/enable", None, auth)
}

/// The `sid` value of a `Set-Cookie` header.
fn sid_of(headers: &HeaderMap) -> String {
    let cookie = headers[header::SET_COOKIE].to_str().expect("ascii");
    let value = cookie.strip_prefix("sid=").expect("the sid cookie");
    value.split(';').next().expect("a value").to_owned()
}

#[tokio::test]
async fn an_admin_creates_a_scoped_key_that_works_until_revoked() {
    for (state, _guards) in states(|_| {}).await {
        let app = crate::app(state);
        let (key, id) = new_key(&app, &["plugins"]).await;
        assert!(key.starts_with("sk-sanctuary-"), "{key}");

        let (status, _, reply) = send(app.clone(), enable_unknown(Auth::Key(&key))).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "authorized, then unknown: {reply}"
        );

        let (status, _, listed) = send(
            app.clone(),
            request("GET", "/api/auth/keys", None, Auth::Key(ADMIN_KEY)),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            !listed.to_string().contains(&key),
            "the secret is never listed"
        );
        let entry = &listed["keys"][0];
        assert_eq!(entry["id"], id.as_str());
        assert_eq!(entry["scopes"], json!(["plugins"]));
        assert!(key.starts_with(entry["prefix"].as_str().expect("a prefix")));
        assert!(entry["last_used_at"].is_string(), "the use was recorded");
        assert!(entry["revoked_at"].is_null());

        let (status, _, reply) = send(
            app.clone(),
            request(
                "DELETE",
                &format!("/api/auth/keys/{id}"),
                None,
                Auth::Key(ADMIN_KEY),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert!(reply["api_key"]["revoked_at"].is_string());
        let (status, _, reply) = send(app.clone(), enable_unknown(Auth::Key(&key))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply["success"], false);
        assert!(
            reply["message"]
                .as_str()
                .is_some_and(|m| m.contains("revoked")),
            "{reply}"
        );

        let (status, _, _) = send(
            app,
            request(
                "DELETE",
                "/api/auth/keys/no-such-key",
                None,
                Auth::Key(ADMIN_KEY),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn no_credential_is_401_and_a_missing_scope_403_naming_it() {
    for (state, _guards) in states(|_| {}).await {
        let app = crate::app(state);
        let (status, _, reply) = send(app.clone(), enable_unknown(Auth::None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply["error"], "Unauthorized");

        let (reader, _) = new_key(&app, &["read", "jobs"]).await;
        let (status, _, reply) = send(app.clone(), enable_unknown(Auth::Key(&reader))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(reply["success"], false);
        let message = reply["message"].as_str().expect("a message");
        assert!(message.contains("`plugins`"), "{message}");

        // Key management is the admin's alone.
        let (status, _, _) = send(
            app.clone(),
            request("GET", "/api/auth/keys", None, Auth::Key(&reader)),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) = send(
            app.clone(),
            request("GET", "/api/auth/users", None, Auth::None),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _, _) = send(
            app.clone(),
            request(
                "GET",
                "/api/auth/keys",
                None,
                Auth::Key("sk-sanctuary-forged"),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // An `admin` key may do what any scope guards, and manage keys.
        let (admin, _) = new_key(&app, &["admin"]).await;
        let (status, _, _) = send(app.clone(), enable_unknown(Auth::Key(&admin))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = send(
            app,
            request("GET", "/api/auth/keys", None, Auth::Key(&admin)),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_provider_swap_needs_the_providers_scope() {
    for (state, _guards) in states(|_| {}).await {
        let app = crate::app(state);
        let route = json!({"chain": [{"provider": "local"}]});
        let (plugins, _) = new_key(&app, &["plugins"]).await;
        let (providers, _) = new_key(&app, &["providers"]).await;
        let put = |key: &str| {
            request(
                "PUT",
                "/api/providers/routes/coder",
                Some(route.clone()),
                Auth::Key(key),
            )
        };
        let (status, _, _) = send(app.clone(), put(&plugins)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, reply) = send(app, put(&providers)).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
    }
}

#[tokio::test]
async fn bad_key_requests_are_400_naming_the_problem() {
    for (state, _guards) in states(|_| {}).await {
        let app = crate::app(state);
        for (body, named) in [
            (json!({"name": "x", "scopes": ["plugin"]}), "plugin"),
            (json!({"name": "x", "scopes": []}), "at least one"),
            (json!({"name": " ", "scopes": ["read"]}), "name"),
            (
                json!({"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}),
                "future",
            ),
            (
                json!({"name": "x", "scopes": ["read"], "expires_at": "tomorrow"}),
                "RFC 3339",
            ),
            (
                json!({"name": "x", "scopes": ["read"], "expires": "x"}),
                "expires",
            ),
        ] {
            let (status, _, reply) = send(
                app.clone(),
                request(
                    "POST",
                    "/api/auth/keys",
                    Some(body.clone()),
                    Auth::Key(ADMIN_KEY),
                ),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
            let message = reply["message"].as_str().expect("a message");
            assert!(message.contains(named), "{body}: {message}");
        }
    }
}

#[tokio::test]
async fn a_user_logs_in_with_a_cookie_session_and_out_again() {
    for (state, _guards) in states(|_| {}).await {
        let app = crate::app(state);
        let body = json!({"username": "ada@example.com", "password": "correct horse", "scopes": ["plugins"]});
        let (status, _, reply) = send(
            app.clone(),
            request("POST", "/api/auth/users", Some(body), Auth::Key(ADMIN_KEY)),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        assert!(reply["user"].get("password_hash").is_none());
        let user_id = reply["user"]["id"].as_str().expect("an id").to_owned();

        // Seed 004's Frappe body on the Frappe path.
        let login = json!({"usr": "ada@example.com", "pwd": "correct horse"});
        let (status, headers, reply) = send(
            app.clone(),
            request(
                "POST",
                "/api/method/oropendola.auth.login",
                Some(login),
                Auth::None,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["success"], true);
        assert_eq!(reply["message"], "Logged In");
        assert_eq!(reply["user"]["username"], "ada@example.com");
        assert_eq!(reply["user"]["scopes"], json!(["plugins"]));
        assert!(reply["expires_at"].is_string());
        let cookie = headers[header::SET_COOKIE].to_str().expect("ascii");
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        let sid = sid_of(&headers);
        assert_eq!(sid.len(), 64, "256 random bits");

        let (status, _, reply) = send(
            app.clone(),
            request("GET", "/api/auth/verify_session", None, Auth::Cookie(&sid)),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(reply["valid"], true);
        assert_eq!(reply["user"]["id"], user_id.as_str());

        // The session carries the user's scopes.
        let (status, _, _) = send(app.clone(), enable_unknown(Auth::Cookie(&sid))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "authorized by the cookie");
        let (status, _, _) = send(
            app.clone(),
            request("GET", "/api/auth/keys", None, Auth::Cookie(&sid)),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let (status, headers, reply) = send(
            app.clone(),
            request("POST", "/api/auth/logout", None, Auth::Cookie(&sid)),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(reply["message"], "Logged Out");
        assert!(
            headers[header::SET_COOKIE]
                .to_str()
                .expect("ascii")
                .contains("Max-Age=0")
        );
        for path in [
            "/api/auth/verify_session",
            "/api/method/oropendola.auth.verify_session",
        ] {
            let (status, _, reply) =
                send(app.clone(), request("GET", path, None, Auth::Cookie(&sid))).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            if path.starts_with("/api/method/") {
                // The Frappe path answers in Frappe's error shape.
                assert_eq!(reply["exc_type"], "AuthenticationError", "{reply}");
            } else {
                assert_eq!(reply["success"], false);
            }
        }
        let (status, _, _) = send(app, enable_unknown(Auth::Cookie(&sid))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_401() {
    for (state, _guards) in states(|_| {}).await {
        let app = crate::app(state);
        let body = json!({"username": "ada", "password": "correct horse"});
        let (status, _, _) = send(
            app.clone(),
            request("POST", "/api/auth/users", Some(body), Auth::Key(ADMIN_KEY)),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let mut messages = Vec::new();
        for body in [
            json!({"username": "ada", "password": "wrong horse"}),
            json!({"usr": "bob", "pwd": "correct horse"}),
        ] {
            let (status, headers, reply) = send(
                app.clone(),
                request("POST", "/api/auth/login", Some(body), Auth::None),
            )
            .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(headers.get(header::SET_COOKIE).is_none());
            assert_eq!(reply["success"], false);
            messages.push(reply["message"].clone());
        }
        assert_eq!(messages[0], messages[1]);
        let (status, _, _) = send(
            app.clone(),
            request(
                "POST",
                "/api/auth/login",
                Some(json!({"user": "ada"})),
                Auth::None,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _, _) = send(
            app.clone(),
            request(
                "POST",
                "/api/auth/users",
                Some(json!({"username": "ada", "password": "another one"})),
                Auth::Key(ADMIN_KEY),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        // A deleted user's login fails.
        let (_, _, listed) = send(
            app.clone(),
            request("GET", "/api/auth/users", None, Auth::Key(ADMIN_KEY)),
        )
        .await;
        let id = listed["users"][0]["id"].as_str().expect("an id").to_owned();
        let (status, _, _) = send(
            app.clone(),
            request(
                "DELETE",
                &format!("/api/auth/users/{id}"),
                None,
                Auth::Key(ADMIN_KEY),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let body = json!({"username": "ada", "password": "correct horse"});
        let (status, _, _) = send(
            app,
            request("POST", "/api/auth/login", Some(body), Auth::None),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn closed_reading_needs_any_credential_except_on_liveness_routes() {
    for (state, _guards) in states(|config| config.auth.open_read = false).await {
        let app = crate::app(state);
        for path in ["/", "/health", "/api/dev/ping"] {
            let (status, _, _) = send(app.clone(), request("GET", path, None, Auth::None)).await;
            assert_eq!(status, StatusCode::OK, "{path} stays open");
        }
        let (status, _, reply) = send(
            app.clone(),
            request("GET", "/api/plugins", None, Auth::None),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            reply["message"]
                .as_str()
                .is_some_and(|m| m.contains("open_read")),
            "{reply}"
        );
        let (reader, _) = new_key(&app, &["read"]).await;
        let (status, _, _) = send(
            app.clone(),
            request("GET", "/api/plugins", None, Auth::Key(&reader)),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        // A batch's requests pass the same gate, with the batch's credentials.
        let batch = json!({"requests": [{"path": "/api/plugins"}]});
        let (status, _, reply) = send(
            app.clone(),
            request("POST", "/api/batch", Some(batch.clone()), Auth::None),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(reply[0]["status"], 401, "{reply}");
        let (_, _, reply) = send(
            app,
            request("POST", "/api/batch", Some(batch), Auth::Key(&reader)),
        )
        .await;
        assert_eq!(reply[0]["status"], 200, "{reply}");
    }
}

#[tokio::test]
async fn closed_tools_make_the_mcp_endpoint_need_a_credential() {
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-03-26", "capabilities": {},
                   "clientInfo": {"name": "test", "version": "1"}}
    });
    for (state, _guards) in states(|config| config.auth.open_tools = false).await {
        let app = crate::app(state);
        let (status, _, reply) = send(
            app.clone(),
            request("POST", "/mcp", Some(initialize.clone()), Auth::None),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            reply["message"]
                .as_str()
                .is_some_and(|m| m.contains("open_tools")),
            "{reply}"
        );
        let (reader, _) = new_key(&app, &["read"]).await;
        let (status, _, reply) = send(
            app.clone(),
            request("POST", "/mcp", Some(initialize.clone()), Auth::Key(&reader)),
        )
        .await;
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{reply}");
        let (status, _, reply) = send(
            app.clone(),
            request(
                "POST",
                "/api/mcp/servers/time/tools/current_time",
                Some(json!({"timezone": "UTC"})),
                Auth::None,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{reply}");
        // Chat stays open.
        let (status, _, _) = send(
            app,
            request(
                "POST",
                "/api/chat/mama-bear",
                Some(json!({"message": "hi"})),
                Auth::None,
            ),
        )
        .await;
        assert_ne!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn closed_chat_needs_a_credential_and_open_chat_none() {
    for (state, _guards) in states(|config| config.auth.open_chat = false).await {
        let app = crate::app(state);
        let chat = json!({"message": "hello"});
        let (status, _, reply) = send(
            app.clone(),
            request(
                "POST",
                "/api/chat/mama-bear",
                Some(chat.clone()),
                Auth::None,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            reply["message"]
                .as_str()
                .is_some_and(|m| m.contains("open_chat")),
            "{reply}"
        );
        let (reader, _) = new_key(&app, &["read"]).await;
        let (status, _, reply) = send(
            app.clone(),
            request(
                "POST",
                "/api/chat/mama-bear",
                Some(chat),
                Auth::Key(&reader),
            ),
        )
        .await;
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{reply}");
        // Reading stays open.
        let (status, _, _) = send(app, request("GET", "/api/plugins", None, Auth::None)).await;
        assert_eq!(status, StatusCode::OK);
    }
    for (state, _guards) in states(|_| {}).await {
        let (status, _, _) = send(
            crate::app(state),
            request(
                "POST",
                "/api/chat/mama-bear",
                Some(json!({"message": ""})),
                Auth::None,
            ),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "open by default: reaches the handler"
        );
    }
}

#[tokio::test]
async fn over_the_rate_limit_is_429_with_retry_after_per_client() {
    for (state, _guards) in states(|config| config.rate_limit.per_second = 1).await {
        let app = crate::app(state);
        // Requests without an address or a credential share one bucket of 2.
        let mut statuses = Vec::new();
        let mut limited = None;
        for _ in 0..3 {
            let (status, headers, body) = send(
                app.clone(),
                request("GET", "/api/dev/ping", None, Auth::None),
            )
            .await;
            statuses.push(status.as_u16());
            if status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some((headers, body));
            }
        }
        assert_eq!(statuses, [200, 200, 429]);
        let (headers, body) = limited.expect("a 429");
        let retry: u64 = headers[header::RETRY_AFTER]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!((1..=2).contains(&retry), "{retry}");
        assert_eq!(body["success"], false);
        assert_eq!(body["error"], "Too Many Requests");
        // Liveness is exempt; an API key has a bucket of its own.
        let (status, _, _) = send(app.clone(), request("GET", "/health", None, Auth::None)).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = send(
            app.clone(),
            request("GET", "/api/dev/ping", None, Auth::Key(ADMIN_KEY)),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = send(app, request("GET", "/api/dev/ping", None, Auth::None)).await;
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "the shared bucket is still empty"
        );
    }
}

/// Connects a Socket.IO v4 client over a websocket to `addr`, sending `cookie` with the
/// handshake; returns it once connected.
async fn socket(
    addr: std::net::SocketAddr,
    cookie: Option<&str>,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let mut handshake = url.into_client_request().expect("a request");
    if let Some(cookie) = cookie {
        handshake
            .headers_mut()
            .insert(header::COOKIE, cookie.parse().expect("a header value"));
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(handshake)
        .await
        .expect("websocket");
    assert!(next_text(&mut ws).await.starts_with('0'), "engine.io open");
    ws.send(Message::text("40")).await.expect("send");
    assert!(
        next_text(&mut ws).await.starts_with("40"),
        "socket.io connect"
    );
    ws
}

/// The next text frame, answering engine.io pings.
async fn next_text(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> String {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(30), ws.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("a frame");
        if let Message::Text(text) = message {
            if text.as_str() == "2" {
                ws.send(Message::text("3")).await.expect("pong");
                continue;
            }
            return text.as_str().to_owned();
        }
    }
}

/// Emits `mama_bear_chat` and returns the `code` of the `chat_error` that answers it.
async fn chat_error_code(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let packet = format!("42{}", json!(["mama_bear_chat", {"message": "hello"}]));
    ws.send(Message::text(packet)).await.expect("send");
    loop {
        let text = next_text(ws).await;
        let Some(payload) = text.strip_prefix("42") else {
            continue;
        };
        let event: Vec<Value> = serde_json::from_str(payload).expect("an event");
        if event[0] == "chat_error" {
            return event[1]["code"].clone();
        }
    }
}

#[tokio::test]
async fn a_socket_with_a_session_cookie_may_chat_when_chat_is_closed() {
    for (state, _guards) in states(|config| config.auth.open_chat = false).await {
        let app = crate::app(state);
        let body = json!({"username": "ada", "password": "correct horse"});
        let (status, _, _) = send(
            app.clone(),
            request(
                "POST",
                "/api/auth/users",
                Some(body.clone()),
                Auth::Key(ADMIN_KEY),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, headers, _) = send(
            app.clone(),
            request("POST", "/api/auth/login", Some(body), Auth::None),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let sid = sid_of(&headers);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = tokio::spawn(async move { axum::serve(listener, app).await });

        let mut anonymous = socket(addr, None).await;
        assert_eq!(chat_error_code(&mut anonymous).await, "unauthorized");
        let mut user = socket(addr, Some(&format!("sid={sid}"))).await;
        // Past the gate: the test app has no AI provider to answer.
        assert_eq!(chat_error_code(&mut user).await, "no_provider");
        let mut stale = socket(addr, Some("sid=0000")).await;
        assert_eq!(chat_error_code(&mut stale).await, "unauthorized");
        server.abort();
    }
}

#[tokio::test]
async fn closed_reading_refuses_the_envelope_routes_in_their_envelope() {
    for (state, _guards) in states(|config| config.auth.open_read = false).await {
        let app = crate::app(state);
        for path in ["/api/jobs", "/api/v1/documents", "/api/cache/stats"] {
            let (status, _, reply) =
                send(app.clone(), request("GET", path, None, Auth::None)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(reply["success"], false, "{path}: {reply}");
            assert_eq!(reply["error"]["status"], 401, "{path}: {reply}");
            assert!(
                reply["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("open_read")),
                "{path}: {reply}"
            );
        }
    }
}
