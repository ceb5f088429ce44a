//! `sanctuary plugin check`: what a component is and whether this host can run it. It
//! reads the component's import and export names (world, kind, the WIT API version it was
//! built against), loads it with the host's real runtime (compile, link, world check),
//! asks it what it offers inside the sandbox (an MCP server's tools, a provider's
//! description, one trial probe or scout check), and with `--manifest` validates the
//! manifest against the component: kind, API requirement, sha256, signature, and the
//! permissions it asks for, in words. Exit status 0 when loadable and valid, 1 otherwise.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Args;
use semver::{Version, VersionReq};
use serde::Serialize;
use serde_json::Value;

use crate::manifest::{Kind, Manifest, Permissions, SUPPORTED_WIT_VERSIONS};
use crate::runtime::{HostServices, Plugin, Runtime};
use crate::signing;

/// `sanctuary plugin check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The component (.wasm) to check.
    #[arg(value_name = "COMPONENT")]
    pub component: PathBuf,
    /// Its manifest.json, to validate against the component.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What the check found.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The component's path.
    pub file: String,
    /// Its size in bytes.
    pub size: usize,
    /// Its sha256, hex.
    pub sha256: String,
    /// The plugin kind its exports implement.
    pub kind: Option<Kind>,
    /// The WIT API version of its Sanctuary export (`0.1.0`).
    pub api_version: Option<String>,
    /// The WIT API version this host implements.
    pub host_api_version: String,
    /// Its top-level imports.
    pub imports: Vec<String>,
    /// Its top-level exports.
    pub exports: Vec<String>,
    /// Whether this host loads it.
    pub loadable: bool,
    /// Why it does not load.
    pub problems: Vec<String>,
    /// What it offers, asked in the sandbox.
    pub offers: Offers,
    /// The manifest's validation, with `--manifest`.
    pub manifest: Option<ManifestReport>,
    /// Loadable and (when given) a valid manifest that matches it.
    pub ok: bool,
}

/// What a loaded component offers.
#[derive(Debug, Default, Serialize)]
pub struct Offers {
    /// Display name (the manifest's, or the file's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MCP servers: tools.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolInfo>,
    /// MCP servers: resource URIs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// MCP servers: prompt names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prompts: Vec<String>,
    /// AI providers: `describe()`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<Value>,
    /// Probes and scout checks: the outcome of one trial call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial: Option<String>,
}

/// One tool.
#[derive(Debug, Serialize)]
pub struct ToolInfo {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Input JSON Schema.
    pub input_schema: Value,
}

/// The manifest's validation against the component.
#[derive(Debug, Default, Serialize)]
pub struct ManifestReport {
    /// The manifest's path.
    pub path: String,
    /// Everything wrong with it; empty when valid and matching.
    pub errors: Vec<String>,
    /// Its id.
    pub id: Option<String>,
    /// Its kind.
    pub kind: Option<Kind>,
    /// Its `api` requirement.
    pub api: Option<String>,
    /// Its sha256 equals the component's (`None`: it declares none).
    pub sha256_matches: Option<bool>,
    /// Its signature's key, when signed.
    pub signed_by: Option<String>,
    /// Whether the signature verifies against the component.
    pub signature_valid: Option<bool>,
    /// The permissions it asks for, in words.
    pub permissions: Vec<String>,
}

/// Runs the check; the exit code.
pub async fn run(args: &CheckArgs) -> Result<i32> {
    let report = check(&args.component, args.manifest.as_deref()).await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("encoding the report")?
        );
    } else {
        print_report(&report);
    }
    Ok(if report.ok { 0 } else { 1 })
}

