//! Starts the real `sanctuary` binary (the shared harness's starter) with a config file
//! and a data directory the test can write into (the `filesystem` plugin's workspace is
//! `<data-dir>/files`; the data directory is `data` under the server's [`Server::dir`]).

use sanctuary_test_support::sanctuary;

pub use sanctuary_test_support::Server;

/// The admin token of every test server.
pub const ADMIN: &str = "seeds-test-admin-token";

/// Starts `sanctuary` with `config` as its config file (TOML) and `env` set; on a fresh
/// PostgreSQL schema when `SANCTUARY_TEST_DATABASE_URL` names a server.
pub async fn start(config: &str, env: &[(&str, &str)]) -> Server {
    let mut launch = sanctuary!();
    let data = launch.scratch().join("data");
    std::fs::create_dir_all(data.join("files")).expect("data dir");
    let config_path = launch.scratch().join("sanctuary.toml");
    std::fs::write(&config_path, config).expect("config file");
    launch = launch
        .data_dir(data)
        .arg("--config")
        .arg(config_path)
        .env("SANCTUARY_ADMIN_TOKEN", ADMIN);
    if let Ok(url) = std::env::var("SANCTUARY_TEST_DATABASE_URL") {
        launch = launch.env("SANCTUARY_DATABASE_URL", fresh_postgres(&url).await);
    }
    launch.envs(env).spawn().await
}

/// A fresh schema on the PostgreSQL server of `url`, as a database URL for one server.
async fn fresh_postgres(url: &str) -> String {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let schema = format!("seeds_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .expect("connect to SANCTUARY_TEST_DATABASE_URL");
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .await
        .expect("CREATE SCHEMA");
    conn.close().await.ok();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}
