//! The filesystem side: the directories the host pre-opened, and listing, reading,
//! searching and writing inside them, with every I/O error turned into a typed
//! [`PluginError`] naming the path.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};

use sanctuary_plugin_api::PluginError;
use serde::Serialize;

use crate::paths::{Links, NamePattern};

/// Entries `search_files` visits at most, whatever it finds.
pub const SEARCH_VISIT_LIMIT: usize = 10_000;
/// Directory depth `search_files` descends at most.
const SEARCH_DEPTH: usize = 32;

/// The guest paths of the directories the host pre-opened for this plugin (its grants),
/// normalised and sorted.
pub fn granted_dirs() -> Vec<String> {
    #[cfg(target_os = "wasi")]
    let mut dirs: Vec<String> = wasip2::filesystem::preopens::get_directories()
        .into_iter()
        .filter_map(|(_, path)| crate::paths::normalize("/", &path).ok())
        .collect();
    #[cfg(not(target_os = "wasi"))]
    let mut dirs: Vec<String> = Vec::new();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Symlinks as the sandbox shows them.
pub struct RealLinks;

impl Links for RealLinks {
    fn read_link(&self, path: &str) -> Option<String> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        if !meta.file_type().is_symlink() {
            return None;
        }
        std::fs::read_link(path)
            .ok()
            .map(|target| target.to_string_lossy().into_owned())
    }
}

/// One directory entry.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// File name.
    pub name: String,
    /// `file`, `directory`, `symlink` or `other`.
    pub kind: &'static str,
    /// Size in bytes (files).
    pub size: u64,
}

/// The entries of directory `dir`, sorted by name.
pub fn list(dir: &str) -> Result<Vec<Entry>, PluginError> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_error(e, dir, "list"))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(e, dir, "list"))?;
        let meta = entry.metadata().map_err(|e| io_error(e, dir, "list"))?;
        let kind = kind_of(&meta.file_type());
        out.push(Entry {
            name: entry.file_name().to_string_lossy().into_owned(),
            kind,
            size: if kind == "file" { meta.len() } else { 0 },
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn kind_of(ty: &std::fs::FileType) -> &'static str {
    if ty.is_symlink() {
        "symlink"
    } else if ty.is_dir() {
        "directory"
    } else if ty.is_file() {
        "file"
    } else {
        "other"
    }
}

/// What `read` read.
pub struct ReadText {
    /// The text (whole characters only).
    pub text: String,
    /// Bytes of the file shown.
    pub shown: usize,
    /// Size of the file.
    pub size: u64,
    /// Whether the file is longer than what is shown.
    pub truncated: bool,
}

/// Reads at most `max` bytes of text file `path`.
pub fn read(path: &str, max: u64) -> Result<ReadText, PluginError> {
    let file = std::fs::File::open(path).map_err(|e| io_error(e, path, "read"))?;
    let meta = file.metadata().map_err(|e| io_error(e, path, "read"))?;
    if meta.is_dir() {
        return Err(PluginError::invalid_input(format!(
            "`{path}` is a directory; use list_directory"
        )));
    }
    let mut bytes = Vec::new();
    file.take(max)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(e, path, "read"))?;
    if bytes.contains(&0) {
        return Err(PluginError::invalid_input(format!(
            "`{path}` looks like a binary file (it contains NUL bytes); only text can be read"
        )));
    }
    let truncated = meta.len() > bytes.len() as u64;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        // A cut in the middle of a character: drop the partial character.
        Err(e) if truncated && e.utf8_error().error_len().is_none() => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(valid);
            String::from_utf8(bytes).unwrap_or_default()
        }
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Ok(ReadText {
        shown: text.len(),
        size: meta.len(),
        truncated,
        text,
    })
}

/// What `search` found.
pub struct Found {
    /// Matching paths, in breadth-first order.
    pub matches: Vec<String>,
    /// Whether the search stopped before visiting everything.
    pub truncated: bool,
}

/// Breadth-first search under `dir` for names matching `pattern`; symlinked directories
/// are not followed, and at most [`SEARCH_VISIT_LIMIT`] entries are visited.
pub fn search(dir: &str, pattern: &NamePattern, max: usize) -> Result<Found, PluginError> {
    // The starting point must be a readable directory; errors below it are skipped.
    std::fs::read_dir(dir).map_err(|e| io_error(e, dir, "search"))?;
    let mut queue = VecDeque::from([(dir.trim_end_matches('/').to_string(), 0usize)]);
    let mut matches = Vec::new();
    let mut visited = 0;
    while let Some((current, depth)) = queue.pop_front() {
        let Ok(entries) = std::fs::read_dir(if current.is_empty() { "/" } else { &current }) else {
            continue;
        };
        let mut names: Vec<(String, bool)> = entries
            .filter_map(Result::ok)
            .map(|e| {
                let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
                (e.file_name().to_string_lossy().into_owned(), is_dir)
            })
            .collect();
        names.sort();
        for (name, is_dir) in names {
            visited += 1;
            if visited > SEARCH_VISIT_LIMIT {
                return Ok(Found {
                    matches,
                    truncated: true,
                });
            }
            let path = format!("{current}/{name}");
            if pattern.matches(&name) {
                matches.push(path.clone());
                if matches.len() >= max {
                    return Ok(Found {
                        matches,
                        truncated: true,
                    });
                }
            }
            if is_dir && depth + 1 < SEARCH_DEPTH {
                queue.push_back((path, depth + 1));
            }
        }
    }
    Ok(Found {
        matches,
        truncated: false,
    })
}