/// Checks `component` (and `manifest`).
pub async fn check(component: &Path, manifest_path: Option<&Path>) -> Result<Report> {
    let bytes =
        std::fs::read(component).with_context(|| format!("reading {}", component.display()))?;
    let digest = signing::digest(&bytes);
    let sha256 = hex::encode(digest);
    let mut report = Report {
        file: component.display().to_string(),
        size: bytes.len(),
        sha256: sha256.clone(),
        kind: None,
        api_version: None,
        host_api_version: crate::manifest::supported_versions(),
        imports: Vec::new(),
        exports: Vec::new(),
        loadable: false,
        problems: Vec::new(),
        offers: Offers::default(),
        manifest: None,
        ok: false,
    };
    match crate::runtime::top_level_names(&bytes) {
        Ok((imports, exports)) => {
            report.imports = imports;
            report.exports = exports;
        }
        Err(reason) => report.problems.push(reason.to_string()),
    }
    if let Some((kind, version)) = detect(&report.exports) {
        report.kind = Some(kind);
        report.api_version = Some(version);
    } else if report.problems.is_empty() {
        report.problems.push(format!(
            "exports no Sanctuary plugin interface (expected one of {}); exports: {}",
            Kind::ALL
                .map(|k| format!("{}@…", k.export_interface()))
                .join(", "),
            list_or_none(&report.exports)
        ));
    }

    let manifest = manifest_path.map(|path| read_manifest(path, &mut report));
    let manifest = manifest.flatten();
    if let (Some(m), Some(mr)) = (&manifest, report.manifest.as_mut()) {
        judge_manifest(
            m,
            &report.kind,
            report.api_version.as_deref(),
            &sha256,
            &digest,
            mr,
        );
    }

    if let Some(kind) = report.kind {
        let stem = component
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let to_load = load_manifest(manifest.as_ref(), kind, &stem);
        report.offers.name = Some(to_load.name.clone());
        let loaded = load_and_ask(to_load, bytes, &mut report).await;
        if let Err(e) = loaded {
            report.problems.push(e);
        }
    }
    if !report.loadable
        && let Some(version) = &report.api_version
        && let Ok(version) = Version::parse(version)
        && !SUPPORTED_WIT_VERSIONS.contains(&version)
    {
        report.problems.insert(
            0,
            format!(
                "built against API {version}; this host serves API versions {}",
                crate::manifest::supported_versions()
            ),
        );
    }
    let manifest_ok = report.manifest.as_ref().is_none_or(|m| m.errors.is_empty());
    report.ok = report.loadable && manifest_ok;
    Ok(report)
}

/// The kind and API version from export names like `sanctuary:plugin/mcp@0.1.0`.
fn detect(exports: &[String]) -> Option<(Kind, String)> {
    exports.iter().find_map(|name| {
        Kind::ALL.into_iter().find_map(|kind| {
            let version = name
                .strip_prefix(kind.export_interface())?
                .strip_prefix('@')?;
            Some((kind, version.to_string()))
        })
    })
}

/// Reads the manifest for the report; the parsed manifest when it has the right shape.
fn read_manifest(path: &Path, report: &mut Report) -> Option<Manifest> {
    let mut mr = ManifestReport {
        path: path.display().to_string(),
        ..ManifestReport::default()
    };
    let parsed = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read it: {e}"))
        .and_then(|text| {
            serde_json::from_str::<Manifest>(&text).map_err(|e| format!("invalid manifest: {e}"))
        });
    let manifest = match parsed {
        Ok(m) => {
            if let Err(e) = m.validate() {
                mr.errors.push(e.to_string());
            }
            mr.id = Some(m.id.clone());
            mr.kind = Some(m.kind);
            mr.api = Some(m.api.to_string());
            mr.permissions = permissions_in_words(&m.permissions);
            Some(m)
        }
        Err(e) => {
            mr.errors.push(e);
            None
        }
    };
    report.manifest = Some(mr);
    manifest
}

/// Compares a manifest with the component.
fn judge_manifest(
    m: &Manifest,
    kind: &Option<Kind>,
    api_version: Option<&str>,
    sha256: &str,
    digest: &[u8; 32],
    mr: &mut ManifestReport,
) {
    if let Some(kind) = kind
        && *kind != m.kind
    {
        mr.errors.push(format!(
            "the manifest says kind `{}` but the component implements `{kind}`",
            m.kind
        ));
    }
    if let Err(e) = m.check_api() {
        mr.errors.push(e.to_string());
    } else if let Some(version) = api_version.and_then(|v| Version::parse(v).ok())
        && let Err(e) = m.check_component_api(&version)
    {
        mr.errors.push(e.to_string());
    }
    if let Some(expected) = &m.sha256 {
        let matches = expected.eq_ignore_ascii_case(sha256);
        mr.sha256_matches = Some(matches);
        if !matches {
            mr.errors.push(format!(
                "sha256 mismatch: the manifest says {expected}, the component is {sha256} (rebuild with `sanctuary plugin build`)"
            ));
        }
    }
    if let Some(signature) = &m.signature {
        mr.signed_by = Some(signature.key.clone());
        let valid = signing::verify(&m.id, signature, digest);
        mr.signature_valid = Some(valid.is_ok());
        if let Err(e) = valid {
            mr.errors.push(e.to_string());
        }
    }
}

