//! More than one node: two real `sanctuary` processes sharing one PostgreSQL database and
//! one Redis, driven over HTTP, `/ws/jobs` and Socket.IO as a load balancer's clients
//! would, checking that what one node is told the other follows (issue 16).
//!
//! The tests run when both `SANCTUARY_TEST_DATABASE_URL` (a PostgreSQL server) and
//! `SANCTUARY_TEST_REDIS_URL` are set (`.ci/run` sets both) and skip with a message
//! otherwise. Each test has a database of its own (`CREATE DATABASE sanctuary_e2e_<uuid>`,
//! dropped at its end) and each node a data directory of its own. Redis is shared by
//! everything on the machine: each test's nodes get a Redis prefix of their own
//! (`--redis-prefix`, here through `SANCTUARY_REDIS_PREFIX`), so tests running at once
//! neither hear each other's events nor draw from each other's rate-limit buckets.

mod events;
mod jobs;
mod limits;
mod plugins;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sanctuary_test_support::{Server, sanctuary};
use serde_json::{Value, json};
use sqlx::{Connection as _, Executor as _};
use tempfile::TempDir;

/// The admin key every node of a site shares (`SANCTUARY_ADMIN_TOKEN`).
pub const ADMIN: &str = "cluster-e2e-admin-key";

/// The key the `openai-compatible` plugin sends to a mock upstream.
pub const OPENAI_KEY: &str = "sk-cluster-e2e";

/// Longest wait for something one node did to show on the other: far beyond what it
/// takes (well under a second), only reached when it never happens.
pub const FOLLOW: Duration = Duration::from_secs(20);

/// The PostgreSQL server and the Redis of the multi-node tests, or `None` (said on stderr)
/// when either is not set.
fn servers(test: &str) -> Option<(String, String)> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("SANCTUARY_TEST_DATABASE_URL"),
        var("SANCTUARY_TEST_REDIS_URL"),
    ) {
        (Some(database), Some(redis)) if database.starts_with("postgres") => {
            Some((database, redis))
        }
        _ => {
            eprintln!(
                "skipped {test}: the multi-node tests need SANCTUARY_TEST_DATABASE_URL (a PostgreSQL \
                 server, e.g. postgres://postgres@127.0.0.1:5432/test) and SANCTUARY_TEST_REDIS_URL \
                 (e.g. redis://127.0.0.1:6379); .ci/run sets both"
            );
            None
        }
    }
}

/// A database of one test on the PostgreSQL server, dropped (with any connection left)
/// when this is dropped.
struct FreshDatabase {
    server: String,
    name: String,
    url: String,
}

impl FreshDatabase {
    async fn create(server: &str) -> FreshDatabase {
        sqlx::any::install_default_drivers();
        let name = format!("sanctuary_e2e_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::AnyConnection::connect(server)
            .await
            .expect("connect to SANCTUARY_TEST_DATABASE_URL");
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .expect("CREATE DATABASE");
        conn.close().await.ok();
        let url = with_database(server, &name);
        FreshDatabase {
            server: server.to_owned(),
            name,
            url,
        }
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop may run inside a runtime, where blocking on another is not allowed.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = sqlx::AnyConnection::connect(&server).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                conn.execute(sqlx::AssertSqlSafe(sql)).await.ok()?;
                conn.close().await.ok()
            })
        })
        .join()
        .ok()
        .flatten();
        if dropped.is_none() {
            eprintln!("warning: could not drop the test database {}", self.name);
        }
    }
}

/// `url` (a PostgreSQL URL) naming database `name` instead of its own.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// The nodes of one test: a fresh database, the shared Redis, one config file and a data
/// directory per node that outlives any one process (so a node can be restarted or
/// killed and started again on its data).
pub struct Site {
    db: FreshDatabase,
    redis: String,
    dir: TempDir,
    admin: bool,
    env: Vec<(String, String)>,
    args: Vec<String>,
    /// The site's Redis prefix: its keys and channels are its own.
    pub prefix: String,
}

impl Site {
    /// A site whose config file is `config`, or `None` when the servers are not set (the
    /// test skips).
    pub async fn new(test: &str, config: &str) -> Option<Site> {
        let (database, redis) = servers(test)?;
        let dir = TempDir::new().expect("tempdir");
        std::fs::write(dir.path().join("sanctuary.toml"), config).expect("write the config");
        Some(Site {
            db: FreshDatabase::create(&database).await,
            redis,
            dir,
            admin: true,
            env: vec![("OPENAI_API_KEY".into(), OPENAI_KEY.into())],
            args: Vec::new(),
            prefix: format!("e2e-{}", uuid::Uuid::new_v4().simple()),
        })
    }

    /// Nodes started without `SANCTUARY_ADMIN_TOKEN` (they generate the admin key).
    pub fn without_admin_token(mut self) -> Site {
        self.admin = false;
        self
    }

