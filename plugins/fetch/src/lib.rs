//! The `fetch` MCP server: one tool, `fetch`, that GETs a URL through the SDK's HTTP
//! client and gives back its text: HTML reduced to readable text (or raw with `raw`),
//! cut to `max_length` characters from `start_index`, saying when more remains.
//!
//! The host lets the plugin reach only the hosts its manifest lists under
//! `permissions.network`; a refused host is a `denied` error naming it. Redirects are
//! followed by hand (at most five), so each hop goes through the same check.

mod html;
mod url;

use std::time::Duration;

use sanctuary_plugin_api::http::{self, Request};
use sanctuary_plugin_api::mcp::{self, Content, McpServer, Tool, ToolInfo};
use sanctuary_plugin_api::{PluginError, args};
use serde::Deserialize;
use serde_json::json;

/// Default and largest `max_length`, in characters.
const LENGTH_DEFAULT: u64 = 5000;
const LENGTH_MAX: u64 = 1_000_000;
/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchArgs {
    url: String,
    max_length: Option<u64>,
    #[serde(default)]
    start_index: u64,
    #[serde(default)]
    raw: bool,
}

struct Fetch;

impl McpServer for Fetch {
    fn list_tools() -> Vec<Tool> {
        vec![Tool::new(
            "fetch",
            "Fetches a web page (HTTP GET) and returns its content as readable text: HTML is \
             reduced to text (scripts, styles and tags removed) unless `raw` is true. Returns \
             at most `max_length` characters (default 5000) starting at `start_index`, and \
             says how to read on when the page is longer. Only hosts the operator allowed \
             can be reached.",
            &json!({
                "type": "object",
                "properties": {
                    "url": { "type": "string", "pattern": "^[hH][tT][tT][pP][sS]?://", "minLength": 8, "description": "The http:// or https:// URL to fetch" },
                    "max_length": { "type": "integer", "minimum": 1, "maximum": LENGTH_MAX, "description": "Most characters to return (default 5000)" },
                    "start_index": { "type": "integer", "minimum": 0, "description": "Character to start at, to read on after a truncated answer (default 0)" },
                    "raw": { "type": "boolean", "description": "Return the body as received, without reducing HTML to text (default false)" }
                },
                "required": ["url"],
                "additionalProperties": false
            }),
        )]
    }

    /// `fetch` reads the web (open world) and changes nothing (read-only).
    fn describe_tools() -> Vec<ToolInfo> {
        vec![
            ToolInfo::new("fetch")
                .with_title("Fetch a web page")
                .read_only(true)
                .open_world(true),
        ]
    }

    fn call_tool(name: String, arguments: String) -> Result<Vec<Content>, PluginError> {
        match name.as_str() {
            "fetch" => fetch(args(&arguments)?),
            other => Err(mcp::unknown_tool(other)),
        }
    }
}

sanctuary_plugin_api::export!(mcp: Fetch);

fn fetch(request: FetchArgs) -> Result<Vec<Content>, PluginError> {
    if !url::is_http(&request.url) {
        return Err(PluginError::invalid_input(format!(
            "`url` must be an http:// or https:// URL, not `{}`",
            request.url
        )));
    }
    let mut target = request.url.clone();
    let mut hops = 0;
    let response = loop {
        let response = Request::get(&target)
            .header("accept", "text/html, text/plain;q=0.9, */*;q=0.5")
            .header("user-agent", "Sanctuary-fetch/0.1")
            .timeout(REQUEST_TIMEOUT)
            .send()?;
        let location = response.header("location").map(String::from);
        match (response.status, location) {
            (301 | 302 | 303 | 307 | 308, Some(location)) => {
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Err(PluginError::failed(format!(
                        "{} redirected more than {MAX_REDIRECTS} times",
                        request.url
                    )));
                }
                target = url::resolve(&target, &location);
            }
            _ => break response,
        }
    };
    if !response.is_success() {
        return Err(http::status_error(
            response.status,
            format!("GET {target} answered HTTP {}", response.status),
        ));
    }
    let content_type = response.header("content-type").map(String::from);
    if let Some(kind) = content_type.as_deref().filter(|t| !is_textual(t)) {
        return Err(PluginError::invalid_input(format!(
            "{target} is not text (content-type `{kind}`); fetch reads web pages and text only"
        )));
    }
    let body = response.text();
    let text = if !request.raw && html::is_html(content_type.as_deref(), &body) {
        html::to_text(&body)
    } else {
        body
    };
    let max = request
        .max_length
        .unwrap_or(LENGTH_DEFAULT)
        .clamp(1, LENGTH_MAX);
    Ok(vec![Content::text(excerpt(
        &target,
        &text,
        request.start_index,
        max,
    ))])
}

