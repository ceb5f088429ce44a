//! The one way a chat is answered. [`answer`] walks a route's failover chain (behind the
//! response cache where the surface allows it), and [`crate::chat::send`] does the same
//! with a session's history and storage around it. Both return a [`ChatStream`]: the
//! events of one chat, in order. First who is serving, then the pieces of the answer as
//! they come, and last the outcome.
//!
//! Each surface maps the stream to its own wire shape:
//! - SSE sends `chunk` events, then `done` or `error`;
//! - Socket.IO batches chunks into `ai_progress` within its window, then sends
//!   `mama_bear_response` or `chat_error`;
//! - `/v1` streams `chat.completion.chunk`s;
//! - plain JSON and jobs keep the last item ([`ChatStream::outcome`]).
//!
//! What differs between surfaces is said once, in [`Surface`]: whether the provider is
//! asked to stream, and whether the response cache may answer.
//!
//! A chat runs on its own task. A caller that goes away does not cut the provider off
//! mid-answer: the turn is still stored in its session, the outcome recorded and the
//! breaker told.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

use crate::Chats;
use crate::providers::{self, Progress, ProviderError, Route, Served};
use crate::runtime::provider::ChatRequest;

/// One event of a chat.
#[derive(Debug)]
pub enum ChatEvent<T> {
    /// `provider` is about to be tried with `model` (none: its default). The chunks that
    /// follow are its.
    Serving {
        /// The provider plugin's id.
        provider: String,
        /// The model asked for, if any.
        model: Option<String>,
    },
    /// A piece of the answer.
    Chunk(String),
    /// The outcome: always the last event.
    Done(T),
}

/// Where a chat was asked, and so how it is answered. This is the one place where the
/// surfaces' policies are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `POST /api/chat/*` and Oropendola's chat (one JSON answer).
    Json,
    /// `POST /api/chat/stream` and Oropendola's stream (server-sent events).
    Sse,
    /// Socket.IO `mama_bear_chat`.
    SocketIo,
    /// `/v1/chat/completions` without `stream`.
    OpenAi,
    /// `/v1/chat/completions` with `stream: true`.
    OpenAiStream,
    /// A content-generation job's piece.
    Job,
}

impl Surface {
    /// Whether the surface shows the answer as it comes: the provider is asked to stream,
    /// and its chunks become events.
    pub fn streams(self) -> bool {
        matches!(
            self,
            Surface::Sse | Surface::SocketIo | Surface::OpenAiStream
        )
    }

    /// Whether the response cache (`[cache]`) may answer. A hit that streams arrives as one
    /// chunk. Streams over SSE and `/v1` always ask the provider, and so does a job: each
    /// run is new content.
    pub fn cached(self) -> bool {
        matches!(self, Surface::Json | Surface::SocketIo | Surface::OpenAi)
    }
}

/// The events of one chat, ending with `Done(T)`. A [`Stream`]; or, where only the
/// outcome matters, [`ChatStream::outcome`].
pub struct ChatStream<T> {
    events: mpsc::UnboundedReceiver<ChatEvent<T>>,
}

impl<T: Send + 'static> ChatStream<T> {
    /// Runs `chat` on its own task, handing it the [`Sink`] its events go to. The stream
    /// ends with what `chat` returns.
    pub(crate) fn spawn<F, Fut>(chat: F) -> ChatStream<T>
    where
        F: FnOnce(Sink<T>) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let (tx, events) = mpsc::unbounded_channel();
        let run = chat(Sink(tx.clone()));
        tokio::spawn(async move {
            let outcome = run.await;
            let _ = tx.send(ChatEvent::Done(outcome));
        });
        ChatStream { events }
    }

    /// The next event; `None` once `Done` has been taken.
    pub async fn next_event(&mut self) -> Option<ChatEvent<T>> {
        self.events.recv().await
    }

    /// An event already in, without waiting.
    pub fn try_next_event(&mut self) -> Option<ChatEvent<T>> {
        self.events.try_recv().ok()
    }

    /// The outcome, the chunks passed over: what plain JSON answers and jobs keep.
    pub async fn outcome(mut self) -> T {
        loop {
            match self.events.recv().await {
                Some(ChatEvent::Done(outcome)) => return outcome,
                Some(_) => {}
                None => {
                    panic!("the chat task ended without its outcome: it panicked (see the log)")
                }
            }
        }
    }
}