    /// An environment variable of every node.
    pub fn env(mut self, name: &str, value: &str) -> Site {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// One more command-line argument of every node.
    pub fn arg(mut self, arg: &str) -> Site {
        self.args.push(arg.to_owned());
        self
    }

    /// Node `n`'s data directory.
    pub fn data_dir(&self, n: usize) -> PathBuf {
        self.dir.path().join(format!("node-{n}"))
    }

    /// Starts node `n` (0, 1, …) on its data directory; returns once it listens.
    pub async fn start(&self, n: usize) -> Server {
        let mut launch = sanctuary!()
            .data_dir(self.data_dir(n))
            .arg("--config")
            .arg(self.dir.path().join("sanctuary.toml"))
            .args(&self.args)
            .env("SANCTUARY_DATABASE_URL", &self.db.url)
            .env("SANCTUARY_REDIS_URL", &self.redis)
            .env("SANCTUARY_REDIS_PREFIX", &self.prefix);
        if self.admin {
            launch = launch.env("SANCTUARY_ADMIN_TOKEN", ADMIN);
        }
        for (name, value) in &self.env {
            launch = launch.env(name, value);
        }
        launch.spawn().await
    }

    /// Starts nodes 0 and 1 at once and waits until both have loaded their plugins.
    pub async fn start_two(&self) -> (Server, Server) {
        let (a, b) = tokio::join!(self.start(0), self.start(1));
        tokio::join!(a.wait_ready(), b.wait_ready());
        (a, b)
    }

    /// Node `n`'s id (`<data-dir>/node-id`, written at its first start).
    pub fn node_id(&self, n: usize) -> String {
        std::fs::read_to_string(self.data_dir(n).join("node-id"))
            .expect("the node wrote its id")
            .trim()
            .to_owned()
    }

    /// The node (0 or 1) whose id owns job `job_id` in the database, if any.
    pub async fn job_owner(&self, job_id: &str) -> Option<usize> {
        let mut conn = sqlx::AnyConnection::connect(&self.db.url)
            .await
            .expect("connect to the test database");
        let owner: Option<String> = sqlx::query_scalar("SELECT owner FROM jobs WHERE job_id = $1")
            .bind(job_id)
            .fetch_one(&mut conn)
            .await
            .expect("the job is in the database");
        conn.close().await.ok();
        let owner = owner?;
        (0..2).find(|&n| self.node_id(n) == owner)
    }
}

/// `[plugins.openai-compatible]` pointed at `mock` and a `remote` route served by it alone.
pub fn remote_config(mock: &sanctuary_test_support::mocks::Mock) -> String {
    format!(
        r#"
[plugins.openai-compatible]
base_url = "{}/v1"
default_model = "gpt-mock"
models = ["gpt-mock"]

[routes.remote]
chain = [{{ provider = "openai-compatible" }}]
retries = 0
"#,
        mock.base_url()
    )
}

/// `POST /api/mcp/servers/{plugin}/tools/{tool}` with `{}`: status and body.
pub async fn call_tool(node: &Server, plugin: &str, tool: &str, args: Value) -> (u16, Value) {
    node.post(
        &format!("/api/mcp/servers/{plugin}/tools/{tool}"),
        None,
        Some(&args),
    )
    .await
}

/// A request with the admin key: status and JSON body (`Null` when there is none).
pub async fn admin(node: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = node
        .client
        .request(method, node.url(path))
        .bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the node answers");
    let (status, _, body) = sanctuary_test_support::http::read(response).await;
    (status, body)
}

/// `POST /api/chat/mama-bear {message}`: the answer.
pub async fn chat(node: &Server, message: &str) -> Value {
    let (status, body) = node
        .post(
            "/api/chat/mama-bear",
            None,
            Some(&json!({ "message": message })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Creates a job on `node` with the admin key; its id.
pub async fn create_job(node: &Server, body: Value) -> String {
    let (status, answer) = node.post("/api/jobs", Some(ADMIN), Some(&body)).await;
    assert_eq!(status, 201, "{answer}");
    answer["data"]["job_id"]
        .as_str()
        .expect("a job id")
        .to_owned()
}

/// Job `job_id` as `node` shows it.
pub async fn job(node: &Server, job_id: &str) -> Value {
    let (status, _, body) = node.get(&format!("/api/jobs/{job_id}")).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

/// Polls job `job_id` on `node` until `done` holds for it (at most `limit`); the job.
pub async fn wait_for_job(
    node: &Server,
    job_id: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let job = job(node, job_id).await;
        if done(&job) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {job_id} never got there: {job}; log:\n{}",
            node.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `check` until it holds (at most [`FOLLOW`]); how long that took. Panics with
/// `what` and both nodes' logs when it never does.
pub async fn followed<F, Fut>(what: &str, nodes: [&Server; 2], mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            let took = started.elapsed();
            eprintln!("{what}: followed after {took:?}");
            return took;
        }
        assert!(
            started.elapsed() < FOLLOW,
            "{what}: never followed; node A log:\n{}\n\nnode B log:\n{}",
            nodes[0].log(),
            nodes[1].log()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[test]
fn a_test_database_url_names_the_fresh_database() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
}
