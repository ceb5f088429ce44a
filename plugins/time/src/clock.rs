//! The time arithmetic behind the tools, as pure functions of an explicit "now" so that
//! tests can pin it: zone lookup, describing an instant in a zone, and converting a time
//! between zones.

use chrono::{
    DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, SecondsFormat, TimeZone,
    Utc,
};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use sanctuary_plugin_api::PluginError;
use sanctuary_plugin_api::mcp::ToolOutput;
use serde::Serialize;

/// An instant as seen in one time zone (the structured result of `current_time`; its
/// doc comments describe the tool's output schema).
#[derive(Debug, Clone, PartialEq, Serialize, ToolOutput)]
pub struct ZonedTime {
    /// IANA name of the zone.
    pub timezone: String,
    /// RFC 3339, with the zone's offset.
    pub datetime: String,
    /// `YYYY-MM-DD` in the zone.
    pub date: String,
    /// `HH:MM:SS` in the zone.
    pub time: String,
    /// Full English name of the day, e.g. `Monday`.
    pub weekday: String,
    /// The zone's offset from UTC at that instant, `+09:00`.
    pub utc_offset: String,
    /// The zone's abbreviation at that instant, e.g. `CET` (may be numeric, `+04`).
    pub abbreviation: String,
    /// Whether daylight-saving time is in force.
    pub is_dst: bool,
    /// Seconds since the Unix epoch.
    pub unix: i64,
}

/// The result of converting a time from one zone to another (the structured result of
/// `convert_time`).
#[derive(Debug, Clone, PartialEq, Serialize, ToolOutput)]
pub struct Conversion {
    /// The time in the source zone.
    pub source: ZonedTime,
    /// The same instant in the target zone.
    pub target: ZonedTime,
    /// Target offset minus source offset, e.g. `+9h`, `-5h30m`.
    pub time_difference: String,
    /// The same difference in minutes.
    pub offset_difference_minutes: i64,
    /// Remarks, e.g. which of two occurrences of an ambiguous local time was taken.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The zone named `name` (IANA, any letter case), or an `invalid-input` error naming it.
pub fn zone(name: &str) -> Result<Tz, PluginError> {
    let wanted = name.trim();
    wanted
        .parse::<Tz>()
        .ok()
        .or_else(|| {
            // A linear scan over ~600 names costs microseconds and spares a build-time
            // generated case-insensitive map.
            chrono_tz::TZ_VARIANTS
                .iter()
                .copied()
                .find(|tz| tz.name().eq_ignore_ascii_case(wanted))
        })
        .ok_or_else(|| {
            PluginError::invalid_input(format!(
                "unknown time zone `{name}`: use an IANA name such as `Europe/Paris` or `UTC` \
                 (the resource time://zones lists them all)"
            ))
        })
}

/// The current wall-clock time (WASI's clock inside the host).
pub fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}

/// `instant` as seen in `tz`.
pub fn describe(instant: DateTime<Utc>, tz: Tz) -> ZonedTime {
    let local = instant.with_timezone(&tz);
    let offset = local.offset();
    ZonedTime {
        timezone: tz.name().to_string(),
        datetime: local.to_rfc3339_opts(SecondsFormat::Secs, false),
        date: local.format("%Y-%m-%d").to_string(),
        time: local.format("%H:%M:%S").to_string(),
        weekday: local.format("%A").to_string(),
        utc_offset: local.format("%:z").to_string(),
        abbreviation: offset.abbreviation().unwrap_or_default().to_string(),
        is_dst: !offset.dst_offset().is_zero(),
        unix: local.timestamp(),
    }
}

/// One line for people: `Monday 2024-01-15 21:00:00 JST (UTC+09:00) in Asia/Tokyo`.
pub fn sentence(t: &ZonedTime) -> String {
    format!(
        "{} {} {} {} (UTC{}) in {}",
        t.weekday, t.date, t.time, t.abbreviation, t.utc_offset, t.timezone
    )
}