/// Whether a content type is something to read as text.
fn is_textual(content_type: &str) -> bool {
    let t = content_type.to_ascii_lowercase();
    t.starts_with("text/")
        || t.contains("json")
        || t.contains("xml")
        || t.contains("javascript")
        || t.starts_with("application/octet-stream")
}

/// `max` characters of `text` from `start`, headed by the URL, with a note saying how to
/// read on when more remains.
fn excerpt(url: &str, text: &str, start: u64, max: u64) -> String {
    let total = text.chars().count() as u64;
    if start >= total && total > 0 {
        return format!(
            "Contents of {url}: nothing at start_index {start}; the text is {total} characters long."
        );
    }
    let shown: String = text
        .chars()
        .skip(start as usize)
        .take(max as usize)
        .collect();
    let end = start + shown.chars().count() as u64;
    let mut out = format!("Contents of {url}:\n\n{shown}");
    if end < total {
        out.push_str(&format!(
            "\n\n[Content truncated: characters {start}-{end} of {total} shown. Call fetch \
             again with start_index={end} to read more.]"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_is_described_as_reading_an_open_world() {
        let described = Fetch::describe_tools();
        assert_eq!(described.len(), 1);
        assert_eq!(described[0].name, Fetch::list_tools()[0].name);
        let hints = &described[0].annotations;
        assert_eq!(
            (hints.read_only, hints.open_world),
            (Some(true), Some(true))
        );
    }

    #[test]
    fn the_schema_requires_the_url_and_forbids_other_arguments() {
        let tool = &Fetch::list_tools()[0];
        let schema: serde_json::Value = serde_json::from_str(&tool.input_schema).expect("JSON");
        assert_eq!(schema["required"], json!(["url"]));
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn a_long_text_is_cut_and_says_where_to_go_on() {
        let text = "a".repeat(12);
        let out = excerpt("http://x/", &text, 0, 5);
        assert!(
            out.starts_with("Contents of http://x/:\n\naaaaa\n\n[Content truncated"),
            "{out}"
        );
        assert!(out.contains("characters 0-5 of 12"), "{out}");
        assert!(out.contains("start_index=5"), "{out}");
        let rest = excerpt("http://x/", &text, 10, 5);
        assert!(rest.ends_with("aa"), "{rest}");
        assert!(!rest.contains("truncated"), "{rest}");
    }

    #[test]
    fn a_short_text_is_whole_and_counts_characters_not_bytes() {
        let out = excerpt("http://x/", "héllo", 0, 5);
        assert_eq!(out, "Contents of http://x/:\n\nhéllo");
    }

    #[test]
    fn a_start_past_the_end_says_how_long_the_text_is() {
        let out = excerpt("http://x/", "abc", 10, 5);
        assert!(out.contains("3 characters long"), "{out}");
    }

    #[test]
    fn only_text_content_types_are_read() {
        assert!(is_textual("text/html; charset=utf-8"));
        assert!(is_textual("application/json"));
        assert!(is_textual("application/xhtml+xml"));
        assert!(!is_textual("image/png"));
        assert!(!is_textual("application/pdf"));
    }
}
