//! The terminal's command language. A Socket.IO terminal session never reaches a host
//! shell: its input is one of a few commands over the loaded plugins, and everything it
//! runs is a sandboxed plugin tool call.
//!
//! - `help`: the commands;
//! - `plugins`: the loaded plugins (id, kind, version, tools);
//! - `tools`: every tool as `<plugin>.<tool>` with its description;
//! - `<plugin>.<tool> {json}`: calls the tool with the JSON object (default `{}`), checked
//!   against the tool's input schema first.

use std::fmt::Write as _;

use serde_json::Value;

use crate::manifest::Kind;
use crate::plugins::PluginHost;
use crate::runtime::mcp::Content;

/// What a command printed and whether it succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The text to show.
    pub output: String,
    /// Whether the command succeeded.
    pub success: bool,
}

impl Output {
    fn ok(output: impl Into<String>) -> Output {
        Output {
            output: output.into(),
            success: true,
        }
    }

    fn fail(output: impl Into<String>) -> Output {
        Output {
            output: output.into(),
            success: false,
        }
    }
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command<'a> {
    /// Nothing typed.
    Empty,
    /// `help`.
    Help,
    /// `plugins`.
    Plugins,
    /// `tools`.
    Tools,
    /// `<plugin>.<tool> {json}`.
    Call {
        /// Plugin id.
        plugin: &'a str,
        /// Tool name.
        tool: &'a str,
        /// The arguments object.
        arguments: Value,
    },
}

/// Reads a command line; the error says what is wrong with it.
pub fn parse(line: &str) -> Result<Command<'_>, String> {
    let line = line.trim();
    let (head, rest) = match line.split_once(char::is_whitespace) {
        Some((head, rest)) => (head, rest.trim()),
        None => (line, ""),
    };
    let simple = |command| {
        if rest.is_empty() {
            Ok(command)
        } else {
            Err(format!("`{head}` takes no arguments"))
        }
    };
    match head {
        "" => Ok(Command::Empty),
        "help" => simple(Command::Help),
        "plugins" => simple(Command::Plugins),
        "tools" => simple(Command::Tools),
        _ => {
            let Some((plugin, tool)) = head
                .split_once('.')
                .filter(|(p, t)| !p.is_empty() && !t.is_empty())
            else {
                return Err(format!(
                    "unknown command `{head}`; type `help` for the commands"
                ));
            };
            let arguments = if rest.is_empty() {
                Value::Object(Default::default())
            } else {
                match serde_json::from_str::<Value>(rest) {
                    Ok(value @ Value::Object(_)) => value,
                    Ok(_) => return Err("the arguments must be a JSON object, e.g. {}".into()),
                    Err(e) => return Err(format!("the arguments are not valid JSON: {e}")),
                }
            };
            Ok(Command::Call {
                plugin,
                tool,
                arguments,
            })
        }
    }
}

/// Runs one command line against the loaded plugins.
pub async fn run(plugins: &PluginHost, line: &str) -> Output {
    match parse(line) {
        Ok(Command::Empty) => Output::ok(""),
        Ok(Command::Help) => Output::ok(HELP),
        Ok(Command::Plugins) => Output::ok(list_plugins(plugins)),
        Ok(Command::Tools) => Output::ok(list_tools(plugins)),
        Ok(Command::Call {
            plugin,
            tool,
            arguments,
        }) => call(plugins, plugin, tool, &arguments).await,
        Err(message) => Output::fail(message),
    }
}

const HELP: &str = "\
Commands (plugin tools only; this terminal has no shell):
  help                      this text
  plugins                   the loaded plugins: id, kind, version, tools
  tools                     every tool, as <plugin>.<tool>
  <plugin>.<tool> {json}    call a tool with a JSON object of arguments (default {})