/// Converts `time` from zone `source` to zone `target`.
///
/// `time` is an RFC 3339 time (an absolute instant, shown in both zones), a local date
/// and time `YYYY-MM-DDTHH:MM[:SS]` in `source`, or a local `HH:MM[:SS]` in `source` on
/// the day `now` falls on there.
pub fn convert(
    time: &str,
    source: Tz,
    target: Tz,
    now: DateTime<Utc>,
) -> Result<Conversion, PluginError> {
    let mut notes = Vec::new();
    let instant = match parse_time(time.trim(), source, now)? {
        Parsed::Instant(instant) => instant,
        Parsed::Local(naive) => match source.from_local_datetime(&naive) {
            LocalResult::Single(dt) => dt.with_timezone(&Utc),
            LocalResult::Ambiguous(first, second) => {
                notes.push(format!(
                    "{naive} happens twice in {} (clocks go back); took the first, {}, not {}",
                    source.name(),
                    first.format("%:z"),
                    second.format("%:z")
                ));
                first.with_timezone(&Utc)
            }
            LocalResult::None => {
                return Err(PluginError::invalid_input(format!(
                    "{} does not exist in {}: the clocks skip it (daylight saving)",
                    naive.format("%Y-%m-%d %H:%M"),
                    source.name()
                )));
            }
        },
    };
    let from = describe(instant, source);
    let to = describe(instant, target);
    let minutes = (offset_seconds(instant, target) - offset_seconds(instant, source)) / 60;
    Ok(Conversion {
        source: from,
        target: to,
        time_difference: format_difference(minutes),
        offset_difference_minutes: minutes,
        notes,
    })
}

/// One line for people: `2024-01-15 12:00 UTC in UTC is 2024-01-15 21:00 JST in Asia/Tokyo (+9h)`.
pub fn conversion_sentence(c: &Conversion) -> String {
    let short = |t: &ZonedTime| {
        let time = t.time.strip_suffix(":00").unwrap_or(&t.time);
        format!("{} {} {} in {}", t.date, time, t.abbreviation, t.timezone)
    };
    format!(
        "{} is {} ({})",
        short(&c.source),
        short(&c.target),
        c.time_difference
    )
}

enum Parsed {
    Instant(DateTime<Utc>),
    Local(NaiveDateTime),
}

fn parse_time(time: &str, source: Tz, now: DateTime<Utc>) -> Result<Parsed, PluginError> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(time) {
        return Ok(Parsed::Instant(instant.with_timezone(&Utc)));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(time, format) {
            return Ok(Parsed::Local(naive));
        }
    }
    for format in ["%H:%M", "%H:%M:%S"] {
        if let Ok(clock) = NaiveTime::parse_from_str(time, format) {
            let today: NaiveDate = now.with_timezone(&source).date_naive();
            return Ok(Parsed::Local(today.and_time(clock)));
        }
    }
    Err(PluginError::invalid_input(format!(
        "`time` must be HH:MM, HH:MM:SS, YYYY-MM-DDTHH:MM[:SS] or an RFC 3339 time such as \
         2024-01-15T12:00:00Z, not `{time}`"
    )))
}

/// The offset of `tz` from UTC at `instant`, in seconds.
fn offset_seconds(instant: DateTime<Utc>, tz: Tz) -> i64 {
    i64::from(instant.with_timezone(&tz).offset().fix().local_minus_utc())
}

