//! `sanctuary plugin install`: uploads a component and its manifest to a running server
//! (`POST /api/plugins/upload` with the admin token), then waits until the server reports
//! the plugin loaded (`GET /api/plugins/{id}`), printing progress on stderr.
//!
//! Every answer of the server is reported as what it is: 401 with the server's message,
//! 403 with the scope the credential lacks, 422 with the refusal. The credential is tried
//! first with an empty upload (refused for its body, or for the credential, before any
//! component is sent): a server refusing the credential answers before reading a large
//! body and closes the connection, which would otherwise surface only as a broken pipe.

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
    eprintln!("checking the token with {base}");
    check_credential(&client, base, token).await?;
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
    let started = std::time::Instant::now();
    let send = client
        .post(format!("{base}/api/plugins/upload"))
        .bearer_auth(token)
        .json(&body)
        .send();
    let sent = with_ticker(send, "uploading; the server checks and loads it").await;
    let response = match sent {
        Ok(response) => response,
        Err(e) => return Err(send_failure(&client, base, token, &e).await),
    };
    let status = response.status();
    let reply: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(answer_error(status, &reply));
    }
    eprintln!(
        "uploaded and installed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
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

/// Tries `token` on the upload route with an empty body: a wrong token (401) or one
/// without the `plugins` scope (403) is refused as it would be with the component, but
/// nothing large is sent. A valid credential gets the body refused instead (400 or 422).
async fn check_credential(client: &reqwest::Client, base: &str, token: &str) -> Result<()> {
    let url = format!("{base}/api/plugins/upload");
    let response = client
        .post(&url)
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .map_err(|e| unreachable(base, &e))?;
    let status = response.status();
    match status.as_u16() {
        401 | 403 | 404 | 405 | 429 | 500.. => {
            let reply: Value = response.json().await.unwrap_or(Value::Null);
            Err(answer_error(status, &reply))
        }
        _ => Ok(()),
    }
}

/// The error for a failed send: the server's own answer when it refused the request
/// before reading it all, else what broke.
async fn send_failure(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    error: &reqwest::Error,
) -> anyhow::Error {
    if error.is_connect() {
        return unreachable(base, error);
    }
    // The server answered before the body was sent (and closed the connection): ask
    // again cheaply for its answer.
    if let Err(answer) = check_credential(client, base, token).await {
        return answer;
    }
    anyhow::anyhow!(
        "the server at {base} closed the connection while the component was being sent ({}); it may refuse uploads this large (its limit is 128 MiB of base64) or have stopped: see its log",
        error_chain(error)
    )
}

fn unreachable(base: &str, error: &reqwest::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot reach the server at {base} ({}): is it running? (--server / SANCTUARY_URL)",
        error_chain(error)
    )
}

/// An error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(inner) = next {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        next = inner.source();
    }
    text
}

/// A server answer that is not a success, as what it is.
fn answer_error(status: reqwest::StatusCode, reply: &Value) -> anyhow::Error {
    let message = error_text(reply);
    let title = reply["error"].as_str().filter(|t| !t.is_empty());
    match status.as_u16() {
        401 => anyhow::anyhow!(
            "the server refused the token ({status}): {message}; pass the admin token or an API key with the `plugins` scope (--token / SANCTUARY_ADMIN_TOKEN)"
        ),
        403 => anyhow::anyhow!(
            "the token may not install plugins ({status}): {message}; use the admin token or a key with the `plugins` scope"
        ),
        409 => anyhow::anyhow!(
            "the server holds the plugin until its permissions are granted ({status}): {message}"
        ),
        413 => anyhow::anyhow!("the server refused the upload as too large ({status}): {message}"),
        400 | 422 => match title {
            Some(title) => {
                anyhow::anyhow!("the server refused the plugin ({status}, {title}): {message}")
            }
            None => anyhow::anyhow!("the server refused the plugin ({status}): {message}"),
        },
        _ => anyhow::anyhow!("the server answered {status}: {message}"),
    }
}

/// Awaits `future`, printing a line every few seconds while it runs.
async fn with_ticker<F: std::future::Future>(future: F, doing: &str) -> F::Output {
    let started = std::time::Instant::now();
    tokio::pin!(future);
    let mut tick = tokio::time::interval(TICK);
    tick.tick().await;
    loop {
        tokio::select! {
            output = &mut future => return output,
            _ = tick.tick() => eprintln!("  {doing} ({} s)", started.elapsed().as_secs()),
        }
    }
}

/// How often a long step says it is still running.
const TICK: Duration = Duration::from_secs(3);

/// Polls `GET /api/plugins/{id}` until it is loaded at the uploaded version.
async fn wait_loaded(client: &reqwest::Client, base: &str, manifest: &Manifest) -> Result<Value> {
    let url = format!("{base}/api/plugins/{}", manifest.id);
    let version = manifest.version.to_string();
    let started = std::time::Instant::now();
    let mut last_state = String::new();
    loop {
        let response = client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        let reply: Value = response
            .json()
            .await
            .with_context(|| format!("GET {url}: {status}, not JSON"))?;
        if !status.is_success() {
            return Err(answer_error(status, &reply)).with_context(|| format!("GET {url}"));
        }
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
            eprintln!(
                "  state: {state} ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
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

    use crate::testing::{args, plugin_files};

    #[tokio::test]
    async fn a_server_that_is_not_there_is_reported_as_unreachable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let dir = tempfile::tempdir().expect("tempdir");
        let files = plugin_files(dir.path());
        let err = run(&args(&format!("http://127.0.0.1:{port}"), "t", &files))
            .await
            .expect_err("unreachable");
        assert!(
            format!("{err:#}").contains("cannot reach the server"),
            "{err:#}"
        );
    }

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