Example: time.current_time {\"timezone\": \"UTC\"}";

fn list_plugins(plugins: &PluginHost) -> String {
    let mut out = String::new();
    for live in plugins.list() {
        let m = &live.plugin.manifest;
        let tools: Vec<&str> = live.tools.iter().map(|t| t.name.as_str()).collect();
        let _ = write!(out, "{:<16} {:<13} {:<9}", m.id, m.kind.as_str(), m.version);
        if !tools.is_empty() {
            let _ = write!(out, " tools: {}", tools.join(", "));
        }
        out.push('\n');
    }
    if out.is_empty() {
        "no plugins are loaded".into()
    } else {
        out.trim_end().to_string()
    }
}

fn list_tools(plugins: &PluginHost) -> String {
    let lines: Vec<String> = plugins
        .of_kind(Kind::McpServer)
        .iter()
        .flat_map(|live| {
            live.tools
                .iter()
                .map(|t| format!("{}.{}  {}", live.id(), t.name, t.description))
                .collect::<Vec<_>>()
        })
        .collect();
    if lines.is_empty() {
        "no tools: no mcp-server plugin is loaded".into()
    } else {
        lines.join("\n")
    }
}

async fn call(plugins: &PluginHost, plugin: &str, tool: &str, arguments: &Value) -> Output {
    // The one tool-call path (schema check first), shared with `/mcp` and the REST API.
    match crate::call_tool(plugins, plugin, tool, arguments.clone()).await {
        Ok(contents) => Output::ok(render(&contents)),
        Err(crate::Error::UnknownServer(_)) => match plugins.get(plugin) {
            Some(live) => Output::fail(format!(
                "`{plugin}` is a {} plugin and has no tools",
                live.plugin.kind()
            )),
            None => Output::fail(format!(
                "no plugin `{plugin}` is loaded; `plugins` lists them"
            )),
        },
        Err(err) => Output::fail(err.to_string()),
    }
}

/// A tool's result as text: text as is, JSON pretty-printed.
fn render(contents: &[Content]) -> String {
    contents
        .iter()
        .map(|c| match c {
            Content::Text(text) => text.clone(),
            Content::Json(json) => serde_json::from_str::<Value>(json)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or_else(|_| json.clone()),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_builtin_commands_parse() {
        assert_eq!(parse("  "), Ok(Command::Empty));
        assert_eq!(parse("help"), Ok(Command::Help));
        assert_eq!(parse(" plugins "), Ok(Command::Plugins));
        assert_eq!(parse("tools"), Ok(Command::Tools));
        assert!(parse("help me").is_err());
    }

    #[test]
    fn a_tool_call_parses_its_json_arguments() {
        assert_eq!(
            parse(r#"time.current_time {"timezone": "UTC"}"#),
            Ok(Command::Call {
                plugin: "time",
                tool: "current_time",
                arguments: json!({"timezone": "UTC"}),
            })
        );
        assert_eq!(
            parse("time.current_time"),
            Ok(Command::Call {
                plugin: "time",
                tool: "current_time",
                arguments: json!({}),
            })
        );
    }

    #[test]
    fn anything_else_is_refused_without_running_it() {
        for line in [
            "ls -la",
            "rm -rf /",
            "time.x [1]",
            "time.x {oops",
            ".x",
            "time.",
        ] {
            assert!(parse(line).is_err(), "{line}");
        }
        let err = parse("ls -la").expect_err("refused");
        assert!(err.contains("help"), "{err}");
    }

    #[test]
    fn json_results_are_pretty_printed() {
        let text = render(&[
            Content::Text("a".into()),
            Content::Json(r#"{"b":1}"#.into()),
        ]);
        assert_eq!(text, "a\n{\n  \"b\": 1\n}");
    }

    #[tokio::test]
    async fn with_no_plugins_the_lists_say_so_and_calls_fail() {
        let (host, _dir) = crate::testing::empty_host();
        assert_eq!(
            run(&host, "plugins").await,
            Output::ok("no plugins are loaded")
        );
        assert!(run(&host, "tools").await.success);
        let out = run(&host, "time.current_time {}").await;
        assert!(!out.success);
        assert!(out.output.contains("no plugin `time`"), "{}", out.output);
        let help = run(&host, "help").await;
        assert!(help.success && help.output.contains("<plugin>.<tool>"));
    }
}
