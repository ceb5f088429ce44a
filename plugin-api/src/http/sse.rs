//! Server-sent events (`text/event-stream`): turns a body's lines into events.
//!
//! An event is a group of `field: value` lines ended by a blank line. `data:` lines are
//! joined with `\n`; `event:` names the event (`message` when absent); `id:` is kept;
//! lines starting with `:` are comments (keep-alives) and skipped. A group without any
//! `data:` line is not an event. Unlike a browser, an event left unterminated when the
//! stream ends is still delivered, as some servers omit the last blank line.
//!
//! ```
//! use sanctuary_plugin_api::http::{sse, Lines};
//!
//! let body = "event: delta\ndata: {\"text\":\"Hel\"}\n\n: keep-alive\n\ndata: [DONE]\n\n";
//! let events: Vec<sse::Event> = sse::events(Lines::from_chunks([body]))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(events.len(), 2);
//! assert_eq!(events[0].event, "delta");
//! assert_eq!(events[0].data, r#"{"text":"Hel"}"#);
//! assert_eq!(events[1].event, "message");
//! assert_eq!(events[1].data, "[DONE]");
//! # Ok::<(), sanctuary_plugin_api::PluginError>(())
//! ```

use serde::de::DeserializeOwned;

use crate::PluginError;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's type: its `event:` field, or `message`.
    pub event: String,
    /// Its `data:` lines, joined with `\n`.
    pub data: String,
    /// Its `id:` field, if any.
    pub id: Option<String>,
}

impl Event {
    /// The data parsed as JSON into `T`; a mismatch is a `failed` error (the server sent
    /// something unexpected).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_str(&self.data).map_err(|err| {
            PluginError::failed(format!(
                "unexpected data in a `{}` event of the stream: {err}",
                self.event
            ))
        })
    }
}

/// The events of a stream of lines, as they arrive. After an error the iterator ends.
#[derive(Debug)]
pub struct Events<I> {
    lines: I,
    event: Option<String>,
    data: Option<String>,
    id: Option<String>,
    done: bool,
}

/// The events in `lines` (such as [`super::StreamingResponse::lines`]).
pub fn events<I>(lines: I) -> Events<I::IntoIter>
where
    I: IntoIterator<Item = Result<String, PluginError>>,
{
    Events {
        lines: lines.into_iter(),
        event: None,
        data: None,
        id: None,
        done: false,
    }
}

impl<I> Events<I> {
    /// The event gathered so far, if it has data; starts the next one either way.
    fn dispatch(&mut self) -> Option<Event> {
        let event = self.event.take();
        let data = self.data.take()?;
        Some(Event {
            event: event.unwrap_or_else(|| "message".into()),
            data,
            id: self.id.clone(),
        })
    }

    /// Applies one non-blank line.
    fn field(&mut self, line: &str) {
        if line.starts_with(':') {
            return;
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match name {
            "event" => self.event = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            _ => {}
        }
    }
}

impl<I> Iterator for Events<I>
where
    I: Iterator<Item = Result<String, PluginError>>,
{
    type Item = Result<Event, PluginError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.lines.next() {
                Some(Ok(line)) if line.is_empty() => {
                    if let Some(event) = self.dispatch() {
                        return Some(Ok(event));
                    }
                }
                Some(Ok(line)) => self.field(&line),
                Some(Err(err)) => {
                    self.done = true;
                    return Some(Err(err));
                }
                None => {
                    self.done = true;
                    return self.dispatch().map(Ok);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Event> {
        events(text.lines().map(|l| Ok(l.to_string())))
            .collect::<Result<_, _>>()
            .expect("no error")
    }

    fn event(event: &str, data: &str) -> Event {
        Event {
            event: event.into(),
            data: data.into(),
            id: None,
        }
    }

    #[test]
    fn reads_named_and_unnamed_events() {
        let got = parse(
            "event: message_start\ndata: {\"a\":1}\n\ndata: {\"b\":2}\n\nevent: message_stop\ndata: {}\n\n",
        );
        assert_eq!(
            got,
            [
                event("message_start", r#"{"a":1}"#),
                event("message", r#"{"b":2}"#),
                event("message_stop", "{}"),
            ]
        );
    }

    #[test]
    fn joins_data_lines_and_strips_one_space() {
        let got = parse("data:one\ndata:  two\ndata\n\n");
        assert_eq!(got, [event("message", "one\n two\n")]);
    }

    #[test]
    fn skips_comments_and_groups_without_data() {
        let got = parse(": ping\n\nevent: ping\n\nretry: 10\nunknown: x\ndata: kept\n\n");
        assert_eq!(got, [event("message", "kept")]);
    }

    #[test]
    fn an_event_type_does_not_leak_into_the_next_event() {
        let got = parse("event: error\n\ndata: x\n\n");
        assert_eq!(got, [event("message", "x")]);
    }

    #[test]
    fn keeps_the_last_id() {
        let got = parse("id: 7\ndata: a\n\ndata: b\n\n");
        assert_eq!(got[0].id.as_deref(), Some("7"));
        assert_eq!(got[1].id.as_deref(), Some("7"));
    }

    #[test]
    fn delivers_an_unterminated_last_event() {
        assert_eq!(
            parse("data: a\n\ndata: b"),
            [event("message", "a"), event("message", "b")]
        );
    }

    #[test]
    fn stops_at_the_first_error() {
        let lines = vec![
            Ok("data: a".to_string()),
            Err(PluginError::unavailable("connection reset")),
            Ok(String::new()),
        ];
        let mut it = events(lines);
        assert_eq!(
            it.next().map(|r| r.map_err(|e| e.kind())),
            Some(Err("unavailable"))
        );
        assert!(it.next().is_none());
    }

    #[test]
    fn json_data_that_does_not_fit_is_a_failure() {
        let err = event("delta", "not json")
            .json::<serde_json::Value>()
            .expect_err("not JSON");
        assert_eq!(err.kind(), "failed");
        assert!(err.message().contains("`delta`"), "{err:?}");
    }
}
