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

/// Bodies documented as any JSON on purpose, by `(method, path)`: they say so.
const FREE_FORM_BODIES: [(&str, &str); 2] = [
    // The echo answers whatever it is sent.
    ("post", "/api/dev/echo"),
    // A tool's arguments: each tool has its own JSON Schema (`GET /api/mcp/servers`).
    ("post", "/api/mcp/servers/{server_name}/tools/{tool}"),
];

/// 2xx JSON answers documented as any JSON on purpose, by `(method, path)`.
const FREE_FORM_ANSWERS: [(&str, &str); 1] = [
    // The OpenAPI document itself (its own schema is OpenAPI's).
    ("get", "/api/openapi.json"),
];

/// Whether `schema` says nothing of its shape: no properties, items, variants, map values
/// or enumeration, and no type but `object` (or none).
fn is_bare(schema: &Value) -> bool {
    let Some(fields) = schema.as_object() else {
        return false;
    };
    let shaped = [
        "$ref",
        "properties",
        "items",
        "prefixItems",
        "oneOf",
        "anyOf",
        "allOf",
        "additionalProperties",
        "enum",
        "const",
        "contentSchema",
    ];
    if shaped.iter().any(|key| fields.contains_key(*key)) {
        return false;
    }
    match fields.get("type") {
        None => true,
        Some(Value::String(kind)) => kind == "object",
        Some(Value::Array(kinds)) => kinds.iter().all(|k| k == "object" || k == "null"),
        Some(_) => false,
    }
}

/// Whether `text` says the value is free-form.
fn says_free_form(text: Option<&Value>) -> bool {
    text.and_then(Value::as_str)
        .is_some_and(|t| t.contains("free-form") || t.contains("Any JSON"))
}

/// `schema`, or the component it refers to.
fn resolved<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// The bare schemas under `schema` (properties, items, variants, map values), by where.
fn bare_parts(schema: &Value, at: &str, out: &mut Vec<(String, Value)>) {
    // A value said to be free-form (e.g. a map of the client's own keys) is free-form
    // all the way down.
    if says_free_form(schema.get("description")) {
        return;
    }
    if is_bare(schema) {
        out.push((at.to_owned(), schema.clone()));
        return;
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            bare_parts(property, &format!("{at}.{name}"), out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if schema[key].is_object() {
            bare_parts(&schema[key], &format!("{at}[]"), out);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for (i, variant) in schema[key].as_array().into_iter().flatten().enumerate() {
            bare_parts(variant, &format!("{at}|{i}"), out);
        }
    }
}

#[test]
fn request_bodies_and_json_answers_have_a_shape_unless_listed_as_free_form() {
    let doc = serde_json::to_value(document()).expect("serializes");
    let mut shapeless = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let key = (method.as_str(), path.as_str());
            let mut bodies: Vec<(&Value, Option<&Value>, bool, String)> = Vec::new();
            for (media, content) in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                let listed = FREE_FORM_BODIES.contains(&key);
                let what = format!("{method} {path} request body ({media})");
                bodies.push((
                    &content["schema"],
                    op["requestBody"].get("description"),
                    listed,
                    what,
                ));
            }
            for (status, response) in op["responses"].as_object().expect("responses") {
                if !status.starts_with('2') {
                    continue;
                }
                // An answer with a body documents it (202 and 204 have none, nor has the
                // end of an MCP session).
                let bodiless =
                    ["202", "204"].contains(&status.as_str()) || key == ("delete", "/mcp");
                if response.get("content").is_none() && !bodiless {
                    shapeless.push(format!("{method} {path} {status} answer: no content"));
                }
                for (media, content) in response["content"].as_object().into_iter().flatten() {
                    if !media.contains("json") {
                        continue;
                    }
                    let listed = FREE_FORM_ANSWERS.contains(&key);
                    let what = format!("{method} {path} {status} answer ({media})");
                    bodies.push((
                        &content["schema"],
                        response.get("description"),
                        listed,
                        what,
                    ));
                }
            }
            for (schema, description, listed, what) in bodies {
                let schema = resolved(&doc, schema);
                if !is_bare(schema) {
                    continue;
                }
                let said = says_free_form(schema.get("description")) || says_free_form(description);
                if !(listed && said) {
                    shapeless.push(what);
                }
            }
        }
    }
    assert!(
        shapeless.is_empty(),
        "bare schemas, neither described nor listed as free-form: {shapeless:#?}"
    );
}

