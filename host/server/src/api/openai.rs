//! The OpenAI-compatible surface, so OpenAI SDK clients can point their `base_url` at the
//! host: `POST /v1/chat/completions` (plain, or `stream: true` for server-sent
//! `chat.completion.chunk`s ending in `data: [DONE]`) and `GET /v1/models`.
//!
//! The `model` names what answers: a route (`mama-bear`, with its failover chain), a
//! `provider/model` pair (`openai-compatible/gpt-4o-mini`, `local/local-echo`), a provider
//! id (its default model), or a bare model that loaded providers list. Every call goes
//! through [`chat::answer`], like every other chat surface. Responses carry
//! `x-sanctuary-provider` (the plugin that answered) and, for a route, `x-sanctuary-route`.
//! Errors on this surface, and only here, use OpenAI's shape `{error:{message, type,
//! param, code}}`.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::chat::{self, ChatEvent};
use crate::config::ChainEntry;
use crate::manifest::Kind;
use crate::providers::{self, ProviderError, Route, Served};
use crate::runtime::provider::{ChatRequest, Message, Role};
use crate::state::AppState;

mod schema;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
}

const PROVIDER_HEADER: HeaderName = HeaderName::from_static("x-sanctuary-provider");
const ROUTE_HEADER: HeaderName = HeaderName::from_static("x-sanctuary-route");

/// An error in OpenAI's shape.
#[derive(Debug)]
pub struct OpenAiError {
    status: StatusCode,
    message: String,
    kind: &'static str,
    code: Option<String>,
    param: Option<&'static str>,
}

impl OpenAiError {
    fn invalid(message: impl Into<String>, param: Option<&'static str>) -> OpenAiError {
        OpenAiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            code: None,
            param,
        }
    }

    /// 404 for a model only providers that are not configured offer: it cannot be used
    /// here (OpenAI's `model_not_found`, saying what is missing).
    fn model_unconfigured(model: &str, missing: &[String]) -> OpenAiError {
        OpenAiError {
            message: format!(
                "The model `{model}` cannot be used here: {}",
                missing.join("; ")
            ),
            ..OpenAiError::model_not_found(model)
        }
    }

    fn model_not_found(model: &str) -> OpenAiError {
        OpenAiError {
            status: StatusCode::NOT_FOUND,
            message: format!(
                "The model `{model}` does not exist: name a route (see GET /v1/models), \
                 `provider/model`, or a model a loaded provider offers"
            ),
            kind: "invalid_request_error",
            code: Some("model_not_found".into()),
            param: Some("model"),
        }
    }

    fn from_provider(err: &ProviderError) -> OpenAiError {
        let status = err.status();
        let kind = if status.is_client_error() {
            "invalid_request_error"
        } else {
            "server_error"
        };
        OpenAiError {
            status,
            message: err.to_string(),
            kind,
            code: Some(err.code().to_string()),
            param: None,
        }
    }

    fn body(&self) -> Value {
        json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        })
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// A validated `POST /v1/chat/completions` body (fields this host does not use, such as
/// `n`, `tools` or `user`, are accepted and ignored).
#[derive(Debug, Clone)]
struct Completion {
    model: String,
    messages: Vec<Message>,
    stream: bool,
    include_usage: bool,
    max_tokens: Option<u32>,
    temperature: Option<f32>,
}

impl Completion {
    fn parse(body: &[u8]) -> Result<Completion, OpenAiError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| OpenAiError::invalid(format!("The body is not valid JSON: {e}"), None))?;
        let Value::Object(fields) = value else {
            return Err(OpenAiError::invalid("The body must be a JSON object", None));
        };
        let model = match fields.get("model") {
            Some(Value::String(model)) if !model.trim().is_empty() => model.clone(),
            _ => {
                return Err(OpenAiError::invalid(
                    "`model` is required: a non-empty string",
                    Some("model"),
                ));
            }
        };
        let Some(Value::Array(raw)) = fields.get("messages") else {
            return Err(OpenAiError::invalid(
                "`messages` is required: an array of {role, content}",
                Some("messages"),
            ));
        };
        if raw.is_empty() {
            return Err(OpenAiError::invalid(
                "`messages` must not be empty",
                Some("messages"),
            ));
        }
        crate::chat::params::message_count(raw.len()).map_err(param_error)?;
        let messages = raw
            .iter()
            .enumerate()
            .map(|(i, m)| message(i, m))
            .collect::<Result<Vec<_>, _>>()?;
        let flag = |name: &'static str, value: Option<&Value>| match value {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(OpenAiError::invalid(
                format!("`{name}` must be a boolean"),
                Some(name),
            )),
        };
        let stream = flag("stream", fields.get("stream"))?;
        let include_usage = flag(
            "stream_options",
            fields
                .get("stream_options")
                .and_then(|o| o.get("include_usage")),
        )?;
        let sampling = crate::chat::params::sampling(&fields).map_err(param_error)?;
        let (max_tokens, temperature) = (sampling.max_tokens, sampling.temperature);
        Ok(Completion {
            model,
            messages,
            stream,
            include_usage,
            max_tokens,
            temperature,
        })
    }

    /// The provider request; `model` is what the chain link does not fix.
    fn request(&self, model: Option<String>) -> ChatRequest {
        ChatRequest {
            model,
            messages: self.messages.clone(),
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            streaming: self.stream,
            context: None,
        }
    }
}

