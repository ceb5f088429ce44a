//! The `anthropic` AI provider: chat with Claude through Anthropic's Messages API
//! (`POST {base_url}/v1/messages`), streamed as server-sent events when the caller asks
//! for streaming. The wire format lives in [`wire`]; this file reads the settings and the
//! key, sends the request and hands the answer back.

mod wire;

use sanctuary_plugin_api::http::{self, Request};
use sanctuary_plugin_api::provider::{
    self, AiProvider, ChatRequest, ChatResponse, ProviderInfo, Upstream,
};
use sanctuary_plugin_api::{PluginError, config, log, secret};
use serde::Deserialize;

/// The API version this plugin speaks (`anthropic-version`).
const API_VERSION: &str = "2023-06-01";

/// The operator's settings (`[plugins.anthropic]`).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    /// The API's base URL, without `/v1`.
    base_url: String,
    /// Model used when a request names none.
    default_model: String,
    /// Models to advertise in `describe` (the default model is always among them).
    models: Vec<String>,
    /// Name of the secret holding the API key.
    api_key_secret: String,
    /// `max_tokens` when a request sets none (the API requires one).
    max_tokens: u32,
    /// Give up (`unavailable`) when connecting, waiting for the first byte, or waiting
    /// between two pieces of a stream takes longer; 0 leaves it to the host's limits.
    timeout_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            base_url: "https://api.anthropic.com".into(),
            default_model: "claude-sonnet-4-5".into(),
            models: Vec::new(),
            api_key_secret: "ANTHROPIC_API_KEY".into(),
            max_tokens: 1024,
            timeout_ms: 55_000,
        }
    }
}

impl Settings {
    /// What `describe` reports.
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            name: "Anthropic".into(),
            models: provider::advertised_models(&self.models, &self.default_model),
            default_model: self.default_model.clone(),
            offline: false,
        }
    }

    /// The model to ask for: the request's, or the default.
    fn model(&self, request: &ChatRequest) -> String {
        provider::requested_model(request, &self.default_model)
    }

    /// The key, or a `denied` error naming the secret to set.
    fn key(&self, value: Option<String>) -> Result<String, PluginError> {
        value.filter(|k| !k.is_empty()).ok_or_else(|| {
            PluginError::denied(format!(
                "{} is not set: set this secret on the host (the plugin's manifest declares it \
                 under permissions.secrets)",
                self.api_key_secret
            ))
        })
    }
}

struct Anthropic;

impl AiProvider for Anthropic {
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
        let body = wire::request_body(&request, &model, settings.max_tokens)?;
        let key = settings.key(secret(&settings.api_key_secret))?;

        let outgoing = Request::post(http::join_url(&settings.base_url, "v1/messages"))
            .header("x-api-key", key)
            .header("anthropic-version", API_VERSION)
            .json(&body);
        let prompt_tokens = provider::estimate_prompt(&request.messages);
        provider::exchange(
            outgoing,
            &request,
            settings.timeout_ms,
            Upstream {
                error: wire::upstream_error,
                parse: |body: &serde_json::Value| wire::parse_message(body, &model, prompt_tokens),
                stream: |events, emit: &mut dyn FnMut(&str)| {
                    wire::read_stream(events, &model, prompt_tokens, emit)
                },
            },
        )
    }
}

sanctuary_plugin_api::export!(provider: Anthropic);

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: &str) -> Result<Settings, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn no_configuration_means_the_public_api_and_its_usual_key() {
        let s = settings("{}").expect("defaults");
        assert_eq!(s.base_url, "https://api.anthropic.com");
        assert_eq!(s.default_model, "claude-sonnet-4-5");
        assert_eq!(s.api_key_secret, "ANTHROPIC_API_KEY");
        assert_eq!(s.max_tokens, 1024);
    }

    #[test]
    fn a_misspelt_setting_is_an_error() {
        assert!(settings(r#"{"default_modle": "x"}"#).is_err());
    }

    #[test]
    fn describe_always_lists_the_default_model() {
        let s = settings(r#"{"models": ["claude-haiku-4-5"]}"#).expect("valid");
        assert_eq!(s.info().models, ["claude-sonnet-4-5", "claude-haiku-4-5"]);
        assert_eq!(s.info().name, "Anthropic");
    }

    #[test]
    fn a_missing_key_is_denied_naming_the_secret() {
        let s = Settings::default();
        for value in [None, Some(String::new())] {
            let err = s.key(value).expect_err("no key");
            assert_eq!(err.kind(), "denied");
            assert!(
                err.message().starts_with("ANTHROPIC_API_KEY is not set"),
                "{err:?}"
            );
        }
        assert_eq!(s.key(Some("sk-ant".into())), Ok("sk-ant".into()));
    }
}
