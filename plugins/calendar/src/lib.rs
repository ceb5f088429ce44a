//! The `calendar` MCP server: meetings from iCalendar (RFC 5545) feeds. Feeds are the URLs
//! of its configuration (`[plugins.calendar] feeds`); any other URL is refused, and the host
//! lets the plugin reach only the hosts its manifest grants. `events` fetches the feeds
//! over `wasi:http` and answers their occurrences in a window (recurrence expanded, times
//! in UTC, see [`ics`]); `parse` does the same for iCalendar text given directly.

mod ics;

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sanctuary_plugin_api::http::{self, Request};
use sanctuary_plugin_api::mcp::{self, Content, McpServer, Tool};
use sanctuary_plugin_api::{PluginError, args, config};
use serde::Deserialize;
use serde_json::json;

/// How long fetching one feed may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest feed read, in bytes.
const MAX_FEED_BYTES: usize = 4 << 20;

/// The operator's settings (`[plugins.calendar]`).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    /// The iCalendar feeds (http:// or https:// URLs).
    feeds: Vec<String>,
    /// The zone of times written without one (floating times); default UTC.
    default_timezone: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            feeds: Vec::new(),
            default_timezone: "UTC".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsArgs {
    start: String,
    end: String,
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParseArgs {
    text: String,
    start: String,
    end: String,
}

struct Calendar;

fn window_schema(extra: serde_json::Value, required: &[&str]) -> serde_json::Value {
    let mut properties = json!({
        "start": { "type": "string", "minLength": 1, "description": "Start of the window, RFC 3339 (e.g. 2024-03-04T00:00:00Z)" },
        "end": { "type": "string", "minLength": 1, "description": "End of the window (exclusive), RFC 3339" }
    });
    if let (Some(map), Some(extra)) = (properties.as_object_mut(), extra.as_object()) {
        map.extend(extra.clone());
    }
    json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
}

impl McpServer for Calendar {
    fn list_tools() -> Vec<Tool> {
        vec![
            Tool::new(
                "events",
                "Fetches the configured iCalendar feeds (or the one named by `url`, which must \
                 be configured) and returns every event occurrence overlapping [start, end): \
                 recurring events expanded, times in UTC with the event's time zone named.",
                &window_schema(
                    json!({ "url": { "type": "string", "pattern": "^[hH][tT][tT][pP][sS]?://", "description": "One configured feed" } }),
                    &["start", "end"],
                ),
            ),
            Tool::new(
                "parse",
                "Reads iCalendar (RFC 5545) text and returns its event occurrences overlapping \
                 [start, end), like `events`.",
                &window_schema(
                    json!({ "text": { "type": "string", "minLength": 1, "description": "iCalendar text (BEGIN:VCALENDAR ...)" } }),
                    &["text", "start", "end"],
                ),
            ),
        ]
    }

    fn call_tool(name: String, arguments: String) -> Result<Vec<Content>, PluginError> {
        let settings: Settings = config()?;
        match name.as_str() {
            "events" => events(&settings, args(&arguments)?),
            "parse" => {
                let request: ParseArgs = args(&arguments)?;
                let (from, to) = window(&request.start, &request.end)?;
                let found = ics::occurrences(&request.text, from, to, default_zone(&settings)?)
                    .map_err(PluginError::invalid_input)?;
                answer(found, Vec::new())
            }
            other => Err(mcp::unknown_tool(other)),
        }
    }
}

sanctuary_plugin_api::export!(mcp: Calendar);

fn default_zone(settings: &Settings) -> Result<Tz, PluginError> {
    settings.default_timezone.parse::<Tz>().map_err(|_| {
        PluginError::failed(format!(
            "default_timezone `{}` is not an IANA time zone",
            settings.default_timezone
        ))
    })
}

fn window(start: &str, end: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), PluginError> {
    let parse = |name: &str, text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                PluginError::invalid_input(format!("`{name}` is not an RFC 3339 time: {e}"))
            })
    };
    let (from, to) = (parse("start", start)?, parse("end", end)?);
    if to <= from {
        return Err(PluginError::invalid_input("`end` must be after `start`"));
    }
    if to - from > chrono::Duration::days(366) {
        return Err(PluginError::invalid_input(
            "the window may be at most 366 days long",
        ));
    }
    Ok((from, to))
}

fn answer(found: Vec<ics::Occurrence>, errors: Vec<String>) -> Result<Vec<Content>, PluginError> {
    let text = if found.is_empty() {
        "no events in the window".to_owned()
    } else {
        found
            .iter()
            .map(|o| format!("{} – {}: {}", o.start, o.end, o.title))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(vec![
        Content::text(text),
        Content::json(&json!({ "events": found, "errors": errors }))?,
    ])
}

fn events(settings: &Settings, request: EventsArgs) -> Result<Vec<Content>, PluginError> {
    let (from, to) = window(&request.start, &request.end)?;
    let zone = default_zone(settings)?;
    let feeds: Vec<&String> = match &request.url {
        Some(url) if settings.feeds.contains(url) => vec![url],
        Some(url) => {
            return Err(PluginError::denied(format!(
                "{url} is not one of the configured feeds ([plugins.calendar] feeds)"
            )));
        }
        None => settings.feeds.iter().collect(),
    };
    if feeds.is_empty() {
        return Err(PluginError::invalid_input(
            "no feeds are configured: set [plugins.calendar] feeds = [\"https://…/calendar.ics\"]",
        ));
    }
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for feed in feeds {
        let response = Request::get(feed)
            .header("accept", "text/calendar, text/plain;q=0.5")
            .header("user-agent", "Sanctuary-calendar/0.1")
            .timeout(REQUEST_TIMEOUT)
            .send()?;
        if !response.is_success() {
            return Err(http::status_error(
                response.status,
                format!("GET {feed} answered HTTP {}", response.status),
            ));
        }
        let body = response.text();
        if body.len() > MAX_FEED_BYTES {
            errors.push(format!(
                "{feed}: larger than {MAX_FEED_BYTES} bytes, skipped"
            ));
            continue;
        }
        match ics::occurrences(&body, from, to, zone) {
            Ok(events) => found.extend(events),
            Err(err) => errors.push(format!("{feed}: {err}")),
        }
    }
    found.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
    answer(found, errors)
}
