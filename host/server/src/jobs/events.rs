//! Where job events go: the plain WebSocket at `/ws/jobs` ([`session`]) and every
//! Socket.IO client ([`forward_to_socketio`]).
//!
//! On the WebSocket the server sends `{type, job, timestamp}` with `type` one of
//! `job_created`, `job_update`, `job_completed`, `job_failed`. The client may send
//! `{type:"subscribe"|"unsubscribe", job_id}`: while it is subscribed to no job it gets
//! every job's events; while it is subscribed to some, only theirs (unsubscribing from the
//! last one brings every job back). Each is acknowledged with `{type:"subscribed" |
//! "unsubscribed", job_id, timestamp}`; a message that is not one of these gets
//! `{type:"error", message}` and the socket stays open.

use std::collections::HashSet;

use crate::cluster::socket_bus::Io;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::JobEvent;
use crate::chat::json_type;
use crate::clock;

/// Longest accepted `job_id` in a subscription.
const MAX_JOB_ID_LEN: usize = 200;

/// Serves one `/ws/jobs` client until it leaves; `events` was subscribed before the
/// upgrade was answered, so nothing that happens after the client connects is missed.
pub async fn session(socket: WebSocket, mut events: broadcast::Receiver<JobEvent>) {
    let (mut sink, mut stream) = socket.split();
    let mut subscribed: HashSet<String> = HashSet::new();
    loop {
        let reply = tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => Some(handle(&text, &mut subscribed)),
                Some(Ok(Message::Binary(_))) => Some(error("send JSON text messages, not binary ones")),
                // Pings are answered by the WebSocket layer itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            event = events.recv() => match event {
                Ok(event) if subscribed.is_empty() || subscribed.contains(&event.job.job_id) => {
                    Some(serde_json::to_value(&event).unwrap_or_default())
                }
                Ok(_) => None,
                Err(broadcast::error::RecvError::Lagged(missed)) => Some(error(&format!(
                    "this connection fell behind and missed {missed} job events; \
                     reload the jobs with GET /api/jobs"
                ))),
                Err(broadcast::error::RecvError::Closed) => break,
            },
        };
        if let Some(reply) = reply
            && sink
                .send(Message::Text(Utf8Bytes::from(reply.to_string())))
                .await
                .is_err()
        {
            break;
        }
    }
    tracing::debug!("job WebSocket closed");
}

/// The answer to one client message, updating its subscriptions.
fn handle(text: &str, subscribed: &mut HashSet<String>) -> Value {
    let message: Value = match serde_json::from_str(text) {
        Ok(message) => message,
        Err(e) => return error(&format!("the message is not JSON: {e}")),
    };
    let kind = match message.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(other) => {
            return error(&format!(
                "`type` must be a string, not {}",
                json_type(other)
            ));
        }
        None => return error("the message needs a `type`: \"subscribe\" or \"unsubscribe\""),
    };
    if kind != "subscribe" && kind != "unsubscribe" {
        return error(&format!(
            "unknown message type {kind:?}; expected \"subscribe\" or \"unsubscribe\""
        ));
    }
    let job_id = match message.get("job_id") {
        Some(Value::String(id)) if !id.trim().is_empty() && id.len() <= MAX_JOB_ID_LEN => id,
        Some(Value::String(_)) => {
            return error(&format!(
                "`job_id` must be 1 to {MAX_JOB_ID_LEN} bytes, not blank"
            ));
        }
        Some(other) => {
            return error(&format!(
                "`job_id` must be a string, not {}",
                json_type(other)
            ));
        }
        None => return error(&format!("`{kind}` needs a `job_id`")),
    };
    let ack = if kind == "subscribe" {
        subscribed.insert(job_id.clone());
        "subscribed"
    } else {
        subscribed.remove(job_id);
        "unsubscribed"
    };
    json!({ "type": ack, "job_id": job_id, "timestamp": clock::timestamp() })
}

fn error(message: &str) -> Value {
    json!({ "type": "error", "message": message })
}

/// Emits every job event to all Socket.IO clients, named by its type, with the payload
/// `{job, timestamp}`, until `stop` fires or the events end.
pub async fn forward_to_socketio(
    io: Io,
    mut events: broadcast::Receiver<JobEvent>,
    stop: CancellationToken,
) {
    while let Some(event) = crate::socket::next_event(&mut events, &stop, "job events").await {
        let Some(clients) = io.of("/").map(|ns| ns.local()) else {
            break;
        };
        let name = event.kind.as_str();
        let payload = json!({ "job": event.job, "timestamp": event.timestamp });
        if let Err(err) = clients.emit(name, &payload).await {
            tracing::debug!(event = name, %err, "socket.io broadcast failed for some clients");
        }
    }
    tracing::debug!("job event forwarding stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribing_and_unsubscribing_change_the_set_and_are_acknowledged() {
        let mut set = HashSet::new();
        let ack = handle(r#"{"type":"subscribe","job_id":"job-1"}"#, &mut set);
        assert_eq!(ack["type"], "subscribed");
        assert_eq!(ack["job_id"], "job-1");
        assert!(set.contains("job-1"));
        let ack = handle(r#"{"type":"unsubscribe","job_id":"job-1"}"#, &mut set);
        assert_eq!(ack["type"], "unsubscribed");
        assert!(set.is_empty());
    }

    #[test]
    fn bad_messages_are_answered_with_an_error_naming_the_problem() {
        for (text, says) in [
            ("not json", "not JSON"),
            (r#"{"job_id":"job-1"}"#, "type"),
            (r#"{"type":7,"job_id":"job-1"}"#, "a number"),
            (r#"{"type":"shout","job_id":"job-1"}"#, "shout"),
            (r#"{"type":"subscribe"}"#, "job_id"),
            (r#"{"type":"subscribe","job_id":""}"#, "blank"),
            (r#"{"type":"subscribe","job_id":["job-1"]}"#, "an array"),
        ] {
            let mut set = HashSet::new();
            let reply = handle(text, &mut set);
            assert_eq!(reply["type"], "error", "{text}");
            let message = reply["message"].as_str().expect("a message");
            assert!(message.contains(says), "{text}: {message}");
            assert!(set.is_empty());
        }
    }
}
