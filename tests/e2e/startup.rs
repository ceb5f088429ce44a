//! Start-up, run with the real binary: each failure an operator meets first ends the
//! process with a non-zero status and one line on stderr that names the path or URL and
//! says what to do; and a config file created after start is picked up.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use sanctuary_test_support::sanctuary;

/// Runs `sanctuary` with `args` in `dir` (as user `nobody` when `as_nobody`: root may
/// write anywhere, so an unwritable directory needs another user to be unwritable).
fn run(dir: &Path, args: &[&str], as_nobody: bool) -> Output {
    let binary = env!("CARGO_BIN_EXE_sanctuary");
    let mut command = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", binary]);
        c
    } else {
        Command::new(binary)
    };
    command
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("SANCTUARY_CONFIG")
        .env_remove("SANCTUARY_DATA_DIR")
        .env_remove("SANCTUARY_DATABASE_URL")
        .env_remove("SANCTUARY_REDIS_URL")
        .env_remove("SANCTUARY_ADMIN_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("run the sanctuary binary")
}

/// The one `error:` line of stderr.
fn error_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        errors.len(),
        1,
        "expected one error line; stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("Caused by") && !stderr.contains("Stack backtrace"),
        "{stderr}"
    );
    errors[0].to_string()
}

fn is_root() -> bool {
    // The real uid, as `id -u` prints it.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn a_data_directory_that_is_not_writable_is_named_with_the_fix() {
    let scratch = tempfile::tempdir().expect("tempdir");
    // The scratch directory must be reachable by `nobody`.
    set_mode(scratch.path(), 0o755);
    let data = scratch.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    set_mode(&data, 0o555);
    let output = run(
        scratch.path(),
        &["--data-dir", data.to_str().expect("utf-8")],
        is_root(),
    );
    set_mode(&data, 0o755);
    assert!(!output.status.success(), "it started");
    let line = error_line(&output);
    assert!(line.contains(&data.display().to_string()), "{line}");
    assert!(line.contains("not writable"), "{line}");
    assert!(line.contains("--data-dir"), "{line}");
    assert!(!line.contains("unable to open database file"), "{line}");
}

#[test]
fn an_unreachable_database_is_named_without_its_password_with_the_fix() {
    let scratch = tempfile::tempdir().expect("tempdir");
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("postgres://sanctuary:hunter2@127.0.0.1:{port}/sanctuary");
    let data = scratch.path().join("data");
    let output = run(
        scratch.path(),
        &[
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--database-url",
            &url,
        ],
        false,
    );
    assert!(!output.status.success(), "it started");
    let line = error_line(&output);
    assert!(
        line.contains(&format!("127.0.0.1:{port}/sanctuary")),
        "{line}"
    );
    assert!(!line.contains("hunter2"), "{line}");
    assert!(line.contains("cannot connect to the database"), "{line}");
    assert!(line.contains("--database-url"), "{line}");
}

#[test]
fn an_unreachable_redis_is_named_without_its_password_with_the_fix() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("redis://default:hunter2@127.0.0.1:{port}/0");
    let data = scratch.path().join("data");
    let output = run(
        scratch.path(),
        &[
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--redis-url",
            &url,
        ],
        false,
    );
    assert!(!output.status.success(), "it started");
    let line = error_line(&output);
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    assert!(!line.contains("hunter2"), "{line}");
    assert!(line.contains("cannot reach Redis"), "{line}");
    assert!(line.contains("--redis-url"), "{line}");
}

#[test]
fn a_malformed_redis_url_is_named_with_the_expected_form() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let data = scratch.path().join("data");
    let output = run(
        scratch.path(),
        &[
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--redis-url",
            "postgres://127.0.0.1/test",
        ],
        false,
    );
    assert!(!output.status.success(), "it started");
    let line = error_line(&output);
    assert!(line.contains("postgres://127.0.0.1/test"), "{line}");
    assert!(line.contains("expected redis://"), "{line}");
    assert!(line.contains("SANCTUARY_REDIS_URL"), "{line}");
}

#[test]
fn an_unsupported_database_url_is_named_with_the_fix() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let data = scratch.path().join("data");
    let output = run(
        scratch.path(),
        &[
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--database-url",
            "redis://127.0.0.1:6379",
        ],
        false,
    );
    assert!(!output.status.success(), "it started");
    let line = error_line(&output);
    assert!(line.contains("redis://127.0.0.1:6379"), "{line}");
    assert!(line.contains("expected sqlite:// or postgres://"), "{line}");
    assert!(line.contains("--database-url"), "{line}");
}

#[test]
fn a_port_file_in_a_missing_directory_is_named_with_the_fix() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let data = scratch.path().join("data");
    let port_file = scratch.path().join("missing/sanctuary.port");
    let output = run(
        scratch.path(),
        &[
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--port-file",
            port_file.to_str().expect("utf-8"),
        ],
        false,
    );
    assert!(!output.status.success(), "it started");
    let line = error_line(&output);
    assert!(line.contains(&port_file.display().to_string()), "{line}");
    assert!(line.contains("--port-file"), "{line}");
}

#[tokio::test]
async fn the_port_file_names_the_address_served_and_is_removed_at_shutdown() {
    let run_dir = tempfile::tempdir().expect("tempdir");
    let port_file = run_dir.path().join("sanctuary.port");
    let server = sanctuary!().port_file(&port_file).spawn().await;
    let written = std::fs::read_to_string(&port_file).expect("the port file is there");
    assert_eq!(written, format!("{}\n", server.addr));
    let live = server.client.get(server.url("/health/live")).send().await;
    assert!(
        live.is_ok_and(|r| r.status() == 200),
        "the written address serves"
    );
    let leftovers: Vec<_> = std::fs::read_dir(run_dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no temporary file is left: {leftovers:?}"
    );
    server.terminate().await;
    assert!(!port_file.exists(), "the port file is removed at shutdown");
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[tokio::test]
async fn a_config_file_created_after_start_is_applied() {
    // Started with no config file: the default one does not exist yet.
    let server = sanctuary!().spawn().await;
    let coder = |body: &serde_json::Value| {
        body["routes"]
            .as_array()
            .and_then(|routes| routes.iter().find(|r| r["name"] == "coder").cloned())
    };
    let status: serde_json::Value = server.get_json("/api/providers").await;
    assert_eq!(coder(&status), None);

    // It appears (written aside and renamed into place, as deploy tools do).
    let tmp = server.dir().join("sanctuary.toml.tmp");
    std::fs::write(&tmp, "[routes.coder]\nchain = [{ provider = \"local\" }]\n").expect("write");
    std::fs::rename(&tmp, server.dir().join("sanctuary.toml")).expect("rename");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let route = loop {
        let status: serde_json::Value = server.get_json("/api/providers").await;
        if let Some(route) = coder(&status) {
            break route;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new config file was never applied: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(route["source"], "config", "{route}");
    assert_eq!(route["chain"][0]["provider"], "local", "{route}");
}

#[tokio::test]
async fn with_the_address_space_capped_the_pool_gives_way_and_plugins_still_answer() {
    // 64 GiB of address space: far less than the instance pool reserves (terabytes),
    // plenty for on-demand instances.
    let server = sanctuary!().address_space_limit(64 << 30).spawn().await;
    server.wait_ready().await;
    let (status, body) = server
        .post(
            "/api/mcp/servers/time/tools/current_time",
            None,
            Some(&serde_json::json!({ "timezone": "UTC" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("UTC"), "{body}");
    let log = server.log();
    assert!(
        log.contains("could not reserve the instance pool"),
        "the fallback is logged:\n{log}"
    );
}
