//! The `filesystem` MCP server: lists, reads, searches and (where the grant allows) writes
//! files inside the directories its manifest is granted (`permissions.files`), which the
//! host pre-opens in the plugin's WASI sandbox.
//!
//! Two layers keep it inside them. Every path is first normalised here (`.`/`..` resolved
//! lexically, symlinks followed by hand) and refused with `denied` when it leaves the
//! roots; and the WASI pre-opens themselves refuse any open that escapes a granted
//! directory, whatever the plugin does.

mod fs;
mod paths;

use sanctuary_plugin_api::mcp::{self, Content, McpServer, Resource, Tool, ToolInfo};
use sanctuary_plugin_api::{PluginError, args, config};
use serde::Deserialize;
use serde_json::json;

/// URI of the resource listing the roots.
const ROOTS_URI: &str = "filesystem://roots";
/// Default and largest `max_bytes` of `read_file`.
const READ_DEFAULT: u64 = 64 * 1024;
const READ_MAX: u64 = 1024 * 1024;
/// Default and largest `max_results` of `search_files`.
const SEARCH_DEFAULT: u64 = 100;
const SEARCH_MAX: u64 = 1000;
/// Largest `content` of `write_file`, in bytes.
const WRITE_MAX: usize = 1024 * 1024;

/// The operator's settings (`[plugins.filesystem]`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    /// Guest paths the tools may use; each must lie inside a granted directory. Default:
    /// every granted directory.
    roots: Option<Vec<String>>,
    /// Refuse `write_file` even where the grant is read-write.
    read_only: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathArgs {
    #[serde(default)]
    path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadArgs {
    path: String,
    max_bytes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    pattern: String,
    #[serde(default)]
    path: String,
    max_results: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteArgs {
    path: String,
    content: String,
    #[serde(default)]
    append: bool,
    #[serde(default)]
    create_dirs: bool,
}

struct Filesystem;

/// The roots the tools work in: the configured ones, or every granted directory.
fn roots(settings: &Settings) -> Result<Vec<String>, PluginError> {
    let granted = fs::granted_dirs();
    let Some(configured) = &settings.roots else {
        return Ok(granted);
    };
    configured
        .iter()
        .map(|root| {
            let root = paths::normalize("/", root)?;
            match paths::root_of(&root, &granted) {
                Some(_) => Ok(root),
                None => Err(PluginError::failed(format!(
                    "configured root `{root}` is not inside a granted directory ({})",
                    granted.join(", ")
                ))),
            }
        })
        .collect()
}

/// `path` checked against the roots and its symlinks: what to open.
fn checked(roots: &[String], path: &str) -> Result<String, PluginError> {
    let (normal, root) = paths::resolve(roots, path)?;
    paths::check_links(&fs::RealLinks, &normal, root)
}

fn path_property(what: &str) -> serde_json::Value {
    json!({
        "type": "string",
        "description": format!("{what}: an absolute guest path such as `/files/notes` or a path relative to the first root")
    })
}

impl McpServer for Filesystem {
    fn list_tools() -> Vec<Tool> {
        vec![
            Tool::new(
                "list_directory",
                "Lists a directory inside the granted directories: each entry's name, type \
                 (file, directory, symlink) and size in bytes. Without `path`, lists the first \
                 root.",
                &json!({
                    "type": "object",
                    "properties": { "path": path_property("Directory to list (default: the first root)") },
                    "additionalProperties": false
                }),
            ),
            Tool::new(
                "read_file",
                "Reads a text file inside the granted directories, up to `max_bytes` (default \
                 65536, at most 1 MiB); says so when the file was cut short.",
                &json!({
                    "type": "object",
                    "properties": {
                        "path": path_property("File to read"),
                        "max_bytes": { "type": "integer", "minimum": 1, "maximum": READ_MAX, "description": "Most bytes to return (default 65536)" }
                    },
                    "required": ["path"],
                    "additionalProperties": false
                }),
            ),
            Tool::new(
                "search_files",
                "Finds files and directories under `path` (default: the first root) whose name \
                 matches `pattern`: a glob when it contains `*` or `?` (`*.md`), otherwise a \
                 substring; case-insensitive. Returns at most `max_results` paths (default 100) \
                 and stops after 10000 entries.",
                &json!({
                    "type": "object",
                    "properties": {
                        "pattern": { "type": "string", "minLength": 1, "description": "Glob (`*.md`, `report-??.csv`) or substring of the name" },
                        "path": path_property("Directory to search in (default: the first root)"),
                        "max_results": { "type": "integer", "minimum": 1, "maximum": SEARCH_MAX, "description": "Most matches to return (default 100)" }
                    },
                    "required": ["pattern"],
                    "additionalProperties": false
                }),
            ),
            Tool::new(
                "write_file",
                "Writes (or with `append`, appends) text to a file inside the granted \
                 directories. Only works where the operator granted write access; otherwise \
                 the call is denied.",
                &json!({
                    "type": "object",
                    "properties": {
                        "path": path_property("File to write"),
                        "content": { "type": "string", "maxLength": WRITE_MAX, "description": "The text to write" },
                        "append": { "type": "boolean", "description": "Append instead of replacing the file (default false)" },
                        "create_dirs": { "type": "boolean", "description": "Create missing parent directories (default false)" }
                    },
                    "required": ["path", "content"],
                    "additionalProperties": false
                }),
            ),
        ]
    }

    /// Reads change nothing; `write_file` replaces (or appends to) files: destructive, and
    /// not idempotent (appending twice appends twice). None reaches beyond the granted
    /// directories (a closed world).
    fn describe_tools() -> Vec<ToolInfo> {
        let read = |name: &str, title: &str| {
            ToolInfo::new(name)
                .with_title(title)
                .read_only(true)
                .open_world(false)
        };
        vec![
            read("list_directory", "List a directory"),
            read("read_file", "Read a text file"),
            read("search_files", "Search files by name"),
            ToolInfo::new("write_file")
                .with_title("Write a text file")
                .read_only(false)
                .destructive(true)
                .idempotent(false)
                .open_world(false),
        ]
    }

    fn call_tool(name: String, arguments: String) -> Result<Vec<Content>, PluginError> {
        let settings: Settings = config()?;
        let roots = roots(&settings)?;
        match name.as_str() {
            "list_directory" => list_directory(&roots, args(&arguments)?),
            "read_file" => read_file(&roots, args(&arguments)?),
            "search_files" => search_files(&roots, args(&arguments)?),
            "write_file" => write_file(&roots, &settings, args(&arguments)?),
            other => Err(mcp::unknown_tool(other)),
        }
    }

    fn list_resources() -> Vec<Resource> {
        vec![Resource::new(
            ROOTS_URI,
            "Roots",
            "The directories the filesystem tools may use, one guest path per line",
            "text/plain",
        )]
    }

    fn read_resource(uri: String) -> Result<String, PluginError> {
        if uri != ROOTS_URI {
            return Err(mcp::unknown_resource(&uri));
        }
        Ok(roots(&config()?)?.join("\n"))
    }
}

sanctuary_plugin_api::export!(mcp: Filesystem);

fn list_directory(roots: &[String], request: PathArgs) -> Result<Vec<Content>, PluginError> {
    let dir = checked(roots, &request.path)?;
    let entries = fs::list(&dir)?;
    let mut text = format!("{dir}: {} entries", entries.len());
    for entry in &entries {
        text.push_str(&format!("\n[{}] {}", entry.kind, entry.name));
        if entry.kind == "file" {
            text.push_str(&format!(" ({} bytes)", entry.size));
        }
    }
    Ok(vec![
        Content::text(text),
        Content::json(&json!({ "path": dir, "entries": entries }))?,
    ])
}

fn read_file(roots: &[String], request: ReadArgs) -> Result<Vec<Content>, PluginError> {
    let path = checked(roots, &request.path)?;
    let max = request.max_bytes.unwrap_or(READ_DEFAULT).clamp(1, READ_MAX);
    let read = fs::read(&path, max)?;
    let mut text = read.text;
    if read.truncated {
        text.push_str(&format!(
            "\n\n[truncated: showing the first {} of {} bytes; pass a larger max_bytes (at most {READ_MAX}) to read more]",
            read.shown, read.size
        ));
    }
    Ok(vec![Content::text(text)])
}

fn search_files(roots: &[String], request: SearchArgs) -> Result<Vec<Content>, PluginError> {
    let dir = checked(roots, &request.path)?;
    let max = request
        .max_results
        .unwrap_or(SEARCH_DEFAULT)
        .clamp(1, SEARCH_MAX) as usize;
    let found = fs::search(&dir, &paths::NamePattern::new(&request.pattern), max)?;
    let mut text = if found.matches.is_empty() {
        format!("no name under {dir} matches `{}`", request.pattern)
    } else {
        found.matches.join("\n")
    };
    if found.truncated {
        text.push_str(&format!(
            "\n[search stopped early: {}]",
            if found.matches.len() >= max {
                format!("{max} results (max_results)")
            } else {
                format!("{} entries visited", fs::SEARCH_VISIT_LIMIT)
            }
        ));
    }
    Ok(vec![
        Content::text(text),
        Content::json(
            &json!({ "path": dir, "matches": found.matches, "truncated": found.truncated }),
        )?,
    ])
}

fn write_file(
    roots: &[String],
    settings: &Settings,
    request: WriteArgs,
) -> Result<Vec<Content>, PluginError> {
    if settings.read_only {
        return Err(PluginError::denied(
            "writing is switched off by the operator (`read_only = true` in [plugins.filesystem])",
        ));
    }
    if request.content.len() > WRITE_MAX {
        return Err(PluginError::invalid_input(format!(
            "`content` is {} bytes; at most {WRITE_MAX} may be written at once",
            request.content.len()
        )));
    }
    let path = checked(roots, &request.path)?;
    let written = fs::write(&path, &request.content, request.append, request.create_dirs)?;
    Ok(vec![Content::text(format!(
        "{} {written} bytes to {path}",
        if request.append { "appended" } else { "wrote" }
    ))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_tool_is_described_reads_read_only_and_the_write_destructive() {
        let listed: Vec<String> = Filesystem::list_tools()
            .into_iter()
            .map(|t| t.name)
            .collect();
        let described = Filesystem::describe_tools();
        let names: Vec<&str> = described.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, listed);
        for info in &described {
            let hints = &info.annotations;
            assert!(info.title.is_some(), "{}", info.name);
            assert_eq!(hints.open_world, Some(false), "{}", info.name);
            if info.name == "write_file" {
                assert_eq!(
                    (hints.read_only, hints.destructive),
                    (Some(false), Some(true))
                );
            } else {
                assert_eq!(hints.read_only, Some(true), "{}", info.name);
            }
        }
    }

    #[test]
    fn every_tool_schema_is_a_closed_object_listing_its_required_arguments() {
        for tool in Filesystem::list_tools() {
            let schema: serde_json::Value = serde_json::from_str(&tool.input_schema).expect("JSON");
            assert_eq!(schema["type"], "object", "{}", tool.name);
            assert_eq!(schema["additionalProperties"], false, "{}", tool.name);
            if let Some(required) = schema["required"].as_array() {
                for name in required {
                    let name = name.as_str().expect("a name");
                    assert!(
                        schema["properties"][name].is_object(),
                        "{}: {name}",
                        tool.name
                    );
                }
            }
        }
    }

    #[test]
    fn the_tools_are_the_four_promised() {
        let names: Vec<String> = Filesystem::list_tools()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(
            names,
            ["list_directory", "read_file", "search_files", "write_file"]
        );
    }

    #[test]
    fn write_is_refused_when_the_operator_says_read_only() {
        let settings = Settings {
            roots: None,
            read_only: true,
        };
        let err = write_file(
            &["/files".into()],
            &settings,
            WriteArgs {
                path: "a.txt".into(),
                content: "x".into(),
                append: false,
                create_dirs: false,
            },
        )
        .expect_err("read-only");
        assert_eq!(err.kind(), "denied");
    }
}