#[test]
fn component_properties_have_a_shape_or_say_they_are_free_form() {
    let doc = serde_json::to_value(document()).expect("serializes");
    let mut shapeless = Vec::new();
    for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
        let mut parts = Vec::new();
        bare_parts(schema, name, &mut parts);
        for (at, _) in parts {
            if at != *name {
                shapeless.push(at);
            }
        }
    }
    assert!(
        shapeless.is_empty(),
        "component properties without a shape that do not say they are free-form: {shapeless:#?}"
    );
}

/// A validator of the served document's component `name`, its references resolved
/// within the document (OpenAPI 3.1's schemas are JSON Schema 2020-12).
fn component_validator(name: &str) -> jsonschema::Validator {
    let doc = serde_json::to_value(document()).expect("serializes");
    let schema = serde_json::json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    });
    jsonschema::draft202012::new(&schema)
        .unwrap_or_else(|e| panic!("{name} is a valid JSON Schema: {e}"))
}

/// The errors of `value` against the served document's component `name`.
fn schema_errors(name: &str, value: &Value) -> Vec<String> {
    component_validator(name)
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The JSON files `dir` (relative to the repository) holds, or the `manifest.json` of
/// each of its subdirectories when `manifests` is set.
fn json_files(dir: &str, manifests: bool) -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let path = if manifests {
                path.join(crate::plugins::MANIFEST_FILE)
            } else {
                path
            };
            (path.is_file() && path.extension().is_some_and(|e| e == "json")).then_some(path)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no JSON files in {dir}");
    files
}

#[test]
fn the_uploaded_manifest_is_described_by_the_runtimes_manifest_type() {
    let doc = serde_json::to_value(document()).expect("serializes");
    let upload = &doc["components"]["schemas"]["UploadBody"]["properties"]["manifest"];
    assert_eq!(upload["$ref"], "#/components/schemas/Manifest", "{upload}");
    let mut manifests = json_files("registry/tests/manifests/good", false);
    manifests.extend(json_files("plugins", true));
    for path in manifests {
        let text = std::fs::read_to_string(&path).expect("read");
        let manifest =
            crate::manifest::Manifest::from_json(&text).unwrap_or_else(|e| panic!("{e}"));
        let value: Value = serde_json::from_str(&text).expect("json");
        let errors = schema_errors("Manifest", &value);
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        // What the host writes back (`manifest.json` of an installed plugin) too.
        let written = serde_json::to_value(&manifest).expect("serializes");
        let errors = schema_errors("Manifest", &written);
        assert!(
            errors.is_empty(),
            "{} as written: {errors:?}",
            path.display()
        );
    }
    // The manifest's own rules, as the schema says them: a typo and an unknown kind are
    // refused, named.
    for (name, fault) in [("unknown-field", "permisions"), ("bad-kind", "kind")] {
        let path = format!("registry/tests/manifests/bad/{name}.json");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text = std::fs::read_to_string(root.join(&path)).expect("read");
        let errors = schema_errors("Manifest", &serde_json::from_str(&text).expect("json"));
        assert!(
            errors.iter().any(|e| e.contains(fault)),
            "{path}: {errors:?}"
        );
    }
}