/// The manifest the runtime loads: the author's (its own kind, hash and signature are
/// judged separately), or one made up from the component.
fn load_manifest(manifest: Option<&Manifest>, kind: Kind, stem: &str) -> Manifest {
    let mut m = match manifest {
        Some(m) => m.clone(),
        None => {
            let id = plugin_id(stem);
            let permissions = Permissions {
                project_dir: kind == Kind::ScoutCheck,
                ..Permissions::default()
            };
            let value = serde_json::json!({
                "schema_version": crate::manifest::SCHEMA_VERSION,
                "id": id, "name": stem, "kind": kind, "version": "0.0.0", "api": "*",
                "permissions": permissions,
            });
            match serde_json::from_value(value) {
                Ok(m) => m,
                Err(_) => unreachable_manifest(kind),
            }
        }
    };
    m.kind = kind;
    m.sha256 = None;
    m.signature = None;
    // Loadability is about the component; the manifest's requirement is judged apart.
    m.api = VersionReq::STAR;
    if m.validate().is_err() {
        let name = m.name.clone();
        m = unreachable_manifest(kind);
        m.name = name;
    }
    m
}

/// A minimal valid manifest of `kind`.
fn unreachable_manifest(kind: Kind) -> Manifest {
    Manifest {
        schema_version: crate::manifest::SCHEMA_VERSION,
        id: "plugin".into(),
        name: "plugin".into(),
        kind,
        version: Version::new(0, 0, 0),
        api: VersionReq::STAR,
        description: String::new(),
        author: String::new(),
        category: String::new(),
        tags: Vec::new(),
        download_count: 0,
        rating: 0.0,
        last_updated: String::new(),
        repository_url: String::new(),
        documentation_url: String::new(),
        component: None,
        sha256: None,
        signature: None,
        permissions: Permissions {
            project_dir: kind == Kind::ScoutCheck,
            ..Permissions::default()
        },
        budgets: None,
        instances: Default::default(),
    }
}

/// A plugin id made from a file name: `hello_tools` → `hello-tools`.
fn plugin_id(stem: &str) -> String {
    let id: String = stem
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let id = id.trim_start_matches('-');
    let id: String = id.chars().take(64).collect();
    if id.is_empty() { "plugin".into() } else { id }
}

/// Loads the component with a real runtime and asks what it offers.
async fn load_and_ask(
    manifest: Manifest,
    bytes: Vec<u8>,
    report: &mut Report,
) -> Result<(), String> {
    let data = tempfile::tempdir().map_err(|e| format!("cannot make a sandbox directory: {e}"))?;
    let services = Arc::new(HostServices::new(
        None,
        Arc::new(crate::runtime::system::Sampler::new()),
    ));
    let runtime = Runtime::new(None, data.path(), services)
        .map_err(|e| format!("cannot start the runtime: {e:#}"))?;
    let plugin = runtime
        .load(manifest, bytes, &serde_json::json!({}))
        .await
        .map_err(|e| e.to_string())?;
    ask(&runtime, &plugin, data.path(), report).await?;
    report.loadable = true;
    Ok(())
}

