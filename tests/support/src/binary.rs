//! The real `sanctuary` binary, started for a test and killed when it ends. It is told
//! `--host 127.0.0.1 --port 0 --port-file <file>` and the starter waits for that file:
//! the address comes from the server itself, not from its log. The log (stdout and
//! stderr) is still collected, for assertions and for the message of a failed start.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::PATIENCE;
use crate::jobs_ws::JobsSocket;
use crate::socketio::SocketIo;

/// Variables a test server never inherits from the test's own environment (a developer's
/// shell may set any of them); [`Launch::env`] sets them explicitly.
const NOT_INHERITED: &[&str] = &[
    "SANCTUARY_CONFIG",
    "SANCTUARY_PORT",
    "SANCTUARY_PORT_FILE",
    "SANCTUARY_DATABASE_URL",
    "SANCTUARY_REDIS_URL",
    "SANCTUARY_ADMIN_TOKEN",
    "SANCTUARY_RATE_LIMIT",
    "SANCTUARY_SECRETS_FILE",
    "SANCTUARY_REGISTRY",
];

/// Log lines kept per server; later ones are read and dropped.
const MAX_LOG_LINES: usize = 100_000;

/// How to start one server: build it, then [`Launch::spawn`].
pub struct Launch {
    exe: PathBuf,
    scratch: TempDir,
    data_dir: Option<PathBuf>,
    defaults: bool,
    cwd: Option<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    startup: Duration,
    port_file: Option<PathBuf>,
    address_space: Option<u64>,
}

impl Launch {
    /// The binary at `exe` (a test passes `env!("CARGO_BIN_EXE_sanctuary")`), in a fresh
    /// scratch directory that is also its working and data directory unless told
    /// otherwise, with the shared component cache ([`crate::cache_dir`]).
    pub fn new(exe: impl Into<PathBuf>) -> Launch {
        Launch {
            exe: exe.into(),
            scratch: TempDir::new().expect("tempdir"),
            data_dir: None,
            defaults: false,
            cwd: None,
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            startup: PATIENCE,
            port_file: None,
            address_space: None,
        }
    }

    /// Caps the server's virtual address space at `bytes` (`RLIMIT_AS`, set by util-linux's
    /// `prlimit` before the binary starts), as a `ulimit -v` or a container would.
    pub fn address_space_limit(mut self, bytes: u64) -> Launch {
        self.address_space = Some(bytes);
        self
    }

    /// Where the server writes its address [default: a file in a directory of the
    /// harness's own].
    pub fn port_file(mut self, path: impl Into<PathBuf>) -> Launch {
        self.port_file = Some(path.into());
        self
    }

    /// How long the server may take to listen [default: [`PATIENCE`]].
    pub fn startup_timeout(mut self, limit: Duration) -> Launch {
        self.startup = limit;
        self
    }

    /// The scratch directory (removed with the server).
    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// Its data directory (`--data-dir`) instead of the scratch directory.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Launch {
        self.data_dir = Some(dir.into());
        self
    }

    /// No data or cache directory given, so both are the relative defaults (`./data`,
    /// `./data/cache`) under the working directory, exactly as `cargo run --release`
    /// apart from the port.
    pub fn with_defaults(mut self) -> Launch {
        self.defaults = true;
        self
    }

    /// Its working directory instead of the scratch directory.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Launch {
        self.cwd = Some(dir.into());
        self
    }

    /// One more command-line argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Launch {
        self.args.push(arg.into());
        self
    }

    /// More command-line arguments.
    pub fn args<I, S>(mut self, args: I) -> Launch
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// An environment variable of the server.
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Launch {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Environment variables of the server.
    pub fn envs(mut self, vars: &[(&str, &str)]) -> Launch {
        for (name, value) in vars {
            self = self.env(*name, *value);
        }
        self
    }

    /// An environment variable the server must not inherit.
    pub fn env_remove(mut self, name: impl Into<OsString>) -> Launch {
        self.env_remove.push(name.into());
        self
    }

    /// Starts the server and waits (up to the startup timeout) until it has written its
    /// address; panics with its log if it exits or never listens.
    pub async fn spawn(self) -> Server {
        let port_dir = TempDir::new().expect("tempdir");
        let port_file = self
            .port_file
            .clone()
            .unwrap_or_else(|| port_dir.path().join("sanctuary.port"));
        let mut command = match self.address_space {
            Some(bytes) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--as={bytes}")).arg("--").arg(&self.exe);
                c
            }
            None => Command::new(&self.exe),
        };
        command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .arg("--port-file")
            .arg(&port_file);
        if self.defaults {
            command
                .env_remove("SANCTUARY_DATA_DIR")
                .env_remove("SANCTUARY_CACHE_DIR");
        } else {
            let data = self
                .data_dir
                .clone()
                .unwrap_or_else(|| self.scratch.path().to_path_buf());
            command
                .arg("--data-dir")
                .arg(data)
                .env("SANCTUARY_CACHE_DIR", crate::cache_dir());
        }
        command.args(&self.args);
        for name in NOT_INHERITED {
            command.env_remove(name);
        }
        command.env("NO_COLOR", "1").env("RUST_LOG", "info");
        for name in &self.env_remove {
            command.env_remove(name);
        }
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
            .current_dir(self.cwd.as_deref().unwrap_or(self.scratch.path()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("start the sanctuary binary");
        let log = collect_log(&mut child);
        let addr = wait_for_port_file(&mut child, &port_file, &log, self.startup).await;
        Server {
            addr,
            client: reqwest::Client::new(),
            child,
            log,
            scratch: self.scratch,
            _port_dir: port_dir,
        }
    }
}

/// Collects the child's stdout and stderr lines, draining both for its whole life so it
/// never blocks on a full pipe.
fn collect_log(child: &mut Child) -> Arc<Mutex<Vec<String>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let streams = [
        Box::new(child.stdout.take().expect("stdout"))
            as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ];
    for stream in streams {
        let log = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = log.lock().expect("log");
                // A server under load (benches) logs without end; the start is what
                // tests read.
                if log.len() < MAX_LOG_LINES {
                    log.push(line);
                }
            }
        });
    }
    log
}

