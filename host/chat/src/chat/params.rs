//! One validation of chat parameters for every chat surface: the seeds' routes
//! (`/api/chat/*`, `/api/chat/stream`, Socket.IO `mama_bear_chat`, through
//! [`crate::chat::ChatInput::from_json`]) and OpenAI's `/v1/chat/completions`. Each surface
//! reports a [`ParamError`] in its own error shape, naming the field.
//!
//! - `max_tokens` (or `max_completion_tokens`): an integer from 1 to [`MAX_TOKENS`];
//! - `temperature`: a number from 0 to 2; `top_p`: a number from 0 to 1 (accepted and
//!   checked; the provider plugins' interface has no `top_p` yet, so it is not forwarded);
//! - a message's text: at most [`MAX_MESSAGE_BYTES`]; a conversation: at most
//!   [`MAX_MESSAGES`] messages; roles `system`/`developer`, `user`, `assistant`.

use serde_json::{Map, Value};

use crate::runtime::provider::Role;

/// Largest `max_tokens` accepted.
pub const MAX_TOKENS: u32 = 1_000_000;
/// Longest message text, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Most messages in one request.
pub const MAX_MESSAGES: usize = 1000;

/// A chat parameter that is not valid: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The field, as the client named it (`max_tokens`, `messages`, ...).
    pub field: &'static str,
    /// What is wrong, in words the client can act on.
    pub message: String,
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn bad(field: &'static str, message: impl Into<String>) -> ParamError {
    ParamError {
        field,
        message: message.into(),
    }
}

/// Reads an optional id field (`user_id`, `session_id`, a job's `route`, ...): absent or
/// `null` is `None`; anything else must be a non-empty string following
/// [`crate::runtime::ids`]' rules for `kind`.
pub fn optional_id(
    fields: &mut Map<String, Value>,
    field: &'static str,
    kind: crate::runtime::ids::Kind,
) -> Result<Option<String>, ParamError> {
    match fields.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) if id.trim().is_empty() => {
            Err(bad(field, format!("{field} must not be empty")))
        }
        Some(Value::String(id)) => match crate::runtime::ids::check(kind, &id) {
            Ok(()) => Ok(Some(id)),
            Err(err) => Err(bad(field, err.to_string())),
        },
        Some(other) => Err(bad(
            field,
            format!("{field} must be a string, not {}", super::json_type(&other)),
        )),
    }
}

/// The sampling parameters of a request.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct Sampling {
    /// Longest answer, in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature, 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
}

impl Sampling {
    /// Whether no parameter is set.
    pub fn is_unset(&self) -> bool {
        *self == Sampling::default()
    }
}

/// Reads `max_tokens` (or `max_completion_tokens`), `temperature` and `top_p` from a
/// request's fields; absent or `null` means unset.
pub fn sampling(fields: &Map<String, Value>) -> Result<Sampling, ParamError> {
    let max_tokens = match fields
        .get("max_completion_tokens")
        .filter(|v| !v.is_null())
        .or_else(|| fields.get("max_tokens"))
    {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (1..=MAX_TOKENS).contains(n))
                .ok_or_else(|| {
                    bad(
                        "max_tokens",
                        format!("`max_tokens` must be an integer from 1 to {MAX_TOKENS}"),
                    )
                })?,
        ),
    };
    Ok(Sampling {
        max_tokens,
        temperature: number(fields, "temperature", 2.0)?,
        top_p: number(fields, "top_p", 1.0)?,
    })
}

/// A number field from 0 to `max`.
fn number(
    fields: &Map<String, Value>,
    field: &'static str,
    max: f64,
) -> Result<Option<f32>, ParamError> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_f64()
            .filter(|n| (0.0..=max).contains(n))
            // In range, so the narrowing is exact enough and never infinite.
            .map(|n| Some(n as f32))
            .ok_or_else(|| bad(field, format!("`{field}` must be a number from 0 to {max}"))),
    }
}

/// A message role by its wire name.
pub fn role(name: &str) -> Option<Role> {
    match name {
        "system" | "developer" => Some(Role::System),
        "user" => Some(Role::User),
        "assistant" => Some(Role::Assistant),
        _ => None,
    }
}

/// Checks the size of one message's text (`what` names it, e.g. `messages[3].content`).
pub fn message_text(field: &'static str, what: &str, text: &str) -> Result<(), ParamError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(bad(
            field,
            format!(
                "{what} is {} bytes; at most {MAX_MESSAGE_BYTES} are accepted",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// Checks the number of messages of a request.
pub fn message_count(count: usize) -> Result<(), ParamError> {
    if count > MAX_MESSAGES {
        return Err(bad(
            "messages",
            format!("{count} messages; at most {MAX_MESSAGES} are accepted"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(fields) => fields,
            _ => Map::new(),
        }
    }

    #[test]
    fn out_of_range_parameters_are_refused_naming_the_field() {
        for (body, field) in [
            (json!({"max_tokens": -1}), "max_tokens"),
            (json!({"max_tokens": 0}), "max_tokens"),
            (json!({"max_tokens": 1.5}), "max_tokens"),
            (json!({"max_tokens": "10"}), "max_tokens"),
            (json!({"max_completion_tokens": 2_000_000}), "max_tokens"),
            (json!({"temperature": 1e308}), "temperature"),
            (json!({"temperature": -0.1}), "temperature"),
            (json!({"temperature": "hot"}), "temperature"),
            (json!({"top_p": 1.5}), "top_p"),
        ] {
            let err = sampling(&fields(body.clone())).expect_err("refused");
            assert_eq!(err.field, field, "{body}");
        }
    }

    #[test]
    fn valid_parameters_are_read_and_absent_ones_are_unset() {
        let read = sampling(&fields(
            json!({"max_tokens": 256, "temperature": 0.7, "top_p": 1, "x": 1}),
        ))
        .expect("valid");
        assert_eq!(read.max_tokens, Some(256));
        assert_eq!(read.temperature, Some(0.7));
        assert_eq!(read.top_p, Some(1.0));
        assert_eq!(
            sampling(&fields(json!({"temperature": null}))).expect("valid"),
            Sampling::default()
        );
    }

    #[test]
    fn sizes_and_roles_are_checked() {
        assert!(message_text("message", "message", &"x".repeat(MAX_MESSAGE_BYTES)).is_ok());
        let err = message_text("message", "message", &"x".repeat(MAX_MESSAGE_BYTES + 1))
            .expect_err("too long");
        assert_eq!(err.field, "message");
        assert!(message_count(MAX_MESSAGES + 1).is_err());
        assert_eq!(role("developer"), Some(Role::System));
        assert_eq!(role("tool"), None);
    }
}
