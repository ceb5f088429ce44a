//! A reader of iCalendar (RFC 5545) `VEVENT`s: unfolded content lines, `DTSTART`/`DTEND`
//! in UTC, with `TZID` or floating, all-day dates, `DURATION`, and the expansion of
//! `RRULE` (`FREQ=DAILY|WEEKLY`, `INTERVAL`, `COUNT`, `UNTIL`, `BYDAY`) with `EXDATE`
//! and `RECURRENCE-ID` overrides, within a window.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

/// Most occurrences one recurring event may produce.
const MAX_OCCURRENCES: usize = 5000;

/// One occurrence of an event, as the tool answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Occurrence {
    /// The event's `UID`.
    pub uid: String,
    /// A stable id of this occurrence: `<uid>@<start>`.
    pub id: String,
    /// `SUMMARY`.
    pub title: String,
    /// `DESCRIPTION`.
    pub description: String,
    /// `LOCATION`.
    pub location: String,
    /// Start, RFC 3339 in UTC.
    pub start: String,
    /// End, RFC 3339 in UTC.
    pub end: String,
    /// Whether it is a date without a time.
    pub all_day: bool,
    /// The IANA zone its times were given in (`UTC` for UTC and floating times).
    pub timezone: String,
    /// Whether it comes from a recurrence rule.
    pub recurring: bool,
    /// `ORGANIZER` without `mailto:`.
    pub organizer: String,
    /// `ATTENDEE`s without `mailto:`.
    pub attendees: Vec<String>,
}

/// A content line: name, parameters, value.
struct Line {
    name: String,
    params: HashMap<String, String>,
    value: String,
}

/// A time as written: an instant, a local time in a zone, or a date.
#[derive(Clone, Copy)]
enum When {
    Utc(NaiveDateTime),
    Local(NaiveDateTime, Tz),
    Date(NaiveDate, Tz),
}

impl When {
    fn zone(self) -> Tz {
        match self {
            When::Utc(_) => Tz::UTC,
            When::Local(_, tz) | When::Date(_, tz) => tz,
        }
    }

    fn local(self) -> NaiveDateTime {
        match self {
            When::Utc(t) | When::Local(t, _) => t,
            When::Date(d, _) => d.and_hms_opt(0, 0, 0).unwrap_or_default(),
        }
    }

    /// The instant: a local time that does not exist (a DST gap) moves forward an hour.
    fn instant(self) -> DateTime<Utc> {
        match self {
            When::Utc(t) => Utc.from_utc_datetime(&t),
            When::Local(_, tz) | When::Date(_, tz) => to_utc(tz, self.local()),
        }
    }

    /// The same kind of time at another local time.
    fn with_local(self, local: NaiveDateTime) -> When {
        match self {
            When::Utc(_) => When::Utc(local),
            When::Local(_, tz) => When::Local(local, tz),
            When::Date(_, tz) => When::Date(local.date(), tz),
        }
    }
}

fn to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local))
}

/// The unfolded content lines of `text`.
fn lines(text: &str) -> Vec<Line> {
    let mut unfolded: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t']) {
            if let Some(last) = unfolded.last_mut() {
                last.push_str(rest);
            }
        } else if !raw.is_empty() {
            unfolded.push(raw.to_owned());
        }
    }
    unfolded.iter().filter_map(|l| parse_line(l)).collect()
}

fn parse_line(line: &str) -> Option<Line> {
    // The value starts at the first `:` outside double quotes.
    let mut quoted = false;
    let split = line.char_indices().find(|&(_, c)| {
        if c == '"' {
            quoted = !quoted;
        }
        c == ':' && !quoted
    })?;
    let (head, value) = (&line[..split.0], &line[split.0 + 1..]);
    let mut parts = head.split(';');
    let name = parts.next()?.trim().to_ascii_uppercase();
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_ascii_uppercase(),
                v.trim().trim_matches('"').to_owned(),
            )
        })
        .collect();
    Some(Line {
        name,
        params,
        value: value.to_owned(),
    })
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn zone(name: Option<&String>, default: Tz) -> Result<Tz, String> {
    match name {
        None => Ok(default),
        Some(name) => name
            .trim_start_matches('/')
            .parse::<Tz>()
            .map_err(|_| format!("unknown time zone `{name}` (TZID must be an IANA name)")),
    }
}

