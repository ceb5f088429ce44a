//! What `GET /metrics` adds to the registry's series, and the two formats it answers in.
//!
//! - **Formats**: OpenMetrics 1.0 (`application/openmetrics-text`) when the client's
//!   `Accept` names it, as Prometheus' own scraper does; otherwise the Prometheus text
//!   format 0.0.4 (`text/plain; version=0.0.4`), which `curl`, `promtool check metrics`
//!   and older scrapers read. The registry encodes OpenMetrics; [`to_prometheus_text`]
//!   rewrites it: a counter's family is named with its `_total` (so `# HELP` and `# TYPE`
//!   match its samples), `_created` samples, `# UNIT` and `# EOF` are dropped, an `info`
//!   family becomes a gauge named `<name>_info`.
//! - **Process series** (Linux, read from `/proc/self` at scrape time, the names every
//!   Prometheus client library uses): `process_cpu_seconds_total`,
//!   `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
//!   `process_start_time_seconds`, `process_open_fds`, `process_max_fds`, `process_threads`.
//! - **Build**: `sanctuary_build_info{version, profile} 1`.

use std::collections::HashMap;
use std::fmt::Write as _;

/// The OpenMetrics media type.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The Prometheus text media type.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Clock ticks per second of `/proc` times: `USER_HZ`, fixed at 100 by Linux's user ABI.
const USER_HZ: f64 = 100.0;
/// Bytes per page of `/proc/self/stat`'s resident size (4 KiB on the machines served).
const PAGE: u64 = 4096;

/// Whether an `Accept` header asks for OpenMetrics.
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("application/openmetrics-text"))
}

/// Inserts the process and build families before the exposition's `# EOF`.
pub fn add_process_and_build(text: &mut String) {
    let eof = text.rfind("# EOF").unwrap_or(text.len());
    let mut extra = String::new();
    process(&mut extra);
    let _ = writeln!(extra, "# HELP sanctuary_build This build of sanctuary.");
    let _ = writeln!(extra, "# TYPE sanctuary_build info");
    let _ = writeln!(
        extra,
        "sanctuary_build_info{{version=\"{}\",profile=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    text.insert_str(eof, &extra);
}

/// The process families, in OpenMetrics form; nothing where `/proc` cannot be read.
fn process(out: &mut String) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name (which may hold spaces), from field 3 (`state`).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Option<f64> { fields.get(n - 3)?.parse().ok() };
    let mut family = |name: &str, kind: &str, help: &str, value: Option<f64>| {
        if let Some(value) = value {
            let sample = if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{sample} {value}");
        }
    };
    let cpu = field(14).zip(field(15)).map(|(u, s)| (u + s) / USER_HZ);
    family(
        "process_cpu_seconds",
        "counter",
        "Total user and system CPU time spent in seconds.",
        cpu,
    );
    family(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        field(24).map(|pages| pages * PAGE as f64),
    );
    family(
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        field(23),
    );
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    family(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        boot.zip(field(22)).map(|(b, ticks)| b + ticks / USER_HZ),
    );
    family(
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as f64),
    );
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse::<f64>().ok())
        });
    family(
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors.",
        max_fds,
    );
    family(
        "process_threads",
        "gauge",
        "Number of OS threads in the process.",
        field(20),
    );
}

/// Rewrites an OpenMetrics exposition in the Prometheus text format 0.0.4 (see the module
/// docs).
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let types: HashMap<&str, &str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    let renamed = |name: &str| -> String {
        match types.get(name) {
            Some(&"counter") => format!("{name}_total"),
            Some(&"info") => format!("{name}_info"),
            _ => name.to_string(),
        }
    };
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let _ = writeln!(out, "# HELP {} {help}", renamed(name));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let kind = match kind {
                "info" | "stateset" => "gauge",
                "unknown" => "untyped",
                other => other,
            };
            let _ = writeln!(out, "# TYPE {} {kind}", renamed(name));
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        let created = name.strip_suffix("_created").is_some_and(|family| {
            matches!(types.get(family), Some(&"counter") | Some(&"histogram"))
        });
        if created {
            continue;
        }
        // Exemplars (`… # {trace_id="…"} 1`) are OpenMetrics only.
        let sample = line.split_once(" # ").map_or(line, |(sample, _)| sample);
        out.push_str(sample);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENMETRICS_SAMPLE: &str = "# HELP sanctuary_http_requests HTTP requests.\n\
# TYPE sanctuary_http_requests counter\n\
sanctuary_http_requests_total{route=\"/x\"} 3\n\
sanctuary_http_requests_created{route=\"/x\"} 1700000000.0\n\
# HELP sanctuary_jobs Jobs.\n\
# TYPE sanctuary_jobs gauge\n\
sanctuary_jobs{state=\"pending\"} 2\n\
# HELP sanctuary_build This build.\n\
# TYPE sanctuary_build info\n\
sanctuary_build_info{version=\"1\"} 1\n\
# EOF\n";

    #[test]
    fn the_text_format_names_counter_families_by_their_samples() {
        let text = to_prometheus_text(OPENMETRICS_SAMPLE);
        assert!(text.contains("# HELP sanctuary_http_requests_total HTTP requests.\n"));
        assert!(text.contains("# TYPE sanctuary_http_requests_total counter\n"));
        assert!(text.contains("sanctuary_http_requests_total{route=\"/x\"} 3\n"));
        assert!(!text.contains("_created"));
        assert!(text.contains("# TYPE sanctuary_jobs gauge\nsanctuary_jobs{state=\"pending\"} 2"));
        assert!(text.contains("# TYPE sanctuary_build_info gauge\n"));
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn process_and_build_families_go_before_the_end_marker() {
        let mut text = "# HELP a A.\n# TYPE a gauge\na 1\n# EOF\n".to_string();
        add_process_and_build(&mut text);
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("sanctuary_build_info{version=\""));
        if cfg!(target_os = "linux") {
            for name in [
                "process_cpu_seconds_total ",
                "process_resident_memory_bytes ",
                "process_open_fds ",
                "process_start_time_seconds ",
            ] {
                assert!(text.contains(name), "{name} in {text}");
            }
            let rss: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
                .and_then(|v| v.parse().ok())
                .expect("a number");
            assert!(rss > 1_000_000.0, "{rss}");
        }
    }

    #[test]
    fn only_an_accept_naming_openmetrics_gets_it() {
        assert!(wants_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        )));
        assert!(!wants_openmetrics(Some("text/plain;version=0.0.4")));
        assert!(!wants_openmetrics(Some("*/*")));
        assert!(!wants_openmetrics(None));
    }
}
