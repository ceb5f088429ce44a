//! The `git` scout check: reads the project's `.git` directly (the sandbox runs no
//! processes, so there is no git binary) and reports the current branch, the last commit
//! and whether tracked files differ from it.
//!
//! The parsing lives in plain functions over bytes (`refs`, `object`, `index`) so it
//! is tested natively; `repo` and `status` add the file reads.

mod index;
mod object;
mod pack;
mod refs;
mod repo;
mod status;

use std::path::Path;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use sanctuary_plugin_api::PluginError;
use sanctuary_plugin_api::scout::{Findings, GitInfo, Project, ScoutCheck};

use crate::repo::Repo;
use crate::status::Staged;

/// Score of a clean repository.
const CLEAN_SCORE: f32 = 100.0;
/// Score of a repository with uncommitted changes to tracked files.
const DIRTY_SCORE: f32 = 80.0;
/// How many changed paths a note names.
const NAMED_CHANGES: usize = 5;

struct Git;

impl ScoutCheck for Git {
    fn check(project: Project) -> Result<Findings, PluginError> {
        let root = Path::new(&project.path);
        if !root.is_dir() {
            return Err(PluginError::failed(format!(
                "project directory `{}` is not readable (is `project_dir` granted?)",
                project.path
            )));
        }
        Ok(inspect(root))
    }
}

sanctuary_plugin_api::export!(scout: Git);

/// Everything this check finds in the worktree at `root`.
fn inspect(root: &Path) -> Findings {
    let repo = match Repo::open(root) {
        Ok(Some(repo)) => repo,
        Ok(None) => return Findings::default().with_note("not a git repository"),
        Err(reason) => {
            return Findings::default().with_note(format!("git repository not readable: {reason}"));
        }
    };
    let head = match repo.head() {
        Ok(head) => head,
        Err(reason) => {
            return Findings::default().with_note(format!("git HEAD not readable: {reason}"));
        }
    };
    let mut notes = Vec::new();

    // The last commit: its subject and time when the object is loose.
    let mut last_commit = String::new();
    let mut last_updated = None;
    let mut head_tree = None;
    match &head.commit {
        None => notes.push(format!("no commits yet on {}", head.branch)),
        Some(id) => {
            last_commit = id.chars().take(7).collect();
            match repo.read_object(id) {
                Ok(Some((kind, body))) if kind == "commit" => match object::parse_commit(&body) {
                    Ok(commit) => {
                        if !commit.subject.is_empty() {
                            last_commit = format!("{last_commit} {}", commit.subject);
                        }
                        last_updated = commit.committed.and_then(rfc3339);
                        head_tree = Some(commit.tree);
                    }
                    Err(reason) => notes.push(format!("last commit not readable: {reason}")),
                },
                Ok(Some((kind, _))) => notes.push(format!("HEAD names a {kind}, not a commit")),
                Ok(None) => notes.push(format!("last commit {last_commit} is missing")),
                Err(reason) => notes.push(format!("last commit not readable: {reason}")),
            }
        }
    }

    let dirty = match read_index(&repo) {
        Err(reason) => {
            notes.push(format!(
                "index not readable ({reason}): dirty state unknown"
            ));
            false
        }
        Ok((index, index_mtime)) => {
            let changed = status::worktree_changes(&repo, &index, index_mtime);
            if !changed.is_empty() {
                let mut names = changed
                    .iter()
                    .take(NAMED_CHANGES)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                if changed.len() > NAMED_CHANGES {
                    names.push_str(", ...");
                }
                notes.push(format!(
                    "{} tracked file(s) changed: {names}",
                    changed.len()
                ));
            }
            if index.split {
                notes.push("split index: only part of the tracked files were compared".into());
            }
            // An unborn branch compares the index with nothing; a commit whose object
            // could not be read cannot be compared at all.
            let staged = match (&head.commit, &head_tree) {
                (Some(_), None) => Staged::Unknown("the last commit was not read".into()),
                _ => status::staged(&repo, &index, head_tree.as_deref()),
            };
            match &staged {
                Staged::Same => {}
                Staged::Changed => notes.push("changes staged for commit".into()),
                Staged::Unknown(reason) => {
                    notes.push(format!("staged changes not checked: {reason}"))
                }
            }
            !changed.is_empty() || staged == Staged::Changed
        }
    };
    if !dirty && notes.is_empty() {
        notes.push("tracked files match the last commit".into());
    }

    Findings {
        git: Some(GitInfo {
            branch: head.branch,
            last_commit,
            dirty,
        }),
        score: Some(if dirty { DIRTY_SCORE } else { CLEAN_SCORE }),
        last_updated,
        notes,
        ..Findings::default()
    }
}

/// The index (empty when the file does not exist yet) and its own modification time.
fn read_index(repo: &Repo) -> Result<(index::Index, Option<(u64, u32)>), String> {
    let path = repo.git_dir.join("index");
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let empty = index::Index {
                version: 2,
                entries: Vec::new(),
                cached_root_tree: None,
                split: false,
            };
            return Ok((empty, None));
        }
        Err(err) => return Err(status::describe(&err)),
    };
    let mtime = std::fs::metadata(&path)
        .ok()
        .and_then(|meta| status::mtime(&meta))
        .map(|(secs, nanos)| (u64::from(secs), nanos));
    Ok((index::parse(&bytes, repo.hash.len())?, mtime))
}

/// A committer time as RFC 3339 in the committer's own offset.
fn rfc3339((seconds, offset_minutes): (i64, i32)) -> Option<String> {
    let offset = FixedOffset::east_opt(offset_minutes * 60)?;
    let time = DateTime::from_timestamp(seconds, 0)?.with_timezone(&offset);
    Some(time.to_rfc3339_opts(SecondsFormat::Secs, false))
}

