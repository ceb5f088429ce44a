//! The `openai-compatible` AI provider: chat through any server that speaks OpenAI's Chat
//! Completions API (`POST {base_url}/chat/completions`): OpenAI itself, Together, Groq,
//! or a local Ollama or vLLM server. Answers stream as server-sent events when the caller
//! asks for streaming. The wire format lives in [`wire`]; this file reads the settings,
//! sends the request and hands the answer back.

mod wire;

use sanctuary_plugin_api::http::{self, Request};
use sanctuary_plugin_api::provider::{
    self, AiProvider, ChatRequest, ChatResponse, ProviderInfo, Upstream,
};
use sanctuary_plugin_api::{PluginError, config, log, secret};
use serde::Deserialize;

/// The operator's settings (`[plugins.openai-compatible]`).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    /// The API's base URL, up to and including its version, e.g. `http://localhost:11434/v1`.
    base_url: String,
    /// Model used when a request names none.
    default_model: String,
    /// Models to advertise in `describe` (the default model is always among them).
    models: Vec<String>,
    /// Name of the secret holding the API key. An unset secret sends no `Authorization`
    /// header, which is what local servers want.
    api_key_secret: String,
    /// Give up (`unavailable`) when connecting, waiting for the first byte, or waiting
    /// between two pieces of a stream takes longer; 0 leaves it to the host's limits.
    timeout_ms: u64,
    /// Ask for token counts in streamed answers (`stream_options.include_usage`); turn
    /// off for servers that reject the field.
    stream_usage: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".into(),
            default_model: "gpt-4o-mini".into(),
            models: Vec::new(),
            api_key_secret: "OPENAI_API_KEY".into(),
            timeout_ms: 55_000,
            stream_usage: true,
        }
    }
}

impl Settings {
    /// What `describe` reports.
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            name: "OpenAI-compatible".into(),
            models: provider::advertised_models(&self.models, &self.default_model),
            default_model: self.default_model.clone(),
            offline: false,
        }
    }

    /// The model to ask for: the request's, or the default.
    fn model(&self, request: &ChatRequest) -> String {
        provider::requested_model(request, &self.default_model)
    }
}

struct OpenAiCompatible;

impl AiProvider for OpenAiCompatible {
    fn describe() -> ProviderInfo {
        config::<Settings>()
            .unwrap_or_else(|err| {
                log::warn(format!("{}; describing the defaults", err.message()));
                Settings::default()
            })
            .info()
    }

    fn chat(request: ChatRequest) -> Result<ChatResponse, PluginError> {
        provider::last_message(&request)?;
        let settings: Settings = config()?;
        let model = settings.model(&request);
        let key = secret(&settings.api_key_secret).filter(|k| !k.is_empty());
        let body = wire::request_body(&request, &model, settings.stream_usage)?;

        let mut outgoing =
            Request::post(http::join_url(&settings.base_url, "chat/completions")).json(&body);
        if let Some(key) = &key {
            outgoing = outgoing.header("authorization", format!("Bearer {key}"));
        }
        let missing_key = key.is_none().then_some(settings.api_key_secret.as_str());
        let prompt_tokens = provider::estimate_prompt(&request.messages);
        // A server may also answer a streaming request in one piece; `exchange` reads both.
        provider::exchange(
            outgoing,
            &request,
            settings.timeout_ms,
            Upstream {
                error: |status, text: &str| wire::upstream_error(status, text, missing_key),
                parse: |body: &serde_json::Value| {
                    wire::parse_completion(body, &model, prompt_tokens)
                },
                stream: |events, emit: &mut dyn FnMut(&str)| {
                    wire::read_stream(events, &model, prompt_tokens, emit)
                },
            },
        )
    }
}

sanctuary_plugin_api::export!(provider: OpenAiCompatible);

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_plugin_api::provider::{Message, Role};

    fn settings(json: &str) -> Result<Settings, serde_json::Error> {
        serde_json::from_str(json)
    }

    fn request(model: Option<&str>) -> ChatRequest {
        ChatRequest {
            model: model.map(Into::into),
            messages: vec![Message::new(Role::User, "hi")],
            max_tokens: None,
            temperature: None,
            streaming: false,
            context: None,
        }
    }

    #[test]
    fn no_configuration_means_openai_with_its_usual_key() {
        let s = settings("{}").expect("defaults");
        assert_eq!(s.base_url, "https://api.openai.com/v1");
        assert_eq!(s.default_model, "gpt-4o-mini");
        assert_eq!(s.api_key_secret, "OPENAI_API_KEY");
        assert!(s.stream_usage);
    }

    #[test]
    fn a_misspelt_setting_is_an_error() {
        let err = settings(r#"{"base_ulr": "http://localhost:11434/v1"}"#).expect_err("typo");
        assert!(err.to_string().contains("base_ulr"), "{err}");
    }

    #[test]
    fn describe_lists_the_default_model_first_when_it_is_not_listed() {
        let s = settings(r#"{"default_model": "llama3.2", "models": ["qwen2.5"]}"#).expect("valid");
        let info = s.info();
        assert_eq!(info.models, ["llama3.2", "qwen2.5"]);
        assert_eq!(info.default_model, "llama3.2");
        assert!(!info.offline);
        let s = settings(r#"{"default_model": "b", "models": ["a", "b"]}"#).expect("valid");
        assert_eq!(s.info().models, ["a", "b"]);
    }

    #[test]
    fn the_requested_model_wins_over_the_default_unless_blank() {
        let s = Settings::default();
        assert_eq!(s.model(&request(Some("gpt-4o"))), "gpt-4o");
        assert_eq!(s.model(&request(Some("  "))), "gpt-4o-mini");
        assert_eq!(s.model(&request(None)), "gpt-4o-mini");
    }
}
