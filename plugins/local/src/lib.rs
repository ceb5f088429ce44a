//! The `local` AI provider, Sanctuary's offline default. No language model runs here and
//! it says so; what it can answer without one it answers for real: which plugins and
//! tools are installed (from the host), and the current time (WASI's clock, in UTC).
//! Anything else gets an honest explanation and how to switch to a real provider.

use chrono::{DateTime, Utc};
use sanctuary_plugin_api::provider::{
    self, AiProvider, ChatRequest, ChatResponse, Message, ProviderInfo, Usage,
};
use sanctuary_plugin_api::{PluginError, PluginSummary, installed_plugins};

/// The one model name this provider answers to by default.
const MODEL: &str = "local-echo";
/// Words per streamed chunk.
const WORDS_PER_CHUNK: usize = 4;
/// How every answer starts.
const INTRO: &str = "I'm Sanctuary's offline local provider; no language model is running here";

/// What the last message asks for, as far as keywords can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    /// Plugins, tools, what is installed, help.
    Plugins,
    /// The time or date.
    Time,
    /// Anything else: needs a real model.
    Other,
}

struct Local;

impl AiProvider for Local {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "Local (offline)".into(),
            models: vec![MODEL.into()],
            default_model: MODEL.into(),
            offline: true,
        }
    }

    fn chat(request: ChatRequest) -> Result<ChatResponse, PluginError> {
        let last = provider::last_message(&request)?;
        let full = match intent(&last.content) {
            Intent::Plugins => plugins_answer(&installed_plugins()),
            Intent::Time => time_answer(now(), has_tool(&installed_plugins(), "current_time")),
            Intent::Other => other_answer(),
        };
        let (text, finish_reason) = limit(&full, request.max_tokens);
        if request.streaming {
            for chunk in chunks(&text, WORDS_PER_CHUNK) {
                provider::emit_chunk(chunk);
            }
        }
        Ok(ChatResponse {
            usage: Usage {
                prompt_tokens: prompt_tokens(&request.messages),
                completion_tokens: provider::estimate_tokens(&text),
            },
            text,
            model: request.model.unwrap_or_else(|| MODEL.into()),
            finish_reason: finish_reason.into(),
        })
    }
}

sanctuary_plugin_api::export!(provider: Local);

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}

/// Sorts a message into an [`Intent`] by its words.
fn intent(message: &str) -> Intent {
    let lower = message.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |options: &[&str]| words.iter().any(|w| options.contains(w));
    if has(&[
        "plugin",
        "plugins",
        "tool",
        "tools",
        "installed",
        "install",
        "help",
        "extension",
        "extensions",
        "integrations",
        "capabilities",
        "mcp",
    ]) || lower.contains("what can you do")
    {
        Intent::Plugins
    } else if has(&["time", "clock", "date", "today"]) || lower.contains("what day") {
        Intent::Time
    } else {
        Intent::Other
    }
}

fn plugins_answer(plugins: &[PluginSummary]) -> String {
    if plugins.is_empty() {
        return format!(
            "{INTRO}, but I can tell you what is installed: no plugins are enabled right now."
        );
    }
    let mut text = format!(
        "{INTRO}, but I can tell you what is installed. {} plugin(s) are enabled:\n",
        plugins.len()
    );
    for p in plugins {
        let description = p.description.trim().trim_end_matches('.');
        text.push_str(&format!(
            "\n- {} (`{}`, {} {}): {description}.",
            p.name, p.id, p.kind, p.version
        ));
        if !p.tools.is_empty() {
            text.push_str(&format!(" Tools: {}.", p.tools.join(", ")));
        }
    }
    text.push_str(
        "\n\nMCP clients, the REST API and the terminal can call those tools directly, \
         without a language model.",
    );
    text
}

fn time_answer(now: DateTime<Utc>, time_plugin: bool) -> String {
    let mut text = format!(
        "{INTRO}, but I can read the clock: it is {} UTC.",
        now.format("%A %Y-%m-%d %H:%M:%S")
    );
    if time_plugin {
        text.push_str(" For other time zones, call the `current_time` tool of the time plugin.");
    }
    text
}

fn other_answer() -> String {
    format!(
        "{INTRO}, so I cannot answer that myself. What I can do offline: list the installed \
         plugins and their tools (ask \"which plugins are installed?\") and tell the current \
         time (ask \"what time is it?\"). For real answers, the operator can install an AI \
         provider plugin such as `openai-compatible`, `anthropic` or `gemini`, set its API key \
         as a secret, and configure the chat route to use it instead of this offline provider."
    )
}

