//! The state every handler shares: configuration, database, the plugin host, and when
//! the server started.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::audit::Audit;
use crate::auth::AdminKeys;
use crate::cache::ChatCache;
use crate::config::Config;
use crate::db::Db;
use crate::install::Installer;
use crate::plugins::{Backing, PluginHost};
use crate::providers::Providers;
use crate::registry::Registry;
use sanctuary_chat::Chats;

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// The database.
    pub db: Db,
    /// The live plugins and their runtime.
    pub plugins: Arc<PluginHost>,
    /// What the host denied plugins (the plugin host and the runtime report to it).
    pub audit: Arc<Audit>,
    /// What chats reach: the chat crate's handle over the plugins, the AI routing
    /// (`chat.providers`: routes, breakers, recent outcomes), the response cache
    /// (`chat.cache`, `[cache]`), the database's sessions and `calls`. The surfaces call
    /// `chat::send(&state.chat, ...)`.
    pub chat: Chats,
    /// The marketplace index plugins are installed from.
    pub registry: Arc<Registry>,
    /// Keys that grant admin rights.
    pub admin: Arc<AdminKeys>,
    /// Monotonic start time, for uptime.
    pub started_at: Instant,
    /// Wall-clock start time.
    pub started_wall: DateTime<Utc>,
    /// Prometheus metrics (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Records plugin and chat calls for `/api/analytics`.
    pub calls: crate::telemetry::Recorder,
    /// Background content-generation jobs and their workers (`[jobs]`).
    pub jobs: Arc<crate::jobs::Jobs>,
    /// `/health`'s shared probe runs and sustained-pressure tracking (`[health]`).
    pub health: Arc<crate::api::health::Monitor>,
    /// Scout project statuses shared for `[scout] status_ttl_ms`.
    pub scout: Arc<crate::scout::StatusCache>,
    /// This node and what it shares with the others (Redis, `--redis-url`).
    pub cluster: Arc<crate::cluster::Cluster>,
}

impl AppState {
    /// Connects the database, creates the plugin runtime, installs the bundled plugins
    /// where missing and loads every installed plugin before it returns.
    pub async fn start(config: Config) -> anyhow::Result<AppState> {
        AppState::start_with(config, false).await
    }

    /// [`AppState::start`] that returns before the plugins are loaded: they load (and
    /// compile, on a fresh data directory) in the background while the server answers;
    /// `/health/ready` says when they are done, and requests that need plugins wait for
    /// them (see [`crate::api::health::startup_gate`]). Stored jobs resume after the load.
    pub async fn start_serving(config: Config) -> anyhow::Result<AppState> {
        AppState::start_with(config, true).await
    }

