//! Parsing of `.git/index`, the staging area: a `DIRC` header (versions 2, 3 and 4),
//! one entry per tracked path with the file's stat data as git last saw it and its blob
//! id, then optional extensions, of which the cache tree (`TREE`) is read.
//!
//! Format: <https://git-scm.com/docs/index-format>.

use crate::object::hex;

/// One tracked path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the worktree root, `/`-separated.
    pub path: String,
    /// Modification time when git last looked: seconds and nanoseconds.
    pub mtime: (u32, u32),
    /// File size when git last looked (truncated to 32 bits).
    pub size: u32,
    /// Octal mode: `100644`, `100755`, `120000` (symlink), `160000` (submodule).
    pub mode: u32,
    /// Blob id in hex.
    pub id: String,
    /// Merge stage: 0 normally, 1-3 during a conflict.
    pub stage: u8,
    /// The path is outside a sparse checkout; its file is not expected on disk.
    pub skip_worktree: bool,
    /// Added with `git add -N`: tracked, but no content staged yet.
    pub intent_to_add: bool,
}

/// A parsed index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// Format version (2, 3 or 4).
    pub version: u32,
    /// Entries, sorted by path as git writes them.
    pub entries: Vec<Entry>,
    /// The root tree id recorded by the cache-tree extension when it is still valid,
    /// meaning nothing was staged since: the staged content is exactly that tree.
    pub cached_root_tree: Option<String>,
    /// The index is split (`link` extension): its entries are only a part of the list.
    pub split: bool,
}

/// Entry flag: an extended-flags word follows (version 3 and later).
const EXTENDED: u16 = 0x4000;
/// Extended flag: skip-worktree.
const SKIP_WORKTREE: u16 = 0x4000;
/// Extended flag: intent-to-add.
const INTENT_TO_ADD: u16 = 0x2000;

/// Parses index `bytes` whose object ids are `hash_len` bytes long (20 for SHA-1, 32 for
/// SHA-256).
pub fn parse(bytes: &[u8], hash_len: usize) -> Result<Index, String> {
    let mut r = Reader { bytes, pos: 0 };
    if r.take(4)? != b"DIRC" {
        return Err("not an index file (no DIRC signature)".into());
    }
    let version = r.u32()?;
    if !(2..=4).contains(&version) {
        return Err(format!("index version {version} is not supported"));
    }
    let count = r.u32()? as usize;
    // Each entry takes at least 62 bytes: a count beyond that is corrupt, not a reason to
    // reserve gigabytes.
    let mut entries = Vec::with_capacity(count.min(bytes.len() / 62));
    let mut previous = Vec::new();
    for _ in 0..count {
        let start = r.pos;
        r.take(8)?; // ctime
        let mtime = (r.u32()?, r.u32()?);
        r.take(8)?; // dev, ino
        let mode = r.u32()?;
        r.take(8)?; // uid, gid
        let size = r.u32()?;
        let id = hex(r.take(hash_len)?);
        let flags = r.u16()?;
        let extended = if version >= 3 && flags & EXTENDED != 0 {
            r.u16()?
        } else {
            0
        };
        let path = if version == 4 {
            // The path is the previous one, less `strip` trailing bytes, plus a
            // NUL-terminated suffix; no padding follows.
            let strip = r.varint()?;
            let keep = previous
                .len()
                .checked_sub(strip)
                .ok_or("index v4 path strips too much")?;
            let mut path = previous[..keep].to_vec();
            path.extend_from_slice(r.until_nul()?);
            path
        } else {
            let path = r.until_nul()?.to_vec();
            // Entries are NUL-padded to a multiple of 8 bytes (at least one NUL, already
            // read with the path).
            let fixed = r.pos - start;
            r.take((8 - fixed % 8) % 8)?;
            path
        };
        entries.push(Entry {
            path: String::from_utf8_lossy(&path).into_owned(),
            mtime,
            size,
            mode,
            id,
            stage: ((flags >> 12) & 3) as u8,
            skip_worktree: extended & SKIP_WORKTREE != 0,
            intent_to_add: extended & INTENT_TO_ADD != 0,
        });
        previous = path;
    }

    let mut cached_root_tree = None;
    let mut split = false;
    // Extensions run up to the trailing checksum.
    let end = bytes.len().saturating_sub(hash_len);
    while r.pos + 8 <= end {
        let signature = r.take(4)?;
        let length = r.u32()? as usize;
        let data = r.take(length)?;
        match signature {
            b"TREE" => cached_root_tree = root_of_cache_tree(data, hash_len),
            b"link" => split = true,
            _ => {}
        }
    }
    Ok(Index {
        version,
        entries,
        cached_root_tree,
        split,
    })
}

