//! Jobs with owners and leases across two nodes: a node killed mid-job has its job taken
//! over by the other once the lease runs out; a node restarted while the other runs a job
//! leaves it alone (one provider call); a cancel sent to one node stops the run on the
//! other. The provider is `openai-compatible` against a mock upstream that counts calls.

use std::time::Duration;

use sanctuary_test_support::Server;
use sanctuary_test_support::mocks::{Behavior, Mock, Vendor};
use serde_json::json;

use super::{FOLLOW, Site, create_job, job, remote_config, wait_for_job};

/// A lease of three seconds (the least allowed), renewed every 600 ms.
const SHORT_LEASE: &str = "[jobs]\nlease_secs = 3\n";

/// Waits until `mock` has received `count` requests.
async fn hit(mock: &Mock, count: usize, nodes: [&Server; 2]) {
    super::followed(&format!("upstream request {count}"), nodes, || async {
        mock.hits() >= count
    })
    .await;
}

#[tokio::test]
async fn a_job_of_a_node_killed_mid_run_is_taken_over_by_the_other_once_its_lease_runs_out() {
    let mock = Mock::start(Vendor::OpenAi, "Written by the node that survived").await;
    mock.set(Behavior::Hang);
    let config = format!("{}\n{SHORT_LEASE}", remote_config(&mock));
    let Some(site) = Site::new(
        "a_job_of_a_node_killed_mid_run_is_taken_over_by_the_other_once_its_lease_runs_out",
        &config,
    )
    .await
    else {
        return;
    };
    let (a, b) = site.start_two().await;
    let job_id = create_job(&a, json!({ "prompt": "Survive a node", "route": "remote" })).await;
    hit(&mock, 1, [&a, &b]).await;
    let owner = site.job_owner(&job_id).await.expect("a node claimed it");
    let (killed, survivor) = if owner == 0 { (a, b) } else { (b, a) };
    let mut events = survivor.jobs_socket().await;

    killed.kill().await;
    mock.set(Behavior::Answer);
    let done = wait_for_job(&survivor, &job_id, FOLLOW, |job| {
        job["status"] == "completed"
    })
    .await;
    assert_eq!(done["attempts"], 2, "{done}");
    assert_eq!(done["results"]["content"], mock.reply(), "{done}");
    assert_eq!(mock.hits(), 2, "one provider call per attempt");
    survivor
        .wait_for_log(|line| {
            line.contains("took back a job whose node stopped renewing its lease")
                && line.contains(&job_id)
        })
        .await;
    // The survivor's clients saw it go back to the queue and run again there.
    let mut statuses = Vec::new();
    while statuses.last().map(String::as_str) != Some("completed") {
        let event = events.next_about(&job_id).await;
        statuses.push(
            event["job"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(
        statuses,
        ["pending", "in_progress", "completed"],
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_node_restarted_while_the_other_runs_a_job_leaves_it_alone_and_a_cancel_reaches_the_owner()
 {
    let mock = Mock::start(Vendor::OpenAi, "Written once").await;
    // Longer than three leases: the owner must renew it while the other node restarts.
    mock.set(Behavior::Delay(Duration::from_secs(10)));
    let config = format!("{}\n{SHORT_LEASE}", remote_config(&mock));
    let Some(site) = Site::new(
        "a_node_restarted_while_the_other_runs_a_job_leaves_it_alone_and_a_cancel_reaches_the_owner",
        &config,
    )
    .await
    else {
        return;
    };
    let (a, b) = site.start_two().await;
    let job_id = create_job(&a, json!({ "prompt": "Write me once", "route": "remote" })).await;
    hit(&mock, 1, [&a, &b]).await;
    let owner = site.job_owner(&job_id).await.expect("a node claimed it");
    let (running, other) = if owner == 0 { (a, b) } else { (b, a) };

    other.terminate().await;
    let other = site.start(1 - owner).await;
    other.wait_ready().await;
    assert_eq!(
        job(&other, &job_id).await["status"],
        "in_progress",
        "the restart came while the job ran"
    );
    let done = wait_for_job(&other, &job_id, FOLLOW * 2, |job| {
        job["status"] == "completed"
    })
    .await;
    assert_eq!(done["attempts"], 1, "{done}");
    assert_eq!(done["results"]["content"], mock.reply(), "{done}");
    assert_eq!(mock.hits(), 1, "one provider call, whatever the restarts");
    assert_eq!(
        site.job_owner(&job_id).await,
        Some(owner),
        "it ran where it started"
    );

    // A job running on one node, cancelled through the other: its run stops there.
    let nodes = if owner == 0 {
        [running, other]
    } else {
        [other, running]
    };
    mock.set(Behavior::Hang);
    let job_id = create_job(
        &nodes[0],
        json!({ "prompt": "Never mind", "route": "remote" }),
    )
    .await;
    hit(&mock, 2, [&nodes[0], &nodes[1]]).await;
    let owner = site.job_owner(&job_id).await.expect("a node claimed it");
    let (owning, asked) = (&nodes[owner], &nodes[1 - owner]);
    let (status, body) = asked
        .post(
            &format!("/api/jobs/{job_id}/cancel"),
            Some(super::ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    owning
        .wait_for_log(|line| {
            line.contains("job cancelled on another node; stopping its run here")
                && line.contains(&job_id)
        })
        .await;
    owning
        .wait_for_log(|line| line.contains("job run stopped: cancelled") && line.contains(&job_id))
        .await;
    let cancelled = job(owning, &job_id).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(mock.hits(), 2, "{cancelled}");
}
