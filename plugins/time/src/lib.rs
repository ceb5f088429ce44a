//! The `time` MCP server: the current time in any IANA time zone (`current_time`),
//! conversion of a time between zones (`convert_time`), the list of zone names as the
//! resource `time://zones`, and a `meeting_planner` prompt.
//!
//! The clock is WASI's wall clock, which the host provides; the zone database is compiled
//! in (`chrono-tz`), so the plugin needs no permission at all. Both tools are read-only
//! and reach nothing outside the plugin (MCP annotations), and both return structured
//! content with an output schema (`clock::ZonedTime`, `clock::Conversion`).

mod clock;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use sanctuary_plugin_api::mcp::{
    self, McpServer, Prompt, PromptArgument, PromptMessage, Resource, Structured, ToolArgs,
    ToolEntry,
};
use sanctuary_plugin_api::{PluginError, args, config, tool};
use serde::Deserialize;

/// URI of the resource listing every zone name.
const ZONES_URI: &str = "time://zones";

/// The operator's settings (`[plugins.time]`).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    /// Zone of `current_time` when the caller names none.
    default_timezone: String,
    /// Zones `meeting_planner` plans for when the caller names none.
    zones: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_timezone: "UTC".into(),
            zones: Vec::new(),
        }
    }
}

/// The arguments of `current_time`.
#[derive(Deserialize, ToolArgs)]
#[serde(deny_unknown_fields)]
struct CurrentTimeArgs {
    /// IANA time zone name such as `Europe/Paris` or `America/New_York`; defaults to UTC
    #[schema(min_length = 1)]
    timezone: Option<String>,
}

/// The arguments of `convert_time`.
#[derive(Deserialize, ToolArgs)]
#[serde(deny_unknown_fields)]
struct ConvertTimeArgs {
    /// `HH:MM` or `HH:MM:SS` (today in the source zone), `YYYY-MM-DDTHH:MM[:SS]` (local in
    /// the source zone), or RFC 3339 such as `2024-01-15T12:00:00Z`
    #[schema(min_length = 1)]
    time: String,
    /// IANA name of the zone `time` is in, e.g. `Europe/Paris`
    #[schema(min_length = 1)]
    source_timezone: String,
    /// IANA name of the zone to convert to, e.g. `Asia/Tokyo`
    #[schema(min_length = 1)]
    target_timezone: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MeetingPlannerArgs {
    zones: Option<String>,
    date: Option<String>,
}

struct Time;

impl McpServer for Time {
    // Names, descriptions (the functions' doc comments) and argument schemas (the
    // argument structs) come from the `#[tool]` functions below.
    const TOOLS: &'static [ToolEntry] = &[current_time::TOOL, convert_time::TOOL];

    fn list_resources() -> Vec<Resource> {
        vec![Resource::new(
            ZONES_URI,
            "Time zones",
            "Every IANA time zone name the tools accept, one per line",
            "text/plain",
        )]
    }

    fn read_resource(uri: String) -> Result<String, PluginError> {
        if uri != ZONES_URI {
            return Err(mcp::unknown_resource(&uri));
        }
        let mut names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        names.sort_unstable();
        Ok(names.join("\n"))
    }

    fn list_prompts() -> Vec<Prompt> {
        vec![Prompt {
            name: "meeting_planner".into(),
            description: "Plans a meeting across time zones: suggests times inside everyone's \
                          working hours and shows each in every zone."
                .into(),
            arguments: vec![
                PromptArgument::new(
                    "zones",
                    "Comma-separated IANA time zones of the participants, e.g. \
                     `Europe/Paris, America/New_York` (default: the zones the operator configured)",
                    false,
                ),
                PromptArgument::new(
                    "date",
                    "Day of the meeting, `YYYY-MM-DD` (default: today)",
                    false,
                ),
            ],
        }]
    }

