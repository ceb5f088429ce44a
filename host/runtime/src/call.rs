//! The one path every plugin call takes, whatever the kind: admission by the plugin's
//! budget, a fresh store with its sandbox and caps, the guest's code run on the guest
//! executor (never on the threads that answer requests), and every way the call can end
//! turned into a result or a [`CallError`] naming the plugin, counted, recorded and, for
//! refusals, audited.
//!
//! Guest code runs on a tokio runtime of its own ([`GuestExecutor`]). A call starts on the
//! caller's thread and runs there until the first epoch tick (at most [`EPOCH_TICK`]) or
//! its first wait on host I/O, whichever comes first; most calls are over by then and pay
//! no hand-over between threads. A call still running at that point moves to the guest
//! executor, where the epoch callback yields every tick, so long calls share its threads
//! instead of holding any, and the call's time cap is checked at each tick: a cap holds
//! within one tick plus the time the executor takes to come back to the call. While a
//! call awaits host functions (HTTP, the key-value store, a full chunk queue), the
//! wall-clock guard stops it two ticks after the cap.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::instrument::{Instrument as _, WithSubscriber as _};
use tracing::{debug, warn};
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use super::budget::Refusal;
use super::imports::types::PluginError;
use super::state::{HostContext, Limiter, Overrun, StoreState, ToolNotice};
use super::warm::Warm;
use super::{CallError, EPOCH_TICK, HostServices, Plugin, Runtime, http, imports};
use crate::audit::Kind as Denied;

/// What a guest call returns: a trap, or the plugin's own typed answer.
pub(crate) type Outcome<T> = wasmtime::Result<Result<T, PluginError>>;

/// A guest call: instantiate and call one export, borrowing the store.
pub(crate) type GuestFuture<'s, T> = Pin<Box<dyn Future<Output = Outcome<T>> + Send + 's>>;

/// The wall-clock guard fires this long after a call's time cap (the epoch trap normally
/// fires first; the guard covers time spent awaiting host functions).
const WALL_CLOCK_GRACE: Duration = Duration::from_millis(2 * EPOCH_TICK.as_millis() as u64);

/// Log lines one call may write through `host.log` (the plugin's per-minute budget
/// applies too).
const LOG_LINES_PER_CALL: u32 = 200;

/// Largest fields resource (headers) a plugin may build for outgoing HTTP.
pub(crate) const HTTP_FIELDS_LIMIT: usize = 32 * 1024;

/// Chunks a streaming call may have in flight to its listener before `emit-chunk` waits.
pub const CHUNK_QUEUE: usize = 64;

/// Longest chunk a plugin may emit at once.
pub const MAX_CHUNK: usize = 64 * 1024;

/// Progress reports (`mcp-client.notify-progress`) one tool call may send; later ones
/// are dropped.
pub const PROGRESS_REPORTS_PER_CALL: u32 = 100;

/// Progress reports a tool call may have in flight to its caller before the next waits.
pub const PROGRESS_QUEUE: usize = 16;

/// Per-call options.
#[derive(Default)]
pub(crate) struct CallOptions {
    /// Project directory to mount at `/project` (scout checks).
    pub project: Option<PathBuf>,
    /// Where streamed chunks go.
    pub progress: Option<mpsc::Sender<String>>,
    /// Where a tool call's notices go: progress reports, log lines, questions.
    pub tool_notices: Option<mpsc::Sender<ToolNotice>>,
}

/// A tokio runtime of its own for guest code, so that a plugin that computes never holds
/// a thread that answers requests. Shut down in the background when dropped.
pub(crate) struct GuestExecutor {
    runtime: Option<tokio::runtime::Runtime>,
}

impl GuestExecutor {
    /// An executor with `threads` worker threads.
    pub(crate) fn new(threads: usize) -> anyhow::Result<GuestExecutor> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .max_blocking_threads(64)
            .thread_name("sanctuary-guest")
            .enable_all()
            .build()
            .map_err(|e| anyhow::anyhow!("start the guest executor: {e}"))?;
        Ok(GuestExecutor {
            runtime: Some(runtime),
        })
    }

    /// The default number of threads: one per CPU, at least two.
    pub(crate) fn default_threads() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .max(2)
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .expect("the guest executor lives until dropped")
            .handle()
    }
}

