//! Reading and rewriting `manifest.json` (and registry files) as the author wrote them:
//! the commands change single fields (`sha256`, `component`, `signature`) and write the
//! file back with the manifest's fields in their documented order, unknown ones after, so
//! a rewrite never reshuffles a hand-written file into alphabetical order.

use std::path::Path;

use anyhow::{Context as _, Result};
use serde_json::Value;

/// The documented order of a manifest's fields (as in `registry/manifest.schema.json`).
const ORDER: &[&str] = &[
    "schema_version",
    "id",
    "name",
    "kind",
    "version",
    "api",
    "description",
    "author",
    "category",
    "tags",
    "download_count",
    "rating",
    "last_updated",
    "repository_url",
    "documentation_url",
    "component",
    "sha256",
    "signature",
    "permissions",
];

/// Order of a registry file's top-level fields.
const REGISTRY_ORDER: &[&str] = &["schema_version", "name", "plugins"];

/// Reads a JSON file.
pub fn read(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// Writes a manifest or registry `value` to `path`, fields in their documented order.
pub fn write(path: &Path, value: &Value) -> Result<()> {
    let mut text = render(value, 0);
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Pretty JSON with objects' keys in manifest order (registry order at the top of a
/// registry), two-space indentation.
pub fn render(value: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent + 1);
    let close = "  ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            let order = if map.contains_key("plugins") {
                REGISTRY_ORDER
            } else {
                ORDER
            };
            let mut keys: Vec<&String> = order
                .iter()
                .filter_map(|k| map.get_key_value(*k).map(|(k, _)| k))
                .collect();
            keys.extend(map.keys().filter(|k| !order.contains(&k.as_str())));
            let fields: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{pad}{}: {}",
                        Value::String((*k).clone()),
                        render(&map[k.as_str()], indent + 1)
                    )
                })
                .collect();
            format!("{{\n{}\n{close}}}", fields.join(",\n"))
        }
        Value::Array(items) if items.iter().any(|v| v.is_object() || v.is_array()) => {
            let items: Vec<String> = items
                .iter()
                .map(|v| format!("{pad}{}", render(v, indent + 1)))
                .collect();
            format!("[\n{}\n{close}]", items.join(",\n"))
        }
        // Scalars and flat arrays on one line: `"tags": ["a", "b"]`.
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(Value::to_string).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_come_out_in_manifest_order_with_unknown_ones_last() {
        let value = json!({
            "version": "0.1.0", "zzz": 1, "id": "x", "schema_version": 1,
            "permissions": { "network": ["a.example"], "memory_mb": 16 },
            "tags": ["b", "c"]
        });
        let text = render(&value, 0);
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle}: {text}"))
        };
        assert!(at("schema_version") < at("\"id\""));
        assert!(at("\"id\"") < at("\"version\""));
        assert!(at("\"version\"") < at("tags"));
        assert!(at("permissions") < at("zzz"));
        assert!(text.contains("\"tags\": [\"b\", \"c\"]"), "{text}");
        let back: Value = serde_json::from_str(&text).expect("still JSON");
        assert_eq!(back, value);
    }

    #[test]
    fn a_registry_keeps_its_plugins_list_last() {
        let value = json!({ "plugins": [{ "id": "a", "schema_version": 1 }], "schema_version": 1, "name": "R" });
        let text = render(&value, 0);
        assert!(text.find("\"name\"") < text.find("\"plugins\""), "{text}");
        let back: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(back, value);
    }
}
