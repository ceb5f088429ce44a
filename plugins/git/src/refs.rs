//! Parsing of the small text files that name commits: `HEAD`, loose ref files,
//! `packed-refs`, and the `.git` file of a linked worktree or submodule.

/// What `HEAD` (or a loose ref file) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefTarget {
    /// `ref: refs/heads/main`: a symbolic reference to another ref.
    Symbolic(String),
    /// A commit id in hex (a detached `HEAD`, or a branch's ref file).
    Direct(String),
}

/// Parses the contents of `HEAD` or a loose ref file; `None` when it is neither a
/// symbolic ref nor a hex object id.
pub fn parse_ref_file(text: &str) -> Option<RefTarget> {
    let text = text.trim();
    if let Some(name) = text.strip_prefix("ref:") {
        let name = name.trim();
        return (!name.is_empty()).then(|| RefTarget::Symbolic(name.to_string()));
    }
    is_hex_id(text).then(|| RefTarget::Direct(text.to_ascii_lowercase()))
}

/// The branch name a symbolic `HEAD` points to: `refs/heads/main` → `main` (other refs
/// are returned whole).
pub fn branch_name(reference: &str) -> &str {
    reference.strip_prefix("refs/heads/").unwrap_or(reference)
}

/// The object id `packed-refs` records for `reference`, if any.
///
/// The file is a `# pack-refs with: ...` header, then `<id> <refname>` lines, each
/// possibly followed by a `^<id>` line giving the peeled target of an annotated tag.
pub fn find_packed_ref(packed_refs: &str, reference: &str) -> Option<String> {
    packed_refs
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with('^'))
        .filter_map(|line| line.trim_end().split_once(' '))
        .find(|(id, name)| *name == reference && is_hex_id(id))
        .map(|(id, _)| id.to_ascii_lowercase())
}

/// The path a `.git` *file* points to (`gitdir: ../.git/worktrees/x`), as written.
pub fn parse_gitdir_file(text: &str) -> Option<&str> {
    let path = text.trim().strip_prefix("gitdir:")?.trim();
    (!path.is_empty()).then_some(path)
}

/// A SHA-1 (40) or SHA-256 (64) object id in hex.
pub fn is_hex_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3e9186549c8208fb71bd722d56c94ba49296d735";

    #[test]
    fn reads_a_symbolic_head() {
        assert_eq!(
            parse_ref_file("ref: refs/heads/trunk\n"),
            Some(RefTarget::Symbolic("refs/heads/trunk".into()))
        );
        assert_eq!(branch_name("refs/heads/feature/x"), "feature/x");
    }

    #[test]
    fn reads_a_detached_head() {
        assert_eq!(
            parse_ref_file(&format!("{ID}\n")),
            Some(RefTarget::Direct(ID.into()))
        );
    }

    #[test]
    fn refuses_garbage_in_a_ref_file() {
        assert_eq!(parse_ref_file("not a ref"), None);
        assert_eq!(parse_ref_file("ref:   "), None);
        assert_eq!(parse_ref_file("3e9186"), None);
    }

    #[test]
    fn finds_a_branch_in_packed_refs_and_skips_peeled_lines() {
        let packed = format!(
            "# pack-refs with: peeled fully-peeled sorted \n\
             1111111111111111111111111111111111111111 refs/heads/main\n\
             {ID} refs/heads/trunk\n\
             2222222222222222222222222222222222222222 refs/tags/v1\n\
             ^3333333333333333333333333333333333333333\n"
        );
        assert_eq!(
            find_packed_ref(&packed, "refs/heads/trunk").as_deref(),
            Some(ID)
        );
        assert_eq!(
            find_packed_ref(&packed, "refs/tags/v1").as_deref(),
            Some("2222222222222222222222222222222222222222")
        );
        assert_eq!(find_packed_ref(&packed, "refs/heads/missing"), None);
        // A prefix of a name is not the name.
        assert_eq!(find_packed_ref(&packed, "refs/heads/tru"), None);
    }

    #[test]
    fn reads_the_gitdir_file_of_a_worktree() {
        assert_eq!(
            parse_gitdir_file("gitdir: ../main/.git/worktrees/wt\n"),
            Some("../main/.git/worktrees/wt")
        );
        assert_eq!(parse_gitdir_file("something else"), None);
    }
}