/// One message: `role` system/developer/user/assistant, `content` a string or an array of
/// text parts (`null` allowed for an assistant turn).
fn message(i: usize, value: &Value) -> Result<Message, OpenAiError> {
    let bad = |what: String| OpenAiError::invalid(what, Some("messages"));
    let role = match value.get("role").and_then(Value::as_str) {
        Some(name) if crate::chat::params::role(name).is_some() => {
            crate::chat::params::role(name).unwrap_or(Role::User)
        }
        Some(other) => {
            return Err(bad(format!(
                "messages[{i}].role `{other}` is not supported here (system, developer, user, assistant)"
            )));
        }
        None => return Err(bad(format!("messages[{i}].role is required"))),
    };
    let content = match value.get("content") {
        Some(Value::String(text)) => text.clone(),
        None | Some(Value::Null) if matches!(role, Role::Assistant) => String::new(),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for part in parts {
                match (
                    part.get("type").and_then(Value::as_str),
                    part.get("text").and_then(Value::as_str),
                ) {
                    (Some("text"), Some(t)) => text.push_str(t),
                    _ => {
                        return Err(bad(format!(
                            "messages[{i}].content: only text parts are supported"
                        )));
                    }
                }
            }
            text
        }
        _ => {
            return Err(bad(format!(
                "messages[{i}].content must be a string or an array of text parts"
            )));
        }
    };
    crate::chat::params::message_text("messages", &format!("messages[{i}].content"), &content)
        .map_err(param_error)?;
    Ok(Message { role, content })
}

/// A chat parameter refused by [`crate::chat::params`], in OpenAI's shape.
fn param_error(err: crate::chat::params::ParamError) -> OpenAiError {
    OpenAiError::invalid(err.message, Some(err.field))
}

/// What a model name selects.
struct Target {
    /// The chain to walk.
    route: Route,
    /// The route's name, when the model named one.
    route_name: Option<String>,
}

/// What a provider that is not configured lacks, naming it (`None`: it can be called).
fn unconfigured(state: &AppState, provider: &str) -> Option<String> {
    let live = providers::loaded_provider(&state.plugins, provider)?;
    providers::configured::missing(state, &live).map(|why| format!("`{provider}` has {why}"))
}

/// Resolves `model` (see the module docs). A model named through a provider that is not
/// configured (no API key, no endpoint of its own) is not found: every call to it would
/// fail, and [`models`] does not list it.
fn resolve(state: &AppState, model: &str) -> Result<Target, OpenAiError> {
    if let Some(route) = state.chat.providers.route(model) {
        return Ok(Target {
            route_name: Some(route.name.clone()),
            route,
        });
    }
    let ad_hoc = |chain: Vec<ChainEntry>| Target {
        route: Route::ad_hoc(model, chain),
        route_name: None,
    };
    let usable = |provider: &str| match unconfigured(state, provider) {
        Some(missing) => Err(OpenAiError::model_unconfigured(model, &[missing])),
        None => Ok(()),
    };
    if let Some((provider, name)) = model.split_once('/')
        && !name.is_empty()
        && providers::loaded_provider(&state.plugins, provider).is_some()
    {
        usable(provider)?;
        return Ok(ad_hoc(vec![ChainEntry {
            model: Some(name.to_string()),
            ..ChainEntry::new(provider)
        }]));
    }
    if providers::loaded_provider(&state.plugins, model).is_some() {
        usable(model)?;
        return Ok(ad_hoc(vec![ChainEntry::new(model)]));
    }
    let (offering, missing): (Vec<_>, Vec<_>) = state
        .plugins
        .of_kind(Kind::AiProvider)
        .iter()
        .filter(|live| {
            live.provider
                .as_ref()
                .is_some_and(|info| info.models.iter().any(|m| m == model))
        })
        .map(|live| (live.id().to_string(), unconfigured(state, live.id())))
        .partition(|(_, missing)| missing.is_none());
    if offering.is_empty() {
        let missing: Vec<String> = missing.into_iter().filter_map(|(_, why)| why).collect();
        return Err(if missing.is_empty() {
            OpenAiError::model_not_found(model)
        } else {
            OpenAiError::model_unconfigured(model, &missing)
        });
    }
    Ok(ad_hoc(
        offering
            .into_iter()
            .map(|(id, _)| ChainEntry {
                model: Some(model.to_string()),
                ..ChainEntry::new(&id)
            })
            .collect(),
    ))
}

