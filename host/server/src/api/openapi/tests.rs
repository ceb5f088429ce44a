//! Tests of [`super`] (openapi).

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;

use utoipa::openapi::path::HttpMethod;

use super::*;
use crate::api::test_support::{get as get_request, send, state};

/// The Rust files under `dir`, recursively.
fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `(method, path)` routed anywhere in `src/`, read from the source.
fn routed() -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    sources(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut found = BTreeSet::new();
    for path in files {
        // Test modules kept in files of their own (`foo/tests.rs`) route test requests.
        if path
            .file_name()
            .is_some_and(|name| name == "tests.rs" || name.to_string_lossy().ends_with("_tests.rs"))
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source");
        // Only the router, not the tests that send requests.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for call in text.split(".route(").skip(1) {
            let Some(rest) = call.trim_start().strip_prefix('"') else {
                continue;
            };
            let Some((route, handlers)) = rest.split_once('"') else {
                continue;
            };
            let handlers = until_closing_paren(handlers);
            for method in ["get", "post", "put", "delete", "patch"] {
                let called = handlers
                    .match_indices(&format!("{method}("))
                    .any(|(at, _)| {
                        at == 0
                            || !handlers.as_bytes()[at - 1].is_ascii_alphanumeric()
                                && handlers.as_bytes()[at - 1] != b'_'
                    });
                if called {
                    found.insert((method.to_string(), route.to_string()));
                }
            }
        }
    }
    found
}

/// The text up to the parenthesis closing the `.route(` call being read.
fn until_closing_paren(text: &str) -> &str {
    let mut depth = 1;
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[..at];
                }
            }
            _ => {}
        }
    }
    text
}

fn documented() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(document()).expect("json");
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            found.insert((method.clone(), path.clone()));
        }
    }
    found
}

#[test]
fn query_parameters_are_documented_in_the_query_and_schemes_are_declared() {
    let doc = serde_json::to_value(document()).expect("serializes");
    for (path, name) in [
        ("/api/chat/sessions", "limit"),
        ("/api/chat/sessions", "user_id"),
        ("/api/jobs", "status"),
        ("/api/analytics", "granularity"),
        ("/api/mcp/search", "query"),
    ] {
        let parameters = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} has parameters"));
        let parameter = parameters
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} documents {name}"));
        assert_eq!(parameter["in"], "query", "{path} {name}");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    let install = &doc["paths"]["/api/plugins/{id}/install"]["post"];
    assert_eq!(install["security"][0]["bearer"][0], "plugins", "{install}");
    assert!(install["responses"]["429"].is_object());
    let completions = &doc["paths"]["/v1/chat/completions"]["post"]["responses"];
    assert_eq!(
        completions["413"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/OpenAiErrorBody"
    );
}

#[test]
fn every_routed_path_and_method_is_documented() {
    let routed = routed();
    assert!(
        routed.contains(&("post".into(), "/api/chat/mama-bear".into())),
        "the source scan works: {routed:?}"
    );
    let documented = documented();
    // The console's HTML pages and assets (`/console`) are not API.
    let missing: Vec<_> = routed
        .difference(&documented)
        .filter(|(_, p)| !p.starts_with("/console"))
        .collect();
    assert!(missing.is_empty(), "undocumented routes: {missing:?}");
}

#[tokio::test]
async fn every_documented_route_exists() {
    let (state, _db, _dir) = state().await;
    let app = crate::app(state);
    for (method, path) in documented() {
        let uri = path.replace(['{', '}'], "");
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
        let request = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .body(Body::empty())
            .expect("request");
        let (status, _, body) = send(app.clone(), request).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let fallback = body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("No route for"));
        assert!(!fallback, "{method} {path} is documented but not routed");
    }
}

#[tokio::test]
async fn the_document_is_served_as_openapi_3_with_the_seed_schemas() {
    let (state, _db, _dir) = state().await;
    let (status, _, body) = send(crate::app(state), get_request("/api/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    assert_eq!(body["info"]["version"], env!("CARGO_PKG_VERSION"));
    let schemas = &body["components"]["schemas"];
    for field in [
        "success",
        "response",
        "session_id",
        "user_id",
        "timestamp",
        "metadata",
    ] {
        assert!(
            schemas["ChatReply"]["properties"].get(field).is_some(),
            "ChatReply.{field}: {}",
            schemas["ChatReply"]
        );
    }
    for field in [
        "git",
        "dependencies",
        "build",
        "performance",
        "health_score",
    ] {
        assert!(
            schemas["ProjectStatus"]["properties"].get(field).is_some(),
            "{field}"
        );
    }
    let chat = &body["paths"]["/api/chat/mama-bear"]["post"];
    assert!(chat["responses"].get("400").is_some());
    // Seed-001 routes document their envelope, the others the seed-000 body.
    let schema_of = |path: &str, method: &str, status: &str| {
        body["paths"][path][method]["responses"][status]["content"]["application/json"]
            ["schema"]["$ref"]
            .clone()
    };
    assert_eq!(
        schema_of("/api/jobs", "post", "400"),
        "#/components/schemas/EnvelopeFailure"
    );
    assert_eq!(
        schema_of("/api/plugins/{id}", "get", "404"),
        "#/components/schemas/ErrorBody"
    );
    assert!(
        schemas["EnvelopeFailure"]["properties"]
            .get("error")
            .is_some()
    );
    let plugin = &body["paths"]["/api/plugins/{id}"]["get"];
    assert_eq!(plugin["parameters"][0]["name"], "id");
    assert_eq!(plugin["parameters"][0]["in"], "path");
    assert_eq!(
        body["paths"]["/"]["get"]["operationId"],
        Value::from("get_root")
    );
}

#[test]
fn operation_ids_are_readable() {
    assert_eq!(
        operation_id(&HttpMethod::Get, "/api/plugins/{id}"),
        "get_api_plugins_id"
    );
    assert_eq!(
        operation_id(&HttpMethod::Post, "/api/dev/echo"),
        "post_api_dev_echo"
    );
}