/// Calls the component's describing functions in the sandbox.
async fn ask(
    runtime: &Runtime,
    plugin: &Plugin,
    scratch: &Path,
    report: &mut Report,
) -> Result<(), String> {
    let failed = |e: crate::runtime::CallError| format!("loads, but failed its first call: {e}");
    let offers = &mut report.offers;
    match plugin.kind() {
        Kind::McpServer => {
            for tool in runtime.list_tools(plugin).await.map_err(failed)? {
                let input_schema = serde_json::from_str(&tool.input_schema)
                    .unwrap_or(Value::String(tool.input_schema.clone()));
                offers.tools.push(ToolInfo {
                    name: tool.name,
                    description: tool.description,
                    input_schema,
                });
            }
            offers.resources = runtime
                .list_resources(plugin)
                .await
                .map_err(failed)?
                .into_iter()
                .map(|r| r.uri)
                .collect();
            offers.prompts = runtime
                .list_prompts(plugin)
                .await
                .map_err(failed)?
                .into_iter()
                .map(|p| p.name)
                .collect();
        }
        Kind::AiProvider => {
            let info = runtime.describe_provider(plugin).await.map_err(failed)?;
            offers.provider = Some(serde_json::json!({
                "name": info.name,
                "models": info.models,
                "default_model": info.default_model,
                "offline": info.offline,
            }));
        }
        Kind::HealthProbe => {
            offers.trial = Some(match runtime.probe(plugin).await {
                Ok(r) => {
                    let metrics: Vec<String> = r
                        .metrics
                        .iter()
                        .map(|m| format!("{} = {} {}", m.name, m.value, m.unit))
                        .collect();
                    let mut line = format!("{}: {}", r.status.as_str(), r.detail);
                    if !metrics.is_empty() {
                        line.push_str(&format!(" ({})", metrics.join(", ")));
                    }
                    line
                }
                Err(e) => format!("the trial probe failed: {e}"),
            });
        }
        Kind::ScoutCheck => {
            let project = scratch.join("empty-project");
            let _ = std::fs::create_dir_all(&project);
            offers.trial = Some(
                match runtime.scout(plugin, "empty-project", &project).await {
                    Ok(f) => {
                        let score = f.score.map_or("no score".into(), |s| format!("score {s}"));
                        format!(
                            "on an empty project: {score}; notes: {}",
                            list_or_none(&f.notes)
                        )
                    }
                    Err(e) => format!("the trial check on an empty project failed: {e}"),
                },
            );
        }
    }
    Ok(())
}