fn parse_when(line: &Line, default: Tz) -> Result<When, String> {
    let value = line.value.trim();
    let date_only = line
        .params
        .get("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
        || (value.len() == 8 && value.bytes().all(|b| b.is_ascii_digit()));
    let tz = zone(line.params.get("TZID"), default)?;
    if date_only {
        let date = NaiveDate::parse_from_str(value, "%Y%m%d")
            .map_err(|e| format!("{}: `{value}` is not a date: {e}", line.name))?;
        return Ok(When::Date(date, tz));
    }
    if let Some(utc) = value.strip_suffix('Z') {
        let t = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
            .map_err(|e| format!("{}: `{value}` is not a date-time: {e}", line.name))?;
        return Ok(When::Utc(t));
    }
    let t = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S")
        .map_err(|e| format!("{}: `{value}` is not a date-time: {e}", line.name))?;
    Ok(When::Local(t, tz))
}

/// `P1D`, `PT1H30M`, `P1W`, `-PT15M`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("DURATION: `{text}` is not an iCalendar duration");
    let (negative, rest) = match text.trim().strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.trim().trim_start_matches('+')),
    };
    let rest = rest.strip_prefix('P').ok_or_else(bad)?;
    let mut total = Duration::zero();
    let mut number = String::new();
    let mut in_time = false;
    for c in rest.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' => number.push(c),
            unit => {
                let n: i64 = number.parse().map_err(|_| bad())?;
                number.clear();
                total += match (unit, in_time) {
                    ('W', false) => Duration::weeks(n),
                    ('D', false) => Duration::days(n),
                    ('H', true) => Duration::hours(n),
                    ('M', true) => Duration::minutes(n),
                    ('S', true) => Duration::seconds(n),
                    _ => return Err(bad()),
                };
            }
        }
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(if negative { -total } else { total })
}

fn weekday(code: &str) -> Option<Weekday> {
    Some(match code {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

/// A parsed `RRULE`.
struct Rule {
    weekly: bool,
    interval: i64,
    count: Option<usize>,
    until: Option<DateTime<Utc>>,
    by_day: Vec<Weekday>,
}

fn parse_rule(text: &str, default: Tz) -> Result<Rule, String> {
    let mut rule = Rule {
        weekly: false,
        interval: 1,
        count: None,
        until: None,
        by_day: Vec::new(),
    };
    let mut freq = None;
    for part in text.split(';') {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_uppercase().as_str() {
            "FREQ" => freq = Some(value.trim().to_ascii_uppercase()),
            "INTERVAL" => {
                rule.interval = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n: &i64| *n >= 1)
                    .ok_or_else(|| format!("RRULE: INTERVAL `{value}` is not a positive number"))?;
            }
            "COUNT" => {
                rule.count = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| format!("RRULE: COUNT `{value}` is not a number"))?,
                );
            }
            "UNTIL" => {
                let line = Line {
                    name: "UNTIL".into(),
                    params: HashMap::new(),
                    value: value.trim().to_owned(),
                };
                let until = parse_when(&line, default)?;
                rule.until = Some(match until {
                    // An UNTIL date includes that whole day.
                    When::Date(..) => until.instant() + Duration::days(1) - Duration::seconds(1),
                    _ => until.instant(),
                });
            }
            "BYDAY" => {
                for code in value.split(',') {
                    let code = code.trim().to_ascii_uppercase();
                    let code = code
                        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
                    rule.by_day.push(
                        weekday(code)
                            .ok_or_else(|| format!("RRULE: BYDAY `{code}` is not a weekday"))?,
                    );
                }
            }
            _ => {}
        }
    }
    match freq.as_deref() {
        Some("WEEKLY") => rule.weekly = true,
        Some("DAILY") => {}
        Some(other) => {
            return Err(format!(
                "RRULE: FREQ={other} is not supported (DAILY and WEEKLY are)"
            ));
        }
        None => return Err("RRULE: FREQ is missing".into()),
    }
    Ok(rule)
}

/// Local start times of a rule's occurrences from `first`, up to `horizon` (UTC).
fn expand(first: When, rule: &Rule, horizon: DateTime<Utc>) -> Vec<NaiveDateTime> {
    let start = first.local();
    let mut out = Vec::new();
    let mut days: Vec<Weekday> = rule.by_day.clone();
    if rule.weekly && days.is_empty() {
        days.push(start.weekday());
    }
    // Weeks start on Monday (WKST=MO, the default).
    let week_start =
        start.date() - Duration::days(i64::from(start.weekday().num_days_from_monday()));
    let mut period = 0_i64;
    loop {
        let candidates: Vec<NaiveDateTime> = if rule.weekly {
            let mut week: Vec<NaiveDateTime> = days
                .iter()
                .map(|d| {
                    (week_start
                        + Duration::weeks(period * rule.interval)
                        + Duration::days(i64::from(d.num_days_from_monday())))
                    .and_time(start.time())
                })
                .collect();
            week.sort();
            week.dedup();
            week
        } else {
            vec![start + Duration::days(period * rule.interval)]
        };
        for local in candidates {
            if local < start {
                continue;
            }
            let at = first.with_local(local).instant();
            if rule.until.is_some_and(|until| at > until) || at > horizon {
                return out;
            }
            out.push(local);
            if rule.count.is_some_and(|n| out.len() >= n) || out.len() >= MAX_OCCURRENCES {
                return out;
            }
        }
        period += 1;
    }
}

