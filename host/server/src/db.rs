//! The host's database: one sqlx `AnyPool`, SQLite by default and PostgreSQL when the URL
//! says `postgres://`. Migrations live in `host/server/migrations/` and are written to run on both
//! (see the note at the top of the first one). Besides connection figures for the health
//! and dev routes, it holds the plugin key-value store that plugins reach through the host
//! (`db/kv.rs`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::AnyPool;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyPoolOptions;

pub mod chat;
mod installs;
mod kv;

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL names a database this host does not speak.
    #[error("unsupported database URL {0:?}: expected sqlite:// or postgres://")]
    UnsupportedUrl(String),
    /// The directory for a SQLite file could not be created.
    #[error("could not create the database directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The first connection failed.
    #[error("could not connect to the database at {location}")]
    Connect {
        /// Where (without any password).
        location: String,
        /// Why.
        source: sqlx::Error,
    },
    /// A migration failed to apply.
    #[error("could not apply the database migrations")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database query failed")]
    Query(#[from] sqlx::Error),
}

/// The one line that says why the database at `url` could not be opened at start-up and
/// what to do about it (never the URL's password).
pub fn startup_error(url: &str, err: &Error) -> String {
    const CHOOSE: &str =
        "set --database-url or SANCTUARY_DATABASE_URL (unset: SQLite in the data directory)";
    let shown = redact(url);
    let cause = |source: &dyn std::error::Error| {
        let mut text = source.to_string();
        let mut next = source.source();
        while let Some(inner) = next {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            next = inner.source();
        }
        redact_text(&text, url, &shown)
    };
    match err {
        Error::UnsupportedUrl(_) => format!("{err}; {CHOOSE}"),
        Error::CreateDir { path, source } => format!(
            "cannot create the database directory {} ({}): make its parent writable by the user running sanctuary, or {CHOOSE}",
            path.display(),
            cause(source)
        ),
        Error::Connect { location, source } if url.starts_with("postgres") => format!(
            "cannot connect to the database at {location} ({}): check that PostgreSQL is running and reachable there and that the user, password and database name are right, or {CHOOSE}",
            cause(source)
        ),
        Error::Connect { location, source } => format!(
            "cannot open the SQLite database {location} ({}): check that the file and its directory are writable by the user running sanctuary, or {CHOOSE}",
            cause(source)
        ),
        Error::Migrate(source) => format!(
            "cannot prepare the database at {shown} ({}): it may belong to a newer sanctuary or another program; point --database-url at another database",
            cause(source)
        ),
        Error::Query(source) => format!(
            "the database at {shown} failed a query at start-up ({}): {CHOOSE}",
            cause(source)
        ),
    }
}

/// `text` with any copy of the raw `url` replaced by its redacted form `shown`.
fn redact_text(text: &str, url: &str, shown: &str) -> String {
    if url.is_empty() {
        text.to_string()
    } else {
        text.replace(url, shown)
    }
}

/// Result of a database operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The database engine behind a [`Db`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

/// A pool of connections to the host's database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    kind: Kind,
    location: String,
}

/// What `/api/dev/database/info` shows about the database.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DbInfo {
    /// `sqlite` or `postgres`.
    pub kind: &'static str,
    /// SQLite file path, or the URL without any password.
    pub location: String,
    /// Server or library version.
    pub version: String,
    /// The host's tables (migration bookkeeping excluded), by name.
    pub tables: Vec<TableInfo>,
}

/// One table and its row count.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TableInfo {
    /// Table name.
    pub name: String,
    /// Number of rows.
    pub rows: i64,
}