/// `+9h`, `-5h30m`, `+0h`.
fn format_difference(minutes: i64) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let (hours, rest) = (minutes.abs() / 60, minutes.abs() % 60);
    if rest == 0 {
        format!("{sign}{hours}h")
    } else {
        format!("{sign}{hours}h{rest:02}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .expect("valid test time")
            .with_timezone(&Utc)
    }

    fn tz(name: &str) -> Tz {
        zone(name).expect("known zone")
    }

    #[test]
    fn names_an_unknown_zone_in_the_error() {
        let err = zone("Mars/Olympus").expect_err("no such zone");
        assert_eq!(err.kind(), "invalid-input");
        assert!(err.message().contains("`Mars/Olympus`"), "{err:?}");
    }

    #[test]
    fn accepts_zone_names_in_any_case() {
        assert_eq!(tz("europe/paris"), chrono_tz::Europe::Paris);
        assert_eq!(tz(" UTC "), chrono_tz::UTC);
    }

    #[test]
    fn describes_an_instant_in_a_zone_with_dst() {
        let t = describe(at("2024-07-01T10:00:00Z"), tz("Europe/Paris"));
        assert_eq!(t.datetime, "2024-07-01T12:00:00+02:00");
        assert_eq!(t.weekday, "Monday");
        assert_eq!(t.utc_offset, "+02:00");
        assert_eq!(t.abbreviation, "CEST");
        assert!(t.is_dst);
        assert_eq!(t.unix, 1_719_828_000);
        assert_eq!(
            sentence(&t),
            "Monday 2024-07-01 12:00:00 CEST (UTC+02:00) in Europe/Paris"
        );
    }

    #[test]
    fn converts_an_rfc3339_instant_to_tokyo() {
        let c = convert(
            "2024-01-15T12:00:00Z",
            tz("UTC"),
            tz("Asia/Tokyo"),
            at("2030-01-01T00:00:00Z"),
        )
        .expect("converts");
        assert_eq!(c.target.time, "21:00:00");
        assert_eq!(c.time_difference, "+9h");
        assert_eq!(c.offset_difference_minutes, 540);
        assert_eq!(
            conversion_sentence(&c),
            "2024-01-15 12:00 UTC in UTC is 2024-01-15 21:00 JST in Asia/Tokyo (+9h)"
        );
    }

    #[test]
    fn reads_a_bare_clock_time_on_todays_date_in_the_source_zone() {
        // At 23:30 UTC it is already the 16th in Tokyo.
        let now = at("2024-01-15T23:30:00Z");
        let c = convert("09:15", tz("Asia/Tokyo"), tz("America/New_York"), now).expect("converts");
        assert_eq!(c.source.date, "2024-01-16");
        assert_eq!(c.target.datetime, "2024-01-15T19:15:00-05:00");
        assert_eq!(c.time_difference, "-14h");
    }

    #[test]
    fn handles_half_hour_zones() {
        let c = convert(
            "2024-03-01T12:00",
            tz("UTC"),
            tz("Asia/Kolkata"),
            at("2024-03-01T00:00:00Z"),
        )
        .expect("converts");
        assert_eq!(c.target.time, "17:30:00");
        assert_eq!(c.time_difference, "+5h30m");
    }

    #[test]
    fn refuses_a_local_time_the_clocks_skip() {
        // Paris jumped from 02:00 to 03:00 on 31 March 2024.
        let err = convert(
            "2024-03-31T02:30",
            tz("Europe/Paris"),
            tz("UTC"),
            at("2024-03-31T00:00:00Z"),
        )
        .expect_err("nonexistent local time");
        assert!(
            err.message().contains("does not exist in Europe/Paris"),
            "{err:?}"
        );
    }

    #[test]
    fn takes_the_first_of_an_ambiguous_local_time_and_says_so() {
        // Paris repeated 02:00-03:00 on 27 October 2024.
        let c = convert(
            "2024-10-27T02:30",
            tz("Europe/Paris"),
            tz("UTC"),
            at("2024-10-27T00:00:00Z"),
        )
        .expect("converts");
        assert_eq!(c.target.time, "00:30:00");
        assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
    }

    #[test]
    fn refuses_an_unreadable_time_and_quotes_it() {
        let err = convert(
            "half past ten",
            tz("UTC"),
            tz("UTC"),
            at("2024-01-01T00:00:00Z"),
        )
        .expect_err("not a time");
        assert!(err.message().contains("`half past ten`"), "{err:?}");
    }
}
