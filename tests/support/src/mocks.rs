//! Mock upstreams on `127.0.0.1:0`, each speaking one vendor's real wire format: OpenAI
//! Chat Completions (JSON and SSE `chat.completion.chunk`s ending in `[DONE]`), Anthropic
//! Messages (JSON and the SSE event types `message_start` ... `message_stop`) and Gemini
//! `generateContent` / `streamGenerateContent?alt=sse`, with each vendor's error bodies.
//! A mock can be told to fail with a status, to answer late or to hang, and counts what it
//! receives.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// Which vendor a mock imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// `POST /v1/chat/completions`.
    OpenAi,
    /// `POST /v1/messages`.
    Anthropic,
    /// `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent`.
    Gemini,
}

/// What a mock does with the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// Answers (streaming when asked).
    Answer,
    /// Answers this error status with the vendor's error body.
    Fail(u16),
    /// Never answers.
    Hang,
    /// Answers after this long (an upstream slower than a job lease).
    Delay(Duration),
}

/// Token counts every mock reports: prompt, completion.
pub const USAGE: (u32, u32) = (12, 6);

#[derive(Clone)]
struct Shared {
    reply: Arc<str>,
    behavior: Arc<Mutex<Behavior>>,
    hits: Arc<AtomicUsize>,
    keys: Arc<Mutex<Vec<String>>>,
    bodies: Arc<Mutex<Vec<Value>>>,
}

/// A running mock upstream.
#[derive(Clone)]
pub struct Mock {
    addr: SocketAddr,
    shared: Shared,
    _task: Arc<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Mock {
    /// Starts a mock of `vendor` whose answer is `reply`.
    pub async fn start(vendor: Vendor, reply: &str) -> Mock {
        let shared = Shared {
            reply: reply.into(),
            behavior: Arc::new(Mutex::new(Behavior::Answer)),
            hits: Arc::new(AtomicUsize::new(0)),
            keys: Arc::new(Mutex::new(Vec::new())),
            bodies: Arc::new(Mutex::new(Vec::new())),
        };
        let app = match vendor {
            Vendor::OpenAi => Router::new().route("/v1/chat/completions", post(openai)),
            Vendor::Anthropic => Router::new().route("/v1/messages", post(anthropic)),
            Vendor::Gemini => Router::new().route("/v1beta/models/{method}", post(gemini)),
        }
        .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Mock {
            addr,
            shared,
            _task: Arc::new(AbortOnDrop(task)),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the next requests get.
    pub fn set(&self, behavior: Behavior) {
        *self.shared.behavior.lock().expect("lock") = behavior;
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }

    /// The API keys the requests carried, in order.
    pub fn keys(&self) -> Vec<String> {
        self.shared.keys.lock().expect("lock").clone()
    }

    /// The request bodies received, in order.
    pub fn bodies(&self) -> Vec<Value> {
        self.shared.bodies.lock().expect("lock").clone()
    }

    /// The answer text.
    pub fn reply(&self) -> &str {
        &self.shared.reply
    }
}

/// The pieces a reply is streamed in: words with their following space.
pub fn pieces(reply: &str) -> Vec<String> {
    reply.split_inclusive(' ').map(str::to_string).collect()
}

/// A port nothing listens on (bound, then released).
pub async fn refused_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    port
}

impl Shared {
    /// Counts the request, remembers its key and body, and says what to do.
    async fn receive(&self, key: Option<&str>, body: &Bytes) -> Behavior {
        self.hits.fetch_add(1, Ordering::SeqCst);
        if let Some(key) = key {
            self.keys.lock().expect("lock").push(key.to_string());
        }
        let body = serde_json::from_slice(body).unwrap_or(Value::Null);
        self.bodies.lock().expect("lock").push(body);
        let behavior = *self.behavior.lock().expect("lock");
        match behavior {
            Behavior::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
            Behavior::Delay(delay) => tokio::time::sleep(delay).await,
            Behavior::Answer | Behavior::Fail(_) => {}
        }
        behavior
    }
}

fn sse(events: Vec<String>) -> Response {
    // Pieces go out one by one with a short pause, as a real upstream streams them.
    let stream = futures::stream::unfold(events.into_iter(), |mut events| async move {
        let event = events.next()?;
        tokio::time::sleep(Duration::from_millis(5)).await;
        Some((Ok::<_, Infallible>(Bytes::from(event)), events))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .expect("response")
}

fn error(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

async fn openai(State(mock): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let behavior = mock.receive(key, &body).await;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = request["model"].as_str().unwrap_or("gpt-mock").to_string();
    if let Behavior::Fail(status) = behavior {
        let kind = if status < 500 {
            "invalid_request_error"
        } else {
            "server_error"
        };
        return error(
            status,
            json!({"error": {"message": format!("mock upstream says {status}"), "type": kind, "param": null, "code": null}}),
        );
    }
    let (prompt, completion) = USAGE;
    if request["stream"] == true {
        let chunk = |delta: Value, finish: Value| {
            format!(
                "data: {}\n\n",
                json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                       "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
            )
        };
        let mut events = vec![chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        )];
        for piece in pieces(&mock.reply) {
            events.push(chunk(json!({"content": piece}), Value::Null));
        }
        events.push(chunk(json!({}), json!("stop")));
        events.push(format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model, "choices": [],
                   "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}})
        ));
        events.push("data: [DONE]\n\n".into());
        return sse(events);
    }
    axum::Json(json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": &*mock.reply}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }))
    .into_response()
}

async fn anthropic(State(mock): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let behavior = mock.receive(key, &body).await;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = request["model"]
        .as_str()
        .unwrap_or("claude-mock")
        .to_string();
    if let Behavior::Fail(status) = behavior {
        let kind = match status {
            401 => "authentication_error",
            429 => "rate_limit_error",
            529 => "overloaded_error",
            400..=499 => "invalid_request_error",
            _ => "api_error",
        };
        return error(
            status,
            json!({"type": "error", "error": {"type": kind, "message": format!("mock upstream says {status}")}}),
        );
    }
    let (input, output) = USAGE;
    if request["stream"] == true {
        let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
        let mut events = vec![
            event(
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message", "role": "assistant", "model": model,
                       "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": input, "output_tokens": 1}}}),
            ),
            event(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            event("ping", json!({"type": "ping"})),
        ];
        for piece in pieces(&mock.reply) {
            events.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}),
            ));
        }
        events.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ));
        events.push(event(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": output}}),
        ));
        events.push(event("message_stop", json!({"type": "message_stop"})));
        return sse(events);
    }
    axum::Json(json!({
        "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": &*mock.reply}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": input, "output_tokens": output},
    }))
    .into_response()
}

