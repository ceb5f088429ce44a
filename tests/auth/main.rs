//! Auth and rate limits against the real binary: anonymous changes are refused, API keys
//! work by scope until revoked, a user's `sid` cookie session authorizes what the user's
//! scopes allow until logout, and `SANCTUARY_RATE_LIMIT` answers 429 with `Retry-After`
//! while `/health` stays reachable.

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, RETRY_AFTER, SET_COOKIE};
use sanctuary_test_support::{Server, sanctuary};
use serde_json::{Value, json};

const ADMIN: &str = "auth-test-admin-token";

/// How a request authenticates.
#[derive(Clone, Copy)]
enum Cred<'a> {
    None,
    Key(&'a str),
    Sid(&'a str),
}

/// Sends a request; its status, headers and JSON body (`Null` if not JSON).
async fn call(
    server: &Server,
    method: Method,
    path: &str,
    cred: Cred<'_>,
    body: Option<Value>,
) -> (u16, HeaderMap, Value) {
    let mut request = server.client.request(method, server.url(path));
    match cred {
        Cred::None => {}
        Cred::Key(key) => request = request.header(AUTHORIZATION, format!("Bearer {key}")),
        Cred::Sid(sid) => request = request.header(COOKIE, format!("sid={sid}")),
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// The `time` plugin as `GET /api/plugins/time` shows it.
async fn time_plugin(server: &Server) -> Value {
    let (status, _, body) = call(server, Method::GET, "/api/plugins/time", Cred::None, None).await;
    assert_eq!(status, 200, "{body}");
    body["plugin"].clone()
}

/// An API key with `scopes`, created with the admin token.
async fn new_key(server: &Server, scopes: &[&str]) -> (String, String) {
    let body = json!({"name": format!("{scopes:?}"), "scopes": scopes});
    let (status, _, reply) = call(
        server,
        Method::POST,
        "/api/auth/keys",
        Cred::Key(ADMIN),
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    (
        reply["key"].as_str().expect("the key").to_owned(),
        reply["api_key"]["id"].as_str().expect("an id").to_owned(),
    )
}

const INSTALL_TIME: &str = "/api/mcp/servers/time/install";

#[tokio::test]
async fn changes_need_a_key_or_session_with_the_right_scope() {
    let server = sanctuary!()
        .envs(&[("SANCTUARY_ADMIN_TOKEN", ADMIN)])
        .spawn()
        .await;

    // Start from `time` not installed, so an install is visible.
    let (status, _, body) = call(
        &server,
        Method::DELETE,
        "/api/plugins/time",
        Cred::Key(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let before = time_plugin(&server).await;
    assert_eq!(before["installed"], false);

    // Anonymous: 401 in the seed error body, and nothing changes.
    let (status, _, body) = call(&server, Method::POST, INSTALL_TIME, Cred::None, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["success"], false);
    assert!(
        body["message"].is_string() && body["timestamp"].is_string(),
        "{body}"
    );
    assert_eq!(time_plugin(&server).await, before);

    // A key without `plugins`: 403 naming the scope, nothing changes.
    let (reader, _) = new_key(&server, &["read", "cache"]).await;
    let (status, _, body) = call(
        &server,
        Method::POST,
        INSTALL_TIME,
        Cred::Key(&reader),
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("`plugins`")),
        "{body}"
    );
    assert_eq!(time_plugin(&server).await, before);

    // A key with `plugins` installs.
    let (installer, id) = new_key(&server, &["plugins"]).await;
    let (status, _, body) = call(
        &server,
        Method::POST,
        INSTALL_TIME,
        Cred::Key(&installer),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(time_plugin(&server).await["installed"], true);

    // The listing shows the key without its secret; revoked, it is refused.
    let (_, _, listed) = call(
        &server,
        Method::GET,
        "/api/auth/keys",
        Cred::Key(ADMIN),
        None,
    )
    .await;
    assert!(!listed.to_string().contains(&installer));
    let (status, _, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/auth/keys/{id}"),
        Cred::Key(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, body) = call(
        &server,
        Method::POST,
        "/api/plugins/time/disable",
        Cred::Key(&installer),
        None,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(time_plugin(&server).await["enabled"], true);

    // A user with `plugins` logs in (seed 004's body); the cookie authorizes.
    let user =
        json!({"username": "ada@example.com", "password": "correct horse", "scopes": ["plugins"]});
    let (status, _, body) = call(
        &server,
        Method::POST,
        "/api/auth/users",
        Cred::Key(ADMIN),
        Some(user),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let login = json!({"usr": "ada@example.com", "pwd": "correct horse"});
    let (status, headers, body) = call(
        &server,
        Method::POST,
        "/api/auth/login",
        Cred::None,
        Some(login),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Logged In");
    let cookie = headers[SET_COOKIE].to_str().expect("ascii");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attributes.contains(&attribute), "{cookie}");
    }
    let sid = attributes[0].strip_prefix("sid=").expect("the sid cookie");
    let (status, _, body) = call(
        &server,
        Method::GET,
        "/api/auth/verify_session",
        Cred::Sid(sid),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["valid"], true);
    assert_eq!(body["user"]["username"], "ada@example.com");

    let (status, _, body) = call(
        &server,
        Method::POST,
        "/api/plugins/time/disable",
        Cred::Sid(sid),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(time_plugin(&server).await["enabled"], false);
    // The user has no `cache` scope.
    let (status, _, _) = call(&server, Method::DELETE, "/api/cache", Cred::Sid(sid), None).await;
    assert_eq!(status, 403);

    let (status, _, _) = call(
        &server,
        Method::POST,
        "/api/method/oropendola.auth.logout",
        Cred::Sid(sid),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = call(
        &server,
        Method::GET,
        "/api/auth/verify_session",
        Cred::Sid(sid),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = call(
        &server,
        Method::POST,
        "/api/plugins/time/enable",
        Cred::Sid(sid),
        None,
    )
    .await;
    assert_eq!(status, 401);

    // Clearing the caches is a change too.
    let (status, _, body) = call(&server, Method::DELETE, "/api/cache", Cred::None, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = call(
        &server,
        Method::DELETE,
        "/api/cache",
        Cred::Key(&reader),
        None,
    )
    .await;
    assert_eq!(status, 200, "the `cache` scope clears: {body}");
}

#[tokio::test]
async fn a_burst_over_the_rate_limit_gets_429_and_health_still_answers() {
    let server = sanctuary!()
        .envs(&[
            ("SANCTUARY_ADMIN_TOKEN", ADMIN),
            ("SANCTUARY_RATE_LIMIT", "2"),
        ])
        .spawn()
        .await;
    let mut limited = None;
    let mut served = 0;
    // 2 a second with bursts of 4: a quick run of requests meets the limit long before 50.
    for _ in 0..50 {
        let (status, headers, body) =
            call(&server, Method::GET, "/api/dev/ping", Cred::None, None).await;
        match status {
            200 => served += 1,
            429 => {
                limited = Some((headers, body));
                break;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let (headers, body) = limited.expect("a 429 within 50 requests");
    assert!(served >= 4, "the burst was served first: {served}");
    let retry: u64 = headers[RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("whole seconds");
    assert!(retry >= 1, "{retry}");
    assert_eq!(body["success"], false);
    assert_eq!(body["error"], "Too Many Requests");
    assert!(body["timestamp"].is_string());

    let (status, _, body) = call(&server, Method::GET, "/health", Cred::None, None).await;
    assert_ne!(status, 429, "{body}");
    assert!(body["status"].is_string(), "{body}");
    // Another client (the admin key) has a bucket of its own.
    let (status, _, _) = call(
        &server,
        Method::GET,
        "/api/dev/ping",
        Cred::Key(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, 200);
}
