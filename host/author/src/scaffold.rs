//! `sanctuary plugin new`: writes a plugin of one kind that builds out of the box. In
//! Rust (the default) that is a crate:
//! `Cargo.toml` (a `cdylib`, its own workspace, the SDK by version with a path override
//! into a source tree when there is one), `src/lib.rs` with
//! a working example, a `manifest.json` the host accepts, the toolchain and target
//! settings that make a plain `cargo build` produce a wasm32-wasip2 component, the
//! dependency versions this host was tested with (`Cargo.lock`), and a README.
//! `--lang js` and `--lang python` write an MCP server in those languages instead
//! ([`languages`]).

mod languages;

pub use languages::Lang;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use serde_json::json;

use crate::manifest::{self, Kind, WIT_VERSION};

/// The workspace's lock file: new crates start from the dependency versions the SDK was
/// built and tested with (cargo drops the entries a crate does not use).
const WORKSPACE_LOCK: &str = include_str!("../../../Cargo.lock");

/// The workspace's toolchain file, for the channel new crates pin.
const WORKSPACE_TOOLCHAIN: &str = include_str!("../../../rust-toolchain.toml");

/// `sanctuary plugin new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin kind: mcp-server, ai-provider, scout-check or health-probe.
    #[arg(long)]
    pub kind: Kind,
    /// The language: rust (every kind), js or python (mcp-server).
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub lang: Lang,
    /// The plugin id (also the crate name): a-z, 0-9 and `-`, at most 64 characters.
    pub name: String,
    /// Directory to create [default: ./<name>]; must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Path of the plugin-api crate (the SDK) to build against, beside its version
    /// [default: the one this `sanctuary` was built from, if still there; else the
    /// published SDK by version only].
    #[arg(long, value_name = "PATH")]
    pub sdk: Option<PathBuf>,
}

/// Creates the crate.
pub fn run(args: &NewArgs) -> Result<()> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    let files = match args.lang {
        Lang::Rust => render(args.kind, &args.name, &sdk_dependency(args.sdk.as_deref())?)?,
        lang => render_other(lang, args.kind, &args.name)?,
    };
    ensure_empty(&dir)?;
    for (name, text) in &files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let lang = match args.lang {
        Lang::Rust => "",
        Lang::Js => " JavaScript",
        Lang::Python => " Python",
    };
    eprintln!(
        "created the{lang} {} plugin `{}` in {}",
        args.kind,
        args.name,
        dir.display()
    );
    for (name, _) in &files {
        eprintln!("  {name}");
    }
    eprintln!(
        "next: sanctuary plugin build {0}, then sanctuary plugin check <component> --manifest {0}/manifest.json",
        dir.display()
    );
    Ok(())
}

/// Refuses a directory that exists and is not empty (or is a file).
fn ensure_empty(dir: &Path) -> Result<()> {
    if dir.is_file() {
        bail!("{} exists and is a file", dir.display());
    }
    if dir.is_dir() {
        let mut entries =
            std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} exists and is not empty; choose another --dir or name",
                dir.display()
            );
        }
    }
    Ok(())
}

/// The SDK version new crates ask for: the API's `major.minor` (the SDK's version follows
/// the API it serves, so `0.2` means "an SDK for `sanctuary:plugin@0.2`").
fn sdk_version() -> String {
    format!("{}.{}", WIT_VERSION.major, WIT_VERSION.minor)
}

