//! Client-sent text made safe for a log line: control characters (newlines included) and
//! other non-printing characters are escaped, and the text is capped at [`MAX_LOGGED`]
//! characters with a note of how long it was. A log reader can then trust that one event
//! is one line and that a client cannot fill the log with one request.
//!
//! Use [`Safe`] in a `tracing` field (`who = %Safe(name)`) for anything a client chose:
//! usernames, ids, client names, paths, origins. Beyond that, the server's log formatter
//! ([`write_field`], used by `main.rs`) escapes every field of every event and caps it at
//! [`MAX_FIELD`] characters, so a value that reaches a log by another way still cannot
//! forge a line or flood the log.

use std::fmt;

/// The id every log line of one request carries (`request{id=…}`). The server's access
/// layer makes it and stores it in the HTTP request's extensions; the MCP handler finds it
/// there to log a protocol call inside its request's span.
#[derive(Debug, Clone)]
pub struct RequestId(pub std::sync::Arc<str>);

/// Longest client-sent text written to a log, in characters.
pub const MAX_LOGGED: usize = 200;

/// Longest field of any log event, in characters (see [`write_field`]).
pub const MAX_FIELD: usize = 4096;

/// Displays its text escaped and capped for a log.
#[derive(Debug, Clone, Copy)]
pub struct Safe<'a>(pub &'a str);

impl fmt::Display for Safe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, MAX_LOGGED)
    }
}

/// Writes one field of a log event (`name=value`, or the value alone for the message),
/// escaped and capped at [`MAX_FIELD`]: the formatter of the server's log.
pub fn write_field(writer: &mut dyn fmt::Write, name: &str, value: &dyn fmt::Debug) -> fmt::Result {
    let text = format!("{value:?}");
    if name != "message" {
        write!(writer, "{name}=")?;
    }
    write_escaped(writer, &text, MAX_FIELD)
}

/// Writes `text` with control and direction-changing characters escaped, at most `max`
/// characters of it.
fn write_escaped(f: &mut dyn fmt::Write, text: &str, max: usize) -> fmt::Result {
    {
        for (shown, c) in text.chars().enumerate() {
            if shown == max {
                return write!(f, "…({} bytes in all)", text.len());
            }
            if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            {
                for escaped in c.escape_default() {
                    f.write_char(escaped)?;
                }
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// `text` escaped and capped for a log, as an owned string.
pub fn safe(text: &str) -> String {
    Safe(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newline_cannot_start_a_forged_log_line() {
        let shown = safe("alice\n2026-01-01T00:00:00Z  INFO admin logged in\r\u{1b}[31m");
        assert!(!shown.contains('\n') && !shown.contains('\r') && !shown.contains('\u{1b}'));
        assert!(shown.starts_with("alice\\n2026"), "{shown}");
    }

    #[test]
    fn long_text_is_capped_with_its_length() {
        let long = "x".repeat(3_000_000);
        let shown = safe(&long);
        assert!(shown.chars().count() < MAX_LOGGED + 40, "{}", shown.len());
        assert!(shown.ends_with("(3000000 bytes in all)"), "{shown}");
    }

    #[test]
    fn printable_text_is_unchanged() {
        assert_eq!(
            safe("time__current_time é 日本"),
            "time__current_time é 日本"
        );
    }
}
