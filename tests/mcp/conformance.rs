//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned at
//! [`VERSION`] in `tests/clients/package.json`; `.ci/run` installs it with `npm ci`)
//! against the real binary: the test uploads the fixture plugin
//! `tests/fixtures/mcp-conformance` (the suite's fixture tools, resources and prompts) and
//! runs every server scenario the suite lists (its active suite and the five it marks
//! pending: `json-schema-2020-12`, `server-sse-polling` and the elicitation ones) against
//! that plugin's own endpoint, `/mcp/mcp-conformance`, one `conformance server --scenario
//! NAME` each, with a bounded time per scenario.
//!
//! A scenario passes when the CLI exits 0 and its `checks.json` holds no `FAILURE` (the
//! suite's own verdict; `WARNING`s are shown, not counted). Every scenario is in
//! [`PASSING`]: the test fails when one fails, when the suite lists a scenario that is not
//! there, or when one there is no longer listed (so a suite that lists nothing cannot
//! pass). Without node or the pinned suite the test is skipped with a notice, and fails
//! under `CI`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::process::Command;
use tokio::sync::Semaphore;

use sanctuary_test_support::sanctuary;

/// Where the pinned suite is installed (`npm ci` in `tests/clients`).
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/clients");
/// The pinned version (later versions need Node 22).
const VERSION: &str = "0.1.10";
/// The fixture plugin, uploaded as is.
const PLUGIN: &str = "mcp-conformance";
/// The admin token of the server under test (for the upload).
const ADMIN: &str = "conformance-admin";
/// Upper bound on one scenario (the slowest wait inside the suite is 10 s).
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(90);
/// Scenarios run at once (each is one node process and a few MCP sessions).
const PARALLEL: usize = 3;

/// Scenarios that pass today and must keep passing.
const PASSING: &[&str] = &[
    "server-initialize",
    "logging-set-level",
    "ping",
    "completion-complete",
    "tools-list",
    "tools-call-simple-text",
    "tools-call-image",
    "tools-call-audio",
    "tools-call-embedded-resource",
    "tools-call-mixed-content",
    "tools-call-with-progress",
    "tools-call-with-logging",
    "tools-call-sampling",
    "tools-call-elicitation",
    "elicitation-sep1034-defaults",
    "elicitation-sep1330-enums",
    "tools-call-error",
    "json-schema-2020-12",
    // Primed POST streams with `retry:` pass; the host does not close a stream mid-call
    // for a Last-Event-ID resume, which the suite reports as INFO only.
    "server-sse-polling",
    "server-sse-multiple-streams",
    "resources-list",
    "resources-read-text",
    "resources-templates-read",
    "resources-subscribe",
    "resources-unsubscribe",
    "prompts-list",
    "prompts-get-simple",
    "prompts-get-with-args",
    "prompts-get-with-image",
    "prompts-get-embedded-resource",
    "resources-read-binary",
];

/// What one scenario did.
struct Outcome {
    scenario: String,
    passed: bool,
    succeeded: usize,
    failed: usize,
    warnings: usize,
    seconds: f64,
    /// The first failed check, or why the scenario did not run.
    problem: String,
}

/// Whether node and the pinned suite are installed; under `CI` their absence fails.
fn suite_installed() -> bool {
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let package =
        Path::new(DIR).join("node_modules/@modelcontextprotocol/conformance/package.json");
    let version = std::fs::read_to_string(&package)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|p| p["version"].as_str().map(str::to_string));
    let missing = match (node, version.as_deref()) {
        (false, _) => "node is not installed".to_string(),
        (true, None) => format!("@modelcontextprotocol/conformance is not installed in {DIR}"),
        (true, Some(v)) if v != VERSION => {
            format!("@modelcontextprotocol/conformance {v} is installed, not the pinned {VERSION}")
        }
        (true, Some(_)) => return true,
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{missing}; .ci/run installs it (npm ci in tests/clients)"
    );
    eprintln!("skipping the MCP conformance suite: {missing} (.ci/run installs it)");
    false
}

