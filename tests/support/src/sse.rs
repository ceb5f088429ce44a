//! Server-sent events: splitting a `text/event-stream` body into its events.

/// The server-sent events in `text`: `(event name, data)` pairs (name `message` when the
/// event has none; the data lines of one event joined by newlines).
pub fn events(text: &str) -> Vec<(String, String)> {
    let mut events = Vec::new();
    for block in text.replace("\r\n", "\n").split("\n\n") {
        let mut name = None;
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(rest) = line.strip_prefix("event:") {
                name = Some(rest.trim().to_string());
            } else if let Some(rest) = line.strip_prefix("data:") {
                data.push(rest.strip_prefix(' ').unwrap_or(rest).to_string());
            }
        }
        if !data.is_empty() {
            events.push((name.unwrap_or_else(|| "message".into()), data.join("\n")));
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_named_and_their_data_lines_joined() {
        let text = "event: chunk\r\ndata: a\r\ndata: b\r\n\r\ndata: {\"x\":1}\n\n: comment\n\n";
        assert_eq!(
            events(text),
            vec![
                ("chunk".to_string(), "a\nb".to_string()),
                ("message".to_string(), "{\"x\":1}".to_string()),
            ]
        );
    }
}