    fn get_prompt(name: String, arguments: String) -> Result<Vec<PromptMessage>, PluginError> {
        if name != "meeting_planner" {
            return Err(mcp::unknown_prompt(&name));
        }
        let settings: Settings = config()?;
        let planner: MeetingPlannerArgs = args(&arguments)?;
        Ok(vec![PromptMessage::user(meeting_planner(
            planner,
            &settings.zones,
            clock::now(),
        )?)])
    }
}

sanctuary_plugin_api::export!(mcp: Time);

/// Current date and time in an IANA time zone (default UTC): RFC 3339 time, UTC offset,
/// abbreviation, daylight-saving flag, weekday and Unix seconds.
#[tool(title = "Current time", read_only, open_world = false)]
fn current_time(request: CurrentTimeArgs) -> Result<Structured<clock::ZonedTime>, PluginError> {
    let name = match request.timezone {
        Some(name) => name,
        None => config::<Settings>()?.default_timezone,
    };
    let now = clock::describe(clock::now(), clock::zone(&name)?);
    let sentence = clock::sentence(&now);
    Ok(Structured::new(now).with_text(sentence))
}

/// Converts a time from one IANA time zone to another and gives the offset difference.
/// `time` is `HH:MM` (today in the source zone), `YYYY-MM-DDTHH:MM` (local in the source
/// zone) or an RFC 3339 time.
#[tool(title = "Convert time between zones", read_only, open_world = false)]
fn convert_time(request: ConvertTimeArgs) -> Result<Structured<clock::Conversion>, PluginError> {
    let source = clock::zone(&request.source_timezone)?;
    let target = clock::zone(&request.target_timezone)?;
    let conversion = clock::convert(&request.time, source, target, clock::now())?;
    let mut text = clock::conversion_sentence(&conversion);
    for note in &conversion.notes {
        text.push_str("\nNote: ");
        text.push_str(note);
    }
    Ok(Structured::new(conversion).with_text(text))
}

/// The text of the `meeting_planner` prompt: the participants' zones with their offsets
/// on the day, and what to produce.
fn meeting_planner(
    request: MeetingPlannerArgs,
    configured: &[String],
    now: DateTime<Utc>,
) -> Result<String, PluginError> {
    let names: Vec<String> = match request.zones.as_deref().map(str::trim) {
        Some(list) if !list.is_empty() => list
            .split(',')
            .map(str::trim)
            .filter(|z| !z.is_empty())
            .map(String::from)
            .collect(),
        _ => configured.to_vec(),
    };
    if names.is_empty() {
        return Err(PluginError::invalid_input(
            "`zones` is required: name the participants' time zones, e.g. `Europe/Paris, America/New_York`",
        ));
    }
    // Offsets depend on the day (daylight saving): take them at noon UTC that day.
    let (day, instant) = match request.date.as_deref().map(str::trim) {
        Some(date) if !date.is_empty() => {
            let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
                PluginError::invalid_input(format!("`date` must be YYYY-MM-DD, not `{date}`"))
            })?;
            (
                format!("on {day}"),
                day.and_time(NaiveTime::MIN).and_utc() + chrono::Duration::hours(12),
            )
        }
        _ => ("today".to_string(), now),
    };
    let mut lines = Vec::with_capacity(names.len());
    for name in &names {
        let t = clock::describe(instant, clock::zone(name)?);
        lines.push(format!(
            "- {} (UTC{}, {})",
            t.timezone, t.utc_offset, t.abbreviation
        ));
    }
    Ok(format!(
        "I need to schedule a meeting {day} with participants in these time zones:\n{}\n\n\
         Suggest up to three meeting times that fall within working hours (09:00-17:00 local \
         time) for as many participants as possible. For each suggestion, give the local time \
         in every zone and say who would be outside working hours. Check each conversion with \
         the time server's conversion tool: `convert_time`, listed as `<server>__convert_time` \
         (e.g. `time__convert_time`) where the tools of several servers are offered together.",
        lines.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn planner(zones: Option<&str>, date: Option<&str>) -> MeetingPlannerArgs {
        MeetingPlannerArgs {
            zones: zones.map(String::from),
            date: date.map(String::from),
        }
    }

    fn noon() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-15T12:00:00Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn the_meeting_planner_lists_each_zone_with_its_offset_that_day() {
        let text = meeting_planner(
            planner(Some("Europe/Paris, america/new_york"), Some("2024-07-01")),
            &[],
            noon(),
        )
        .expect("renders");
        assert!(text.contains("on 2024-07-01"), "{text}");
        assert!(text.contains("- Europe/Paris (UTC+02:00, CEST)"), "{text}");
        assert!(
            text.contains("- America/New_York (UTC-04:00, EDT)"),
            "{text}"
        );
    }

    #[test]
    fn the_meeting_planner_falls_back_on_the_configured_zones() {
        let text =
            meeting_planner(planner(None, None), &["Asia/Tokyo".into()], noon()).expect("renders");
        assert!(text.contains("today"), "{text}");
        assert!(text.contains("- Asia/Tokyo (UTC+09:00, JST)"), "{text}");
    }

    #[test]
    fn the_meeting_planner_needs_some_zone() {
        let err = meeting_planner(planner(Some(" "), None), &[], noon()).expect_err("no zones");
        assert_eq!(err.kind(), "invalid-input");
    }

    #[test]
    fn the_meeting_planner_names_an_unknown_zone() {
        let err = meeting_planner(planner(Some("UTC, Mars/Olympus"), None), &[], noon())
            .expect_err("bad zone");
        assert!(err.message().contains("Mars/Olympus"), "{err:?}");
    }

    #[test]
    fn the_tools_take_names_descriptions_and_schemas_from_the_tool_functions() {
        let zone = |what: &str| json!({ "type": "string", "minLength": 1, "description": what });
        let listed: Vec<(String, String, serde_json::Value)> = Time::list_tools()
            .into_iter()
            .map(|t| {
                let schema = serde_json::from_str(&t.input_schema).expect("JSON");
                (t.name, t.description, schema)
            })
            .collect();
        assert_eq!(
            listed,
            vec![
                (
                    "current_time".to_string(),
                    "Current date and time in an IANA time zone (default UTC): RFC 3339 time, \
                     UTC offset, abbreviation, daylight-saving flag, weekday and Unix seconds."
                        .to_string(),
                    json!({
                        "type": "object",
                        "properties": {
                            "timezone": zone("IANA time zone name such as `Europe/Paris` or `America/New_York`; defaults to UTC"),
                        },
                        "additionalProperties": false
                    })
                ),
                (
                    "convert_time".to_string(),
                    "Converts a time from one IANA time zone to another and gives the offset \
                     difference. `time` is `HH:MM` (today in the source zone), \
                     `YYYY-MM-DDTHH:MM` (local in the source zone) or an RFC 3339 time."
                        .to_string(),
                    json!({
                        "type": "object",
                        "properties": {
                            "time": zone("`HH:MM` or `HH:MM:SS` (today in the source zone), `YYYY-MM-DDTHH:MM[:SS]` (local in the source zone), or RFC 3339 such as `2024-01-15T12:00:00Z`"),
                            "source_timezone": zone("IANA name of the zone `time` is in, e.g. `Europe/Paris`"),
                            "target_timezone": zone("IANA name of the zone to convert to, e.g. `Asia/Tokyo`"),
                        },
                        "required": ["time", "source_timezone", "target_timezone"],
                        "additionalProperties": false
                    })
                ),
            ]
        );
    }

    #[test]
    fn calling_a_tool_checks_its_arguments_and_names_unknown_tools() {
        let err = Time::call_tool("convert_time".into(), r#"{"time": "12:00"}"#.into())
            .expect_err("missing zones");
        assert_eq!(err.kind(), "invalid-input");
        assert!(err.message().contains("source_timezone"), "{err:?}");
        let err = Time::call_tool("sundial".into(), "{}".into()).expect_err("unknown");
        assert_eq!(err.message(), "unknown tool `sundial`");
    }

    #[test]
    fn tool_schemas_are_json_objects_that_forbid_unknown_arguments() {
        for tool in Time::list_tools() {
            let schema: serde_json::Value = serde_json::from_str(&tool.input_schema).expect("JSON");
            assert_eq!(schema["type"], "object", "{}", tool.name);
            assert_eq!(schema["additionalProperties"], false, "{}", tool.name);
        }
    }

    #[test]
    fn the_meeting_planner_names_the_conversion_tool_as_either_endpoint_lists_it() {
        let text = meeting_planner(planner(Some("UTC"), None), &[], noon()).expect("renders");
        assert!(
            text.contains("`convert_time`") && text.contains("`time__convert_time`"),
            "{text}"
        );
    }

    #[test]
    fn both_tools_are_titled_read_only_closed_world_with_an_output_schema() {
        let described = Time::describe_tools();
        let titles: Vec<_> = described.iter().map(|i| i.title.as_deref()).collect();
        assert_eq!(
            titles,
            [Some("Current time"), Some("Convert time between zones")]
        );
        for info in &described {
            assert_eq!(info.annotations.read_only, Some(true), "{}", info.name);
            assert_eq!(info.annotations.open_world, Some(false), "{}", info.name);
            assert_eq!(info.annotations.destructive, None, "{}", info.name);
            let schema: serde_json::Value =
                serde_json::from_str(info.output_schema.as_deref().expect("a schema"))
                    .expect("JSON");
            assert_eq!(schema["type"], "object", "{}", info.name);
        }
        let schema: serde_json::Value =
            serde_json::from_str(described[1].output_schema.as_deref().expect("a schema"))
                .expect("JSON");
        assert_eq!(
            schema["properties"]["source"]["properties"]["is_dst"]["type"],
            "boolean"
        );
        // `notes` is left out when empty: not required.
        assert!(
            !schema["required"]
                .as_array()
                .expect("required")
                .contains(&json!("notes"))
        );
    }

    #[test]
    fn convert_time_returns_its_conversion_as_structured_content_and_text() {
        let result = Time::call_tool_rich(
            "convert_time".into(),
            r#"{"time": "2024-01-15T12:00:00Z", "source_timezone": "UTC", "target_timezone": "Asia/Tokyo"}"#.into(),
        )
        .expect("converts");
        let structured: serde_json::Value =
            serde_json::from_str(result.structured_content.as_deref().expect("structured"))
                .expect("JSON");
        assert_eq!(structured["target"]["time"], "21:00:00");
        assert_eq!(result.content.len(), 2, "a sentence, then the JSON");
        // Hosts before 0.2.2 get the same text and JSON contents as ever.
        let plain = Time::call_tool(
            "convert_time".into(),
            r#"{"time": "2024-01-15T12:00:00Z", "source_timezone": "UTC", "target_timezone": "Asia/Tokyo"}"#.into(),
        )
        .expect("converts");
        assert!(matches!(&plain[1], mcp::Content::Json(j) if j.contains("\"21:00:00\"")));
    }

    #[test]
    fn the_zones_resource_lists_iana_names_one_per_line() {
        let text = Time::read_resource(ZONES_URI.into()).expect("resource exists");
        let names: Vec<&str> = text.lines().collect();
        assert!(names.contains(&"Europe/Paris") && names.contains(&"UTC"));
        assert!(names.len() > 300, "{}", names.len());
    }
}
