//! The `gemini` AI provider: chat with Google's Gemini models through the Gemini API
//! (`POST {base_url}/v1beta/models/{model}:generateContent`, or
//! `:streamGenerateContent?alt=sse` when the caller asks for streaming). The wire format
//! lives in [`wire`]; this file reads the settings and the key, sends the request and
//! hands the answer back.

mod wire;

use sanctuary_plugin_api::http::{self, Request};
use sanctuary_plugin_api::provider::{
    self, AiProvider, ChatRequest, ChatResponse, ProviderInfo, Upstream,
};
use sanctuary_plugin_api::{PluginError, config, log, secret};
use serde::Deserialize;

/// The secret tried when `api_key_secret` is not set: Google's SDKs accept either name.
const FALLBACK_SECRET: &str = "GOOGLE_API_KEY";

/// The operator's settings (`[plugins.gemini]`).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    /// The API's base URL, without `/v1beta`.
    base_url: String,
    /// Model used when a request names none.
    default_model: String,
    /// Models to advertise in `describe` (the default model is always among them).
    models: Vec<String>,
    /// Name of the secret holding the API key (`GOOGLE_API_KEY` is tried when it is unset).
    api_key_secret: String,
    /// Give up (`unavailable`) when connecting, waiting for the first byte, or waiting
    /// between two pieces of a stream takes longer; 0 leaves it to the host's limits.
    timeout_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            base_url: "https://generativelanguage.googleapis.com".into(),
            default_model: "gemini-2.5-flash".into(),
            models: Vec::new(),
            api_key_secret: "GEMINI_API_KEY".into(),
            timeout_ms: 55_000,
        }
    }
}

impl Settings {
    /// What `describe` reports.
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            name: "Gemini".into(),
            models: provider::advertised_models(&self.models, &self.default_model),
            default_model: self.default_model.clone(),
            offline: false,
        }
    }

    /// The model to ask for: the request's, or the default.
    fn model(&self, request: &ChatRequest) -> String {
        provider::requested_model(request, &self.default_model)
    }

    /// The key from the first of `configured` and `fallback` that is set, or a `denied`
    /// error naming the secret to set.
    fn key(
        &self,
        configured: Option<String>,
        fallback: impl FnOnce() -> Option<String>,
    ) -> Result<String, PluginError> {
        configured
            .filter(|k| !k.is_empty())
            .or_else(|| fallback().filter(|k| !k.is_empty()))
            .ok_or_else(|| {
                PluginError::denied(format!(
                    "{} is not set (nor {FALLBACK_SECRET}): set this secret on the host (the \
                     plugin's manifest declares it under permissions.secrets)",
                    self.api_key_secret
                ))
            })
    }
}

struct Gemini;

impl AiProvider for Gemini {
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
        let model = wire::model_id(&settings.model(&request))?;
        let body = wire::request_body(&request)?;
        let key = settings.key(secret(&settings.api_key_secret), || secret(FALLBACK_SECRET))?;

        let url = http::join_url(&settings.base_url, &wire::path(&model, request.streaming));
        let outgoing = Request::post(url).header("x-goog-api-key", key).json(&body);
        let prompt_tokens = provider::estimate_prompt(&request.messages);
        provider::exchange(
            outgoing,
            &request,
            settings.timeout_ms,
            Upstream {
                error: wire::upstream_error,
                parse: |body: &serde_json::Value| wire::parse_response(body, &model, prompt_tokens),
                stream: |events, emit: &mut dyn FnMut(&str)| {
                    wire::read_stream(events, &model, prompt_tokens, emit)
                },
            },
        )
    }
}

sanctuary_plugin_api::export!(provider: Gemini);

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: &str) -> Result<Settings, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn no_configuration_means_the_public_api_and_its_usual_key() {
        let s = settings("{}").expect("defaults");
        assert_eq!(s.base_url, "https://generativelanguage.googleapis.com");
        assert_eq!(s.default_model, "gemini-2.5-flash");
        assert_eq!(s.api_key_secret, "GEMINI_API_KEY");
    }

    #[test]
    fn a_misspelt_setting_is_an_error() {
        assert!(settings(r#"{"api_key": "AIza..."}"#).is_err());
    }

    #[test]
    fn describe_always_lists_the_default_model() {
        let s = settings(r#"{"default_model": "gemini-2.5-pro", "models": ["gemini-2.5-flash"]}"#)
            .expect("valid");
        assert_eq!(s.info().models, ["gemini-2.5-pro", "gemini-2.5-flash"]);
    }

    #[test]
    fn the_key_falls_back_to_google_api_key_and_is_denied_when_neither_is_set() {
        let s = Settings::default();
        assert_eq!(s.key(Some("a".into()), || Some("b".into())), Ok("a".into()));
        assert_eq!(s.key(None, || Some("b".into())), Ok("b".into()));
        assert_eq!(
            s.key(Some(String::new()), || Some("b".into())),
            Ok("b".into())
        );
        let err = s.key(None, || None).expect_err("no key");
        assert_eq!(err.kind(), "denied");
        assert!(
            err.message().starts_with("GEMINI_API_KEY is not set"),
            "{err:?}"
        );
    }
}
