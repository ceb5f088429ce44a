//! The scout agent over a real git repository, and the system metrics.

use serde_json::Value;

use super::support::{git, project, start};

#[tokio::test]
async fn a_real_git_repository_is_reported_with_every_check_merged() {
    let repo = tempfile::tempdir().expect("tempdir");
    let dir = repo.path();
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n[dependencies]\nserde = \"1\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("Cargo.lock"),
        "version = 4\n[[package]]\nname = \"serde\"\nversion = \"1.0.0\"\n",
    )
    .expect("write");
    std::fs::write(dir.join("README.md"), "demo\n").expect("write");
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "first commit"]);

    let path = dir.to_path_buf();
    let missing = dir.join("missing");
    let fx = start(move |config| {
        config.scout.projects = vec![project("demo", &path), project("gone", &missing)];
        // Every request checks anew (the default shares a status for 2 s).
        config.scout.status_ttl_ms = 0;
    })
    .await;
    let server = &fx.server;

    let (status, body) = server.get("/api/v1/scout_agent/projects/demo/status").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "demo");
    assert_eq!(body["status"], "active", "{body}");
    assert_eq!(body["git"]["branch"], "main");
    assert!(
        body["git"]["last_commit"]
            .as_str()
            .is_some_and(|c| c.ends_with("first commit")),
        "{body}"
    );
    assert_eq!(body["git"]["dirty"], false);
    assert_eq!(body["dependencies"]["total"], 1);
    assert_eq!(body["dependencies"]["installed"], 1);
    assert_eq!(body["dependencies"]["outdated"], Value::Array(vec![]));
    // No build outputs: the build check knows nothing, and says so.
    assert_eq!(body["build"]["last_build"], "");
    for check in ["git", "dependencies", "build"] {
        assert_eq!(body["checks"][check]["status"], "ok", "{check}: {body}");
    }
    assert_eq!(body["checks"]["git"]["provides"][0], "git");
    // git 100 (clean) and dependencies 100 (all resolved); build gives no score.
    assert_eq!(body["health_score"], 100.0);
    assert!(body["last_updated"].as_str().is_some_and(|t| !t.is_empty()));
    for (part, key) in [
        ("performance", "build_time"),
        ("performance", "memory_usage"),
        ("performance", "cpu_usage"),
        ("build", "success"),
        ("build", "errors"),
    ] {
        assert!(body[part].get(key).is_some(), "{part}.{key}");
    }

    // A tracked file changes: the repository is dirty and scores less.
    std::fs::write(dir.join("README.md"), "demo, changed\n").expect("write");
    let (_, body) = server.get("/api/v1/scout_agent/projects/demo/status").await;
    assert_eq!(body["git"]["dirty"], true, "{body}");
    assert!(body["health_score"].as_f64().is_some_and(|s| s < 100.0));

    let (status, projects) = server.get("/api/v1/scout_agent/projects").await;
    assert_eq!(status, 200);
    let projects = projects.as_array().expect("an array");
    assert_eq!(projects.len(), 2);
    assert_eq!(projects[0]["name"], "demo");
    assert_eq!(projects[0]["dependencies"], serde_json::json!(["serde"]));
    assert_eq!(projects[1]["name"], "gone");
    assert_eq!(projects[1]["status"], "error");

    let (status, body) = server.get("/api/v1/scout_agent/projects/nope/status").await;
    assert_eq!(status, 404);
    assert_eq!(body["success"], false);
}