/// Create a chat completion (OpenAI's API).
#[utoipa::path(
    post, path = "/v1/chat/completions", tag = "openai",
    request_body(content = schema::CompletionRequest, description = "OpenAI's chat completion request: `model`, `messages`, `stream`, `max_tokens`, `temperature`, `top_p` (other OpenAI fields are accepted and ignored)"),
    responses(
        (status = 200, description = "A `chat.completion`, or with `stream: true` an event stream of `chat.completion.chunk`s ending in `[DONE]`", content(
            (schema::ChatCompletion = "application/json"),
            (schema::CompletionStreamEvent = "text/event-stream"),
        )),
        (status = 400, description = "Invalid request (OpenAI error shape)"),
        (status = 404, description = "Unknown model, or one only providers that are not configured offer (OpenAI error shape)"),
        (status = 502, description = "The provider failed (OpenAI error shape)"),
        (status = 503, description = "No provider available (OpenAI error shape)"),
        (status = 504, description = "The provider timed out (OpenAI error shape)"),
    )
)]
pub async fn chat_completions(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, OpenAiError> {
    let completion = Completion::parse(&body)?;
    let target = resolve(&state, &completion.model)?;
    // A route's links fix their own models (or use the provider's default).
    let request = completion.request(None);
    if completion.stream {
        return stream(state, completion, target, request).await;
    }
    let served = chat::answer(
        &state.chat,
        target.route.clone(),
        request,
        chat::Surface::OpenAi,
    )
    .outcome()
    .await
    .map_err(|e| OpenAiError::from_provider(&e))?;
    let mut body = schema::ChatCompletion::of(&served);
    if served.cached {
        // Not OpenAI's: tells a client the answer came from the response cache.
        body.metadata = Some(schema::CompletionMetadata { cached: true });
    }
    let mut response = Json(body).into_response();
    set_headers(response.headers_mut(), Some(&served.provider), &target);
    Ok(response)
}

fn set_headers(headers: &mut HeaderMap, provider: Option<&str>, target: &Target) {
    if let Some(value) = provider.and_then(|p| HeaderValue::from_str(p).ok()) {
        headers.insert(PROVIDER_HEADER, value);
    }
    if let Some(value) = target
        .route_name
        .as_deref()
        .and_then(|r| HeaderValue::from_str(r).ok())
    {
        headers.insert(ROUTE_HEADER, value);
    }
}

fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::new_v4().simple())
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// OpenAI's `finish_reason` for a provider's.
fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "length" | "max_tokens" | "max-tokens" | "MAX_TOKENS" => "length",
        "content_filter" | "safety" | "SAFETY" | "refusal" => "content_filter",
        _ => "stop",
    }
}

/// What the chat reports to a streamed completion.
type Update = ChatEvent<Result<Served, ProviderError>>;