fn has_tool(plugins: &[PluginSummary], tool: &str) -> bool {
    plugins.iter().any(|p| p.tools.iter().any(|t| t == tool))
}

/// The answer cut to about `max_tokens` (whole words), with the finish reason.
fn limit(text: &str, max_tokens: Option<u32>) -> (String, &'static str) {
    match max_tokens {
        Some(max) if provider::estimate_tokens(text) > max => {
            // The inverse of the estimate: three words for every four tokens.
            let words = (max as usize * 3 / 4).max(1);
            let cut: Vec<&str> = chunks(text, words).into_iter().take(1).collect();
            (cut.concat().trim_end().to_string(), "length")
        }
        _ => (text.to_string(), "stop"),
    }
}

/// Splits `text` into pieces of `words` words each, keeping every character (the
/// whitespace after a word stays with it), so the pieces concatenate back to `text`.
fn chunks(text: &str, words: usize) -> Vec<&str> {
    let words = words.max(1);
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut seen = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        let starts_word = !c.is_whitespace() && !in_word;
        in_word = !c.is_whitespace();
        if starts_word {
            if seen == words {
                pieces.push(&text[start..i]);
                start = i;
                seen = 0;
            }
            seen += 1;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

fn prompt_tokens(messages: &[Message]) -> u32 {
    messages
        .iter()
        .map(|m| provider::estimate_tokens(&m.content))
        .fold(0u32, u32::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(id: &str, tools: &[&str]) -> PluginSummary {
        PluginSummary {
            id: id.into(),
            name: id.to_uppercase(),
            kind: "mcp-server".into(),
            version: "0.1.0".into(),
            description: format!("The {id} plugin"),
            tools: tools.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn sorts_questions_by_what_they_ask() {
        assert_eq!(
            intent("Which plugins and tools are installed?"),
            Intent::Plugins
        );
        assert_eq!(intent("help"), Intent::Plugins);
        assert_eq!(intent("What can you do?"), Intent::Plugins);
        assert_eq!(intent("What time is it?"), Intent::Time);
        assert_eq!(intent("what's today's DATE"), Intent::Time);
        assert_eq!(intent("Write me a poem about the sea"), Intent::Other);
        // Words, not substrings: "timeline" is not about the time.
        assert_eq!(intent("Summarise the project timeline"), Intent::Other);
    }

    #[test]
    fn lists_each_plugin_with_its_tools() {
        let text = plugins_answer(&[
            plugin("time", &["current_time", "convert_time"]),
            plugin("system", &[]),
        ]);
        assert!(text.starts_with(INTRO), "{text}");
        assert!(text.contains("2 plugin(s)"), "{text}");
        assert!(text.contains("(`time`, mcp-server 0.1.0)"), "{text}");
        assert!(
            text.contains("Tools: current_time, convert_time."),
            "{text}"
        );
    }

    #[test]
    fn says_so_when_nothing_is_installed() {
        assert!(plugins_answer(&[]).contains("no plugins are enabled"));
    }

    #[test]
    fn tells_the_time_in_utc_and_points_to_the_time_tool_when_there_is_one() {
        let now = DateTime::from_timestamp(1_705_320_000, 0).expect("valid");
        let text = time_answer(now, true);
        assert!(text.contains("Monday 2024-01-15 12:00:00 UTC"), "{text}");
        assert!(text.contains("current_time"), "{text}");
        assert!(!time_answer(now, false).contains("current_time"));
    }

    #[test]
    fn is_honest_about_being_offline_and_names_real_providers() {
        let text = other_answer();
        assert!(text.contains("offline"), "{text}");
        for provider in ["openai-compatible", "anthropic", "gemini"] {
            assert!(text.contains(provider), "{text}");
        }
    }

    #[test]
    fn chunks_add_up_to_the_text() {
        let text = "one two  three\nfour five six seven\n\n- eight";
        let pieces = chunks(text, 3);
        assert_eq!(
            pieces,
            ["one two  three\n", "four five six ", "seven\n\n- eight"]
        );
        assert_eq!(pieces.concat(), text);
        assert_eq!(chunks("  lead", 2).concat(), "  lead");
        assert!(chunks("", 4).is_empty());
    }

    #[test]
    fn cuts_the_answer_at_max_tokens_and_says_length() {
        let text = other_answer();
        let (cut, reason) = limit(&text, Some(8));
        assert_eq!(reason, "length");
        assert_eq!(cut.split_whitespace().count(), 6);
        assert_eq!(limit(&text, None), (text.clone(), "stop"));
        assert_eq!(limit("short", Some(100)), ("short".to_string(), "stop"));
    }
}