impl Db {
    /// Connects to `url` (creating a SQLite file and its directory if needed) and applies
    /// pending migrations.
    pub async fn connect(url: &str) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let kind = Kind::of(url)?;
        let location = match kind {
            Kind::Sqlite => {
                let path = sqlite_path(url);
                if let Some(dir) = path
                    .as_deref()
                    .and_then(Path::parent)
                    .filter(|dir| !dir.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
                        path: dir.to_path_buf(),
                        source,
                    })?;
                }
                path.map_or_else(|| ":memory:".to_owned(), |p| p.display().to_string())
            }
            Kind::Postgres => redact(url),
        };
        let sqlite_file = kind == Kind::Sqlite && location != ":memory:";
        let pool = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite_file {
                        // Write-ahead logging (set once, kept by the file) with `NORMAL`
                        // syncing: a commit appends to the log and is synced at
                        // checkpoints, rather than writing a rollback journal and syncing
                        // twice per commit. A crash of the process loses nothing
                        // committed; a power cut may lose the last commits, never the file.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|source| Error::Connect {
                location: location.clone(),
                source,
            })?;
        // A database migrated by a newer node (during a rolling upgrade) still serves an
        // older one that restarts: migrations are additive.
        let mut migrator = sqlx::migrate!("./migrations");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        tracing::debug!(kind = kind.name(), %location, "database ready");
        Ok(Db {
            pool,
            kind,
            location,
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn kind(&self) -> &'static str {
        self.kind.name()
    }

    /// The pool, for modules that own tables of their own (e.g. `installed_plugins`).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Round-trip time of a trivial query.
    pub async fn ping(&self) -> Result<Duration> {
        let start = Instant::now();
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(start.elapsed())
    }

    /// Kind, location, version and row counts of the host's tables.
    pub async fn info(&self) -> Result<DbInfo> {
        let (version_sql, tables_sql) = match self.kind {
            Kind::Sqlite => (
                "SELECT sqlite_version()",
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '_sqlx_migrations' \
                 ORDER BY name",
            ),
            Kind::Postgres => (
                "SELECT current_setting('server_version')",
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                 AND table_name <> '_sqlx_migrations' ORDER BY 1",
            ),
        };
        let version: String = sqlx::query_scalar(version_sql)
            .fetch_one(&self.pool)
            .await?;
        let names: Vec<String> = sqlx::query_scalar(tables_sql).fetch_all(&self.pool).await?;
        let mut tables = Vec::with_capacity(names.len());
        for name in names {
            // The name comes from the catalog, quoted as an identifier.
            let sql = format!("SELECT COUNT(*) FROM \"{}\"", name.replace('"', "\"\""));
            let rows: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_one(&self.pool)
                .await?;
            tables.push(TableInfo { name, rows });
        }
        Ok(DbInfo {
            kind: self.kind(),
            location: self.location.clone(),
            version,
            tables,
        })
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("kind", &self.kind.name())
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Kind {
    fn of(url: &str) -> Result<Kind> {
        if url.starts_with("sqlite:") {
            Ok(Kind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Kind::Postgres)
        } else {
            Err(Error::UnsupportedUrl(redact(url)))
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
        }
    }
}

/// The file of a `sqlite:` URL; `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path.is_empty()
        || path == ":memory:"
        || query.split('&').any(|param| param == "mode=memory");
    (!in_memory).then(|| PathBuf::from(path))
}

/// `url` with any password removed (from the user info and from a `password=` parameter),
/// for logs and API responses.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|param| !param.to_ascii_lowercase().starts_with("password="))
                .collect();
            if kept.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Fresh databases for tests: a SQLite file in a directory of its own, or, when
/// `SANCTUARY_TEST_DATABASE_URL` is set to a PostgreSQL URL, a new schema there. Either is
/// removed when the [`TestDb`] is dropped.
#[doc(hidden)]
pub mod testing {
    use std::ops::Deref;
    use std::path::PathBuf;

    use sqlx::{Connection, Executor};

    use super::{AssertSqlSafe, Db};

    /// The environment variable naming a PostgreSQL server for tests.
    pub const TEST_DATABASE_URL_ENV: &str = "SANCTUARY_TEST_DATABASE_URL";

    /// A database for one test; derefs to [`Db`].
    pub struct TestDb {
        db: Db,
        cleanup: Cleanup,
    }

    enum Cleanup {
        Dir(PathBuf),
        Schema { server_url: String, schema: String },
    }

    impl Deref for TestDb {
        type Target = Db;
        fn deref(&self) -> &Db {
            &self.db
        }
    }

    impl TestDb {
        /// A clone of the database handle (usable while `self` lives).
        pub fn db(&self) -> Db {
            self.db.clone()
        }
    }

    /// A fresh database: PostgreSQL if `SANCTUARY_TEST_DATABASE_URL` is set, else SQLite.
    pub async fn db() -> TestDb {
        match server_url() {
            Some(url) => postgres(&url).await,
            None => sqlite().await,
        }
    }

    /// A fresh database on every backend available: SQLite, plus PostgreSQL if
    /// `SANCTUARY_TEST_DATABASE_URL` is set.
    pub async fn all() -> Vec<TestDb> {
        let mut dbs = vec![sqlite().await];
        if let Some(url) = server_url() {
            dbs.push(postgres(&url).await);
        }
        dbs
    }

    fn server_url() -> Option<String> {
        std::env::var(TEST_DATABASE_URL_ENV)
            .ok()
            .filter(|url| !url.is_empty())
    }

    /// A fresh SQLite database in a new directory under the system's temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir =
            std::env::temp_dir().join(format!("sanctuary-test-{}", uuid::Uuid::new_v4().simple()));
        let url = format!("sqlite://{}?mode=rwc", dir.join("test.db").display());
        let db = Db::connect(&url).await.expect("a fresh SQLite database");
        TestDb {
            db,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A fresh schema on the PostgreSQL server at `server_url`.
    pub async fn postgres(server_url: &str) -> TestDb {
        sqlx::any::install_default_drivers();
        let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::AnyConnection::connect(server_url)
            .await
            .unwrap_or_else(|err| panic!("{TEST_DATABASE_URL_ENV}: cannot connect: {err}"));
        conn.execute(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .await
            .expect("CREATE SCHEMA");
        conn.close().await.ok();
        let separator = if server_url.contains('?') { '&' } else { '?' };
        let url = format!("{server_url}{separator}options=-c%20search_path%3D{schema}");
        let db = Db::connect(&url).await.expect("a fresh PostgreSQL schema");
        TestDb {
            db,
            cleanup: Cleanup::Schema {
                server_url: server_url.to_owned(),
                schema,
            },
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            match &self.cleanup {
                Cleanup::Dir(dir) => {
                    std::fs::remove_dir_all(dir).ok();
                }
                Cleanup::Schema { server_url, schema } => {
                    if drop_schema(server_url.clone(), schema.clone()).is_none() {
                        eprintln!("warning: could not drop the test schema {schema}");
                    }
                }
            }
        }
    }

    fn drop_schema(server_url: String, schema: String) -> Option<()> {
        // Drop may run inside a runtime, where blocking on another is not allowed: a thread
        // of its own with a small runtime does it.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = sqlx::AnyConnection::connect(&server_url).await.ok()?;
                let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                conn.execute(AssertSqlSafe(sql)).await.ok()?;
                conn.close().await.ok()
            })
        })
        .join()
        .ok()
        .flatten()
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;

    #[tokio::test]
    async fn a_fresh_database_has_the_host_tables_and_they_are_empty() {
        for db in testing::all().await {
            let info = db.info().await.expect("info");
            let names: Vec<&str> = info.tables.iter().map(|t| t.name.as_str()).collect();
            for table in [
                "admin_keys",
                "installed_plugins",
                "plugin_kv",
                "plugin_removals",
            ] {
                assert!(
                    names.contains(&table),
                    "{}: {table} missing from {names:?}",
                    db.kind()
                );
            }
            assert!(!names.contains(&"_sqlx_migrations"), "{names:?}");
            assert!(info.tables.iter().all(|t| t.rows == 0));
            assert!(!info.version.is_empty());
        }
    }

    #[tokio::test]
    async fn installed_plugins_rows_round_trip_through_the_any_driver() {
        for db in testing::all().await {
            sqlx::query(
                "INSERT INTO installed_plugins \
                 (id, version, kind, enabled, permissions, sha256, source, installed_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind("time")
            .bind("1.2.0")
            .bind("mcp-server")
            .bind(1_i64)
            .bind(r#"{"network":[]}"#)
            .bind("ab".repeat(32))
            .bind("registry")
            .bind(crate::clock::timestamp())
            .bind(crate::clock::timestamp())
            .execute(db.pool())
            .await
            .expect("insert");
            let row = sqlx::query("SELECT id, enabled, permissions FROM installed_plugins")
                .fetch_one(db.pool())
                .await
                .expect("select");
            assert_eq!(row.try_get::<String, _>(0).expect("id"), "time");
            assert_eq!(row.try_get::<i64, _>(1).expect("enabled"), 1);
            assert_eq!(
                row.try_get::<String, _>(2).expect("permissions"),
                r#"{"network":[]}"#
            );
        }
    }

    #[tokio::test]
    async fn ping_answers_and_the_kind_follows_the_url() {
        for db in testing::all().await {
            db.ping().await.expect("ping");
            assert!(matches!(db.kind(), "sqlite" | "postgres"));
        }
    }

    #[tokio::test]
    async fn connect_creates_the_directory_of_a_sqlite_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a/b/sanctuary.db");
        let db = Db::connect(&format!("sqlite://{}?mode=rwc", file.display()))
            .await
            .expect("connects");
        assert!(file.is_file());
        assert_eq!(db.kind(), "sqlite");
        assert_eq!(
            db.info().await.expect("info").location,
            file.display().to_string()
        );
    }

    #[tokio::test]
    async fn connecting_twice_to_one_file_does_not_rerun_migrations() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
        let first = Db::connect(&url).await.expect("first");
        first.kv_set("a", "k", "v").await.expect("set");
        let second = Db::connect(&url).await.expect("second");
        assert_eq!(
            second.kv_get("a", "k").await.expect("get").as_deref(),
            Some("v")
        );
    }

    #[tokio::test]
    async fn an_unsupported_url_is_refused_without_leaking_its_password() {
        let err = Db::connect("mysql://root:hunter2@localhost/db")
            .await
            .expect_err("refused");
        assert!(matches!(err, Error::UnsupportedUrl(_)));
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn redact_removes_passwords_and_keeps_the_rest() {
        assert_eq!(
            redact("postgres://app:hunter2@db.example:5432/sanctuary?sslmode=require"),
            "postgres://app@db.example:5432/sanctuary?sslmode=require"
        );
        assert_eq!(
            redact("postgres://db/x?user=app&password=hunter2&sslmode=disable"),
            "postgres://db/x?user=app&sslmode=disable"
        );
        assert_eq!(redact("postgres://db/x?password=p"), "postgres://db/x");
        assert_eq!(
            redact("postgres://127.0.0.1:5432/test"),
            "postgres://127.0.0.1:5432/test"
        );
        assert_eq!(
            redact("sqlite://./data/sanctuary.db?mode=rwc"),
            "sqlite://./data/sanctuary.db?mode=rwc"
        );
    }

    #[test]
    fn sqlite_paths_are_read_from_the_url() {
        assert_eq!(
            sqlite_path("sqlite://./data/s.db?mode=rwc"),
            Some(PathBuf::from("./data/s.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:/abs/s.db"),
            Some(PathBuf::from("/abs/s.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("sqlite://x.db?mode=memory"), None);
    }
}