/// The root entry of a `TREE` extension, if valid: `\0<entry count> <subtrees>\n<id>`
/// (an entry count of -1 marks it invalidated).
fn root_of_cache_tree(data: &[u8], hash_len: usize) -> Option<String> {
    let (path, rest) = data.split_at(data.iter().position(|&b| b == 0)?);
    if !path.is_empty() {
        return None;
    }
    let rest = &rest[1..];
    let newline = rest.iter().position(|&b| b == b'\n')?;
    let counts = std::str::from_utf8(&rest[..newline]).ok()?;
    let entry_count: i64 = counts.split(' ').next()?.parse().ok()?;
    if entry_count < 0 {
        return None;
    }
    rest.get(newline + 1..newline + 1 + hash_len).map(hex)
}

/// A cursor over the index bytes whose reads fail, rather than panic, past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or("index is cut short")?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn until_nul(&mut self) -> Result<&'a [u8], String> {
        let rest = &self.bytes[self.pos..];
        let nul = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or("index path has no end")?;
        self.pos += nul + 1;
        Ok(&rest[..nul])
    }

    /// Git's offset varint: 7 bits a byte, high bit set on all but the last, and each
    /// continuation adds one before shifting.
    fn varint(&mut self) -> Result<usize, String> {
        let mut byte = self.take(1)?[0];
        let mut value = usize::from(byte & 0x7f);
        while byte & 0x80 != 0 {
            byte = self.take(1)?[0];
            value = value
                .checked_add(1)
                .and_then(|v| v.checked_mul(128))
                .map(|v| v | usize::from(byte & 0x7f))
                .ok_or("index v4 varint overflows")?;
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &[u8] = include_bytes!("../testdata/dotgit/index");
    const V3: &[u8] = include_bytes!("../testdata/index-v3");
    const V4: &[u8] = include_bytes!("../testdata/index-v4");

    const README: &str = "ce013625030ba8dba906f756967f9e9ca394464a";
    const ROOT_TREE: &str = "2c614c2a5c596b3eb7e38bca9e22d855bb51660b";

    fn paths(index: &Index) -> Vec<&str> {
        index.entries.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn parses_a_real_version_2_index_with_its_cache_tree() {
        let index = parse(V2, 20).expect("valid index");
        assert_eq!(index.version, 2);
        assert_eq!(
            paths(&index),
            ["README.md", "src/deep/a.txt", "src/main.rs"]
        );
        let readme = &index.entries[0];
        assert_eq!(
            (readme.size, readme.mode, readme.id.as_str(), readme.stage),
            (6, 0o100644, README, 0)
        );
        assert_eq!(index.cached_root_tree.as_deref(), Some(ROOT_TREE));
        assert!(!index.split);
    }

    #[test]
    fn parses_a_real_version_3_index_with_an_intent_to_add_entry() {
        let index = parse(V3, 20).expect("valid index");
        assert_eq!(index.version, 3);
        assert_eq!(
            paths(&index),
            ["README.md", "added.txt", "src/deep/a.txt", "src/main.rs"]
        );
        assert!(index.entries[1].intent_to_add);
        assert!(!index.entries[0].intent_to_add && !index.entries[2].intent_to_add);
        // Adding a path invalidates the cached root tree.
        assert_eq!(index.cached_root_tree, None);
    }

    #[test]
    fn parses_a_real_version_4_index_with_prefix_compressed_paths() {
        let index = parse(V4, 20).expect("valid index");
        assert_eq!(index.version, 4);
        assert_eq!(
            paths(&index),
            ["README.md", "src/deep/a.txt", "src/main.rs"]
        );
        assert_eq!(index.entries[2].size, 13);
    }

    #[test]
    fn refuses_other_files_and_versions() {
        assert!(parse(b"PACK\0\0\0\x02\0\0\0\0", 20).is_err());
        assert!(parse(b"DIRC\0\0\0\x05\0\0\0\0", 20).is_err());
    }

    #[test]
    fn refuses_a_truncated_index_without_panicking() {
        for cut in [12, 40, 70, V2.len() / 2] {
            assert!(parse(&V2[..cut], 20).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn reads_an_empty_index() {
        let index = parse(b"DIRC\0\0\0\x02\0\0\0\0", 20).expect("empty index");
        assert!(index.entries.is_empty());
    }

    #[test]
    fn decodes_git_offset_varints() {
        let mut r = Reader {
            bytes: &[0x05, 0x80, 0x00, 0x81, 0x7f],
            pos: 0,
        };
        assert_eq!(r.varint(), Ok(5));
        assert_eq!(r.varint(), Ok(128));
        assert_eq!(r.varint(), Ok(2 * 128 + 127));
    }
}