/// A streamed completion. The response starts once the first chunk (or the whole answer)
/// is in, so a failure of every provider is still a plain error with its status, and the
/// `x-sanctuary-provider` header names the provider that is actually streaming.
async fn stream(
    state: AppState,
    completion: Completion,
    target: Target,
    request: ChatRequest,
) -> Result<Response, OpenAiError> {
    let mut rx = chat::answer(
        &state.chat,
        target.route.clone(),
        request,
        chat::Surface::OpenAiStream,
    );

    let mut serving: Option<(String, Option<String>)> = None;
    let first = loop {
        match rx.next_event().await {
            Some(Update::Serving { provider, model }) => serving = Some((provider, model)),
            Some(update) => break update,
            None => {
                return Err(OpenAiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "the provider task ended without an answer".into(),
                    kind: "server_error",
                    code: None,
                    param: None,
                });
            }
        }
    };
    let (provider, model) = match &first {
        Update::Done(result) => match result {
            Ok(served) => (served.provider.clone(), served.response.model.clone()),
            Err(err) => return Err(OpenAiError::from_provider(err)),
        },
        _ => {
            let (provider, model) = serving.unwrap_or_default();
            let model = model
                .or_else(|| {
                    providers::loaded_provider(&state.plugins, &provider)
                        .and_then(|live| live.provider.as_ref().map(|i| i.default_model.clone()))
                })
                .unwrap_or_else(|| completion.model.clone());
            (provider, model)
        }
    };
    let chunks = Chunks {
        id: completion_id(),
        created: unix_now(),
        model,
        include_usage: completion.include_usage,
    };
    let (events_tx, events) = mpsc::unbounded_channel::<Event>();
    let opening = schema::ChunkDelta {
        role: Some("assistant"),
        content: Some(String::new()),
    };
    let _ = events_tx.send(chunks.chunk(opening, None));
    // An answer that arrived whole (the provider did not stream) goes out as one chunk.
    if let Update::Done(Ok(served)) = &first {
        let delta = schema::ChunkDelta {
            content: Some(served.response.text.clone()),
            ..Default::default()
        };
        let _ = events_tx.send(chunks.chunk(delta, None));
    }
    tokio::spawn(async move {
        let mut next = Some(first);
        while let Some(update) = next.take() {
            let (events, done) = chunks.on(update);
            for event in events {
                let _ = events_tx.send(event);
            }
            if done {
                break;
            }
            next = rx.next_event().await;
        }
    });
    let stream = futures::stream::unfold(events, |mut events| async move {
        let event = events.recv().await?;
        Some((Ok::<_, Infallible>(event), events))
    });
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    set_headers(response.headers_mut(), Some(&provider), &target);
    Ok(response)
}

/// Builds the `chat.completion.chunk` objects of one stream.
struct Chunks {
    id: String,
    created: i64,
    model: String,
    include_usage: bool,
}

impl Chunks {
    fn chunk(&self, delta: schema::ChunkDelta, finish_reason: Option<&'static str>) -> Event {
        event(json!(schema::ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk",
            created: self.created,
            model: self.model.clone(),
            system_fingerprint: None,
            choices: vec![schema::ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason,
            }],
            usage: None,
        }))
    }

    /// The events that answer `update`, and whether the stream is over.
    fn on(&self, update: Update) -> (Vec<Event>, bool) {
        match update {
            Update::Serving { .. } => (Vec::new(), false),
            Update::Chunk(text) => {
                let delta = schema::ChunkDelta {
                    content: Some(text),
                    ..Default::default()
                };
                (vec![self.chunk(delta, None)], false)
            }
            Update::Done(result) => {
                let mut events = Vec::new();
                match result {
                    Ok(served) => {
                        events.push(self.chunk(
                            schema::ChunkDelta::default(),
                            Some(finish_reason(&served.response.finish_reason)),
                        ));
                        if self.include_usage {
                            events.push(event(json!(schema::ChatCompletionChunk {
                                id: self.id.clone(),
                                object: "chat.completion.chunk",
                                created: self.created,
                                model: self.model.clone(),
                                system_fingerprint: None,
                                choices: Vec::new(),
                                usage: Some(schema::CompletionUsage::of(&served)),
                            })));
                        }
                    }
                    // The provider failed after it started streaming: OpenAI's in-stream
                    // error, then the end.
                    Err(err) => events.push(event(OpenAiError::from_provider(&err).body())),
                }
                events.push(Event::default().data("[DONE]"));
                (events, true)
            }
        }
    }
}

fn event(value: Value) -> Event {
    Event::default().data(value.to_string())
}

