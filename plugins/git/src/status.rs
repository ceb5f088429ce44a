//! Whether tracked files differ from the last commit, in two halves:
//! - the worktree against the index: each tracked file's size, then its modification
//!   time, then, only when those cannot settle it, the hash of its content;
//! - the index against the commit's tree (changes staged but not committed), from the
//!   index's cache tree or by walking loose tree objects.
//!
//! Untracked files are not considered, nor are executable-bit changes (WASI exposes no
//! permission bits).

use std::collections::BTreeMap;
use std::fs::{self, File, Metadata};
use std::io;
use std::time::UNIX_EPOCH;

use crate::index::{Entry, Index};
use crate::repo::Repo;

/// Index mode of a symbolic link.
const SYMLINK: u32 = 0o120000;
/// Index mode of a submodule (a commit id, not a file).
const GITLINK: u32 = 0o160000;
/// Mode bits giving an object's type.
const TYPE_MASK: u32 = 0o170000;
/// Tree-entry mode of a subtree.
const TREE: u32 = 0o40000;

/// Result of comparing the index with the last commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staged {
    /// The index holds exactly the commit's tree.
    Same,
    /// Something is staged.
    Changed,
    /// Could not tell, and why.
    Unknown(String),
}

/// Tracked paths whose worktree file differs from the index: modified, deleted,
/// replaced by another kind of file, added with `git add -N`, or in conflict.
pub fn worktree_changes(
    repo: &Repo,
    index: &Index,
    index_mtime: Option<(u64, u32)>,
) -> Vec<String> {
    let mut changed: Vec<String> = Vec::new();
    for entry in &index.entries {
        if changed.last() == Some(&entry.path) {
            continue; // the other stages of a conflicted path
        }
        if entry_differs(repo, entry, index_mtime) {
            changed.push(entry.path.clone());
        }
    }
    changed
}

fn entry_differs(repo: &Repo, entry: &Entry, index_mtime: Option<(u64, u32)>) -> bool {
    if entry.stage != 0 || entry.intent_to_add {
        return true;
    }
    if entry.skip_worktree || entry.mode & TYPE_MASK == GITLINK {
        return false;
    }
    let path = repo.worktree.join(&entry.path);
    let Ok(meta) = fs::symlink_metadata(&path) else {
        return true; // deleted (or unreadable, which git would also report)
    };
    let is_link = entry.mode & TYPE_MASK == SYMLINK;
    if meta.file_type().is_symlink() != is_link || (!is_link && !meta.is_file()) {
        return true;
    }
    // The index keeps the size modulo 2^32.
    if meta.len() as u32 != entry.size {
        return true;
    }
    let unchanged_stat = mtime(&meta) == Some(entry.mtime);
    // "Racy" entries: a file modified in the same instant the index was written may have
    // changed after git hashed it even though its time matches, so hash it.
    let racy = index_mtime.is_none_or(|index| (u64::from(entry.mtime.0), entry.mtime.1) >= index);
    if unchanged_stat && !racy {
        return false;
    }
    content_id(repo, &path, &meta, is_link).is_none_or(|id| id != entry.id)
}

/// The blob id of the file (or symlink target) at `path`; `None` if unreadable.
fn content_id(
    repo: &Repo,
    path: &std::path::Path,
    meta: &Metadata,
    is_link: bool,
) -> Option<String> {
    if is_link {
        let target = fs::read_link(path).ok()?;
        let target = target.to_string_lossy();
        let mut bytes = target.as_bytes();
        return repo.hash.blob_id(bytes.len() as u64, &mut bytes).ok();
    }
    let mut file = File::open(path).ok()?;
    repo.hash.blob_id(meta.len(), &mut file).ok()
}

/// Modification time as the index stores it: seconds (truncated to 32 bits) and
/// nanoseconds.
pub fn mtime(meta: &Metadata) -> Option<(u32, u32)> {
    let since = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some((since.as_secs() as u32, since.subsec_nanos()))
}

/// Compares the index's stage-0 content with `head_tree` (`None`: no commit yet).
pub fn staged(repo: &Repo, index: &Index, head_tree: Option<&str>) -> Staged {
    let Some(head_tree) = head_tree else {
        return if index.entries.is_empty() {
            Staged::Same
        } else {
            Staged::Changed
        };
    };
    if index.cached_root_tree.as_deref() == Some(head_tree) {
        return Staged::Same;
    }
    if index.split {
        return Staged::Unknown("the index is split".into());
    }
    let mut committed = BTreeMap::new();
    if let Err(reason) = flatten_tree(repo, head_tree, "", &mut committed) {
        return Staged::Unknown(reason);
    }
    let staged: BTreeMap<&str, (u32, &str)> = index
        .entries
        .iter()
        .filter(|e| e.stage == 0 && !e.intent_to_add)
        .map(|e| (e.path.as_str(), (e.mode, e.id.as_str())))
        .collect();
    let same = staged.len() == committed.len()
        && staged.iter().all(|(path, (mode, id))| {
            committed
                .get(*path)
                .is_some_and(|(m, i): &(u32, String)| m == mode && i == id)
        });
    if same { Staged::Same } else { Staged::Changed }
}

/// Adds every file under tree `id` to `out` as `path → (mode, blob id)`.
fn flatten_tree(
    repo: &Repo,
    id: &str,
    prefix: &str,
    out: &mut BTreeMap<String, (u32, String)>,
) -> Result<(), String> {
    let (kind, body) = repo
        .read_object(id)?
        .ok_or_else(|| format!("tree {id} is missing"))?;
    if kind != "tree" {
        return Err(format!("object {id} is a {kind}, not a tree"));
    }
    for entry in crate::object::parse_tree(&body, repo.hash.len())? {
        let path = format!("{prefix}{}", entry.name);
        if entry.mode == TREE {
            flatten_tree(repo, &entry.id, &format!("{path}/"), out)?;
        } else {
            out.insert(path, (entry.mode, entry.id));
        }
    }
    Ok(())
}

/// Describes an I/O error briefly for a note.
pub fn describe(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => "not found".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}