/// The `sanctuary-plugin-api` dependency as a TOML value: by version, plus a `path`
/// override to `sdk`, or to the source tree this binary was built from while it exists.
fn sdk_dependency(sdk: Option<&Path>) -> Result<String> {
    let version = toml::Value::String(sdk_version());
    let path_dep = |path: &Path| -> Result<String> {
        let path = path
            .canonicalize()
            .with_context(|| format!("the SDK path {}", path.display()))?;
        if !path.join("Cargo.toml").is_file() {
            bail!(
                "{} has no Cargo.toml: not the plugin-api crate",
                path.display()
            );
        }
        Ok(format!(
            "{{ version = {version}, path = {} }}",
            toml::Value::String(path.display().to_string())
        ))
    };
    if let Some(sdk) = sdk {
        return path_dep(sdk);
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugin-api");
    if built_from.join("Cargo.toml").is_file() {
        return path_dep(&built_from);
    }
    Ok(version.to_string())
}

/// The names a new plugin goes by.
struct Names {
    /// The plugin id.
    id: String,
    /// The package name (cargo refuses names that start with a digit; plugin ids may).
    package: String,
    /// The library and component file stem: the package name with `_` for `-`.
    lib: String,
    /// The human name, from the id.
    title: String,
}

impl Names {
    fn new(id: &str) -> Result<Names> {
        manifest::validate_id(id)?;
        let package = if id.starts_with(|c: char| c.is_ascii_digit()) {
            format!("plugin-{id}")
        } else {
            id.to_string()
        };
        Ok(Names {
            id: id.to_string(),
            lib: package.replace('-', "_"),
            title: title(id),
            package,
        })
    }

    /// `template` with the name placeholders filled in.
    fn fill(&self, template: &str, kind: Kind) -> String {
        template
            .replace("__ID__", &self.id)
            .replace("__TITLE__", &self.title)
            .replace("__PACKAGE__", &self.package)
            .replace("__LIB__", &self.lib)
            .replace("__KIND__", kind.as_str())
    }
}

/// The files of a JavaScript or Python plugin (path relative to its directory, contents).
pub fn render_other(lang: Lang, kind: Kind, id: &str) -> Result<Vec<(&'static str, String)>> {
    let names = Names::new(id)?;
    let manifest = new_manifest(kind, id, &names.title, &names.lib);
    languages::render(lang, kind, &|t| names.fill(t, kind), manifest)
}

/// The crate's files (path relative to its directory, contents).
pub fn render(kind: Kind, id: &str, sdk: &str) -> Result<Vec<(&'static str, String)>> {
    let names = Names::new(id)?;
    let (title, lib) = (&names.title, &names.lib);
    let fill = |template: &str| {
        names
            .fill(template, kind)
            .replace("__SDK__", sdk)
            .replace("__CHANNEL__", &toolchain_channel())
    };
    let source = match kind {
        Kind::McpServer => include_str!("templates/mcp-server.rs.tmpl"),
        Kind::AiProvider => include_str!("templates/ai-provider.rs.tmpl"),
        Kind::ScoutCheck => include_str!("templates/scout-check.rs.tmpl"),
        Kind::HealthProbe => include_str!("templates/health-probe.rs.tmpl"),
    };
    let needs_serde = matches!(kind, Kind::McpServer | Kind::HealthProbe);
    let cargo = fill(include_str!("templates/Cargo.toml.tmpl")).replace(
        "__SERDE__",
        if needs_serde {
            "serde = { version = \"1\", features = [\"derive\"] }\nserde_json = \"1\"\n"
        } else {
            ""
        },
    );
    let manifest = new_manifest(kind, id, title, lib);
    Ok(vec![
        ("Cargo.toml", cargo),
        ("Cargo.lock", WORKSPACE_LOCK.to_string()),
        ("src/lib.rs", fill(source)),
        ("manifest.json", manifest),
        (
            "rust-toolchain.toml",
            fill(include_str!("templates/rust-toolchain.toml.tmpl")),
        ),
        (
            ".cargo/config.toml",
            include_str!("templates/cargo-config.toml.tmpl").to_string(),
        ),
        ("README.md", fill(include_str!("templates/README.md.tmpl"))),
        (".gitignore", "/target\n".to_string()),
    ])
}

/// The new plugin's manifest: nothing granted beyond what its example needs.
fn new_manifest(kind: Kind, id: &str, title: &str, lib: &str) -> String {
    let description = match kind {
        Kind::McpServer => "Greets people by name",
        Kind::AiProvider => "Echoes the last message (an offline example provider)",
        Kind::ScoutCheck => "Checks that a project has a README",
        Kind::HealthProbe => "Reports the host's memory use",
    };
    let permissions = match kind {
        // Reading the scouted project is the whole point of the example check.
        Kind::ScoutCheck => json!({ "project_dir": true }),
        _ => json!({}),
    };
    let value = json!({
        "schema_version": manifest::SCHEMA_VERSION,
        "id": id,
        "name": title,
        "kind": kind.as_str(),
        "version": "0.1.0",
        "api": format!("^{}.{}", WIT_VERSION.major, WIT_VERSION.minor),
        "description": description,
        "component": format!("{lib}.wasm"),
        "permissions": permissions,
    });
    let mut text = super::manifest_file::render(&value, 0);
    text.push('\n');
    text
}

/// `hello-tools` → `Hello tools`.
fn title(id: &str) -> String {
    let words = id.replace('-', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The toolchain channel this host was built with (from its `rust-toolchain.toml`).
fn toolchain_channel() -> String {
    WORKSPACE_TOOLCHAIN
        .parse::<toml::Table>()
        .ok()
        .and_then(|t| {
            t.get("toolchain")?
                .get("channel")?
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "stable".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    #[test]
    fn every_kind_gets_a_manifest_the_host_accepts() {
        for kind in Kind::ALL {
            let files = render(kind, "my-plugin", "{ version = \"0.2\", path = \"/sdk\" }")
                .expect("renders");
            let manifest = &files
                .iter()
                .find(|(n, _)| *n == "manifest.json")
                .expect("a manifest")
                .1;
            let m = Manifest::from_json(manifest).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(m.id, "my-plugin");
            assert_eq!(m.kind, kind);
            m.check_api().expect("this host's API");
            assert_eq!(m.component.as_deref(), Some("my_plugin.wasm"));
            assert_eq!(m.permissions.project_dir, kind == Kind::ScoutCheck);
            assert!(m.permissions.network.is_empty() && m.permissions.secrets.is_empty());
        }
    }

    #[test]
    fn the_crate_is_a_cdylib_in_its_own_workspace_using_the_kinds_export_macro() {
        for kind in Kind::ALL {
            let files = render(kind, "my-plugin", "{ version = \"0.2\", path = \"/sdk\" }")
                .expect("renders");
            let file = |name: &str| {
                files
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, t)| t.clone())
                    .unwrap_or_else(|| panic!("{name} missing"))
            };
            let cargo: toml::Table = file("Cargo.toml").parse().expect("valid TOML");
            assert_eq!(cargo["package"]["name"].as_str(), Some("my-plugin"));
            assert_eq!(cargo["lib"]["crate-type"].as_array().map(Vec::len), Some(1));
            assert!(
                cargo["workspace"]
                    .as_table()
                    .is_some_and(toml::Table::is_empty)
            );
            assert_eq!(
                cargo["dependencies"]["sanctuary-plugin-api"]["path"].as_str(),
                Some("/sdk")
            );
            let export = match kind {
                Kind::McpServer => "export!(mcp: Plugin)",
                Kind::AiProvider => "export!(provider: Plugin)",
                Kind::ScoutCheck => "export!(scout: Plugin)",
                Kind::HealthProbe => "export!(probe: Plugin)",
            };
            assert!(file("src/lib.rs").contains(export), "{kind}");
            assert!(
                !file("src/lib.rs").contains("__"),
                "{kind}: a placeholder is left"
            );
            let config: toml::Table = file(".cargo/config.toml").parse().expect("TOML");
            assert_eq!(config["build"]["target"].as_str(), Some("wasm32-wasip2"));
            let toolchain: toml::Table = file("rust-toolchain.toml").parse().expect("TOML");
            assert_eq!(
                toolchain["toolchain"]["channel"].as_str(),
                Some(toolchain_channel().as_str())
            );
        }
    }

    #[test]
    fn the_sdk_is_asked_for_by_the_api_version_with_a_path_override_only_when_given_one() {
        assert_eq!(
            sdk_version(),
            format!("{}.{}", WIT_VERSION.major, WIT_VERSION.minor)
        );
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugin-api");
        let dep: toml::Table = format!("d = {}", sdk_dependency(Some(&sdk)).expect("ok"))
            .parse()
            .expect("TOML");
        assert_eq!(dep["d"]["version"].as_str(), Some(sdk_version().as_str()));
        let path = PathBuf::from(dep["d"]["path"].as_str().expect("a path"));
        assert_eq!(path, sdk.canonicalize().expect("exists"));
        // The SDK's own version is within what the scaffold asks for.
        let sdk_cargo: toml::Table = std::fs::read_to_string(sdk.join("Cargo.toml"))
            .expect("read")
            .parse()
            .expect("TOML");
        let published = sdk_cargo["package"]["version"].as_str().expect("a version");
        let wanted = semver::VersionReq::parse(&sdk_version()).expect("a requirement");
        assert!(wanted.matches(&semver::Version::parse(published).expect("semver")));
        let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-sdk");
        assert!(sdk_dependency(Some(&missing)).is_err());
    }

    #[test]
    fn the_mcp_example_uses_tool_functions_and_the_traits_defaults() {
        let files = render(Kind::McpServer, "my-plugin", "\"0.2\"").expect("renders");
        let lib = &files
            .iter()
            .find(|(n, _)| *n == "src/lib.rs")
            .expect("lib")
            .1;
        assert!(
            lib.contains("#[tool]") && lib.contains("const TOOLS"),
            "{lib}"
        );
        assert!(!lib.contains("fn list_resources"), "{lib}");
        let cargo: toml::Table = files[0].1.parse().expect("TOML");
        assert_eq!(
            cargo["dependencies"]["sanctuary-plugin-api"].as_str(),
            Some("0.2")
        );
    }

    #[test]
    fn refuses_a_name_that_is_not_a_plugin_id() {
        for bad in ["Hello", "../x", "a_b", "-x", ""] {
            let err = render(Kind::McpServer, bad, "{}")
                .expect_err(bad)
                .to_string();
            assert!(err.contains("`id`"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_name_starting_with_a_digit_gets_a_valid_package_name() {
        let files = render(
            Kind::HealthProbe,
            "9lives",
            "{ version = \"0.2\", path = \"/sdk\" }",
        )
        .expect("ok");
        let cargo: toml::Table = files[0].1.parse().expect("TOML");
        assert_eq!(cargo["package"]["name"].as_str(), Some("plugin-9lives"));
    }

    #[test]
    fn refuses_an_existing_non_empty_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("keep.txt"), "mine").expect("write");
        let args = NewArgs {
            kind: Kind::HealthProbe,
            name: "p".into(),
            dir: Some(dir.path().to_path_buf()),
            sdk: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugin-api")),
            lang: Lang::Rust,
        };
        let err = run(&args).expect_err("not empty").to_string();
        assert!(err.contains("not empty"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("keep.txt")).expect("kept"),
            "mine"
        );
        let empty = dir.path().join("fresh");
        std::fs::create_dir(&empty).expect("mkdir");
        run(&NewArgs {
            dir: Some(empty.clone()),
            ..args
        })
        .expect("an empty directory is fine");
        assert!(empty.join("src/lib.rs").is_file());
    }

    #[test]
    fn js_and_python_plugins_carry_their_wit_and_a_manifest_the_host_accepts() {
        for (lang, source) in [(Lang::Js, "src/plugin.js"), (Lang::Python, "app.py")] {
            let files = render_other(lang, Kind::McpServer, "my-plugin").expect("renders");
            let file = |name: &str| {
                files
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, t)| t.clone())
                    .unwrap_or_else(|| panic!("{lang:?}: {name} missing"))
            };
            let m = Manifest::from_json(&file("manifest.json")).expect("valid");
            assert_eq!(m.component.as_deref(), Some("my_plugin.wasm"));
            m.check_api().expect("this host's API");
            assert!(file("wit/mcp.wit").contains("world mcp-server"));
            assert!(file(source).contains("greet"), "{lang:?}");
            for (name, text) in &files {
                assert!(
                    !text.contains("__ID__") && !text.contains("__LIB__"),
                    "{name}"
                );
            }
        }
        let package: serde_json::Value = serde_json::from_str(
            &render_other(Lang::Js, Kind::McpServer, "my-plugin").expect("renders")[0].1,
        )
        .expect("package.json is JSON");
        assert!(
            package["scripts"]["build"]
                .as_str()
                .is_some_and(|b| b.contains("-o my_plugin.wasm")),
            "{package}"
        );
    }

    #[test]
    fn js_and_python_offer_mcp_servers_only_and_say_so() {
        for lang in [Lang::Js, Lang::Python] {
            let err = render_other(lang, Kind::AiProvider, "p")
                .expect_err("not offered")
                .to_string();
            assert!(err.contains("mcp-server") && err.contains("Rust"), "{err}");
        }
    }

    #[test]
    fn titles_read_as_words() {
        assert_eq!(title("hello-tools"), "Hello tools");
    }
}
