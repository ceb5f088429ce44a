//! AI provider overhead: what the host and a provider plugin add to a chat, compared with
//! calling the upstream directly. The upstream is the OpenAI mock of the provider tests
//! (`tests/providers/mocks.rs`, a local axum server), so the figures are the host's cost,
//! not a model's.
//!
//! - `direct`: reqwest `POST /v1/chat/completions` to the mock (the baseline).
//! - `chat::answer`: the host's one chat entry point in-process: route lookup, breaker,
//!   a fresh instance of the `openai-compatible` plugin, its JSON and its outgoing HTTP
//!   through wasi:http to the mock.
//! - `POST /v1/chat/completions`: the same over the host's HTTP surface (request parsing,
//!   model resolution, the OpenAI-shaped answer).
//! - `POST /api/chat/mama-bear`: the seeds' chat route, which also creates a session and
//!   stores the turn in it (SQLite, one transaction per turn).
//! - streamed rows: the same with `stream: true`, to the end of the stream; the mock
//!   pauses 5 ms per event, in both rows.
//!
//! Sequential calls, one at a time, after a warm-up. Run:
//! `cargo bench -p sanctuary --bench providers`. Prints a Markdown table.

use std::time::{Duration, Instant};

use sanctuary::providers;
use sanctuary::runtime::provider::{ChatRequest, Message, Role};
use sanctuary::{AppState, Config};
use sanctuary_test_support::mocks::{Mock, Vendor};
use serde_json::{Value, json};

const WARMUP: usize = 30;
const CALLS: usize = 300;
const STREAMED_CALLS: usize = 100;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

struct Row {
    name: &'static str,
    samples: Vec<Duration>,
}

async fn time<F, Fut>(name: &'static str, calls: usize, mut call: F) -> anyhow::Result<Row>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    for _ in 0..WARMUP {
        call().await?;
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        call().await?;
        samples.push(started.elapsed());
    }
    samples.sort();
    Ok(Row { name, samples })
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let at = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[at.min(samples.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

async fn run() -> anyhow::Result<()> {
    let upstream = Mock::start(
        Vendor::OpenAi,
        "Hello from the mock upstream, in a few words",
    )
    .await;
    let data = tempfile::tempdir()?;
    let toml = format!(
        "[plugins.openai-compatible]\nbase_url = \"{}/v1\"\ndefault_model = \"gpt-mock\"\n\
         [routes.mama-bear]\nchain = [{{ provider = \"openai-compatible\" }}]\n",
        upstream.base_url()
    );
    let config_path = data.path().join("sanctuary.toml");
    std::fs::write(&config_path, toml)?;
    let args = sanctuary::cli::ServeArgs {
        config: Some(config_path),
        data_dir: Some(data.path().join("data")),
        ..Default::default()
    };
    let mut config = Config::load(&args)?;
    config.scout.projects = Vec::new();
    config.admin_token = Some("bench-admin-key".into());
    let state = AppState::start(config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let host = format!("http://{}", listener.local_addr()?);
    let app = sanctuary::app(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = reqwest::Client::new();

    let body = |stream: bool| json!({"model": "gpt-mock", "messages": [{"role": "user", "content": "Say hello"}], "stream": stream});
    let post = |url: String, body: Value| {
        let client = client.clone();
        async move {
            let response = client.post(url).json(&body).send().await?;
            anyhow::ensure!(response.status().is_success(), "{}", response.status());
            let _ = response.bytes().await?;
            Ok(())
        }
    };
    let request = ChatRequest {
        model: None,
        messages: vec![Message {
            role: Role::User,
            content: "Say hello".into(),
        }],
        max_tokens: None,
        temperature: None,
        streaming: false,
        context: None,
    };

    let direct_url = format!("{}/v1/chat/completions", upstream.base_url());
    let host_v1 = format!("{host}/v1/chat/completions");
    let host_chat = format!("{host}/api/chat/mama-bear");
    let mut rows = Vec::new();
    rows.push(
        time("direct to the upstream", CALLS, || {
            post(direct_url.clone(), body(false))
        })
        .await?,
    );
    rows.push(
        time("chat::answer (in-process)", CALLS, || {
            let state = state.clone();
            let request = request.clone();
            async move {
                let route = providers::named_route(&state.chat, "mama-bear")?;
                sanctuary::chat::answer(
                    &state.chat,
                    route,
                    request,
                    sanctuary::chat::Surface::Json,
                )
                .outcome()
                .await?;
                Ok(())
            }
        })
        .await?,
    );
    rows.push(
        time("POST /v1/chat/completions", CALLS, || {
            post(host_v1.clone(), body(false))
        })
        .await?,
    );
    rows.push(
        time("POST /api/chat/mama-bear (stores the turn)", CALLS, || {
            post(
                host_chat.clone(),
                json!({"message": "Say hello", "session_id": "bench"}),
            )
        })
        .await?,
    );
    rows.push(
        time("direct, streamed", STREAMED_CALLS, || {
            post(direct_url.clone(), body(true))
        })
        .await?,
    );
    rows.push(
        time(
            "POST /v1/chat/completions, streamed",
            STREAMED_CALLS,
            || post(host_v1.clone(), body(true)),
        )
        .await?,
    );

    let base = (
        percentile(&rows[0].samples, 0.5),
        percentile(&rows[0].samples, 0.99),
    );
    let streamed_base = (
        percentile(&rows[4].samples, 0.5),
        percentile(&rows[4].samples, 0.99),
    );
    println!("| path | calls | p50 ms | p99 ms | p50 overhead ms | p99 overhead ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (i, row) in rows.iter().enumerate() {
        let (p50, p99) = (
            percentile(&row.samples, 0.5),
            percentile(&row.samples, 0.99),
        );
        let (b50, b99) = if i >= 4 { streamed_base } else { base };
        let over = |a: Duration, b: Duration| {
            if i == 0 || i == 4 {
                "—".to_string()
            } else {
                format!("{:+.2}", (a.as_secs_f64() - b.as_secs_f64()) * 1000.0)
            }
        };
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.name,
            row.samples.len(),
            ms(p50),
            ms(p99),
            over(p50, b50),
            over(p99, b99)
        );
    }
    println!(
        "\nUpstream calls seen by the mock: {} (each host row reached it once per call).",
        upstream.hits()
    );
    Ok(())
}