impl<T> Stream for ChatStream<T> {
    type Item = ChatEvent<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}

/// Where a chat's `Serving` and `Chunk` events go: the [`Progress`] the failover walk
/// reports to.
pub(crate) struct Sink<T>(mpsc::UnboundedSender<ChatEvent<T>>);

impl<T: Send> Progress for Sink<T> {
    fn serving(&self, provider: &str, model: Option<&str>) {
        let _ = self.0.send(ChatEvent::Serving {
            provider: provider.to_string(),
            model: model.map(str::to_string),
        });
    }

    fn chunk(&self, text: String) {
        let _ = self.0.send(ChatEvent::Chunk(text));
    }
}

/// Answers `request` along `route`'s chain, as `surface` answers: streamed (the request
/// asks the provider to stream, and chunks are events) and behind the response cache
/// when the surface says so.
pub fn answer(
    chats: &Chats,
    route: Route,
    mut request: ChatRequest,
    surface: Surface,
) -> ChatStream<Result<Served, ProviderError>> {
    request.streaming = surface.streams();
    let chats = chats.clone();
    ChatStream::spawn(
        move |sink| async move { walk(&chats, &route, &request, surface, &sink).await },
    )
}

/// The walk itself, reporting to `sink` when the surface streams: the cache in front
/// when the surface allows it, then the failover along the chain.
pub(crate) async fn walk<T: Send>(
    chats: &Chats,
    route: &Route,
    request: &ChatRequest,
    surface: Surface,
    sink: &Sink<T>,
) -> Result<Served, ProviderError> {
    let progress = surface.streams().then_some(sink as &dyn Progress);
    if surface.cached() {
        crate::cache::serve(chats, route, request, progress).await
    } else {
        providers::serve(chats, route, request, progress).await
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt as _;

    use super::*;

    #[tokio::test]
    async fn events_come_in_order_and_end_with_the_outcome() {
        let chat = ChatStream::spawn(|sink| async move {
            sink.serving("local", Some("echo"));
            sink.chunk("a".into());
            sink.chunk("b".into());
            7
        });
        let events: Vec<String> = chat
            .map(|event| match event {
                ChatEvent::Serving { provider, model } => format!("serving {provider} {model:?}"),
                ChatEvent::Chunk(text) => format!("chunk {text}"),
                ChatEvent::Done(n) => format!("done {n}"),
            })
            .collect()
            .await;
        assert_eq!(
            events,
            [
                "serving local Some(\"echo\")",
                "chunk a",
                "chunk b",
                "done 7"
            ]
        );
    }

    #[tokio::test]
    async fn the_outcome_passes_the_chunks_over() {
        let chat = ChatStream::spawn(|sink| async move {
            sink.chunk("ignored".into());
            "answer"
        });
        assert_eq!(chat.outcome().await, "answer");
    }

    #[tokio::test]
    async fn a_chat_runs_to_its_end_when_its_listener_goes_away() {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let chat = ChatStream::spawn(|sink| async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            sink.chunk("nobody reads this".into());
            let _ = done_tx.send(());
        });
        drop(chat);
        done_rx.await.expect("the chat ran to its end");
    }

    #[test]
    fn each_surface_says_whether_it_streams_and_whether_the_cache_may_answer() {
        use Surface::*;
        let policy: Vec<(Surface, bool, bool)> = [Json, Sse, SocketIo, OpenAi, OpenAiStream, Job]
            .into_iter()
            .map(|s| (s, s.streams(), s.cached()))
            .collect();
        assert_eq!(
            policy,
            [
                (Json, false, true),
                (Sse, true, false),
                (SocketIo, true, true),
                (OpenAi, false, true),
                (OpenAiStream, true, false),
                (Job, false, false),
            ]
        );
    }
}
