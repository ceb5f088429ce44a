//! Load-time rules for the tools an mcp-server plugin publishes. A plugin whose
//! `list-tools` breaks one of them fails its load with the reason, so nothing it
//! publishes reaches MCP `tools/list` unchecked: names follow the MCP rules (1-64
//! characters of `A-Z a-z 0-9 _ . -`, unique within the plugin, without the host's `__`
//! separator), each input schema is a JSON object that compiles as JSON Schema, and the
//! list and its descriptions are bounded. What `mcp-ext.describe-tools` adds is checked
//! too ([`validate_info`]): it describes listed tools only, once each, with short titles
//! and output schemas that are object schemas.

use std::collections::BTreeSet;

use crate::runtime::mcp::{Tool, ToolInfo};

/// Separates a plugin id from a tool or prompt name where MCP clients see them:
/// `time__current_time`.
pub const SEPARATOR: &str = "__";

/// Most tools one plugin may publish.
pub const MAX_TOOLS: usize = 256;
/// Longest tool name, in bytes.
pub const MAX_NAME: usize = 64;
/// Longest tool description, in bytes.
pub const MAX_DESCRIPTION: usize = 8 * 1024;
/// Longest input schema, in bytes.
pub const MAX_SCHEMA: usize = 64 * 1024;
/// Longest tool title, in bytes.
pub const MAX_TITLE: usize = 256;

/// Checks what a plugin's `describe-tools` says about its `tools`: each entry names a
/// listed tool, once; a title is 1-256 bytes without control characters; an output
/// schema is a JSON Schema of `"type": "object"` (as MCP requires of `outputSchema`).
pub fn validate_info(tools: &[Tool], info: &[ToolInfo]) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for described in info {
        let shown = shown(&described.name);
        if !tools.iter().any(|t| t.name == described.name) {
            return Err(format!("describes tool `{shown}`, which it does not list"));
        }
        if !seen.insert(described.name.as_str()) {
            return Err(format!("tool `{shown}` is described twice"));
        }
        if let Some(title) = &described.title
            && (title.is_empty() || title.len() > MAX_TITLE || title.chars().any(char::is_control))
        {
            return Err(format!(
                "tool `{shown}`: a title must be 1-{MAX_TITLE} bytes without control characters"
            ));
        }
        if let Some(schema) = &described.output_schema {
            check_schema(schema).map_err(|why| format!("tool `{shown}`: output schema {why}"))?;
            let typed = serde_json::from_str::<serde_json::Value>(schema)
                .is_ok_and(|s| s.get("type").is_some_and(|t| t == "object"));
            if !typed {
                return Err(format!(
                    "tool `{shown}`: output schema must say `\"type\": \"object\"`"
                ));
            }
        }
    }
    Ok(())
}

/// Checks `tools` against the rules above; the error names the first tool at fault (its
/// name cut to 64 characters) and what is wrong.
pub fn validate(tools: &[Tool]) -> Result<(), String> {
    if tools.len() > MAX_TOOLS {
        return Err(format!(
            "{} tools (at most {MAX_TOOLS} are allowed)",
            tools.len()
        ));
    }
    let mut seen = BTreeSet::new();
    for tool in tools {
        let shown = shown(&tool.name);
        check_name(&tool.name).map_err(|why| format!("tool `{shown}`: {why}"))?;
        if !seen.insert(tool.name.as_str()) {
            return Err(format!("tool `{shown}` is listed twice"));
        }
        if tool.description.len() > MAX_DESCRIPTION {
            return Err(format!(
                "tool `{shown}`: description of {} bytes (at most {MAX_DESCRIPTION})",
                tool.description.len()
            ));
        }
        check_schema(&tool.input_schema)
            .map_err(|why| format!("tool `{shown}`: input schema {why}"))?;
    }
    Ok(())
}

fn shown(name: &str) -> String {
    name.chars()
        .take(MAX_NAME)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "a name must be 1-{MAX_NAME} characters (this one has {})",
            name.chars().count()
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err("a name may only hold A-Z, a-z, 0-9, `_`, `.` and `-`".into());
    }
    if name.contains(SEPARATOR) {
        return Err(format!(
            "a name must not contain `{}`, which separates plugin and tool in MCP names",
            SEPARATOR
        ));
    }
    Ok(())
}