impl Drop for GuestExecutor {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Aborts the guest task when the caller stops waiting (a client that went away).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Everything a call needs, owned, so it can run on the guest executor.
pub(crate) struct CallSetup {
    engine: Engine,
    services: Arc<HostServices>,
    plugin: Arc<super::PluginCore>,
    operation: String,
}

impl Runtime {
    /// What a call of `plugin` recorded as `operation` needs, owned.
    pub(crate) fn setup(&self, plugin: &Plugin, operation: &str) -> CallSetup {
        CallSetup {
            engine: self.engine.clone(),
            services: self.services.clone(),
            plugin: plugin.core.clone(),
            operation: operation.to_string(),
        }
    }

    /// Runs one call of `plugin`, recorded as `operation` (a tool name, `chat`, ...):
    /// `call` instantiates the component in the fresh store it is given and calls one
    /// export. See the module documentation for where and under which caps it runs.
    pub(crate) async fn run<P, T, F>(
        &self,
        plugin: &Plugin,
        operation: &str,
        opts: CallOptions,
        pre: P,
        call: F,
    ) -> Result<T, CallError>
    where
        P: Instantiate,
        T: Send + 'static,
        F: for<'s> FnOnce(&'s mut Store<StoreState>, &'s P::Guest) -> GuestFuture<'s, T>
            + Send
            + 'static,
    {
        let setup = self.setup(plugin, operation);
        // Whom a warm instance may serve: known before the call leaves this task.
        let caller = plugin
            .core
            .reuse
            .then(|| reuse_key(plugin.kind(), &opts))
            .flatten();
        let queued = Instant::now();
        plugin.core.stats.calls.fetch_add(1, Ordering::Relaxed);
        // A call waits for a slot at most its own time cap (and never more than 5 s).
        let wait = plugin.core.sandbox.timeout().min(Duration::from_secs(5));
        let permit = match plugin.core.budget.admit(wait).await {
            Ok(permit) => permit,
            Err(refusal) => {
                let (budget, reason) = match refusal {
                    Refusal::Busy(reason) => ("max_concurrent", reason),
                    Refusal::Rate(reason) => ("calls_per_minute", reason),
                };
                let error = CallError::Busy {
                    plugin: plugin.id().to_string(),
                    budget,
                    reason,
                };
                return setup.finish(queued, None, Some(Err(error)));
            }
        };
        // The call keeps the caller's subscriber and span (request ids, tests' capture)
        // on the guest executor. At `info`, like the request span it nests in: a span
        // that the log filter disables is no span at all, and a call that moves to the
        // guest executor would then log outside its request (no request id on its lines).
        let span = tracing::info_span!(
            "plugin_call",
            plugin = %plugin.id(),
            kind = %plugin.kind(),
            operation = %operation
        );
        let mut execution = Box::pin(
            async move {
                let _permit = permit;
                setup.execute(opts, caller, pre, call).await
            }
            .instrument(span)
            .with_current_subscriber(),
        );
        // The first slice runs here: a call that finishes before its first epoch tick
        // (almost every call) pays no hand-over. One that computes past it, or waits on
        // host I/O, moves to the guest executor and finishes there.
        if let std::task::Poll::Ready(result) = futures::poll!(execution.as_mut()) {
            return result;
        }
        let task = self.guest.handle().spawn(execution);
        match AbortOnDrop(task).await {
            Ok(result) => result,
            Err(e) => Err(CallError::Trap {
                plugin: plugin.id().to_string(),
                message: if e.is_panic() {
                    "the host panicked while running the call".into()
                } else {
                    "the call was cancelled".into()
                },
            }),
        }
    }
}

/// Helper so `AbortOnDrop` can be awaited like the handle it wraps.
impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl CallSetup {
    /// Takes a warm instance of `caller` or builds a fresh store and instance, and runs
    /// `call` under the caps (on the guest executor). A warm-able call that ended well
    /// puts its instance back for `caller`.
    async fn execute<P, T, F>(
        self,
        opts: CallOptions,
        caller: Option<Arc<str>>,
        pre: P,
        call: F,
    ) -> Result<T, CallError>
    where
        P: Instantiate,
        F: for<'s> FnOnce(&'s mut Store<StoreState>, &'s P::Guest) -> GuestFuture<'s, T>,
    {
        let started = Instant::now();
        let warm = caller.as_deref().and_then(|c| self.plugin.warm.take(c));
        let (mut store, mut guest, served, born) = match warm {
            Some(warm) => match warm.guest.downcast::<P::Guest>() {
                Ok(guest) => {
                    let mut store = warm.store;
                    self.refresh(&mut store, opts);
                    (store, Some(*guest), warm.calls, warm.born)
                }
                // Not this kind's bindings (cannot happen: one plugin, one kind).
                Err(_) => return self.execute_fresh(started, opts, pre, call).await,
            },
            None => match self.store(opts) {
                Ok(store) => (store, None, 0, started),
                Err(e) => return self.finish(started, None, Some(Err(e))),
            },
        };
        let cap = self.plugin.sandbox.timeout();
        arm(&mut store, started + cap);
        // Instantiation runs under the same caps as the call: a start function that
        // loops or allocates is stopped like any other guest code.
        let run = async {
            if guest.is_none() {
                guest = Some(pre.instantiate(&mut store).await?);
            }
            match guest.as_ref() {
                Some(bindings) => call(&mut store, bindings).await,
                None => Err(wasmtime::format_err!("the plugin was not instantiated")),
            }
        };
        let outcome = tokio::time::timeout(cap + WALL_CLOCK_GRACE, run).await.ok();
        let outcome = outcome.map(|o| self.classify(&store, o));
        let reusable = caller.is_some()
            && matches!(outcome, Some(Ok(_)) | Some(Err(CallError::Plugin { .. })))
            && clean(&store);
        let result = self.finish(started, Some(&store), outcome);
        if let (true, Some(caller), Some(guest)) = (reusable, caller, guest) {
            store.data_mut().host.progress = None;
            store.data_mut().host.tool_notices = None;
            self.plugin.warm.put(Warm {
                caller,
                store,
                guest: Box::new(guest),
                calls: served + 1,
                born,
            });
        }
        result
    }

    /// [`CallSetup::execute`] on a fresh instance, never kept.
    async fn execute_fresh<P, T, F>(
        self,
        started: Instant,
        opts: CallOptions,
        pre: P,
        call: F,
    ) -> Result<T, CallError>
    where
        P: Instantiate,
        F: for<'s> FnOnce(&'s mut Store<StoreState>, &'s P::Guest) -> GuestFuture<'s, T>,
    {
        let mut store = match self.store(opts) {
            Ok(store) => store,
            Err(e) => return self.finish(started, None, Some(Err(e))),
        };
        let cap = self.plugin.sandbox.timeout();
        arm(&mut store, started + cap);
        let run = async {
            let guest = pre.instantiate(&mut store).await?;
            call(&mut store, &guest).await
        };
        let outcome = tokio::time::timeout(cap + WALL_CLOCK_GRACE, run).await.ok();
        let outcome = outcome.map(|o| self.classify(&store, o));
        self.finish(started, Some(&store), outcome)
    }

    /// Readies a warm store for its next call: this call's streaming sink and log-line
    /// allowance, current secrets, and nothing the host held for the last call.
    fn refresh(&self, store: &mut Store<StoreState>, opts: CallOptions) {
        let secrets = (!self.plugin.secrets.is_empty())
            .then(|| Arc::new(self.services.resolve_secrets(&self.plugin.secrets)));
        let state = store.data_mut();
        state.host.progress = opts.progress;
        state.host.tool_notices = opts.tool_notices;
        state.host.progress_reports = PROGRESS_REPORTS_PER_CALL;
        state.host.client_questions = crate::imports::CLIENT_QUESTIONS_PER_CALL;
        state.host.log_lines = LOG_LINES_PER_CALL;
        state.host.over_budget = None;
        if let Some(secrets) = secrets {
            state.host.secrets = secrets;
        }
        state.limiter.release_host_charges();
    }

    /// A fresh store for one call, with its sandbox, caps and host context.
    pub(crate) fn store(&self, opts: CallOptions) -> Result<Store<StoreState>, CallError> {
        let plugin = &self.plugin;
        let (wasi, stderr) = plugin
            .sandbox
            .wasi_ctx(opts.project.as_deref())
            .map_err(|e| CallError::Setup {
                plugin: plugin.id.to_string(),
                message: e.to_string(),
            })?;
        let memory_bytes = plugin.sandbox.memory_bytes();
        let mut table = ResourceTable::new();
        // Every resource the plugin makes the host hold (HTTP fields of at most
        // `HTTP_FIELDS_LIMIT`, bodies, streams, pollables) is an entry: together at most a
        // quarter of its memory budget, and never fewer than 64 entries.
        table.set_max_capacity((memory_bytes / 4 / HTTP_FIELDS_LIMIT).max(64));
        let mut http_ctx = wasmtime_wasi_http::WasiHttpCtx::new();
        http_ctx.set_field_size_limit(HTTP_FIELDS_LIMIT);
        let state = StoreState {
            wasi,
            table,
            http: http_ctx,
            http_policy: http::HttpPolicy::new(
                plugin.id.clone(),
                plugin.network.clone(),
                self.services.denials().clone(),
            ),
            limiter: Limiter::new(memory_bytes),
            host: HostContext {
                plugin_id: plugin.id.clone(),
                kind: plugin.kind,
                config_json: plugin.config_json.clone(),
                declared_secrets: plugin.secrets.clone(),
                secrets: Arc::new(self.services.resolve_secrets(&plugin.secrets)),
                progress: opts.progress,
                tool_notices: opts.tool_notices,
                progress_reports: PROGRESS_REPORTS_PER_CALL,
                client_questions: crate::imports::CLIENT_QUESTIONS_PER_CALL,
                services: self.services.clone(),
                stderr,
                log_lines: LOG_LINES_PER_CALL,
                budget: plugin.budget.clone(),
                over_budget: None,
            },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        Ok(store)
    }

    /// Turns a trap into the failure it was (a plugin's own error stays as it is).
    fn classify<T>(&self, store: &Store<StoreState>, outcome: Outcome<T>) -> Result<T, CallError> {
        let id = self.plugin.id.to_string();
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(plugin_error)) => {
                let (code, message) = imports::plugin_error_parts(plugin_error);
                Err(CallError::Plugin {
                    plugin: id,
                    code,
                    message,
                })
            }
            Err(trap) => Err(classify_trap(&self.plugin, store, trap)),
        }
    }

