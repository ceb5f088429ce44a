//! `mama_bear_chat` `{message, session_id, user_id, timestamp}`: the same chat as
//! `POST /api/chat/mama-bear` ([`crate::chat::send`]), streamed. Pieces of the answer go
//! out as `ai_progress` `{session_id, chunk, index}` while the provider works, then the
//! whole answer as `mama_bear_response` `{message, response, user_message, session_id,
//! user_id, timestamp, metadata}` (`message` and `response` are both the assistant's
//! answer: the seed's ChatService renders `data.message || data.response`; the user's
//! input is `user_message`); a failure is `chat_error` `{error, message, session_id, code}`.

use serde_json::{Value, json};

use super::events::{Ctx, bad_payload};
use crate::chat::{self, ChatEvent, ChatInput};
use crate::clock;
use crate::providers::MAMA_BEAR;

/// Handles one `mama_bear_chat`.
pub async fn mama_bear_chat(ctx: &Ctx, data: Value) {
    let hinted_session = data
        .get("session_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut input = match ChatInput::from_json(data) {
        Ok(input) => input,
        Err(err) => {
            bad_payload(
                &ctx.socket,
                "mama_bear_chat",
                "{message, session_id?, user_id?}",
                &err,
            );
            chat_error(ctx, &err, hinted_session.as_deref());
            return;
        }
    };
    // Known before the call, so every chunk can carry it.
    let session_id = input
        .session_id
        .get_or_insert_with(chat::new_session_id)
        .clone();
    let message = input.message.clone();
    // Like an HTTP request, a chat sent while the plugins load at start-up waits for them
    // (bounded) instead of meeting an incomplete set.
    super::events::wait_for_plugins(ctx).await;

    // Streamed, but a cached answer (`[cache]`) may still serve it, as one chunk.
    let mut chat = chat::send(&ctx.state.chat, MAMA_BEAR, input, chat::Surface::SocketIo);
    let mut index = 0_u64;
    let result = loop {
        let first = match chat.next_event().await {
            Some(ChatEvent::Chunk(chunk)) => chunk,
            Some(ChatEvent::Serving { .. }) => continue,
            Some(ChatEvent::Done(result)) => break result,
            None => return,
        };
        // Chunks arriving within one window go out as one `ai_progress`: a provider that
        // produces its answer in a burst would otherwise send dozens of packets at once,
        // more than a long-polling client accepts in one poll (python-engineio: 16).
        let mut batch = first;
        let mut done = None;
        let window = tokio::time::sleep(PROGRESS_WINDOW);
        tokio::pin!(window);
        while done.is_none() {
            tokio::select! {
                biased;
                event = chat.next_event() => match event {
                    Some(ChatEvent::Chunk(chunk)) => batch.push_str(&chunk),
                    Some(ChatEvent::Serving { .. }) => {}
                    Some(ChatEvent::Done(result)) => done = Some(result),
                    None => return,
                },
                _ = &mut window => break,
            }
        }
        progress(ctx, &session_id, batch, &mut index);
        if let Some(result) = done {
            break result;
        }
    };
    match result {
        Ok(reply) => super::emit(
            &ctx.socket,
            "mama_bear_response",
            &json!({
                "message": reply.response,
                "response": reply.response,
                "user_message": message,
                "session_id": reply.session_id,
                "user_id": reply.user_id,
                "timestamp": reply.timestamp,
                "metadata": reply.metadata,
            }),
        ),
        Err(err) => {
            if let chat::Error::Storage(cause) = &err {
                tracing::error!(cause = %cause, session = %session_id, "socket.io chat failed");
            }
            chat_error(ctx, &err, Some(&session_id));
        }
    }
}

/// How long chunks are gathered into one `ai_progress` event.
const PROGRESS_WINDOW: std::time::Duration = std::time::Duration::from_millis(40);

fn progress(ctx: &Ctx, session_id: &str, chunk: String, index: &mut u64) {
    super::emit(
        &ctx.socket,
        "ai_progress",
        &json!({ "session_id": session_id, "chunk": chunk, "index": *index }),
    );
    *index += 1;
}

/// `chat_error {error, message, session_id, code, timestamp}`; `message` is what the
/// seed's ChatService shows (`Error: ${error.message}`).
fn chat_error(ctx: &Ctx, err: &chat::Error, session_id: Option<&str>) {
    let code = err.code();
    let text = err.to_string();
    super::emit(
        &ctx.socket,
        "chat_error",
        &json!({
            "message": text,
            "error": text,
            "session_id": session_id,
            "code": code,
            "timestamp": clock::timestamp(),
        }),
    );
}