fn check_schema(schema: &str) -> Result<(), String> {
    if schema.len() > MAX_SCHEMA {
        return Err(format!("of {} bytes (at most {MAX_SCHEMA})", schema.len()));
    }
    let value: serde_json::Value =
        serde_json::from_str(schema).map_err(|e| format!("is not JSON: {e}"))?;
    let Some(object) = value.as_object() else {
        return Err("must be a JSON object".into());
    };
    if let Some(kind) = object.get("type")
        && kind != "object"
    {
        return Err(format!("must describe an object (its `type` is {kind})"));
    }
    jsonschema::validator_for(&value)
        .map(|_| ())
        .map_err(|e| format!("is not a valid JSON Schema: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, schema: &str) -> Tool {
        Tool {
            name: name.into(),
            description: "d".into(),
            input_schema: schema.into(),
        }
    }

    const OBJECT: &str = r#"{"type":"object","properties":{"a":{"type":"string"}}}"#;

    #[test]
    fn accepts_names_of_the_mcp_charset_with_object_schemas() {
        validate(&[tool("read_file", OBJECT), tool("v1.get-x", "{}")]).expect("valid");
    }

    #[test]
    fn refuses_bad_names_duplicates_and_schemas_naming_the_tool() {
        let long = "x".repeat(10_000);
        let cases = [
            (vec![tool("../../etc", OBJECT)], "../../etc"),
            (vec![tool("", OBJECT)], "1-64"),
            (vec![tool(&long, OBJECT)], "this one has 10000"),
            (vec![tool("a__b", OBJECT)], "`__`"),
            (vec![tool("a", OBJECT), tool("a", OBJECT)], "twice"),
            (vec![tool("a", "not json")], "not JSON"),
            (vec![tool("a", "[1]")], "JSON object"),
            (
                vec![tool("a", r#"{"type":"string"}"#)],
                "describe an object",
            ),
            (
                vec![tool("a", r#"{"type":"object","minLength":"x"}"#)],
                "valid JSON Schema",
            ),
        ];
        for (tools, why) in cases {
            let err = validate(&tools).expect_err(why);
            assert!(err.contains(why), "{why}: {err}");
            assert!(err.len() < 500, "the error stays short: {err}");
        }
    }

    fn info(name: &str, title: Option<&str>, output: Option<&str>) -> ToolInfo {
        ToolInfo {
            name: name.into(),
            title: title.map(Into::into),
            annotations: crate::runtime::mcp::ToolAnnotations {
                read_only: Some(true),
                destructive: None,
                idempotent: None,
                open_world: None,
            },
            output_schema: output.map(Into::into),
        }
    }

    #[test]
    fn accepts_metadata_of_listed_tools_with_object_output_schemas() {
        let tools = [tool("a", OBJECT), tool("b", OBJECT)];
        validate_info(&tools, &[info("a", Some("Read A"), Some(OBJECT))]).expect("valid");
        validate_info(&tools, &[]).expect("nothing described");
    }

    #[test]
    fn refuses_metadata_of_unknown_tools_repeats_bad_titles_and_output_schemas() {
        let tools = [tool("a", OBJECT)];
        let cases = [
            (vec![info("zz", None, None)], "does not list"),
            (vec![info("a", None, None), info("a", None, None)], "twice"),
            (vec![info("a", Some(""), None)], "title"),
            (vec![info("a", Some("line\nbreak"), None)], "title"),
            (vec![info("a", None, Some("{}"))], "\"type\": \"object\""),
            (
                vec![info("a", None, Some(r#"{"type":"string"}"#))],
                "describe an object",
            ),
            (vec![info("a", None, Some("nope"))], "not JSON"),
        ];
        for (described, why) in cases {
            let err = validate_info(&tools, &described).expect_err(why);
            assert!(err.contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn refuses_too_many_tools() {
        let tools: Vec<Tool> = (0..=MAX_TOOLS)
            .map(|i| tool(&format!("t{i}"), "{}"))
            .collect();
        assert!(
            validate(&tools)
                .expect_err("too many")
                .contains("257 tools")
        );
    }
}
