//! What a load from the plugins directory checks before the runtime compiles a plugin
//! (the signature policy, permissions no plugin may have, the installation's record and
//! grant), and the load itself: the runtime's compile, then what the plugin says of itself
//! (tools, provider description).

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use tracing::{info, warn};

use super::{DISK_SOURCE, LivePlugin, PluginHost, bundled, read, store, tools};
use crate::manifest::{Kind, Manifest};
use crate::runtime::CallError;
use crate::runtime::LoadError;
use crate::runtime::audit::Kind as Denied;
use crate::signing::Verdict;

impl PluginHost {
    /// Refuses what the `[signatures]` policy refuses: an unsigned plugin when signatures
    /// are required, or a signature that does not verify against a trusted key. Returns
    /// whether the component is vouched for: first-party (its sha256 is built into the
    /// binary) or signed by a trusted key.
    pub(super) fn check_signature(
        &self,
        manifest: &Manifest,
        bytes: &[u8],
    ) -> Result<bool, LoadError> {
        match bundled::check_component(&self.signatures, manifest, bytes) {
            Ok(Verdict::Trusted(key)) => {
                info!(plugin = %manifest.id, key = %key, "signature verified");
                Ok(true)
            }
            Ok(Verdict::Bundled) => Ok(true),
            Ok(Verdict::Unsigned) => Ok(false),
            Err(e) => Err(LoadError::Refused {
                id: manifest.id.clone(),
                reason: e.reason(),
            }),
        }
    }

    /// Refuses permissions no plugin may ever have: a reserved name (`SANCTUARY_*` or
    /// `[security] reserved_env`) as an env var or secret, or a file grant that is not an
    /// absolute path or a path inside `<data-dir>/files/`, or that reaches the data
    /// directory, above it or the host's own files in it.
    pub fn check_permissions(
        &self,
        id: &str,
        permissions: &crate::manifest::Permissions,
    ) -> Result<(), LoadError> {
        let refused = |reason: String| LoadError::Refused {
            id: id.to_string(),
            reason,
        };
        let audit = &self.denials;
        let reserved = crate::manifest::reserved_asked(permissions, &self.reserved);
        if !reserved.is_empty() {
            for name in &reserved {
                let kind = if name.starts_with("secret") {
                    Denied::Secret
                } else {
                    Denied::Env
                };
                audit.deny(id, kind, format!("asked for reserved {name}"));
            }
            return Err(refused(format!(
                "asks for {}, reserved for the host; reserved names are never granted to plugins",
                reserved.join(", ")
            )));
        }
        for file in &permissions.files {
            crate::sandbox::resolve_grant(&file.path, &self.data_dir).map_err(|reason| {
                audit.deny(id, Denied::File, format!("file grant refused: {reason}"));
                refused(format!("file grant refused: {reason}"))
            })?;
        }
        Ok(())
    }

    /// The installation's record of a plugin found on disk (`None` without a database or
    /// for a plugin never seen before); a disabled plugin is not loaded.
    pub(super) async fn install_record(
        &self,
        manifest: &Manifest,
    ) -> Result<Option<store::InstallRecord>, LoadError> {
        let Some(installs) = self.installs() else {
            return Ok(None);
        };
        match installs.install_record(&manifest.id).await {
            Ok(Some(record)) if !record.enabled => Err(LoadError::Disabled(manifest.id.clone())),
            Ok(record) => Ok(record),
            Err(e) => Err(LoadError::Refused {
                id: manifest.id.clone(),
                reason: format!("cannot read the installation record: {e}"),
            }),
        }
    }