    async fn start_with(config: Config, background: bool) -> anyhow::Result<AppState> {
        use anyhow::Context as _;
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("create data directory {}", config.data_dir.display()))?;
        let db = Db::connect(&config.database_url)
            .await
            .map_err(|e| anyhow::anyhow!(crate::db::startup_error(&config.database_url, &e)))?;
        let node = crate::jobs::node_id(&config.data_dir).with_context(|| {
            format!(
                "read or create {}",
                config.data_dir.join("node-id").display()
            )
        })?;
        tracing::info!(node = %node, "node id");
        let cluster = Arc::new(match &config.redis_url {
            Some(url) => crate::cluster::Cluster::connect(url, &config.redis_prefix, &node)
                .await
                .map_err(|e| anyhow::anyhow!(e.to_string()))?,
            None => crate::cluster::Cluster::single(&node),
        });
        crate::cluster::nodes::spawn(db.clone(), node.clone(), cluster.is_shared());
        let registry = Registry::load(config.registry.as_deref()).context("read the registry")?;
        let (admin, key_source) = AdminKeys::init(&db, config.admin_token.as_deref())
            .await
            .context("set up the admin key")?;
        key_source.announce();
        let audit = Arc::new(Audit::new(Some(db.clone())));
        let plugins = plugin_host(&config, &db, audit.clone()).context("start plugin runtime")?;
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let calls = crate::telemetry::Recorder::start(db.clone(), metrics.clone())
            .with_rows(config.telemetry.record_calls);
        plugins
            .runtime()
            .services()
            .set_recorder(Arc::new(calls.clone()));
        audit.set_metrics(metrics.clone());
        let cache = Arc::new(crate::cache::ChatCache::new(&config.cache));
        if let Some(file) = &config.secrets_file {
            let secrets = crate::config::secrets::read(file)?;
            tracing::info!(file = %file.display(), count = secrets.len(), "secrets loaded for plugins");
            plugins.runtime().services().set_secrets(secrets);
        }
        let plugins = Arc::new(plugins);
        if background {
            plugins
                .start_in_background()
                .await
                .context("install the bundled plugins")?;
        } else {
            plugins.start().await.context("load plugins")?;
        }
        let providers = Arc::new(crate::providers::for_config(&config));
        crate::providers::load_stored(&providers, &db)
            .await
            .context("read the chat routes bound through the API")?;
        let jobs = Arc::new(crate::jobs::Jobs::new(
            db.clone(),
            config.jobs,
            cluster.clone(),
        ));
        crate::telemetry::retention::spawn(db.clone(), config.telemetry);
        let health = Arc::new(crate::api::health::Monitor::new(config.health));
        let scout = Arc::new(crate::scout::StatusCache::new(config.scout.status_ttl_ms));
        let state = AppState {
            chat: chats(&plugins, &providers, &cache, &db, &calls),
            config: Arc::new(config),
            db,
            plugins,
            audit,
            registry: Arc::new(registry),
            admin: Arc::new(admin),
            started_at: Instant::now(),
            started_wall: Utc::now(),
            metrics,
            calls,
            jobs,
            health,
            scout,
            cluster,
        };
        crate::cluster::apply::spawn(state.clone());
        // After the providers: resumed jobs may start running at once, so they wait for
        // the plugins they call.
        if background {
            let resumed = state.clone();
            tokio::spawn(async move {
                resumed.plugins.wait_started(std::time::Duration::MAX).await;
                if let Err(e) = resumed.jobs.start(&resumed).await {
                    tracing::error!(cause = %format!("{e:#}"), "could not resume the stored jobs");
                }
            });
        } else {
            state
                .jobs
                .start(&state)
                .await
                .context("resume the stored jobs")?;
        }
        crate::providers::configured::warn_at_start(&state);
        Ok(state)
    }

    /// The marketplace operations over this installation.
    pub fn installer(&self) -> Installer<'_> {
        Installer {
            installs: &self.db,
            plugins: &self.plugins,
            registry: &self.registry,
            pending_dir: crate::install::pending_dir(&self.config.data_dir),
            signatures: &self.config.signatures,
            announce: &*self.cluster,
        }
    }

    /// Seconds since the server started.
    pub fn uptime(&self) -> f64 {
        self.started_at.elapsed().as_secs_f64()
    }
}

/// The plugin host for `config`, keeping the installation's records and the plugins'
/// key-value data in `db` and reporting denials to `audit`.
pub fn plugin_host(config: &Config, db: &Db, audit: Arc<Audit>) -> anyhow::Result<PluginHost> {
    PluginHost::new(
        config.plugin_settings(),
        Backing {
            installs: Some(Arc::new(db.clone())),
            kv: Some(Arc::new(db.clone())),
            denials: audit,
        },
    )
}

/// The chat crate's handle over a state's parts: sessions in `db`, calls recorded by
/// `calls` (which also counts cache lookups in the metrics).
pub fn chats(
    plugins: &Arc<PluginHost>,
    providers: &Arc<Providers>,
    cache: &Arc<ChatCache>,
    db: &Db,
    calls: &crate::telemetry::Recorder,
) -> Chats {
    Chats {
        plugins: plugins.clone(),
        providers: providers.clone(),
        cache: cache.clone(),
        sessions: Arc::new(db.clone()),
        observer: Arc::new(calls.clone()),
    }
}