async fn gemini(
    State(mock): State<Shared>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = headers.get("x-goog-api-key").and_then(|v| v.to_str().ok());
    let behavior = mock.receive(key, &body).await;
    let Some((model, verb)) = method.split_once(':') else {
        return error(
            404,
            json!({"error": {"code": 404, "message": "no such method", "status": "NOT_FOUND"}}),
        );
    };
    if let Behavior::Fail(status) = behavior {
        let name = match status {
            400 => "INVALID_ARGUMENT",
            401 | 403 => "PERMISSION_DENIED",
            429 => "RESOURCE_EXHAUSTED",
            _ => "UNAVAILABLE",
        };
        return error(
            status,
            json!({"error": {"code": status, "message": format!("mock upstream says {status}"), "status": name}}),
        );
    }
    let (prompt, candidates) = USAGE;
    let usage = json!({"promptTokenCount": prompt, "candidatesTokenCount": candidates, "totalTokenCount": prompt + candidates});
    match verb {
        "streamGenerateContent" => {
            let pieces = pieces(&mock.reply);
            let last = pieces.len().saturating_sub(1);
            let events = pieces
                .into_iter()
                .enumerate()
                .map(|(i, piece)| {
                    let mut candidate = json!({"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0});
                    let mut data = json!({"modelVersion": model});
                    if i == last {
                        candidate["finishReason"] = json!("STOP");
                        data["usageMetadata"] = usage.clone();
                    }
                    data["candidates"] = json!([candidate]);
                    format!("data: {data}\r\n\r\n")
                })
                .collect();
            sse(events)
        }
        "generateContent" => axum::Json(json!({
            "candidates": [{"content": {"parts": [{"text": &*mock.reply}], "role": "model"}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage,
            "modelVersion": model,
        }))
        .into_response(),
        _ => error(404, json!({"error": {"code": 404, "message": "no such method", "status": "NOT_FOUND"}})),
    }
}
