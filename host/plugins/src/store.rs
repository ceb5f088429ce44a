//! What the plugins keep beyond the plugins directory, reached through two small traits
//! the server implements over its database and its cluster bus: [`Installs`], the
//! installation's records (what is installed, with which grant, what was removed, and the
//! components every node of one database can write from), and [`Announce`], telling the
//! other nodes that a plugin changed. A plugin host without an [`Installs`] (the author
//! CLI's checks, benchmarks, unit tests) records nothing and runs plugins with what their
//! manifests ask for.

use futures::future::BoxFuture;
use serde::Serialize;

use crate::manifest::{Manifest, Permissions};

/// Result of a store operation (the store's own error, e.g. a database failure).
pub type StoreResult<T> = anyhow::Result<T>;

/// A stored component: the manifest it was installed with and its bytes.
pub type StoredComponent = (Manifest, Vec<u8>);

/// The record of an installed plugin.
#[derive(Debug, Clone, Serialize)]
pub struct InstallRecord {
    /// Plugin id.
    pub id: String,
    /// Installed version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Whether it is enabled.
    pub enabled: bool,
    /// The permissions the operator granted.
    pub granted: Permissions,
    /// sha256 of the installed component.
    pub sha256: String,
    /// `bundled`, `registry`, `upload` or `disk`.
    pub source: String,
    /// When it was first installed.
    pub installed_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// The installation's records, shared by every node of one database.
pub trait Installs: Send + Sync {
    /// The install record of `id`.
    fn install_record<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<InstallRecord>>>;

    /// Records (or updates) an installed plugin and the permissions granted to it, and
    /// forgets any removal of its id.
    fn record_install<'a>(
        &'a self,
        manifest: &'a Manifest,
        granted: &'a Permissions,
        source: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// Replaces the permissions granted to `id`.
    fn record_grant<'a>(
        &'a self,
        id: &'a str,
        granted: &'a Permissions,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// Enables or disables `id`; `false` when it is not installed.
    fn set_enabled<'a>(&'a self, id: &'a str, enabled: bool) -> BoxFuture<'a, StoreResult<bool>>;

    /// Forgets `id`, remembering that it was removed (and `sha256`, the component removed,
    /// when known) so start-up does not reinstall it, and (unless `keep_data`) deletes its
    /// key-value data. All of it or none.
    fn record_removal<'a>(
        &'a self,
        id: &'a str,
        sha256: Option<&'a str>,
        keep_data: bool,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// When the operator removed `id`: `Some(sha256)` of the component removed (empty
    /// when not recorded), `None` when `id` was not removed.
    fn removal<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<String>>>;

    /// Stores `bytes`, the component of `manifest`, where every node can read it. A
    /// component already stored (same sha256) keeps its bytes and takes `manifest`.
    fn store_component<'a>(
        &'a self,
        manifest: &'a Manifest,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// The stored component with `sha256` and the manifest it was installed with; an
    /// error when the stored bytes do not match `sha256`.
    fn stored_component<'a>(
        &'a self,
        sha256: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<StoredComponent>>>;

    /// The manifest stored with the component `sha256`, if it is stored.
    fn stored_manifest<'a>(
        &'a self,
        sha256: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Manifest>>>;

    /// Every plugin id recorded as installed or removed.
    fn installed_and_removed(&self) -> BoxFuture<'_, StoreResult<Vec<String>>>;
}

/// Tells the other nodes sharing the installation that a plugin changed (each then
/// follows it with [`crate::PluginHost::follow`]).
pub trait Announce: Send + Sync {
    /// Plugin `id` was installed, updated, removed, enabled, disabled or granted.
    fn plugin_changed(&self, id: &str);
}

/// No other nodes: a single node, or a host with nothing to tell.
#[derive(Debug, Default)]
pub struct Alone;

impl Announce for Alone {
    fn plugin_changed(&self, _id: &str) {}
}
