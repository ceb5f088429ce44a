//! `sanctuary plugin install`: uploads a component and its manifest to a running server
//! (`POST /api/plugins/upload` with the admin token), then waits until the server reports
//! the plugin loaded (`GET /api/plugins/{id}`), printing progress on stderr.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use clap::Args;
use serde_json::{Value, json};

use super::manifest_file;
use crate::manifest::Manifest;

/// How long to wait for the server to report the plugin loaded.
const LOAD_WAIT: Duration = Duration::from_secs(120);

/// `sanctuary plugin install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The component to install.
    #[arg(value_name = "COMPONENT")]
    pub component: PathBuf,
    /// Its manifest.json.
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,
    /// The server's base URL.
    #[arg(
        long,
        env = "SANCTUARY_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:5000"
    )]
    pub server: String,
    /// The server's admin token (printed by the server on its first start).
    #[arg(
        long,
        env = "SANCTUARY_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// Uploads and waits for the plugin to load.
pub async fn run(args: &InstallArgs) -> Result<()> {
    let Some(token) = args.token.as_deref().filter(|t| !t.is_empty()) else {
        bail!("no admin token: pass --token or set SANCTUARY_ADMIN_TOKEN");
    };
    let mut value = manifest_file::read(&args.manifest)?;
    let manifest: Manifest = serde_json::from_value(value.clone())
        .with_context(|| format!("{} is not a valid manifest", args.manifest.display()))?;
    manifest
        .validate()
        .with_context(|| format!("{} is not a valid manifest", args.manifest.display()))?;
    let bytes = std::fs::read(&args.component)
        .with_context(|| format!("reading {}", args.component.display()))?;
    let sha256 = hex::encode(crate::signing::digest(&bytes));
    match &manifest.sha256 {
        Some(expected) if !expected.eq_ignore_ascii_case(&sha256) => bail!(
            "{} says sha256 {expected} but {} is {sha256}; rebuild with `sanctuary plugin build` (or fix the manifest)",
            args.manifest.display(),
            args.component.display()
        ),
        Some(_) => {}
        None => {
            value["sha256"] = Value::String(sha256.clone());
        }
    }
    let base = args.server.trim_end_matches('/');
    let client = reqwest::Client::new();
    eprintln!(
        "uploading {} {} ({}, {}) to {base}",
        manifest.id,
        manifest.version,
        manifest.kind,
        super::human_size(bytes.len())
    );
    let body = json!({
        "manifest": value,
        "component_base64": base64::engine::general_purpose::STANDARD.encode(&bytes),
    });
    let response = client
        .post(format!("{base}/api/plugins/upload"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .with_context(|| {
            format!("cannot reach the server at {base} (is it running? --server / SANCTUARY_URL)")
        })?;
    let status = response.status();
    let reply: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "the server refused the plugin ({status}): {}",
            error_text(&reply)
        );
    }
    eprintln!("{}", reply["message"].as_str().unwrap_or("uploaded"));
    eprintln!("waiting for {} to load", manifest.id);
    let view = wait_loaded(&client, base, &manifest).await?;
    let mut summary = format!(
        "{} {} is loaded ({})",
        manifest.id, manifest.version, manifest.kind
    );
    let tools: Vec<&str> = view["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    if !tools.is_empty() {
        summary.push_str(&format!("; tools: {}", tools.join(", ")));
    }
    println!("{summary}");
    Ok(())
}

/// Polls `GET /api/plugins/{id}` until it is loaded at the uploaded version.
async fn wait_loaded(client: &reqwest::Client, base: &str, manifest: &Manifest) -> Result<Value> {
    let url = format!("{base}/api/plugins/{}", manifest.id);
    let version = manifest.version.to_string();
    let started = std::time::Instant::now();
    let mut last_state = String::new();
    loop {
        let reply: Value = client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?
            .json()
            .await
            .with_context(|| format!("GET {url}: not JSON"))?;
        let plugin = &reply["plugin"];
        let state = plugin["state"].as_str().unwrap_or("unknown").to_string();
        let at_version = plugin["installed_version"].as_str() == Some(version.as_str());
        match state.as_str() {
            "loaded" if at_version => return Ok(plugin.clone()),
            "failed" => bail!(
                "{} failed to load: {}",
                manifest.id,
                plugin["error"].as_str().unwrap_or("no reason given")
            ),
            _ => {}
        }
        if state != last_state {
            eprintln!("  state: {state}");
            last_state = state;
        }
        if started.elapsed() > LOAD_WAIT {
            bail!(
                "{} was not loaded after {} s (state {last_state})",
                manifest.id,
                LOAD_WAIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The message of an API error body (the seeds' `{error, message}` or the envelope's
/// `{error: {message}}`).
fn error_text(reply: &Value) -> String {
    let message = reply["message"]
        .as_str()
        .or_else(|| reply["error"]["message"].as_str())
        .or_else(|| reply["error"].as_str());
    match message {
        Some(m) => m.to_string(),
        None if reply.is_null() => "no details".into(),
        None => reply.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_read_from_either_error_body() {
        assert_eq!(
            error_text(
                &json!({ "success": false, "error": "Signature refused", "message": "unknown key" })
            ),
            "unknown key"
        );
        assert_eq!(
            error_text(&json!({ "success": false, "error": { "message": "nope" } })),
            "nope"
        );
        assert_eq!(error_text(&Value::Null), "no details");
    }
}
