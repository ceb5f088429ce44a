//! Timestamps as the API shows them: RFC 3339 in UTC with microseconds
//! (`2024-01-01T12:00:00.000000Z`), the seeds' `isoformat()` plus an explicit zone, so
//! JavaScript's `new Date(...)` reads them unambiguously. The database stores the same text.

use chrono::{DateTime, SecondsFormat, Utc};

/// The current time, formatted for a response body or a database row.
pub fn timestamp() -> String {
    format(Utc::now())
}

/// A given time, formatted like [`timestamp`].
pub fn format(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn timestamps_are_utc_rfc3339_with_microseconds() {
        let at = Utc
            .with_ymd_and_hms(2024, 1, 1, 12, 0, 0)
            .single()
            .expect("a valid date");
        assert_eq!(format(at), "2024-01-01T12:00:00.000000Z");
    }

    #[test]
    fn the_current_timestamp_parses_back() {
        let now = timestamp();
        assert!(DateTime::parse_from_rfc3339(&now).is_ok(), "{now}");
    }
}