    /// Counts, logs, records and audits the end of a call. `outcome` is `None` when the
    /// wall-clock guard stopped it.
    fn finish<T>(
        &self,
        started: Instant,
        store: Option<&Store<StoreState>>,
        outcome: Option<Result<T, CallError>>,
    ) -> Result<T, CallError> {
        let plugin = &self.plugin;
        let id = &*plugin.id;
        plugin
            .stats
            .busy_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        if let Some(store) = store {
            let stderr = store.data().host.stderr.contents();
            if !stderr.is_empty() {
                let mut text = String::from_utf8_lossy(&stderr).trim_end().to_string();
                crate::audit::clip(&mut text, 4096);
                warn!(plugin = %id, stderr = %text, "plugin wrote to stderr");
            }
        }
        let result = outcome.unwrap_or_else(|| {
            Err(CallError::Timeout {
                plugin: id.to_string(),
                ms: plugin.timeout_ms,
            })
        });
        if let Err(e) = &result {
            let stats = &plugin.stats;
            stats.errors.fetch_add(1, Ordering::Relaxed);
            let audit = self.services.denials();
            match e {
                CallError::Timeout { ms, .. } => {
                    stats.timeouts.fetch_add(1, Ordering::Relaxed);
                    audit.deny(
                        id,
                        Denied::Cap,
                        format!("{}: time cap of {ms} ms", self.operation),
                    );
                }
                CallError::MemoryCap { mb, .. } => {
                    stats.crashes.fetch_add(1, Ordering::Relaxed);
                    let what = match store.and_then(|s| s.data().host.over_budget.clone()) {
                        Some(Overrun::Memory(what)) => what,
                        _ => "linear memory and tables".into(),
                    };
                    audit.deny(
                        id,
                        Denied::Cap,
                        format!("{}: memory budget of {mb} MiB ({what})", self.operation),
                    );
                }
                CallError::Trap { .. } => {
                    stats.crashes.fetch_add(1, Ordering::Relaxed);
                }
                CallError::Busy { budget, reason, .. } => {
                    audit.deny(
                        id,
                        Denied::Budget,
                        format!("{}: {budget}: {reason}", self.operation),
                    );
                }
                _ => {}
            }
            match e {
                CallError::Plugin { .. } => debug!(plugin = %id, cause = %e, "call refused"),
                _ => warn!(plugin = %id, kind = %plugin.kind, cause = %e, "call failed"),
            }
        }
        if let Some(recorder) = self.services.recorder.get() {
            recorder.plugin_call(crate::observe::PluginCall {
                plugin: id.to_string(),
                kind: plugin.kind.to_string(),
                operation: self.operation.clone(),
                outcome: crate::observe::Outcome::of(&result),
                error_code: result.as_ref().err().map(CallError::code),
                duration: started.elapsed(),
            });
        }
        result
    }
}

