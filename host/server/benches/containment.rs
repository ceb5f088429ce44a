//! Containment under attack, against the real `sanctuary` binary (release profile): how
//! the host's own route answers while a hostile plugin attacks, side by side with a
//! baseline from the same run, and the server's peak memory.
//!
//! For each attack of the `hostile-host` fixture (`tests/fixtures/hostile-host`), 8 client
//! tasks call the attacking tool in a loop for [`ATTACK`] while 4 other tasks call
//! `GET /api/dev/ping` and the `time` plugin's `current_time`; the baseline is the same
//! pings with no attack. Reported: ping and `current_time` p50/p99, how many of each were
//! answered, what the attack's calls ended as, and the server's peak VmRSS (sampled every
//! 20 ms).
//!
//! `cargo bench -p sanctuary --bench containment` (results go into BENCHMARKS.md by hand).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sanctuary_test_support::{Server, sanctuary};
use serde_json::{Value, json};

const ADMIN: &str = "bench-admin";
const ATTACK: Duration = Duration::from_secs(4);
const ATTACKERS: usize = 8;
const PINGERS: usize = 4;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    runtime.block_on(run());
}

async fn run() {
    let server = sanctuary!()
        .envs(&[("SANCTUARY_ADMIN_TOKEN", ADMIN)])
        .spawn()
        .await;
    server.upload_fixture("hostile-host", ADMIN).await;
    let server = Arc::new(server);
    println!("## Containment under attack\n");
    println!(
        "| attack | ping p50 | ping p99 | pings | `current_time` p50 | p99 | calls | attack calls ended as | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for attack in [
        None,
        Some("spin"),
        Some("fields"),
        Some("kv_flood"),
        Some("log_flood"),
    ] {
        round(&server, attack).await;
    }
}

async fn round(server: &Arc<Server>, attack: Option<&'static str>) {
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak, pid) = (stop.clone(), peak.clone(), server.pid().expect("pid"));
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let attackers: Vec<_> = (0..if attack.is_some() { ATTACKERS } else { 0 })
        .map(|_| {
            let (server, stop) = (server.clone(), stop.clone());
            tokio::spawn(async move {
                let mut ended = BTreeMap::<String, usize>::new();
                while !stop.load(Ordering::Relaxed) {
                    let (status, body) = call(
                        &server,
                        &format!(
                            "/api/mcp/servers/hostile-host/tools/{}",
                            attack.unwrap_or("echo")
                        ),
                    )
                    .await;
                    let code = body["error"]["code"]
                        .as_str()
                        .or_else(|| body["details"]["code"].as_str())
                        .unwrap_or("ok");
                    *ended.entry(format!("{status} {code}")).or_default() += 1;
                }
                ended
            })
        })
        .collect();
    // Let the attack take hold before measuring.
    if attack.is_some() {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let pingers: Vec<_> = (0..PINGERS)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                let mut pings = Vec::new();
                let mut tools = Vec::new();
                let until = Instant::now() + ATTACK;
                while Instant::now() < until {
                    let started = Instant::now();
                    let response = server.client.get(server.url("/api/dev/ping")).send().await;
                    if response.is_ok_and(|r| r.status() == 200) {
                        pings.push(started.elapsed());
                    }
                    if i % 2 == 0 {
                        let started = Instant::now();
                        let (status, _) =
                            call(&server, "/api/mcp/servers/time/tools/current_time").await;
                        if status == 200 {
                            tools.push(started.elapsed());
                        }
                    }
                }
                (pings, tools)
            })
        })
        .collect();
    let mut pings = Vec::new();
    let mut tools = Vec::new();
    for task in pingers {
        let (p, t) = task.await.expect("pinger");
        pings.extend(p);
        tools.extend(t);
    }
    stop.store(true, Ordering::Relaxed);
    let mut ended = BTreeMap::<String, usize>::new();
    for task in attackers {
        for (k, v) in task.await.expect("attacker") {
            *ended.entry(k).or_default() += v;
        }
    }
    sampler.await.expect("sampler");
    let ended = if ended.is_empty() {
        "—".to_string()
    } else {
        ended
            .iter()
            .map(|(k, v)| format!("{v} × {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0} MiB |",
        attack.unwrap_or("none (baseline)"),
        quantile(&mut pings, 0.50),
        quantile(&mut pings, 0.99),
        pings.len(),
        quantile(&mut tools, 0.50),
        quantile(&mut tools, 0.99),
        tools.len(),
        ended,
        peak.load(Ordering::Relaxed) as f64 / 1024.0
    );
}

async fn call(server: &Server, path: &str) -> (u16, Value) {
    match server
        .client
        .post(server.url(path))
        .json(&json!({}))
        .timeout(Duration::from_secs(30))
        .send()
        .await
    {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

fn quantile(samples: &mut [Duration], q: f64) -> String {
    if samples.is_empty() {
        return "—".into();
    }
    samples.sort();
    let at = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
    format!("{:.2} ms", samples[at].as_secs_f64() * 1000.0)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