/// `npx --no-install conformance ARGS` in [`DIR`]: only the pinned local copy, never a
/// download.
fn conformance(args: &[&str]) -> Command {
    let mut command = Command::new("npx");
    command
        .args(["--no-install", "conformance"])
        .args(args)
        .current_dir(DIR)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// The server scenarios the suite lists (`conformance list --server`).
async fn listed_scenarios() -> Vec<String> {
    let output = conformance(&["list", "--server"])
        .output()
        .await
        .expect("run conformance list");
    assert!(
        output.status.success(),
        "conformance list failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let scenarios: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("Server scenarios"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.trim().strip_prefix("- ").map(str::to_string))
        .collect();
    assert!(!scenarios.is_empty(), "no server scenarios in:\n{text}");
    scenarios
}

/// Counts of the checks in every `checks.json` under `dir`: (succeeded, failed,
/// warnings, first failure).
fn read_checks(dir: &Path) -> Option<(usize, usize, usize, String)> {
    let mut found: Option<(usize, usize, usize, String)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let file = entry.path().join("checks.json");
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let checks: Vec<Value> = serde_json::from_str(&text).ok()?;
        let (mut ok, mut failed, mut warned, mut first) = found.unwrap_or_default();
        for check in &checks {
            match check["status"].as_str() {
                Some("SUCCESS") => ok += 1,
                Some("FAILURE") => {
                    failed += 1;
                    if first.is_empty() {
                        first = format!(
                            "{}: {}",
                            check["name"].as_str().unwrap_or("?"),
                            check["errorMessage"].as_str().unwrap_or("failed")
                        );
                    }
                }
                Some("WARNING") => warned += 1,
                _ => {}
            }
        }
        found = Some((ok, failed, warned, first));
    }
    found
}

/// Runs one scenario against `url`, its results written under `out`.
async fn run_scenario(url: String, scenario: String, out: PathBuf) -> Outcome {
    let started = Instant::now();
    std::fs::create_dir_all(&out).expect("results dir");
    let out_arg = out.display().to_string();
    let run = conformance(&[
        "server",
        "--url",
        &url,
        "--scenario",
        &scenario,
        "--output-dir",
        &out_arg,
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .output();
    let output = tokio::time::timeout(SCENARIO_TIMEOUT, run).await;
    let seconds = started.elapsed().as_secs_f64();
    let mut outcome = Outcome {
        scenario,
        passed: false,
        succeeded: 0,
        failed: 0,
        warnings: 0,
        seconds,
        problem: String::new(),
    };
    let output = match output {
        Err(_) => {
            outcome.problem = format!("timed out after {}s", SCENARIO_TIMEOUT.as_secs());
            return outcome;
        }
        Ok(Err(e)) => {
            outcome.problem = format!("could not run the CLI: {e}");
            return outcome;
        }
        Ok(Ok(output)) => output,
    };
    match read_checks(&out) {
        Some((ok, failed, warned, first)) => {
            outcome.succeeded = ok;
            outcome.failed = failed;
            outcome.warnings = warned;
            outcome.passed = output.status.success() && failed == 0 && ok + warned > 0;
            outcome.problem = if first.is_empty() && !output.status.success() {
                format!("exit {}", output.status)
            } else {
                first
            };
        }
        None => {
            outcome.problem = format!(
                "no checks.json (exit {}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
        }
    }
    outcome
}

/// The summary table, one row per scenario.
fn table(outcomes: &[Outcome]) -> String {
    let mut out = format!(
        "{:<32} {:<8} {:>4} {:>4} {:>4} {:>6}  {}\n",
        "scenario", "result", "ok", "fail", "warn", "secs", "first failure"
    );
    for o in outcomes {
        let note = if o.passed { "" } else { o.problem.as_str() };
        out.push_str(&format!(
            "{:<32} {:<8} {:>4} {:>4} {:>4} {:>6.1}  {}\n",
            o.scenario,
            if o.passed { "pass" } else { "FAIL" },
            o.succeeded,
            o.failed,
            o.warnings,
            o.seconds,
            note
        ));
    }
    out
}

/// What is wrong given the outcomes; empty when every scenario the suite lists is in
/// [`PASSING`], every one there is listed, and each passed.
fn verdicts(listed: &[String], outcomes: &[Outcome]) -> Vec<String> {
    let mut problems: Vec<String> = listed
        .iter()
        .filter(|name| !PASSING.contains(&name.as_str()))
        .map(|name| format!("`{name}` is a scenario this test does not know: add it to PASSING"))
        .collect();
    for name in PASSING {
        if !listed.iter().any(|l| l == name) {
            problems.push(format!("`{name}` is listed here but not by the suite"));
        }
    }
    for o in outcomes.iter().filter(|o| !o.passed) {
        problems.push(format!("`{}` should pass: {}", o.scenario, o.problem));
    }
    problems
}

#[tokio::test]
async fn every_server_scenario_of_the_official_conformance_suite_meets_its_list() {
    if !suite_installed() {
        return;
    }
    let listed = listed_scenarios().await;

    let launch = sanctuary!().envs(&[("SANCTUARY_ADMIN_TOKEN", ADMIN)]);
    // The suite opens a few sessions per scenario, all from one address.
    let config = launch.scratch().join("conformance.toml");
    std::fs::write(&config, "[server]\nmcp_max_sessions_per_client = 1000\n").expect("config");
    let server = launch.arg("--config").arg(&config).spawn().await;
    server.upload_fixture(PLUGIN, ADMIN).await;
    let url = server.url(&format!("/mcp/{PLUGIN}"));

    let results = tempfile::tempdir().expect("tempdir");
    let permits = Arc::new(Semaphore::new(PARALLEL));
    let mut runs = tokio::task::JoinSet::new();
    for (i, scenario) in listed.iter().enumerate() {
        let permits = permits.clone();
        let url = url.clone();
        let scenario = scenario.clone();
        let out = results.path().join(format!("{i:02}-{scenario}"));
        runs.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore");
            run_scenario(url, scenario, out).await
        });
    }
    let mut outcomes = Vec::new();
    while let Some(outcome) = runs.join_next().await {
        outcomes.push(outcome.expect("scenario task"));
    }
    outcomes.sort_by_key(|o| listed.iter().position(|l| *l == o.scenario));

    let summary = table(&outcomes);
    let passed = outcomes.iter().filter(|o| o.passed).count();
    println!(
        "MCP conformance suite {VERSION} against /mcp/{PLUGIN}: {passed} of {} server scenarios pass\n{summary}",
        outcomes.len()
    );
    let problems = verdicts(&listed, &outcomes);
    assert!(
        problems.is_empty(),
        "the conformance lists are not honest:\n- {}\n\n{summary}",
        problems.join("\n- ")
    );
}

#[tokio::test]
async fn a_tool_that_asks_its_client_answers_unavailable_when_not_called_over_mcp() {
    let server = sanctuary!()
        .envs(&[("SANCTUARY_ADMIN_TOKEN", ADMIN)])
        .spawn()
        .await;
    server.upload_fixture(PLUGIN, ADMIN).await;
    // The REST route has no MCP client behind it to sample or to ask.
    for (tool, args) in [
        ("test_sampling", serde_json::json!({ "prompt": "hello" })),
        (
            "test_elicitation",
            serde_json::json!({ "message": "hello" }),
        ),
    ] {
        let (status, body) = server
            .post(
                &format!("/api/mcp/servers/{PLUGIN}/tools/{tool}"),
                None,
                Some(&args),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["success"], false, "{body}");
        assert_eq!(body["error"]["code"], "unavailable", "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("MCP client"), "{body}");
    }
}