    /// Applies the installation's `record` to a plugin found on disk and returns what it
    /// was granted. One installed through the API asking for more than was granted is
    /// refused. One never seen before (dropped in by hand) is recorded with **no**
    /// capabilities granted unless it is `vouched` for (first-party or signed by a trusted
    /// key); it then runs with what was granted, and the rest waits for
    /// `POST /api/plugins/{id}/permissions`.
    pub(super) async fn check_installation(
        &self,
        manifest: &Manifest,
        record: Option<store::InstallRecord>,
        vouched: bool,
    ) -> Result<Option<crate::manifest::Permissions>, LoadError> {
        let Some(installs) = self.installs() else {
            return Ok(None);
        };
        let refused = |reason: String| LoadError::Refused {
            id: manifest.id.clone(),
            reason,
        };
        match record {
            Some(record) => {
                let needs = manifest.permissions.exceeds(&record.granted);
                if !needs.is_empty() && record.source != DISK_SOURCE {
                    return Err(refused(format!(
                        "asks for permissions that were not granted: {}",
                        needs.join(", ")
                    )));
                }
                if !needs.is_empty() {
                    warn!(plugin = %manifest.id, pending = %needs.join(", "), "plugin runs without the permissions it asks for until they are granted");
                }
                if record.sha256 != manifest.sha256.clone().unwrap_or_default()
                    || record.version != manifest.version.to_string()
                {
                    let _ = installs
                        .record_install(manifest, &record.granted, &record.source)
                        .await;
                }
                Ok(Some(record.granted))
            }
            None => {
                let granted = if vouched {
                    manifest.permissions.clone()
                } else {
                    manifest.permissions.without_capabilities()
                };
                installs
                    .record_install(manifest, &granted, DISK_SOURCE)
                    .await
                    .map_err(|e| refused(format!("cannot record the installation: {e}")))?;
                let pending = manifest.permissions.exceeds(&granted);
                if !pending.is_empty() {
                    warn!(plugin = %manifest.id, pending = %pending.join(", "), "plugin found in the plugins directory runs with no permissions until an operator grants them");
                }
                Ok(Some(granted))
            }
        }
    }

    /// Loads a plugin from a manifest and component bytes, and learns its tools or
    /// provider description. Does not insert it into the live set.
    pub async fn load_bytes(
        &self,
        manifest: Manifest,
        bytes: Vec<u8>,
        dir: &Path,
    ) -> Result<Arc<LivePlugin>, LoadError> {
        self.load_granted(manifest, bytes, dir, None).await
    }

    /// Like [`PluginHost::load_bytes`], running the plugin with what `granted` allows of
    /// what its manifest asks for ([`crate::manifest::Permissions::effective`]); with
    /// `None`, with what it asks for. Permissions no plugin may have are refused first
    /// ([`PluginHost::check_permissions`]), and an mcp-server's tools must pass
    /// [`tools::validate`].
    pub async fn load_granted(
        &self,
        mut manifest: Manifest,
        bytes: Vec<u8>,
        dir: &Path,
        granted: Option<crate::manifest::Permissions>,
    ) -> Result<Arc<LivePlugin>, LoadError> {
        self.check_permissions(&manifest.id, &manifest.permissions)?;
        let requested = manifest.permissions.clone();
        if let Some(granted) = &granted {
            manifest.permissions = requested.effective(granted);
        }
        let config = read(&self.plugin_config)
            .get(&manifest.id)
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        let plugin = self.runtime.load(manifest, bytes, &config).await?;
        let mut live = LivePlugin {
            tools: Vec::new(),
            tool_info: Vec::new(),
            provider: None,
            loaded_at: Utc::now(),
            dir: dir.to_path_buf(),
            requested,
            plugin,
        };
        let describe_failed = |e: CallError| LoadError::Compile {
            id: e.plugin().to_string(),
            reason: format!("failed its first call: {e}"),
        };
        match live.plugin.kind() {
            Kind::McpServer => {
                live.tools = self
                    .runtime
                    .list_tools(&live.plugin)
                    .await
                    .map_err(describe_failed)?;
                live.tool_info = self
                    .runtime
                    .describe_tools(&live.plugin)
                    .await
                    .map_err(describe_failed)?;
                tools::validate(&live.tools)
                    .and_then(|()| tools::validate_info(&live.tools, &live.tool_info))
                    .map_err(|reason| LoadError::Refused {
                        id: live.id().to_string(),
                        reason: format!("publishes invalid tools: {reason}"),
                    })?;
            }
            Kind::AiProvider => {
                live.provider = Some(
                    self.runtime
                        .describe_provider(&live.plugin)
                        .await
                        .map_err(describe_failed)?,
                );
            }
            Kind::ScoutCheck | Kind::HealthProbe => {}
        }
        Ok(Arc::new(live))
    }
}
