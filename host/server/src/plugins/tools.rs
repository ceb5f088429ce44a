//! Load-time rules for the tools an mcp-server plugin publishes. A plugin whose
//! `list-tools` breaks one of them fails its load with the reason, so nothing it
//! publishes reaches MCP `tools/list` unchecked: names follow the MCP rules (1-64
//! characters of `A-Z a-z 0-9 _ . -`, unique within the plugin, without the host's `__`
//! separator), each input schema is a JSON object that compiles as JSON Schema, and the
//! list and its descriptions are bounded.

use std::collections::BTreeSet;

use crate::runtime::mcp::Tool;

/// Most tools one plugin may publish.
pub const MAX_TOOLS: usize = 256;
/// Longest tool name, in bytes.
pub const MAX_NAME: usize = 64;
/// Longest tool description, in bytes.
pub const MAX_DESCRIPTION: usize = 8 * 1024;
/// Longest input schema, in bytes.
pub const MAX_SCHEMA: usize = 64 * 1024;

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
    if name.contains(crate::mcp::SEPARATOR) {
        return Err(format!(
            "a name must not contain `{}`, which separates plugin and tool in MCP names",
            crate::mcp::SEPARATOR
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
