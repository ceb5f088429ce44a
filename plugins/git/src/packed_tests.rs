//! The check on real repositories made with the `git` command line and then packed: by
//! `git gc` (offset deltas), by `git pack-objects` without `--delta-base-offset` (deltas
//! naming their base by id), and by cloning. Every object git lists must read back
//! byte for byte as `git cat-file` gives it, and the findings must match `git log`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::repo::Repo;

/// A temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sanctuary-git-pack-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("mkdir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs git in `dir`; its stdout.
fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=Scout",
            "-c",
            "user.email=scout@example.com",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        // A committer offset other than UTC, so the time is checked with its offset.
        .env("GIT_COMMITTER_DATE", "2024-03-01T12:34:56+02:00")
        .stdin(Stdio::null())
        .output()
        .expect("the git command line is installed (the scout tests need it)");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8").trim().to_string()
}

/// A repository with three commits, each editing a long file a little (so packing makes
/// deltas of it), in nested directories.
fn history(dir: &Path) {
    git(dir, &["init", "-q"]);
    let mut long: Vec<String> = (0..400)
        .map(|i| format!("line {i} of a long file"))
        .collect();
    fs::create_dir_all(dir.join("src/deep")).expect("mkdir");
    for (n, subject) in ["first commit", "second commit", "third: the subject"]
        .iter()
        .enumerate()
    {
        long[n * 100] = format!("edited in commit {n}");
        fs::write(dir.join("src/deep/long.txt"), long.join("\n")).expect("write");
        fs::write(dir.join("README.md"), format!("readme {n}\n")).expect("write");
        fs::write(dir.join("src/main.rs"), "fn main() {}\n").expect("write");
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", subject, "-m", "body text"]);
    }
}

/// No loose object is left (only `info` and `pack` under `objects`).
fn assert_all_packed(dir: &Path) {
    let loose: Vec<_> = fs::read_dir(dir.join(".git/objects"))
        .expect("objects")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name != "info" && name != "pack")
        .collect();
    assert!(loose.is_empty(), "loose objects remain: {loose:?}");
}

/// Every object of the repository reads back as git gives it.
fn assert_every_object_reads_back(dir: &Path) {
    let repo = Repo::open(dir).expect("readable").expect("a repository");
    assert!(!repo.packs.is_empty(), "no pack found");
    let listing = text(git(dir, &["rev-list", "--objects", "--all"]));
    let mut count = 0;
    for line in listing.lines() {
        let id = &line[..40];
        let kind = text(git(dir, &["cat-file", "-t", id]));
        let body = git(dir, &["cat-file", &kind, id]);
        let (read_kind, read_body) = repo
            .read_object(id)
            .unwrap_or_else(|e| panic!("{id}: {e}"))
            .unwrap_or_else(|| panic!("{id} not found"));
        assert_eq!(read_kind, kind, "{id}");
        assert_eq!(read_body, body, "{id}");
        count += 1;
    }
    assert!(count >= 12, "only {count} objects");
}

/// How many objects of the packs are stored as deltas (`git verify-pack -v`).
fn deltas(dir: &Path) -> usize {
    let mut total = 0;
    for entry in fs::read_dir(dir.join(".git/objects/pack")).expect("pack dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "idx") {
            let report = text(git(
                dir,
                &["verify-pack", "-v", path.to_str().expect("path")],
            ));
            total += report
                .lines()
                .filter(|l| l.split_whitespace().count() == 7)
                .count();
        }
    }
    total
}

/// The findings match `git log` and the tree is clean.
fn assert_findings_match_git(dir: &Path) {
    let findings = crate::inspect(dir);
    let info = findings.git.as_ref().expect("a git repository");
    assert_eq!(info.branch, "main");
    let expected = text(git(dir, &["log", "-1", "--format=%h %s", "--abbrev=7"]));
    assert_eq!(info.last_commit, expected, "{:?}", findings.notes);
    assert_eq!(
        findings.last_updated.as_deref(),
        Some(text(git(dir, &["log", "-1", "--format=%cI"])).as_str())
    );
    assert!(!info.dirty, "{:?}", findings.notes);
    assert_eq!(findings.notes, ["tracked files match the last commit"]);
}

#[test]
fn after_git_gc_the_branch_last_commit_and_time_are_read_from_the_pack() {
    let scratch = Scratch::new();
    let dir = &scratch.0;
    history(dir);
    git(dir, &["gc", "-q", "--aggressive", "--prune=now"]);
    assert_all_packed(dir);
    assert!(deltas(dir) > 0, "git gc made no deltas to resolve");
    assert_every_object_reads_back(dir);
    assert_findings_match_git(dir);
}

#[test]
fn deltas_naming_their_base_by_id_are_resolved() {
    let scratch = Scratch::new();
    let dir = &scratch.0;
    history(dir);
    // Without --delta-base-offset, pack-objects names each delta's base by id (REF_DELTA).
    let objects = git(dir, &["rev-list", "--objects", "--all"]);
    let mut pack = Command::new("git")
        .args([
            "pack-objects",
            "-q",
            "--window=50",
            ".git/objects/pack/pack",
        ])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("git pack-objects");
    std::io::Write::write_all(pack.stdin.as_mut().expect("stdin"), &objects).expect("feed");
    drop(pack.stdin.take());
    assert!(pack.wait().expect("waits").success());
    git(dir, &["prune-packed"]);
    assert_all_packed(dir);
    assert!(deltas(dir) > 0, "pack-objects made no deltas to resolve");
    assert_every_object_reads_back(dir);
    assert_findings_match_git(dir);
}

#[test]
fn a_fresh_clone_is_read_and_its_edits_and_staged_changes_are_dirty() {
    let scratch = Scratch::new();
    let source = scratch.0.join("source");
    fs::create_dir_all(&source).expect("mkdir");
    history(&source);
    git(
        &scratch.0,
        &["clone", "-q", "--no-local", "source", "clone"],
    );
    let dir = &scratch.0.join("clone");
    assert_all_packed(dir);
    assert_every_object_reads_back(dir);
    assert_findings_match_git(dir);

    // A staged change to a file in a nested directory: the index no longer matches the
    // commit's (packed) trees.
    fs::write(dir.join("src/deep/long.txt"), "replaced\n").expect("write");
    git(dir, &["add", "src/deep/long.txt"]);
    let findings = crate::inspect(dir);
    assert!(
        findings.git.as_ref().expect("git").dirty,
        "{:?}",
        findings.notes
    );

    // Back to the committed content, staged too: clean again.
    git(dir, &["checkout", "HEAD", "--", "src/deep/long.txt"]);
    let findings = crate::inspect(dir);
    assert!(
        !findings.git.as_ref().expect("git").dirty,
        "{:?}",
        findings.notes
    );
}
