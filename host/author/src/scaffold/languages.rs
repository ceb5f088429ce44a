//! Plugins in JavaScript and Python: the files `sanctuary plugin new --lang js|python`
//! writes. Each carries the WIT it is built against (`wit/`, this host's native API
//! version) so it builds outside this repository; the JavaScript one pins the
//! componentize-js and jco versions this host was tested with. Both are MCP servers: the
//! other kinds are written in Rust (or against `wit/` directly).

use anyhow::{Result, bail};

use crate::manifest::{Kind, WIT_VERSION};

/// The WIT package this host serves natively, file by file, as new plugins carry it.
pub const CARRIED_WIT: [(&str, &str); 5] = [
    (
        "wit/types.wit",
        include_str!("../../../../wit/v0.2.2/types.wit"),
    ),
    (
        "wit/mcp.wit",
        include_str!("../../../../wit/v0.2.2/mcp.wit"),
    ),
    (
        "wit/provider.wit",
        include_str!("../../../../wit/v0.2.2/provider.wit"),
    ),
    (
        "wit/scout.wit",
        include_str!("../../../../wit/v0.2.2/scout.wit"),
    ),
    (
        "wit/probe.wit",
        include_str!("../../../../wit/v0.2.2/probe.wit"),
    ),
];

/// componentize-js, as pinned in new JavaScript plugins (and in `plugins/js-text`).
pub const COMPONENTIZE_JS: &str = "0.19.3";
/// jco, the command line that runs componentize-js.
pub const JCO: &str = "1.15.4";

/// The language a new plugin is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Lang {
    /// A Rust crate using the `sanctuary-plugin-api` SDK (every kind).
    #[default]
    Rust,
    /// JavaScript built with componentize-js (`mcp-server-ext`).
    Js,
    /// Python built with componentize-py (`mcp-server-ext`).
    Python,
}

impl Lang {
    /// The name `--lang` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Js => "js",
            Lang::Python => "python",
        }
    }
}

/// The files of a JavaScript or Python plugin; `fill` replaces the common placeholders.
pub fn render(
    lang: Lang,
    kind: Kind,
    fill: &dyn Fn(&str) -> String,
    manifest: String,
) -> Result<Vec<(&'static str, String)>> {
    if kind != Kind::McpServer {
        bail!(
            "--lang {} makes mcp-server plugins only; write a {kind} in Rust (--lang rust), \
             or build one against the WIT in wit/ yourself",
            lang.as_str()
        );
    }
    let fill = |template: &str| {
        fill(template)
            .replace("__WIT__", &WIT_VERSION.to_string())
            .replace("__COMPONENTIZE_JS__", COMPONENTIZE_JS)
            .replace("__JCO__", JCO)
    };
    let mut files = match lang {
        Lang::Rust => bail!("Rust plugins are rendered by scaffold::render"),
        Lang::Js => vec![
            (
                "package.json",
                fill(include_str!("../templates/js/package.json.tmpl")),
            ),
            (
                "src/plugin.js",
                fill(include_str!("../templates/js/plugin.js.tmpl")),
            ),
            (
                "README.md",
                fill(include_str!("../templates/js/README.md.tmpl")),
            ),
            (".gitignore", "/node_modules\n/*.wasm\n".to_string()),
        ],
        Lang::Python => vec![
            (
                "app.py",
                fill(include_str!("../templates/python/app.py.tmpl")),
            ),
            (
                "mcp_tools.py",
                include_str!("../../../../plugins/python-notes/mcp_tools.py").to_string(),
            ),
            (
                "README.md",
                fill(include_str!("../templates/python/README.md.tmpl")),
            ),
            (
                ".gitignore",
                "/bindings\n/*.wasm\n__pycache__/\n".to_string(),
            ),
        ],
    };
    files.push(("manifest.json", manifest));
    files.extend(
        CARRIED_WIT
            .iter()
            .map(|(name, text)| (*name, text.to_string())),
    );
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_carried_wit_is_the_hosts_native_version() {
        let package = format!("package sanctuary:plugin@{};", WIT_VERSION);
        for (name, text) in CARRIED_WIT {
            assert!(text.contains(&package), "{name} is not {package}");
        }
    }

    #[test]
    fn the_pinned_js_tools_match_the_bundled_js_plugin() {
        let package: serde_json::Value =
            serde_json::from_str(include_str!("../../../../plugins/js-text/package.json"))
                .expect("JSON");
        let dev = &package["devDependencies"];
        assert_eq!(dev["@bytecodealliance/componentize-js"], COMPONENTIZE_JS);
        assert_eq!(dev["@bytecodealliance/jco"], JCO);
    }
}
