//! Hot-reload benchmark: how long a new version takes to answer once written into the
//! plugins directory, and whether a client calling through the swaps loses a call.
//!
//! - `swap latency, new build`: `write_plugin` of a version the host has never seen (the
//!   `version-probe` fixtures with a custom section carrying a counter, so each write is a
//!   new component and is compiled afresh) until a probe of the live set answers from it.
//!   Alternates v1/v2, like successive releases.
//! - `swap latency, known build`: the same with the two fixtures as built, so after the
//!   first two swaps the component compile cache answers.
//! - `load alone`: `PluginHost::load_bytes` of a new build, no watcher, for comparison:
//!   the rest of a swap is the debounce, the file writes and the polling.
//! - `calls during swaps`: a client task probing in a tight loop (one live-set lookup, one
//!   `Arc`, one fresh instance per call) while new builds are swapped in.
//! - `swap latency, real time plugin`: the same as "new build" with the bundled `time`
//!   component (what users swap), until a `current_time` call answers from the new build.
//!
//! Run: `cargo bench -p sanctuary --bench reload`. Prints a Markdown table.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sanctuary::Config;
use sanctuary::manifest::Manifest;
use sanctuary::plugins::{PluginHost, artifacts, component_file_name, write_plugin};
use sha2::{Digest, Sha256};

const ID: &str = "version-probe";
const SWAPS: usize = 30;
const SWAPS_UNDER_LOAD: usize = 20;
const LOADS: usize = 10;
const TIME_SWAPS: usize = 15;
const GIVE_UP: Duration = Duration::from_secs(30);
/// Pause after each swap so the watcher is idle when the next one is written: a late
/// batch of the previous swap's events would otherwise pick the next version up early
/// and flatter the numbers.
const SETTLE: Duration = Duration::from_millis(200);

fn main() -> anyhow::Result<()> {
    // Criterion-style flags (`--bench`) are passed by `cargo bench`; nothing to parse.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

/// One version of the plugin: its manifest (without hash yet), bytes, and what it answers.
struct Version {
    manifest: Manifest,
    bytes: Vec<u8>,
    detail: &'static str,
}

async fn run() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let config = Config {
        data_dir: data.path().to_path_buf(),
        // A fresh compile cache: "new build" swaps really compile.
        cache_dir: data.path().join("cache"),
        ..Config::default()
    };
    let plugins = Arc::new(PluginHost::new(
        config.plugin_settings(),
        sanctuary::plugins::Backing::none(),
    )?);
    let _watch = sanctuary::watch::spawn(plugins.clone())?;
    let dir = plugins.plugins_dir().join(ID);
    let versions = [
        version("version-probe-v1", "v1")?,
        version("version-probe-v2", "v2")?,
    ];
    let mut build = 0u32;

    // Warm-up: the first install, the engine's first compile.
    swap(&plugins, &dir, &versions[0], None).await?;

    let mut fresh = Vec::new();
    for i in 0..SWAPS {
        build += 1;
        fresh.push(swap(&plugins, &dir, &versions[(i + 1) % 2], Some(build)).await?);
    }
    let mut known = Vec::new();
    for i in 0..SWAPS {
        known.push(swap(&plugins, &dir, &versions[(i + 1) % 2], None).await?);
    }
    let time = real_time_swaps(&plugins, &mut build).await?;
    let mut loads = Vec::new();
    for _ in 0..LOADS {
        build += 1;
        let bytes = with_build_number(&versions[1].bytes, build);
        let manifest = sealed(versions[1].manifest.clone(), &bytes);
        let started = Instant::now();
        plugins
            .load_bytes(manifest, bytes, &dir)
            .await
            .context("load alone")?;
        loads.push(started.elapsed());
    }

    // A client calling through swaps.
    let stop = Arc::new(AtomicBool::new(false));
    let client = tokio::spawn({
        let plugins = plugins.clone();
        let stop = stop.clone();
        async move {
            let mut tally = Tally::default();
            let started = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let call = Instant::now();
                let answer = match plugins.get(ID) {
                    Some(live) => plugins
                        .runtime()
                        .probe(&live.plugin)
                        .await
                        .map(|r| r.detail)
                        .map_err(|e| e.to_string()),
                    None => Err("not loaded".to_string()),
                };
                tally.record(answer, call.elapsed());
            }
            tally.elapsed = started.elapsed();
            tally
        }
    });
    let mut under_load = Vec::new();
    for i in 0..SWAPS_UNDER_LOAD {
        build += 1;
        under_load.push(swap(&plugins, &dir, &versions[(i + 1) % 2], Some(build)).await?);
    }
    stop.store(true, Ordering::Relaxed);
    let tally = client.await?;

    println!("## Hot reload\n");
    println!("| measurement | n | p50 | p95 | max |");
    println!("|---|---|---|---|---|");
    row(
        "swap latency, new build (write → new version answers)",
        &fresh,
    );
    row("swap latency, known build (compile cache hit)", &known);
    row("load alone, new build (compile + link, no watcher)", &loads);
    row(
        "swap latency, new build, with a client calling",
        &under_load,
    );
    row("client call latency during swaps", &tally.latencies);
    row(
        "swap latency, real `time` plugin, new build (write → a tool answers)",
        &time.swaps,
    );
    row("load alone, real `time` plugin, new build", &time.loads);
    println!();
    println!(
        "client during {} swaps: {} calls in {:.1} s ({:.0}/s), {} failed, answer changed {} times (once per swap unless an old version answered after a new one)",
        SWAPS_UNDER_LOAD,
        tally.latencies.len(),
        tally.elapsed.as_secs_f64(),
        tally.latencies.len() as f64 / tally.elapsed.as_secs_f64(),
        tally.failures.len(),
        tally.changes,
    );
    if let Some(first) = tally.failures.first() {
        println!("first failure: {first}");
    }
    Ok(())
}