/// What a plugin may do, one phrase per grant.
pub fn permissions_in_words(p: &Permissions) -> Vec<String> {
    let mut words = Vec::new();
    for host in &p.network {
        words.push(format!("make HTTP requests to {host}"));
    }
    for file in &p.files {
        let mode = if file.write { "read and write" } else { "read" };
        let seen = file
            .guest_path
            .as_deref()
            .map(|g| format!(" (seen as {g})"))
            .unwrap_or_default();
        words.push(format!("{mode} the host directory {}{seen}", file.path));
    }
    for var in &p.env {
        words.push(format!("read the host environment variable {var}"));
    }
    for secret in &p.secrets {
        words.push(format!("read the secret {secret}"));
    }
    if p.project_dir {
        words.push("read the scouted project (read-only, at /project)".into());
    }
    if p.network.is_empty() && p.files.is_empty() && p.env.is_empty() && p.secrets.is_empty() {
        words.push("no network, files, environment variables or secrets".into());
    }
    words.push(format!(
        "use up to {} MiB of memory and {} ms per call",
        p.memory_mb, p.timeout_ms
    ));
    words
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn print_report(r: &Report) {
    println!(
        "{}: {}, sha256 {}",
        r.file,
        super::human_size(r.size),
        r.sha256
    );
    match (&r.kind, &r.api_version) {
        (Some(kind), Some(version)) => println!(
            "kind: {kind} (exports {}@{version}), built against API {version}",
            kind.export_interface()
        ),
        _ => println!("kind: none found"),
    }
    println!("imports: {}", list_or_none(&r.imports));
    if r.loadable {
        println!(
            "loadable: yes, this host (API {}) loads it",
            r.host_api_version
        );
    } else {
        println!("loadable: NO");
        for problem in &r.problems {
            println!("  - {problem}");
        }
    }
    let o = &r.offers;
    if let Some(name) = &o.name {
        println!("name: {name}");
    }
    if !o.tools.is_empty() {
        println!("tools:");
        for tool in &o.tools {
            println!("  {}: {}", tool.name, tool.description);
            println!("    input: {}", tool.input_schema);
        }
    }
    if !o.resources.is_empty() {
        println!("resources: {}", o.resources.join(", "));
    }
    if !o.prompts.is_empty() {
        println!("prompts: {}", o.prompts.join(", "));
    }
    if let Some(provider) = &o.provider {
        println!("provider: {provider}");
    }
    if let Some(trial) = &o.trial {
        println!("trial call: {trial}");
    }
    if let Some(m) = &r.manifest {
        println!("manifest {}:", m.path);
        if let (Some(id), Some(kind)) = (&m.id, &m.kind) {
            println!(
                "  id {id}, kind {kind}, api {}",
                m.api.as_deref().unwrap_or("?")
            );
        }
        match m.sha256_matches {
            Some(true) => println!("  sha256: matches the component"),
            Some(false) => println!("  sha256: DOES NOT match the component"),
            None => println!("  sha256: not declared (build or install fills it in)"),
        }
        match (&m.signed_by, m.signature_valid) {
            (Some(key), Some(true)) => println!(
                "  signature: valid, by key {key} (a server accepts it if it trusts this key)"
            ),
            (Some(key), _) => println!("  signature: INVALID (key {key})"),
            _ => println!("  signature: none"),
        }
        if !m.permissions.is_empty() {
            println!("  asks to:");
            for p in &m.permissions {
                println!("    - {p}");
            }
        }
        for e in &m.errors {
            println!("  error: {e}");
        }
    }
    println!("result: {}", if r.ok { "OK" } else { "NOT OK" });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        sanctuary_test_artifacts::FIXTURES
            .iter()
            .find(|(dir, _, _)| *dir == name)
            .map(|(_, wasm, _)| PathBuf::from(wasm))
            .unwrap_or_else(|| panic!("fixture {name}"))
    }

    #[tokio::test]
    async fn a_component_built_against_the_older_api_is_loadable_and_its_manifest_judged_by_it() {
        let component = fixture("api-v0-1");
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/api-v0-1/manifest.json");
        let report = check(&component, Some(&manifest)).await.expect("checks");
        assert_eq!(report.api_version.as_deref(), Some("0.1.0"));
        assert!(report.loadable, "{report:#?}");
        let m = report.manifest.as_ref().expect("judged");
        assert!(m.errors.is_empty(), "{:?}", m.errors);

        // The same component under a manifest asking for the newer API is refused,
        // naming the version it implements.
        let dir = tempfile::tempdir().expect("tempdir");
        let mut value: Value =
            serde_json::from_str(&std::fs::read_to_string(&manifest).expect("read")).expect("json");
        value["api"] = Value::String("^0.2".into());
        let newer = dir.path().join("manifest.json");
        std::fs::write(&newer, value.to_string()).expect("write");
        let report = check(&component, Some(&newer)).await.expect("checks");
        assert!(!report.ok);
        let m = report.manifest.expect("judged");
        assert!(
            m.errors.iter().any(|e| e.contains("0.1.0")),
            "{:?}",
            m.errors
        );
    }

    #[tokio::test]
    async fn something_that_is_not_a_component_is_not_loadable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let module = dir.path().join("core.wasm");
        // The smallest core module: magic and version 1.
        std::fs::write(&module, b"\0asm\x01\0\0\0").expect("write");
        let report = check(&module, None).await.expect("checks");
        assert!(!report.loadable && !report.ok);
        assert!(
            report.problems[0].contains("not a component"),
            "{:?}",
            report.problems
        );

        let junk = dir.path().join("junk.wasm");
        std::fs::write(&junk, b"hello").expect("write");
        let report = check(&junk, None).await.expect("checks");
        assert!(!report.ok);
        assert!(
            report.problems[0].contains("not a valid WebAssembly"),
            "{:?}",
            report.problems
        );
    }

    #[tokio::test]
    async fn a_hostile_fixture_still_gets_a_report() {
        let report = check(&fixture("hostile-trap"), None).await.expect("checks");
        assert!(report.kind.is_some(), "{report:#?}");
    }

    #[test]
    fn file_names_become_plugin_ids() {
        assert_eq!(plugin_id("hello_tools"), "hello-tools");
        assert_eq!(plugin_id("__"), "plugin");
        assert_eq!(plugin_id("Big"), "big");
    }
}