#[tokio::test]
async fn a_repository_after_git_gc_is_read_from_its_pack_files() {
    let repo = tempfile::tempdir().expect("tempdir");
    let dir = repo.path();
    git(dir, &["init", "-q", "-b", "main"]);
    let mut long: Vec<String> = (0..300).map(|i| format!("line {i}")).collect();
    for subject in ["first commit", "second commit"] {
        long[0] = subject.to_string();
        std::fs::write(dir.join("notes.txt"), long.join("\n")).expect("write");
        std::fs::create_dir_all(dir.join("src")).expect("mkdir");
        std::fs::write(dir.join("src/lib.rs"), format!("// {subject}\n")).expect("write");
        git(dir, &["add", "."]);
        git(dir, &["commit", "-q", "-m", subject]);
    }
    git(dir, &["gc", "-q", "--prune=now"]);
    // Every object is packed now: none is left loose.
    let loose = std::fs::read_dir(dir.join(".git/objects"))
        .expect("objects")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != "info" && e.file_name() != "pack")
        .count();
    assert_eq!(loose, 0);
    let committed = std::process::Command::new("git")
        .args(["log", "-1", "--format=%h"])
        .current_dir(dir)
        .output()
        .expect("git log");
    let short = String::from_utf8_lossy(&committed.stdout)
        .trim()
        .to_string();

    let path = dir.to_path_buf();
    let fx = start(move |config| {
        config.scout.projects = vec![project("packed", &path)];
        config.scout.status_ttl_ms = 0;
    })
    .await;
    let server = &fx.server;
    let (status, body) = server
        .get("/api/v1/scout_agent/projects/packed/status")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["git"]["branch"], "main");
    assert_eq!(
        body["git"]["last_commit"],
        format!("{short} second commit"),
        "{body}"
    );
    assert_eq!(body["git"]["dirty"], false, "{body}");
    // The commit's own time (read from the packed commit), in UTC.
    let time = std::process::Command::new("git")
        .args([
            "log",
            "-1",
            "--date=format-local:%Y-%m-%dT%H:%M:%S",
            "--format=%cd",
        ])
        .env("TZ", "UTC")
        .current_dir(dir)
        .output()
        .expect("git log");
    let time = String::from_utf8_lossy(&time.stdout).trim().to_string();
    assert!(
        body["last_updated"]
            .as_str()
            .is_some_and(|t| t.starts_with(&time)),
        "{time}: {body}"
    );
    assert_eq!(
        body["checks"]["git"]["notes"],
        serde_json::json!(["tracked files match the last commit"]),
        "{body}"
    );

    // A change staged in a subdirectory is seen against the commit's packed trees.
    std::fs::write(dir.join("src/lib.rs"), "// staged\n").expect("write");
    git(dir, &["add", "src/lib.rs"]);
    let (_, body) = server
        .get("/api/v1/scout_agent/projects/packed/status")
        .await;
    assert_eq!(body["git"]["dirty"], true, "{body}");
}

#[tokio::test]
async fn a_directory_that_is_no_repository_and_has_nothing_is_inactive() {
    let empty = tempfile::tempdir().expect("tempdir");
    let path = empty.path().to_path_buf();
    let fx = start(move |config| config.scout.projects = vec![project("empty", &path)]).await;
    let (status, body) = fx
        .server
        .get("/api/v1/scout_agent/projects/empty/status")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "inactive", "{body}");
    assert_eq!(body["health_score"], 0.0);
    assert!(
        body["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n == "git: not a git repository")),
        "{body}"
    );
}

#[tokio::test]
async fn system_metrics_describe_this_machine() {
    let fx = start(|_| {}).await;
    let (status, body) = fx.server.get("/api/v1/scout_agent/system/metrics").await;
    assert_eq!(status, 200);
    assert!(body["cpu"]["cores"].as_u64().is_some_and(|c| c >= 1));
    assert!(
        body["memory"]["total_bytes"]
            .as_u64()
            .is_some_and(|t| t > 0)
    );
    assert!(
        body["memory"]["host_process_bytes"]
            .as_u64()
            .is_some_and(|t| t > 0)
    );
    assert!(body["disk"].is_array() && body["network"].is_object());
    assert!(body["timestamp"].is_string());
}

#[tokio::test]
async fn a_status_is_shared_within_the_ttl_and_checked_anew_after_a_plugin_change() {
    let repo = tempfile::tempdir().expect("tempdir");
    let dir = repo.path();
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("README.md"), "demo\n").expect("write");
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "first commit"]);
    let path = dir.to_path_buf();
    let fx = start(move |config| {
        config.scout.projects = vec![project("demo", &path)];
        config.scout.status_ttl_ms = 600_000;
    })
    .await;
    let server = &fx.server;
    let git_calls = || {
        server
            .state
            .plugins
            .get("git")
            .expect("the git check is loaded")
            .plugin
            .stats
            .snapshot()
            .calls
    };
    let before = git_calls();
    let answers = futures::future::join_all(
        (0..20).map(|_| server.get("/api/v1/scout_agent/projects/demo/status")),
    )
    .await;
    assert!(
        answers
            .iter()
            .all(|(s, b)| *s == 200 && b["git"]["dirty"] == false)
    );
    assert_eq!(
        git_calls(),
        before + 1,
        "one run for 20 concurrent requests"
    );

    // Within the TTL a change on disk is not seen yet (the documented trade)...
    std::fs::write(dir.join("README.md"), "demo, changed\n").expect("write");
    let (_, body) = server.get("/api/v1/scout_agent/projects/demo/status").await;
    assert_eq!(body["git"]["dirty"], false, "{body}");
    // ...but a reloaded check is never answered for by a run of the old one.
    let git = server.state.plugins.get("git").expect("loaded");
    server
        .state
        .plugins
        .load_dir(&git.dir)
        .await
        .expect("the git check reloads");
    let (_, body) = server.get("/api/v1/scout_agent/projects/demo/status").await;
    assert_eq!(body["git"]["dirty"], true, "{body}");
}