#[cfg(test)]
mod packed_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A throwaway worktree holding a copy of `testdata/dotgit` as `.git` and the files of
    /// its commit (with fresh modification times, so the check must hash them).
    struct Worktree(PathBuf);

    impl Worktree {
        fn new() -> Worktree {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "sanctuary-git-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            copy_dir(
                &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/dotgit"),
                &dir.join(".git"),
            );
            let worktree = Worktree(dir);
            worktree.write("README.md", "hello\n");
            worktree.write("src/main.rs", "fn main() {}\n");
            worktree.write("src/deep/a.txt", "x\n");
            worktree
        }

        fn write(&self, path: &str, text: &str) {
            let path = self.0.join(path);
            fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
            fs::write(path, text).expect("write");
        }
    }

    impl Drop for Worktree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn copy_dir(from: &Path, to: &Path) {
        fs::create_dir_all(to).expect("mkdir");
        for entry in fs::read_dir(from).expect("read_dir") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("type").is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                fs::copy(entry.path(), &target).expect("copy");
            }
        }
    }

    fn git(findings: &Findings) -> &GitInfo {
        findings.git.as_ref().expect("a git repository")
    }

    #[test]
    fn a_checkout_matching_the_commit_is_clean() {
        let tree = Worktree::new();
        let findings = inspect(&tree.0);
        assert_eq!(git(&findings).branch, "trunk");
        assert_eq!(git(&findings).last_commit, "3e91865 first commit");
        assert!(!git(&findings).dirty, "{:?}", findings.notes);
        assert_eq!(findings.score, Some(CLEAN_SCORE));
        assert_eq!(
            findings.last_updated.as_deref(),
            Some("2023-11-14T23:13:20+01:00")
        );
    }

    #[test]
    fn a_modified_file_of_the_same_size_is_dirty() {
        let tree = Worktree::new();
        tree.write("README.md", "HELLO\n");
        let findings = inspect(&tree.0);
        assert!(git(&findings).dirty);
        assert_eq!(findings.score, Some(DIRTY_SCORE));
        assert!(
            findings.notes.iter().any(|n| n.contains("README.md")),
            "{:?}",
            findings.notes
        );
    }

    #[test]
    fn a_deleted_tracked_file_is_dirty_and_an_untracked_one_is_ignored() {
        let tree = Worktree::new();
        tree.write("untracked.txt", "new\n");
        assert!(!git(&inspect(&tree.0)).dirty);
        fs::remove_file(tree.0.join("src/deep/a.txt")).expect("remove");
        let findings = inspect(&tree.0);
        assert!(git(&findings).dirty);
        assert!(
            findings.notes.iter().any(|n| n.contains("src/deep/a.txt")),
            "{:?}",
            findings.notes
        );
    }

    #[test]
    fn a_detached_head_is_reported_as_head() {
        let tree = Worktree::new();
        tree.write(".git/HEAD", "3e9186549c8208fb71bd722d56c94ba49296d735\n");
        let findings = inspect(&tree.0);
        assert_eq!(git(&findings).branch, "HEAD");
        assert_eq!(git(&findings).last_commit, "3e91865 first commit");
    }

    #[test]
    fn a_missing_commit_object_is_reported_by_its_short_id() {
        let tree = Worktree::new();
        fs::remove_file(
            tree.0
                .join(".git/objects/3e/9186549c8208fb71bd722d56c94ba49296d735"),
        )
        .expect("remove");
        let findings = inspect(&tree.0);
        assert_eq!(git(&findings).last_commit, "3e91865");
        assert_eq!(findings.last_updated, None);
        assert!(
            findings.notes.iter().any(|n| n.contains("missing")),
            "{:?}",
            findings.notes
        );
    }

    #[test]
    fn a_staged_change_is_dirty_even_when_the_worktree_matches_the_index() {
        let tree = Worktree::new();
        // `git add` of README.md changed to HELLO: the index no longer holds the commit's
        // tree, while the worktree file matches the index.
        fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/index-staged"),
            tree.0.join(".git/index"),
        )
        .expect("copy index");
        tree.write("README.md", "HELLO\n");
        let findings = inspect(&tree.0);
        assert!(git(&findings).dirty);
        assert_eq!(findings.notes, ["changes staged for commit"]);
    }

    #[test]
    fn an_intent_to_add_entry_is_dirty() {
        let tree = Worktree::new();
        fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/index-v3"),
            tree.0.join(".git/index"),
        )
        .expect("copy index");
        tree.write("added.txt", "new\n");
        assert!(git(&inspect(&tree.0)).dirty);
    }

    #[test]
    fn an_unborn_branch_has_no_last_commit() {
        let tree = Worktree::new();
        tree.write(".git/HEAD", "ref: refs/heads/fresh\n");
        fs::remove_file(tree.0.join(".git/index")).expect("remove");
        let findings = inspect(&tree.0);
        assert_eq!(git(&findings).branch, "fresh");
        assert_eq!(git(&findings).last_commit, "");
        assert!(!git(&findings).dirty);
        assert!(
            findings.notes.iter().any(|n| n.contains("no commits yet")),
            "{:?}",
            findings.notes
        );
    }

    #[test]
    fn a_plain_directory_is_not_a_repository() {
        let tree = Worktree::new();
        let plain = tree.0.join("src");
        let findings = inspect(&plain);
        assert!(findings.git.is_none());
        assert_eq!(findings.score, None);
        assert_eq!(findings.notes, ["not a git repository"]);
    }
}
