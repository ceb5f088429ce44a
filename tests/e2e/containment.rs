//! A plugin fails only its own call, proven **during** the attack: the real binary runs
//! the hostile fixtures (`tests/fixtures/hostile-host`) while the test keeps calling the
//! host's own routes and another plugin, and checks they are served before the attack's
//! calls have ended. Afterwards the attack's calls carry the documented errors and the
//! audit names what was denied.

use std::time::Duration;

use serde_json::{Value, json};

use sanctuary_test_support::{Server, sanctuary};

const ADMIN: &str = "containment-admin";

/// A server with the admin key set and `hostile-host` uploaded.
async fn server_with_hostile_host() -> Server {
    let server = sanctuary!()
        .envs(&[("SANCTUARY_ADMIN_TOKEN", ADMIN)])
        .spawn()
        .await;
    server.upload_fixture("hostile-host", ADMIN).await;
    server
}

/// `POST /api/mcp/servers/{server}/tools/{tool}` → (status, body).
async fn tool(server: &Server, plugin: &str, tool: &str) -> (u16, Value) {
    let response = server
        .client
        .post(server.url(&format!("/api/mcp/servers/{plugin}/tools/{tool}")))
        .json(&json!({}))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("tool call");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The error code of a tool answer: `body.error.code` (a failed call, 200) or
/// `body.details.code` (a refused one, 429/503).
fn code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .or_else(|| body["details"]["code"].as_str())
        .unwrap_or("")
}

/// While `attack` runs, the host's own routes and another plugin answer, and the attack
/// is still running when they have.
async fn served_during<T: Send + 'static>(server: &Server, attack: &tokio::task::JoinHandle<T>) {
    for round in 0..10 {
        let ping = server
            .client
            .get(server.url("/api/dev/ping"))
            .send()
            .await
            .expect("ping");
        assert_eq!(ping.status(), 200, "ping {round} during the attack");
        let (status, body) = tool(server, "time", "current_time").await;
        assert_eq!(status, 200, "the time plugin during the attack: {body}");
        assert_eq!(body["is_error"], false, "{body}");
        let (status, body) = tool(server, "hostile-host", "echo").await;
        // Its own budget may be full of the attack's calls: busy is the documented answer.
        assert!(
            status == 200 || (status == 503 && code(&body) == "busy"),
            "the attacker's other tool: {status} {body}"
        );
    }
    let health = server
        .client
        .get(server.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200, "/health during the attack");
    assert!(
        !attack.is_finished(),
        "the attack was still running while the host answered"
    );
}

async fn audit(server: &Server, plugin: &str, kind: &str) -> Value {
    let response = server
        .client
        .get(server.url(&format!("/api/plugins/{plugin}/audit?kind={kind}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("audit");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// The audit is written in the background: waits until `kind` has an entry.
async fn audited(server: &Server, plugin: &str, kind: &str) -> Value {
    for _ in 0..100 {
        let page = audit(server, plugin, kind).await;
        if page["total"].as_u64().unwrap_or(0) > 0 {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no `{kind}` denial of {plugin} was audited");
}

#[tokio::test]
async fn spinning_calls_past_the_budget_are_busy_and_never_stop_the_host() {
    let server = server_with_hostile_host().await;
    // 4 run, 4 wait, the rest are told at once that the plugin is busy.
    let calls: Vec<_> = (0..24)
        .map(|_| {
            let client = server.client.clone();
            let url = server.url("/api/mcp/servers/hostile-host/tools/spin");
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .json(&json!({}))
                    .send()
                    .await
                    .expect("spin");
                let status = response.status().as_u16();
                (
                    status,
                    response.json::<Value>().await.unwrap_or(Value::Null),
                )
            })
        })
        .collect();
    let attack = tokio::spawn(futures::future::join_all(calls));
    served_during(&server, &attack).await;

    let outcomes = attack.await.expect("join");
    let mut timeouts = 0;
    let mut busy = 0;
    for outcome in outcomes {
        let (status, body) = outcome.expect("join");
        match (status, code(&body)) {
            (200, "timeout") => timeouts += 1,
            (503, "busy") => {
                assert!(
                    body["message"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("hostile-host"),
                    "the busy answer names the plugin: {body}"
                );
                busy += 1;
            }
            other => panic!("a spin call ended as {other:?}: {body}"),
        }
    }
    assert!(timeouts >= 4, "the running calls hit their time cap");
    assert!(busy >= 16, "calls past slots and queue were busy ({busy})");

    let page = audited(&server, "hostile-host", "budget").await;
    assert!(
        page["entries"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("max_concurrent"),
        "{page}"
    );
    audited(&server, "hostile-host", "cap").await;
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(r#"sanctuary_plugin_denials_total{plugin="hostile-host",kind="budget"}"#),
        "denials are counted"
    );
    // The attacker itself answers again once its calls are over.
    let (status, body) = tool(&server, "hostile-host", "echo").await;
    assert_eq!((status, body["is_error"].clone()), (200, json!(false)));
}

#[tokio::test]
async fn host_held_memory_storage_logs_and_secrets_fail_only_the_attackers_call() {
    let server = server_with_hostile_host().await;
    for (attack_tool, expected, denial) in [
        ("fields", "memory_cap", "cap"),
        ("kv_flood", "quota", "quota"),
        ("log_flood", "timeout", "budget"),
    ] {
        let attack = {
            let client = server.client.clone();
            let url = server.url(&format!(
                "/api/mcp/servers/hostile-host/tools/{attack_tool}"
            ));
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .json(&json!({}))
                    .send()
                    .await
                    .expect("call");
                let status = response.status().as_u16();
                (
                    status,
                    response.json::<Value>().await.unwrap_or(Value::Null),
                )
            })
        };
        // `fields` and `kv_flood` are stopped within a tick of overrunning; the host is
        // checked during the longer `log_flood`, and after each.
        if attack_tool == "log_flood" {
            served_during(&server, &attack).await;
        }
        let (status, body) = attack.await.expect("join");
        assert_eq!(status, 200, "{attack_tool}: {body}");
        assert_eq!(code(&body), expected, "{attack_tool}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("hostile-host"),
            "{body}"
        );
        audited(&server, "hostile-host", denial).await;
        let (status, _) = tool(&server, "time", "current_time").await;
        assert_eq!(status, 200, "another plugin after {attack_tool}");
    }

    let (status, body) = tool(&server, "hostile-host", "secret").await;
    assert_eq!(status, 200);
    assert_eq!(body["content"][0]["text"], "refused", "{body}");
    let page = audited(&server, "hostile-host", "secret").await;
    assert!(
        page["entries"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("SANCTUARY_ADMIN_TOKEN"),
        "{page}"
    );
    // Anonymous callers cannot read the audit.
    let anonymous = server
        .client
        .get(server.url("/api/plugins/hostile-host/audit"))
        .send()
        .await
        .expect("audit");
    assert_eq!(anonymous.status(), 401);
}
