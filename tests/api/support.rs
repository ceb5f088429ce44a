//! The api target's set-up over the shared harness (`sanctuary-test-support`): the app
//! started in process on 127.0.0.1:0 ([`sanctuary::serve_on`]) over a temporary data
//! directory, and a scout project.

use std::path::{Path, PathBuf};

use sanctuary::Config;
use sanctuary_test_support::inproc::test_config;
use tempfile::TempDir;

pub use sanctuary_test_support::{InProcess as Server, PATIENCE, git};

/// Starts the app over `data` (its database and plugins live there), with `edit` applied
/// to the configuration.
pub async fn start_in(data: &Path, edit: impl FnOnce(&mut Config)) -> Server {
    let mut config = test_config(data);
    edit(&mut config);
    Server::start(config).await
}

/// A temporary data directory and a server over it.
pub struct Fixture {
    /// The server.
    pub server: Server,
    /// Its data directory, removed when the fixture is dropped.
    _data: TempDir,
}

/// A server over a fresh data directory.
pub async fn start(edit: impl FnOnce(&mut Config)) -> Fixture {
    let data = TempDir::new().expect("tempdir");
    let server = start_in(data.path(), edit).await;
    Fixture {
        server,
        _data: data,
    }
}

/// A scout project named `name` in `dir`.
pub fn project(name: &str, dir: &Path) -> sanctuary::config::ProjectConfig {
    sanctuary::config::ProjectConfig {
        name: name.into(),
        path: PathBuf::from(dir),
    }
}
