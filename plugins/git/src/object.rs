//! Loose git objects: inflating one (`<kind> <size>\0<body>`, zlib-compressed) and parsing
//! the bodies this check needs, commits and trees. Packed objects are read by `pack`.

/// The largest object this check inflates: commits and trees are far smaller; a bigger
/// object is corrupt or not worth the memory.
pub const MAX_OBJECT_BYTES: usize = 16 << 20;

/// A commit, as far as this check cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Id (hex) of the commit's root tree.
    pub tree: String,
    /// Committer timestamp: seconds since the epoch and the committer's UTC offset in
    /// minutes.
    pub committed: Option<(i64, i32)>,
    /// First line of the message.
    pub subject: String,
}

/// One entry of a tree object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Octal mode: `100644`, `100755`, `120000` (symlink), `40000` (tree), `160000`
    /// (submodule).
    pub mode: u32,
    /// File or directory name (no slashes).
    pub name: String,
    /// Object id in hex.
    pub id: String,
}

/// Inflates a loose object file and splits it into its kind (`commit`, `tree`, `blob`,
/// `tag`) and body, checking the declared size.
pub fn inflate_loose(compressed: &[u8]) -> Result<(String, Vec<u8>), String> {
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(compressed, MAX_OBJECT_BYTES)
        .map_err(|err| format!("cannot inflate object: {:?}", err.status))?;
    let nul = raw
        .iter()
        .position(|&b| b == 0)
        .ok_or("object has no header")?;
    let header = std::str::from_utf8(&raw[..nul]).map_err(|_| "object header is not text")?;
    let (kind, size) = header.split_once(' ').ok_or("object header has no size")?;
    let size: usize = size
        .parse()
        .map_err(|_| format!("bad object size `{size}`"))?;
    let body = raw[nul + 1..].to_vec();
    if body.len() != size {
        return Err(format!(
            "object declares {size} bytes but holds {}",
            body.len()
        ));
    }
    Ok((kind.to_string(), body))
}

/// Parses a commit body: headers up to the first blank line, then the message.
pub fn parse_commit(body: &[u8]) -> Result<Commit, String> {
    let text = String::from_utf8_lossy(body);
    let (headers, message) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut tree = None;
    let mut committed = None;
    for line in headers.lines() {
        // Continuation lines of multi-line headers (`gpgsig`) start with a space.
        if let Some(id) = line.strip_prefix("tree ") {
            tree = Some(id.trim().to_ascii_lowercase());
        } else if let Some(identity) = line.strip_prefix("committer ") {
            committed = parse_identity_time(identity);
        }
    }
    let subject = message
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    Ok(Commit {
        tree: tree.ok_or("commit has no tree")?,
        committed,
        subject,
    })
}

/// `Name <email> 1700000000 +0100` → `(1700000000, 60)`.
fn parse_identity_time(identity: &str) -> Option<(i64, i32)> {
    // The name and e-mail may hold anything but `>`; the time follows the last one.
    let (_, when) = identity.rsplit_once('>')?;
    let mut parts = when.split_whitespace();
    let seconds: i64 = parts.next()?.parse().ok()?;
    let zone = parts.next().unwrap_or("+0000");
    let (sign, digits) = match zone.as_bytes().first()? {
        b'-' => (-1, &zone[1..]),
        b'+' => (1, &zone[1..]),
        _ => (1, zone),
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some((seconds, 0));
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    Some((seconds, sign * (hours * 60 + minutes)))
}

/// Parses a tree body: entries of `<octal mode> <name>\0<binary id>`.
pub fn parse_tree(body: &[u8], hash_len: usize) -> Result<Vec<TreeEntry>, String> {
    let mut entries = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let space = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or("tree entry has no mode")?;
        let mode = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|m| u32::from_str_radix(m, 8).ok())
            .ok_or("tree entry has a bad mode")?;
        rest = &rest[space + 1..];
        let nul = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or("tree entry has no name end")?;
        let name = String::from_utf8_lossy(&rest[..nul]).into_owned();
        rest = &rest[nul + 1..];
        if rest.len() < hash_len {
            return Err("tree entry is cut short".into());
        }
        entries.push(TreeEntry {
            mode,
            name,
            id: hex(&rest[..hash_len]),
        });
        rest = &rest[hash_len..];
    }
    Ok(entries)
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &[u8] =
        include_bytes!("../testdata/dotgit/objects/3e/9186549c8208fb71bd722d56c94ba49296d735");
    const ROOT_TREE: &[u8] =
        include_bytes!("../testdata/dotgit/objects/2c/614c2a5c596b3eb7e38bca9e22d855bb51660b");

    #[test]
    fn inflates_a_real_loose_commit_and_reads_its_header() {
        let (kind, body) = inflate_loose(COMMIT).expect("valid object");
        assert_eq!(kind, "commit");
        let commit = parse_commit(&body).expect("valid commit");
        assert_eq!(commit.tree, "2c614c2a5c596b3eb7e38bca9e22d855bb51660b");
        assert_eq!(commit.subject, "first commit");
        assert_eq!(commit.committed, Some((1_700_000_000, 60)));
    }

    #[test]
    fn parses_a_real_tree() {
        let (kind, body) = inflate_loose(ROOT_TREE).expect("valid object");
        assert_eq!(kind, "tree");
        let entries = parse_tree(&body, 20).expect("valid tree");
        let names: Vec<_> = entries.iter().map(|e| (e.mode, e.name.as_str())).collect();
        assert_eq!(names, [(0o100644, "README.md"), (0o40000, "src")]);
        assert_eq!(entries[0].id, "ce013625030ba8dba906f756967f9e9ca394464a");
    }

    #[test]
    fn takes_the_committer_time_not_the_author_time_and_skips_signatures() {
        let body = b"tree 2c614c2a5c596b3eb7e38bca9e22d855bb51660b\n\
parent 1111111111111111111111111111111111111111\n\
author A <a@x> 1000 +0000\n\
committer C. Name (team) <c@x> 1700000500 -0530\n\
gpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----\n\
\n\
Fix the thing\n\nLonger explanation.\n";
        let commit = parse_commit(body).expect("valid commit");
        assert_eq!(commit.committed, Some((1_700_000_500, -330)));
        assert_eq!(commit.subject, "Fix the thing");
    }

    #[test]
    fn a_commit_without_a_message_has_an_empty_subject() {
        let commit = parse_commit(
            b"tree 2c614c2a5c596b3eb7e38bca9e22d855bb51660b\ncommitter C <c@x> 5 +0000\n",
        )
        .expect("valid commit");
        assert_eq!(commit.subject, "");
    }

    #[test]
    fn refuses_a_commit_without_a_tree() {
        assert!(parse_commit(b"author A <a@x> 1 +0000\n\nmsg").is_err());
    }

    #[test]
    fn refuses_an_object_whose_size_does_not_match() {
        let raw = b"blob 10\0short";
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(raw, 6);
        assert!(inflate_loose(&compressed).is_err());
        assert!(inflate_loose(b"not zlib at all").is_err());
    }

    #[test]
    fn refuses_a_truncated_tree() {
        assert!(parse_tree(b"100644 a\0\x01\x02", 20).is_err());
    }
}
