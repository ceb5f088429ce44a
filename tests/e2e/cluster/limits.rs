//! What the nodes agree on without talking to each other directly: one rate-limit bucket
//! per client across the cluster (kept in Redis), and one admin key when they start
//! together on a fresh database.

use std::time::Instant;

use sanctuary_test_support::Server;
use serde_json::json;

use super::{ADMIN, Site};

/// Requests a second of `--rate-limit`; the burst is twice that.
const RATE: u32 = 5;

#[tokio::test]
async fn a_client_gets_the_configured_rate_from_the_two_nodes_together() {
    let Some(site) = Site::new(
        "a_client_gets_the_configured_rate_from_the_two_nodes_together",
        "",
    )
    .await
    else {
        return;
    };
    let site = site.arg("--rate-limit").arg(&RATE.to_string());
    let (a, b) = site.start_two().await;
    // A key of its own: a bucket no other client draws from.
    let (status, created) = a
        .post(
            "/api/auth/keys",
            Some(ADMIN),
            Some(&json!({ "name": "cluster-rate", "scopes": ["read"] })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().expect("the key").to_owned();

    // 30 requests at once, half through each node.
    let ping = |node: &Server| {
        node.client
            .get(node.url("/api/dev/ping"))
            .bearer_auth(&key)
            .send()
    };
    let started = Instant::now();
    let answers =
        futures::future::join_all((0..30).map(|i| ping(if i % 2 == 0 { &a } else { &b }))).await;
    let elapsed = started.elapsed();
    let statuses: Vec<u16> = answers
        .into_iter()
        .map(|r| r.expect("the node answers").status().as_u16())
        .collect();
    let allowed = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(allowed + refused, statuses.len(), "{statuses:?}");
    // The burst, plus what refilled while the requests were answered.
    let most = 2 * RATE as usize + (f64::from(RATE) * elapsed.as_secs_f64()).ceil() as usize;
    eprintln!("{allowed} of 30 allowed in {elapsed:?} (at most {most} for one shared bucket)");
    assert!(
        allowed <= most,
        "{allowed} allowed in {elapsed:?}: each node allowed its own burst; {statuses:?}"
    );
    assert!(allowed >= 1, "{statuses:?}");

    // Both nodes refused: the burst was spent through either.
    for (node, parity) in [("A", 0), ("B", 1)] {
        assert!(
            statuses
                .iter()
                .enumerate()
                .any(|(i, s)| i % 2 == parity && *s == 429),
            "{node} refused none: {statuses:?}"
        );
    }
}

#[tokio::test]
async fn nodes_starting_together_on_a_fresh_database_agree_on_one_admin_key() {
    let Some(site) = Site::new(
        "nodes_starting_together_on_a_fresh_database_agree_on_one_admin_key",
        "",
    )
    .await
    else {
        return;
    };
    let site = site.without_admin_token();
    let (a, b) = site.start_two().await;
    let generated = |node: &Server| {
        node.log_lines().into_iter().find_map(|line| {
            line.split_once("Admin key (shown once): ")
                .map(|(_, key)| key.trim().to_owned())
        })
    };
    let keys: Vec<String> = [&a, &b].into_iter().filter_map(generated).collect();
    assert_eq!(
        keys.len(),
        1,
        "one node generated the key: {keys:?}\nA:\n{}\nB:\n{}",
        a.log(),
        b.log()
    );
    for node in [&a, &b] {
        let (status, body) = node
            .post(
                "/api/auth/keys",
                Some(&keys[0]),
                Some(&json!({ "name": "agreed", "scopes": ["read"] })),
            )
            .await;
        assert_eq!(
            status, 201,
            "the generated key is the admin key here: {body}"
        );
        let (status, body) = node
            .post(
                "/api/auth/keys",
                Some("sk-sanctuary-not-the-key"),
                Some(&json!({ "name": "refused", "scopes": ["read"] })),
            )
            .await;
        assert_eq!(status, 401, "{body}");
    }
}

#[tokio::test]
async fn installations_with_their_own_redis_prefix_share_one_redis_but_no_buckets() {
    let test = "installations_with_their_own_redis_prefix_share_one_redis_but_no_buckets";
    let (Some(one), Some(other)) = (Site::new(test, "").await, Site::new(test, "").await) else {
        return;
    };
    assert_ne!(one.prefix, other.prefix);
    let rate = RATE.to_string();
    let (one, other) = (
        one.arg("--rate-limit").arg(&rate),
        other.arg("--rate-limit").arg(&rate),
    );
    let (a, b) = tokio::join!(one.start(0), other.start(0));
    // Anonymous requests from 127.0.0.1: the same client to both installations, so a
    // shared prefix would mean one bucket.
    async fn statuses(node: &Server) -> Vec<u16> {
        let mut statuses = Vec::new();
        for _ in 0..(2 * RATE) {
            let answer = node
                .client
                .get(node.url("/api/dev/ping"))
                .send()
                .await
                .expect("the node answers");
            statuses.push(answer.status().as_u16());
        }
        statuses
    }
    let first = statuses(&a).await;
    let second = statuses(&b).await;
    let allowed = |s: &[u16]| s.iter().filter(|s| **s == 200).count();
    assert!(
        allowed(&first) >= RATE as usize,
        "the first installation allowed its burst: {first:?}"
    );
    assert!(
        allowed(&second) >= RATE as usize,
        "the second installation's bucket was not drawn from by the first's clients: {second:?}"
    );
    // And each still enforces its own limit.
    let burst: Vec<u16> = futures::future::join_all(
        (0..(4 * RATE)).map(|_| b.client.get(b.url("/api/dev/ping")).send()),
    )
    .await
    .into_iter()
    .map(|r| r.expect("the node answers").status().as_u16())
    .collect();
    assert!(burst.contains(&429), "the limit holds: {burst:?}");
}