/// What the client saw.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    failures: Vec<String>,
    last: Option<String>,
    changes: usize,
    elapsed: Duration,
}

impl Tally {
    fn record(&mut self, answer: Result<String, String>, latency: Duration) {
        self.latencies.push(latency);
        match answer {
            Ok(detail) => {
                if self.last.as_ref().is_some_and(|last| *last != detail) {
                    self.changes += 1;
                }
                self.last = Some(detail);
            }
            Err(e) => self.failures.push(e),
        }
    }
}

/// Writes `version` (as build `build`, or as built) into `dir` and waits until the live
/// set answers from it; the time from the write to that answer. Then lets the watcher
/// settle.
async fn swap(
    plugins: &PluginHost,
    dir: &Path,
    version: &Version,
    build: Option<u32>,
) -> anyhow::Result<Duration> {
    let bytes = match build {
        Some(n) => with_build_number(&version.bytes, n),
        None => version.bytes.clone(),
    };
    let manifest = sealed(version.manifest.clone(), &bytes);
    let sha256 = manifest.sha256.clone().unwrap_or_default();
    let started = Instant::now();
    write_plugin(dir, &manifest, &bytes)?;
    loop {
        if let Some(live) = plugins.get(ID)
            && live.plugin.sha256 == sha256
        {
            let report = plugins.runtime().probe(&live.plugin).await?;
            if report.detail != version.detail {
                bail!("expected {}, got {}", version.detail, report.detail);
            }
            let elapsed = started.elapsed();
            tokio::time::sleep(SETTLE).await;
            return Ok(elapsed);
        }
        if started.elapsed() > GIVE_UP {
            bail!(
                "{} not loaded after {GIVE_UP:?}: {:?}",
                version.detail,
                plugins.failures()
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn version(fixture: &str, detail: &'static str) -> anyhow::Result<Version> {
    let (_, wasm, manifest) = sanctuary_test_artifacts::FIXTURES
        .iter()
        .find(|(n, _, _)| *n == fixture)
        .with_context(|| format!("the {fixture} fixture is built"))?;
    Ok(Version {
        manifest: Manifest::from_json(&std::fs::read_to_string(manifest)?)?,
        bytes: std::fs::read(wasm)?,
        detail,
    })
}

/// `manifest` naming `component` by its sha256, as an install writes it.
fn sealed(mut manifest: Manifest, component: &[u8]) -> Manifest {
    let sha256 = hex::encode(Sha256::digest(component));
    manifest.component = Some(component_file_name(&manifest.id, &sha256));
    manifest.sha256 = Some(sha256);
    manifest
}

/// `component` with a trailing custom section `sanctuary-bench-build` holding `n`: the
/// same behaviour, a different component (hash, compile cache key).
fn with_build_number(component: &[u8], n: u32) -> Vec<u8> {
    let name = b"sanctuary-bench-build";
    let mut content = leb128(name.len());
    content.extend_from_slice(name);
    content.extend_from_slice(&n.to_le_bytes());
    let mut out = component.to_vec();
    out.push(0); // custom section id
    out.extend(leb128(content.len()));
    out.extend(content);
    out
}

fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn row(what: &str, samples: &[Duration]) {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        if ms.is_empty() {
            return f64::NAN;
        }
        ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1]
    };
    println!(
        "| {what} | {} | {:.2} ms | {:.2} ms | {:.2} ms |",
        ms.len(),
        at(0.50),
        at(0.95),
        at(1.0)
    );
}

/// Swaps of the real `time` plugin.
struct TimeSwaps {
    swaps: Vec<Duration>,
    loads: Vec<Duration>,
}

/// Swaps new builds of the bundled `time` component in (each with its own build number,
/// so each is compiled afresh), timing write → `current_time` answers from it; then
/// loads alone.
async fn real_time_swaps(plugins: &PluginHost, build: &mut u32) -> anyhow::Result<TimeSwaps> {
    let bundled = artifacts::BUNDLED
        .iter()
        .find(|p| p.dir == "time")
        .context("the time plugin is bundled")?;
    let manifest = Manifest::from_json(bundled.manifest)?;
    let dir = plugins.plugins_dir().join("time");
    let mut swaps = Vec::new();
    for i in 0..=TIME_SWAPS {
        *build += 1;
        let bytes = with_build_number(bundled.component, *build);
        let manifest = sealed(manifest.clone(), &bytes);
        let sha256 = manifest.sha256.clone().unwrap_or_default();
        let started = Instant::now();
        write_plugin(&dir, &manifest, &bytes)?;
        loop {
            if let Some(live) = plugins.get("time")
                && live.plugin.sha256 == sha256
            {
                plugins
                    .runtime()
                    .call_tool(&live.plugin, "current_time", "{}")
                    .await?;
                break;
            }
            if started.elapsed() > GIVE_UP {
                bail!(
                    "time not loaded after {GIVE_UP:?}: {:?}",
                    plugins.failures()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The first is the install, not a swap.
        if i > 0 {
            swaps.push(started.elapsed());
        }
        tokio::time::sleep(SETTLE).await;
    }
    let mut loads = Vec::new();
    for _ in 0..LOADS {
        *build += 1;
        let bytes = with_build_number(bundled.component, *build);
        let manifest = sealed(manifest.clone(), &bytes);
        let started = Instant::now();
        plugins
            .load_bytes(manifest, bytes, &dir)
            .await
            .context("load the time plugin alone")?;
        loads.push(started.elapsed());
    }
    Ok(TimeSwaps { swaps, loads })
}