/// One `VEVENT`'s lines.
type Event = Vec<Line>;

fn events(text: &str) -> Vec<Event> {
    let mut out = Vec::new();
    let mut current: Option<Event> = None;
    let mut depth = 0;
    for line in lines(text) {
        match (
            line.name.as_str(),
            line.value.trim().to_ascii_uppercase().as_str(),
        ) {
            ("BEGIN", "VEVENT") => current = Some(Vec::new()),
            ("END", "VEVENT") => out.extend(current.take()),
            // Components inside an event (VALARM) are not the event's own properties.
            ("BEGIN", _) if current.is_some() => depth += 1,
            ("END", _) if current.is_some() && depth > 0 => depth -= 1,
            _ => {
                if depth == 0
                    && let Some(event) = current.as_mut()
                {
                    event.push(line);
                }
            }
        }
    }
    out
}

fn prop<'a>(event: &'a Event, name: &str) -> Option<&'a Line> {
    event.iter().find(|l| l.name == name)
}

fn text_prop(event: &Event, name: &str) -> String {
    prop(event, name)
        .map(|l| unescape(&l.value))
        .unwrap_or_default()
}

fn address(value: &str) -> String {
    value
        .strip_prefix("mailto:")
        .or_else(|| value.strip_prefix("MAILTO:"))
        .unwrap_or(value)
        .to_owned()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Every occurrence in `text` overlapping `[from, to)`, by start time. `default` is the
/// zone of floating times.
pub fn occurrences(
    text: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    default: Tz,
) -> Result<Vec<Occurrence>, String> {
    if !text.contains("BEGIN:VCALENDAR") {
        return Err("not an iCalendar file (no BEGIN:VCALENDAR)".into());
    }
    let events = events(text);
    // Overridden instances: (uid, original start instant).
    let mut overridden = HashSet::new();
    for event in &events {
        if let (Some(uid), Some(rid)) = (prop(event, "UID"), prop(event, "RECURRENCE-ID")) {
            overridden.insert((uid.value.clone(), parse_when(rid, default)?.instant()));
        }
    }
    let mut out = Vec::new();
    for event in &events {
        let Some(start_line) = prop(event, "DTSTART") else {
            continue;
        };
        let uid = prop(event, "UID")
            .map(|l| l.value.clone())
            .unwrap_or_default();
        let first = parse_when(start_line, default)?;
        let all_day = matches!(first, When::Date(..));
        let length = match (prop(event, "DTEND"), prop(event, "DURATION")) {
            (Some(end), _) => parse_when(end, first.zone())?.instant() - first.instant(),
            (None, Some(duration)) => parse_duration(&duration.value)?,
            (None, None) if all_day => Duration::days(1),
            (None, None) => Duration::zero(),
        };
        let mut excluded = HashSet::new();
        for line in event.iter().filter(|l| l.name == "EXDATE") {
            for value in line.value.split(',') {
                let one = Line {
                    name: "EXDATE".into(),
                    params: line.params.clone(),
                    value: value.to_owned(),
                };
                excluded.insert(parse_when(&one, first.zone())?.instant());
            }
        }
        let is_override = prop(event, "RECURRENCE-ID").is_some();
        let starts: Vec<NaiveDateTime> = match prop(event, "RRULE") {
            Some(rule) if !is_override => {
                expand(first, &parse_rule(&rule.value, first.zone())?, to)
            }
            _ => vec![first.local()],
        };
        let recurring = starts.len() > 1 || (prop(event, "RRULE").is_some() && !is_override);
        let organizer = prop(event, "ORGANIZER")
            .map(|l| address(&l.value))
            .unwrap_or_default();
        let attendees: Vec<String> = event
            .iter()
            .filter(|l| l.name == "ATTENDEE")
            .map(|l| address(&l.value))
            .collect();
        for local in starts {
            let when = first.with_local(local);
            let start = when.instant();
            if excluded.contains(&start) {
                continue;
            }
            if !is_override && recurring && overridden.contains(&(uid.clone(), start)) {
                continue;
            }
            let end = if all_day {
                // A date range keeps its length in days, in its zone.
                to_utc(when.zone(), local + length)
            } else {
                start + length
            };
            if end <= from && length > Duration::zero()
                || start >= to
                || (length == Duration::zero() && start < from)
            {
                continue;
            }
            out.push(Occurrence {
                id: format!("{uid}@{}", rfc3339(start)),
                uid: uid.clone(),
                title: text_prop(event, "SUMMARY"),
                description: text_prop(event, "DESCRIPTION"),
                location: text_prop(event, "LOCATION"),
                start: rfc3339(start),
                end: rfc3339(end),
                all_day,
                timezone: when.zone().name().to_owned(),
                recurring,
                organizer: organizer.clone(),
                attendees: attendees.clone(),
            });
        }
    }
    out.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}
