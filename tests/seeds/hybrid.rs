//! Seed 003 (the hybrid backend) against the real binary: documents and projects CRUD per
//! user in the envelope the seed's client reads (`response.data.documents`), paginated
//! with `X-Total-Count`, behind bearer JWTs as its Supabase frontend sends them (HS256
//! with a secret, RS256 with a public key), refused clearly otherwise.

use std::process::Command;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::server::{self, Server};

const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A Supabase-style access token for `sub`, signed with `secret`, expiring at `exp`.
fn hs256(sub: &str, secret: &str, exp: u64) -> String {
    let claims = json!({
        "sub": sub, "email": format!("{sub}@example.com"), "role": "authenticated",
        "aud": "authenticated", "exp": exp, "iat": now(),
    });
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("a token")
}

async fn call(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = server.client.request(method, server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

fn assert_envelope_error(status: u16, body: &Value, expected: u16) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["status"], expected, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

const CONFIG: &str = "[jwt]\naudience = \"authenticated\"\n";

#[tokio::test]
async fn documents_and_projects_are_kept_per_user_and_paginated_with_x_total_count() {
    let server = server::start(CONFIG, &[("SANCTUARY_JWT_SECRET", SECRET)]).await;
    let alice = hs256("alice", SECRET, now() + 3600);
    let bob = hs256("bob", SECRET, now() + 3600);
    use reqwest::Method;

    let (status, _, project) = call(
        &server,
        Method::POST,
        "/api/v1/projects",
        Some(&alice),
        Some(json!({"name": "Launch", "description": "Q3"})),
    )
    .await;
    assert_eq!(status, 201, "{project}");
    let project_id = project["data"]["project"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(project["data"]["project"]["status"], "active");

    // The seed's own call: createDocument({title, content, type}).
    let mut ids = Vec::new();
    for n in 0..3 {
        let (status, _, doc) = call(
            &server,
            Method::POST,
            "/api/v1/documents",
            Some(&alice),
            Some(json!({"title": format!("Doc {n}"), "content": "Document content...", "type": "document", "project_id": project_id})),
        )
        .await;
        assert_eq!(status, 201, "{doc}");
        assert_eq!(doc["success"], true);
        ids.push(
            doc["data"]["document"]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    // getDocuments(undefined, 100, 0) and a page of two.
    let (status, headers, page) = call(
        &server,
        Method::GET,
        "/api/v1/documents?limit=100&offset=0",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-total-count"], "3");
    assert_eq!(page["data"]["documents"].as_array().map(Vec::len), Some(3));
    let (_, headers, page) = call(
        &server,
        Method::GET,
        "/api/v1/documents?limit=2&offset=2",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(headers["x-total-count"], "3");
    assert_eq!(page["data"]["documents"].as_array().map(Vec::len), Some(1));
    let (_, headers, _) = call(
        &server,
        Method::GET,
        &format!("/api/v1/documents?project_id={project_id}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(headers["x-total-count"], "3");

    // Bob sees none of them, and cannot touch them.
    let (_, headers, page) =
        call(&server, Method::GET, "/api/v1/documents", Some(&bob), None).await;
    assert_eq!(headers["x-total-count"], "0");
    assert_eq!(page["data"]["documents"], json!([]));
    let (status, _, body) = call(
        &server,
        Method::GET,
        &format!("/api/v1/documents/{}", ids[0]),
        Some(&bob),
        None,
    )
    .await;
    assert_envelope_error(status, &body, 404);
    let (status, _, body) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/projects/{project_id}"),
        Some(&bob),
        None,
    )
    .await;
    assert_envelope_error(status, &body, 404);
    let (status, _, body) = call(
        &server,
        Method::POST,
        "/api/v1/documents",
        Some(&bob),
        Some(json!({"title": "x", "project_id": project_id})),
    )
    .await;
    assert_envelope_error(status, &body, 400);

    // Update, read back, delete.
    let (status, _, updated) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/documents/{}", ids[0]),
        Some(&alice),
        Some(json!({"title": "Renamed", "metadata": {"tags": ["a"]}})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["data"]["document"]["title"], "Renamed");
    assert_eq!(
        updated["data"]["document"]["content"],
        "Document content..."
    );
    let (_, _, got) = call(
        &server,
        Method::GET,
        &format!("/api/v1/documents/{}", ids[0]),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(got["data"]["document"]["metadata"]["tags"], json!(["a"]));
    let (status, _, gone) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/documents/{}", ids[1]),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, 200, "{gone}");
    assert_eq!(gone["data"]["deleted"], true);
    let (_, headers, _) = call(
        &server,
        Method::GET,
        "/api/v1/documents",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(headers["x-total-count"], "2");
    let (status, _, project) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/projects/{project_id}"),
        Some(&alice),
        Some(json!({"status": "done"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(project["data"]["project"]["status"], "done");
    let (_, headers, projects) =
        call(&server, Method::GET, "/api/v1/projects", Some(&alice), None).await;
    assert_eq!(headers["x-total-count"], "1");
    assert_eq!(projects["data"]["projects"][0]["name"], "Launch");
}

#[tokio::test]
async fn bad_records_get_the_envelope_error_and_nothing_stored_is_lost() {
    let server = server::start(CONFIG, &[("SANCTUARY_JWT_SECRET", SECRET)]).await;
    let token = hs256("carol", SECRET, now() + 3600);
    use reqwest::Method;
    let (_, _, doc) = call(
        &server,
        Method::POST,
        "/api/v1/documents",
        Some(&token),
        Some(json!({"title": "Keep me"})),
    )
    .await;
    let id = doc["data"]["document"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for (method, path, body) in [
        (Method::POST, "/api/v1/documents".to_owned(), json!({})),
        (
            Method::POST,
            "/api/v1/documents".to_owned(),
            json!({"title": 5}),
        ),
        (
            Method::POST,
            "/api/v1/documents".to_owned(),
            json!(["title"]),
        ),
        (
            Method::POST,
            "/api/v1/projects".to_owned(),
            json!({"name": "ok", "metadata": "nope"}),
        ),
        (Method::PUT, format!("/api/v1/documents/{id}"), json!({})),
        (
            Method::PUT,
            format!("/api/v1/documents/{id}"),
            json!({"title": "x".repeat(600)}),
        ),
    ] {
        let (status, _, body) = call(&server, method, &path, Some(&token), Some(body)).await;
        assert_envelope_error(status, &body, 400);
    }
    let (status, _, body) = call(
        &server,
        Method::GET,
        "/api/v1/documents?limit=lots",
        Some(&token),
        None,
    )
    .await;
    assert_envelope_error(status, &body, 400);
    let (status, _, body) = call(
        &server,
        Method::GET,
        "/api/v1/projects/no-such-id",
        Some(&token),
        None,
    )
    .await;
    assert_envelope_error(status, &body, 404);
    let (_, _, kept) = call(
        &server,
        Method::GET,
        &format!("/api/v1/documents/{id}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(kept["data"]["document"]["title"], "Keep me");
}

#[tokio::test]
async fn a_bearer_jwt_is_verified_and_a_bad_one_is_refused_saying_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let private = dir.path().join("private.pem");
    let public = dir.path().join("public.pem");
    let openssl = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(ok, "openssl {args:?}");
    };
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        private.to_str().expect("path"),
    ]);
    openssl(&[
        "rsa",
        "-in",
        private.to_str().expect("path"),
        "-pubout",
        "-out",
        public.to_str().expect("path"),
    ]);
    let config = format!(
        "[jwt]\naudience = \"authenticated\"\npublic_key_file = {:?}\n",
        public.to_str().expect("path")
    );
    let server = server::start(&config, &[("SANCTUARY_JWT_SECRET", SECRET)]).await;
    use reqwest::Method;

    let claims = json!({"sub": "dora", "aud": "authenticated", "exp": now() + 600});
    let rs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(&std::fs::read(&private).expect("key")).expect("an RSA key"),
    )
    .expect("a token");
    let (status, _, body) = call(
        &server,
        Method::POST,
        "/api/v1/projects",
        Some(&rs256),
        Some(json!({"name": "RS"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["project"]["user_id"], "jwt:dora");
    let hs = hs256("dora", SECRET, now() + 600);
    let (_, headers, _) = call(&server, Method::GET, "/api/v1/projects", Some(&hs), None).await;
    assert_eq!(headers["x-total-count"], "1", "the same user by either key");

    let expired = hs256("dora", SECRET, now() - 3600);
    let forged = hs256("dora", "another-secret-another-secret-another", now() + 600);
    let wrong_audience = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "dora", "aud": "anon", "exp": now() + 600}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("a token");
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &json!({"sub": "dora", "aud": "authenticated", "exp": now() + 600}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("a token");
    for (token, why) in [
        (Some(expired.as_str()), "Expired"),
        (Some(forged.as_str()), "Signature"),
        (Some(wrong_audience.as_str()), "Audience"),
        (Some(hs512.as_str()), "HS512"),
        (Some("eyJnot.a.jwt"), "not a valid JWT"),
        (None, "credential"),
    ] {
        let (status, _, body) = call(&server, Method::GET, "/api/v1/documents", token, None).await;
        assert_envelope_error(status, &body, 401);
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(why)),
            "{why}: {body}"
        );
    }
    // The host's own routes keep serving.
    let (status, _, _) = call(&server, Method::GET, "/api/dev/ping", None, None).await;
    assert_eq!(status, 200);
}