async fn wait_for_port_file(
    child: &mut Child,
    port_file: &Path,
    log: &Mutex<Vec<String>>,
    limit: Duration,
) -> SocketAddr {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(addr) = sanctuary::listener::port_file::read(port_file) {
            return addr;
        }
        if let Ok(Some(status)) = child.try_wait() {
            // Let the log readers catch the last lines.
            tokio::time::sleep(Duration::from_millis(100)).await;
            panic!(
                "the server exited ({status}) before listening; log:\n{}",
                log.lock().expect("log").join("\n")
            );
        }
        assert!(
            Instant::now() < deadline,
            "the server never wrote its port file; log:\n{}",
            log.lock().expect("log").join("\n")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A running `sanctuary` process.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// An HTTP client without a cookie jar.
    pub client: reqwest::Client,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    scratch: TempDir,
    _port_dir: TempDir,
}

impl Server {
    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The scratch directory: the working directory and data directory unless the launch
    /// named others.
    pub fn dir(&self) -> &Path {
        self.scratch.path()
    }

    /// The process id (for its memory figures in benchmarks).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// What the server logged so far, one line each.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.log_lines().join("\n")
    }

    /// Waits (up to [`PATIENCE`]) for a log line satisfying `pred`; the line.
    pub async fn wait_for_log(&self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self.log_lines().into_iter().find(|l| pred(l)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no such log line; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the process outright (SIGKILL): no shutdown of any kind runs.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill the server");
    }

    /// Asks the process to stop (SIGTERM, as a service manager does) and waits for it to
    /// exit; panics unless it exits cleanly.
    pub async fn terminate(mut self) {
        let pid = self.child.id().expect("the server is running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "SIGTERM sent");
        let exited = tokio::time::timeout(PATIENCE, self.child.wait()).await;
        let status = exited
            .unwrap_or_else(|_| panic!("the server did not stop; log:\n{}", self.log()))
            .expect("wait for the server");
        assert!(status.success(), "{status}; log:\n{}", self.log());
    }

    /// Polls `GET /health/ready` until it answers 200 (every installed plugin loaded or
    /// failed); the 503 answers seen on the way, in order. Panics after [`PATIENCE`].
    pub async fn wait_ready(&self) -> Vec<Value> {
        let mut loading = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (status, body) = crate::http::get(&self.client, &self.url("/health/ready")).await;
            match status {
                200 => return loading,
                503 => loading.push(body),
                other => panic!("/health/ready answered {other}: {body}"),
            }
            assert!(Instant::now() < deadline, "not ready in time: {loading:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET path`, expecting 200 and JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        crate::http::get_json(&self.client, &self.url(path)).await
    }

    /// `GET path`: status, headers, JSON body.
    pub async fn get(&self, path: &str) -> (u16, HeaderMap, Value) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("the server answers");
        crate::http::read(response).await
    }

    /// `POST path` with `bearer` (when given) and a JSON body (when given): status and
    /// JSON body.
    pub async fn post(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self.client.post(self.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the server answers");
        let (status, _, body) = crate::http::read(response).await;
        (status, body)
    }

    /// Uploads test fixture `name` (its built component and its manifest) through
    /// `POST /api/plugins/upload` with the admin key `admin`; panics with the answer
    /// unless it is installed.
    pub async fn upload_fixture(&self, name: &str, admin: &str) {
        use base64::Engine as _;
        let fixture = crate::fixtures::fixture_files(name);
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture.manifest).expect("the fixture's manifest"),
        )
        .expect("the fixture's manifest is JSON");
        let component = std::fs::read(fixture.wasm).expect("the fixture is built");
        let response = self
            .client
            .post(self.url("/api/plugins/upload"))
            .bearer_auth(admin)
            .json(&serde_json::json!({
                "manifest": manifest,
                "component_base64": base64::engine::general_purpose::STANDARD.encode(component),
            }))
            .send()
            .await
            .expect("the server answers the upload");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "upload {name}: {status} {body}");
    }

    /// A client of `/ws/jobs`.
    pub async fn jobs_socket(&self) -> JobsSocket {
        JobsSocket::connect(self.addr).await
    }

    /// A Socket.IO client connected to the `/` namespace.
    pub async fn socket_io(&self) -> SocketIo {
        SocketIo::connect(self.addr).await
    }
}