/// List the models (OpenAI's API): every route, and every loaded provider's models as
/// `provider/model`.
#[utoipa::path(
    get, path = "/v1/models", tag = "openai",
    responses((status = 200, description = "`{object: \"list\", data: [{id, object: \"model\", created, owned_by}]}`", body = schema::ModelList))
)]
pub async fn models(State(state): State<AppState>) -> Json<schema::ModelList> {
    let started = state.started_wall.timestamp();
    let mut data: Vec<schema::ModelEntry> = state
        .chat
        .providers
        .table()
        .iter()
        .map(|route| schema::ModelEntry {
            id: route.name.clone(),
            object: "model",
            created: started,
            owned_by: "sanctuary".into(),
        })
        .collect();
    for live in state.plugins.of_kind(Kind::AiProvider) {
        let Some(info) = &live.provider else { continue };
        // A provider that is not configured serves nothing (see `resolve`).
        if providers::configured::missing(&state, &live).is_some() {
            continue;
        }
        for model in &info.models {
            data.push(schema::ModelEntry {
                id: format!("{}/{model}", live.id()),
                object: "model",
                created: live.loaded_at.timestamp(),
                owned_by: live.id().to_string(),
            });
        }
    }
    Json(schema::ModelList {
        object: "list",
        data,
    })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;

    use super::*;
    use crate::api::test_support::{get, send, state};

    fn post(body: &str) -> Request<Body> {
        Request::post("/v1/chat/completions")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request")
    }

    #[test]
    fn a_completion_request_is_read_like_openai_reads_it() {
        let completion = Completion::parse(
            br#"{"model":"mama-bear","messages":[
                {"role":"developer","content":"be brief"},
                {"role":"user","content":[{"type":"text","text":"hi "},{"type":"text","text":"there"}]},
                {"role":"assistant","content":null},
                {"role":"user","content":"again"}],
              "stream":true,"stream_options":{"include_usage":true},
              "max_completion_tokens":64,"temperature":0.5,"n":1,"user":"u"}"#,
        )
        .expect("valid");
        assert_eq!(completion.model, "mama-bear");
        assert!(completion.stream && completion.include_usage);
        assert_eq!(completion.max_tokens, Some(64));
        assert_eq!(completion.temperature, Some(0.5));
        let roles: Vec<_> = completion.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [Role::System, Role::User, Role::Assistant, Role::User]
        );
        assert_eq!(completion.messages[1].content, "hi there");
    }

    #[test]
    fn bad_completion_requests_name_the_parameter() {
        for (body, param) in [
            (r#"{"messages":[{"role":"user","content":"x"}]}"#, "model"),
            (r#"{"model":"m"}"#, "messages"),
            (r#"{"model":"m","messages":[]}"#, "messages"),
            (
                r#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#,
                "messages",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":5}]}"#,
                "messages",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#,
                "stream",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":-1}"#,
                "max_tokens",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":9}"#,
                "temperature",
            ),
        ] {
            let err = Completion::parse(body.as_bytes()).expect_err(body);
            assert_eq!(err.param, Some(param), "{body}");
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn finish_reasons_map_onto_openais() {
        assert_eq!(finish_reason("stop"), "stop");
        assert_eq!(finish_reason("length"), "length");
        assert_eq!(finish_reason("MAX_TOKENS"), "length");
        assert_eq!(finish_reason("end_turn"), "stop");
        assert_eq!(finish_reason("SAFETY"), "content_filter");
    }

    #[tokio::test]
    async fn errors_on_this_surface_have_openais_shape() {
        let (state, _db, _dir) = state().await;
        let app = crate::app(state);
        let (status, _, body) = send(app.clone(), post("not json")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"].is_string());
        assert!(body.get("success").is_none());

        let (status, _, body) = send(
            app.clone(),
            post(r#"{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}"#),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "model_not_found");
        assert_eq!(body["error"]["param"], "model");

        // A route with nothing loaded: 503 in OpenAI's shape.
        let (status, _, body) = send(
            app,
            post(r#"{"model":"mama-bear","messages":[{"role":"user","content":"x"}]}"#),
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["type"], "server_error");
        assert_eq!(body["error"]["code"], "no_provider");
    }

    #[tokio::test]
    async fn the_model_list_names_every_route() {
        let (state, _db, _dir) = state().await;
        let (status, _, body) = send(crate::app(state), get("/v1/models")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["object"], "list");
        let ids: Vec<_> = body["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|m| m["id"].as_str().expect("id"))
            .collect();
        assert_eq!(ids, ["mama-bear", "vertex-garden"]);
        assert_eq!(body["data"][0]["object"], "model");
        assert!(body["data"][0]["created"].is_i64());
        assert_eq!(body["data"][0]["owned_by"], "sanctuary");
    }
}