/// How a kind instantiates its pre-linked component in a store: the bindings it returns
/// are what its calls use, on a fresh instance or a warm one.
pub(crate) trait Instantiate: Send + Sync + 'static {
    /// The instantiated bindings.
    type Guest: Send + 'static;

    /// Instantiates the component in `store`.
    fn instantiate<'s>(
        &'s self,
        store: &'s mut Store<StoreState>,
    ) -> Pin<Box<dyn Future<Output = wasmtime::Result<Self::Guest>> + Send + 's>>;
}

/// Implements [`Instantiate`] for a kind's pre-linked enum (`Latest` / `V0_1_0`) whose
/// bindings enum has the same variants: the one place a kind picks its version's
/// instantiation.
macro_rules! instantiate_versions {
    ($pre:ident => $guest:ident) => {
        impl $crate::call::Instantiate for $pre {
            type Guest = $guest;

            fn instantiate<'s>(
                &'s self,
                store: &'s mut ::wasmtime::Store<$crate::state::StoreState>,
            ) -> ::std::pin::Pin<
                Box<dyn ::std::future::Future<Output = ::wasmtime::Result<$guest>> + Send + 's>,
            > {
                Box::pin(async move {
                    Ok(match self {
                        $pre::Latest(pre) => $guest::Latest(pre.instantiate_async(store).await?),
                        $pre::V0_1_0(pre) => $guest::V0_1_0(pre.instantiate_async(store).await?),
                    })
                })
            }
        }
    };
}
pub(crate) use instantiate_versions;