#[test]
fn the_runtimes_serialized_types_are_what_their_schemas_describe() {
    use crate::runtime::system::{Cpu, Disk, Memory, Network};
    let permissions = crate::manifest::Permissions {
        network: vec!["api.example.com".into()],
        files: vec![
            crate::manifest::FileGrant {
                path: "data".into(),
                guest_path: Some("/data".into()),
                write: true,
            },
            crate::manifest::FileGrant {
                path: "/srv/docs".into(),
                guest_path: None,
                write: false,
            },
        ],
        ..Default::default()
    };
    let budget = crate::runtime::budget::Limits::default();
    let stats = crate::runtime::CallStats::default().snapshot();
    let cpu = Cpu {
        usage_percent: 1.5,
        cores: 2,
        load_average: (0.1, 0.2, 0.3),
    };
    let memory = Memory {
        total_bytes: 4,
        used_bytes: 2,
        available_bytes: 2,
        host_process_bytes: 1,
    };
    let disk = Disk {
        mount_point: "/".into(),
        total_bytes: 2,
        available_bytes: 1,
    };
    let network = Network {
        received_bytes: 1,
        transmitted_bytes: 1,
    };
    let values = [
        ("Permissions", serde_json::to_value(&permissions)),
        ("Limits", serde_json::to_value(budget)),
        ("StatsSnapshot", serde_json::to_value(stats)),
        ("Cpu", serde_json::to_value(cpu)),
        ("Memory", serde_json::to_value(memory)),
        ("Disk", serde_json::to_value(disk)),
        ("Network", serde_json::to_value(network)),
        (
            "PluginKind",
            serde_json::to_value(crate::manifest::Kind::ScoutCheck),
        ),
    ];
    for (name, value) in values {
        let value = value.expect("serializes");
        let errors = schema_errors(name, &value);
        assert!(errors.is_empty(), "{name} {value}: {errors:?}");
    }
    // The schemas are not so loose that anything passes: a load average is numbers.
    let mut cpu = serde_json::to_value(Cpu {
        usage_percent: 0.0,
        cores: 1,
        load_average: (0.0, 0.0, 0.0),
    })
    .expect("serializes");
    cpu["load_average"] = serde_json::json!(["0.1", "0.2", "0.3"]);
    assert!(!schema_errors("Cpu", &cpu).is_empty(), "{cpu}");
    // And the server's views refer to them rather than copy them.
    let doc = serde_json::to_value(document()).expect("serializes");
    let schemas = &doc["components"]["schemas"];
    let view = &schemas["PluginView"]["properties"];
    assert_eq!(
        view["permissions"]["$ref"],
        "#/components/schemas/Permissions"
    );
    assert_eq!(view["kind"]["$ref"], "#/components/schemas/PluginKind");
    let system = &schemas["SystemDetail"]["properties"];
    assert_eq!(
        system["cpu"]["$ref"], "#/components/schemas/Cpu",
        "{system}"
    );
}

#[test]
fn event_streams_document_each_event_and_its_json_data() {
    let doc = serde_json::to_value(document()).expect("serializes");
    for (path, method, events) in [
        ("/api/chat/stream", "post", ["chunk", "done", "error"]),
        (
            "/api/method/oropendola.chat.stream",
            "get",
            ["message", "done", "error"],
        ),
    ] {
        let schema = &doc["paths"][path][method]["responses"]["200"]["content"]["text/event-stream"]
            ["schema"];
        let schema = resolved(&doc, schema);
        let variants = schema["oneOf"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: one schema per event: {schema}"));
        let names: Vec<&str> = variants
            .iter()
            .filter_map(|v| v["properties"]["event"]["enum"][0].as_str())
            .collect();
        assert_eq!(names, events, "{path}");
        for variant in variants {
            let data = &variant["properties"]["data"];
            assert_eq!(data["contentMediaType"], "application/json", "{path}");
            let target = resolved(&doc, &data["contentSchema"]);
            assert!(target["properties"].is_object(), "{path}: {data}");
        }
    }
}