/// Writes (or appends) `content` to `path`; returns the bytes written.
pub fn write(
    path: &str,
    content: &str,
    append: bool,
    create_dirs: bool,
) -> Result<usize, PluginError> {
    if create_dirs
        && let Some((parent, _)) = path.rsplit_once('/')
        && !parent.is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| io_error(e, parent, "write"))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .map_err(|e| io_error(e, path, "write"))?;
    file.write_all(content.as_bytes())
        .map_err(|e| io_error(e, path, "write"))?;
    Ok(content.len())
}

/// An I/O error as the caller should see it: missing things are bad input, refusals
/// (a read-only grant, an escape the sandbox stopped) are `denied`.
fn io_error(err: std::io::Error, path: &str, doing: &str) -> PluginError {
    match err.kind() {
        ErrorKind::NotFound => {
            PluginError::invalid_input(format!("no such file or directory: `{path}`"))
        }
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem if doing == "write" => {
            PluginError::denied(format!(
                "`{path}` cannot be written: this directory is granted read-only. An operator \
                 can grant write access (`\"write\": true` for it under permissions.files in the \
                 plugin's manifest, then POST /api/plugins/filesystem/permissions)"
            ))
        }
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            PluginError::denied(format!("the sandbox does not permit access to `{path}`"))
        }
        ErrorKind::NotADirectory => {
            PluginError::invalid_input(format!("`{path}` is not a directory"))
        }
        ErrorKind::IsADirectory => PluginError::invalid_input(format!("`{path}` is a directory")),
        _ => PluginError::failed(format!("cannot {doing} `{path}`: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("docs/deep")).expect("dirs");
        std::fs::write(dir.path().join("README.md"), "hello").expect("file");
        std::fs::write(dir.path().join("docs/guide.md"), "guide").expect("file");
        std::fs::write(dir.path().join("docs/deep/notes.txt"), "é".repeat(10)).expect("file");
        dir
    }

    fn path(dir: &tempfile::TempDir, rest: &str) -> String {
        format!("{}/{rest}", dir.path().display())
    }

    #[test]
    fn lists_a_directory_sorted_with_kinds_and_sizes() {
        let dir = tree();
        let entries = list(&dir.path().display().to_string()).expect("listed");
        let names: Vec<(&str, &str, u64)> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.kind, e.size))
            .collect();
        assert_eq!(names, [("README.md", "file", 5), ("docs", "directory", 0)]);
    }

    #[test]
    fn reads_whole_characters_and_says_when_it_cut() {
        let dir = tree();
        let read = read(&path(&dir, "docs/deep/notes.txt"), 5).expect("read");
        assert_eq!(read.text, "éé");
        assert!(read.truncated);
        assert_eq!((read.shown, read.size), (4, 20));
    }

    #[test]
    fn reading_a_missing_file_is_bad_input_naming_it() {
        let dir = tree();
        let err = read(&path(&dir, "nope.txt"), 10).err().expect("missing");
        assert_eq!(err.kind(), "invalid-input");
        assert!(err.message().contains("nope.txt"), "{}", err.message());
    }

    #[test]
    fn search_finds_by_glob_and_by_substring_and_stops_at_the_limit() {
        let dir = tree();
        let root = dir.path().display().to_string();
        let found = search(&root, &NamePattern::new("*.md"), 10).expect("searched");
        assert_eq!(
            found.matches,
            [path(&dir, "README.md"), path(&dir, "docs/guide.md")]
        );
        assert!(!found.truncated);
        let found = search(&root, &NamePattern::new("NOTE"), 10).expect("searched");
        assert_eq!(found.matches, [path(&dir, "docs/deep/notes.txt")]);
        let found = search(&root, &NamePattern::new("*"), 2).expect("searched");
        assert_eq!(found.matches.len(), 2);
        assert!(found.truncated);
    }

    #[test]
    fn writes_appends_and_creates_parents_on_request() {
        let dir = tree();
        let file = path(&dir, "new/a.txt");
        assert!(write(&file, "x", false, false).is_err());
        assert_eq!(write(&file, "one", false, true).expect("written"), 3);
        write(&file, "+two", true, false).expect("appended");
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "one+two");
    }

    #[test]
    fn a_refused_write_is_denied_and_says_how_to_grant_it() {
        let err = io_error(
            std::io::Error::from(ErrorKind::PermissionDenied),
            "/files/a.txt",
            "write",
        );
        assert_eq!(err.kind(), "denied");
        assert!(err.message().contains("read-only"), "{}", err.message());
    }
}