/// Whom a warm instance of a `kind` plugin called with `opts` may serve next: the host
/// itself for probes, the scouted project for scout checks (its files are mounted in the
/// store), the request's caller for the others; `None` (a fresh instance, never kept)
/// when the caller is unknown.
fn reuse_key(kind: crate::manifest::Kind, opts: &CallOptions) -> Option<Arc<str>> {
    use crate::manifest::Kind;
    match kind {
        Kind::HealthProbe => Some(Arc::from("host")),
        Kind::ScoutCheck => opts
            .project
            .as_ref()
            .map(|p| Arc::from(format!("project:{}", p.display()))),
        Kind::McpServer | Kind::AiProvider => crate::caller::current(),
    }
}

/// Whether a store may serve another call: its instance ended the call within every
/// budget and wrote nothing to stderr (which is logged per call).
fn clean(store: &Store<StoreState>) -> bool {
    let state = store.data();
    state.host.over_budget.is_none()
        && !state.limiter.hit_memory_cap
        && state.host.stderr.contents().is_empty()
}

/// Arms a store's clock: at every epoch tick the guest yields to the executor, and at
/// `deadline` (or as soon as it has spent its memory budget on host-held data) it is
/// stopped.
pub(crate) fn arm(store: &mut Store<StoreState>, deadline: Instant) {
    store.epoch_deadline_callback(move |ctx| {
        if ctx.data().host.over_budget.is_some() || Instant::now() >= deadline {
            return Ok(UpdateDeadline::Interrupt);
        }
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(tokio::task::yield_now()),
        ))
    });
    store.set_epoch_deadline(1);
}

/// Turns a wasmtime error from a call into the failure it was.
pub(crate) fn classify_trap(
    plugin: &super::PluginCore,
    store: &Store<StoreState>,
    error: wasmtime::Error,
) -> CallError {
    let id = plugin.id.to_string();
    let state = store.data();
    if let Some(Overrun::Quota(reason)) = &state.host.over_budget {
        return CallError::Quota {
            plugin: id,
            reason: reason.clone(),
        };
    }
    if state.limiter.hit_memory_cap || state.host.over_budget.is_some() {
        return CallError::MemoryCap {
            plugin: id,
            mb: plugin.memory_mb,
        };
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        if *trap == Trap::Interrupt {
            return CallError::Timeout {
                plugin: id,
                ms: plugin.timeout_ms,
            };
        }
        return CallError::Trap {
            plugin: id,
            message: trap.to_string(),
        };
    }
    let message = format!("{error:#}");
    if message.contains("maximum concurrent") {
        // The instance pool is full (many plugins at their budgets at once): busy, not
        // a crash of this plugin.
        return CallError::Busy {
            plugin: id,
            budget: "instance_pool",
            reason: "the host's instance pool is full".into(),
        };
    }
    if message.contains("resource table has no free keys") {
        return CallError::MemoryCap {
            plugin: id,
            mb: plugin.memory_mb,
        };
    }
    // The first line is the cause; the backtrace that follows is for the log, not clients.
    let headline = message.lines().next().unwrap_or("trap").to_string();
    debug!(plugin = %id, detail = %message, "trap detail");
    CallError::Trap {
        plugin: id,
        message: headline,
    }
}
