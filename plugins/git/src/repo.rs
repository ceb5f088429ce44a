//! A git repository on disk, read without git: finding the git directory (also through
//! the `.git` file of a linked worktree), resolving `HEAD`, and reading objects, loose or
//! packed ([`crate::pack`]).

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::object;
use crate::pack::{self, Pack};
use crate::refs::{self, RefTarget};

/// The object-id hash a repository uses (`extensions.objectformat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    /// SHA-1, 20 bytes: every repository unless created with `--object-format=sha256`.
    Sha1,
    /// SHA-256, 32 bytes.
    Sha256,
}

impl HashKind {
    /// Length of an id in bytes.
    pub fn len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// The id git gives `reader`'s `len` bytes as a blob: the hash of
    /// `blob <len>\0<content>`, in hex.
    pub fn blob_id(self, len: u64, reader: &mut impl Read) -> io::Result<String> {
        use sha1::Digest as _;
        let header = format!("blob {len}\0");
        let mut buf = vec![0u8; 64 * 1024];
        macro_rules! digest {
            ($hasher:expr) => {{
                let mut hasher = $hasher;
                hasher.update(header.as_bytes());
                loop {
                    let n = reader.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                }
                object::hex(&hasher.finalize())
            }};
        }
        Ok(match self {
            Self::Sha1 => digest!(sha1::Sha1::new()),
            Self::Sha256 => digest!(sha2::Sha256::new()),
        })
    }
}

/// Where `HEAD` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Branch name, or `HEAD` when detached.
    pub branch: String,
    /// The commit id, or `None` on a branch without commits yet.
    pub commit: Option<String>,
}

/// An opened repository.
#[derive(Debug, Clone)]
pub struct Repo {
    /// The worktree root (the project directory).
    pub worktree: PathBuf,
    /// This worktree's git directory: `HEAD`, `index`.
    pub git_dir: PathBuf,
    /// The directory shared by all worktrees: `refs`, `packed-refs`, `objects`, `config`.
    pub common_dir: PathBuf,
    /// The object-id hash.
    pub hash: HashKind,
    /// The pack files of `objects/pack`, as found when the repository was opened.
    pub packs: Vec<Pack>,
}

impl Repo {
    /// Opens the repository whose worktree is `worktree`; `Ok(None)` when `worktree` has
    /// no `.git`, an error when it has one that cannot be read.
    pub fn open(worktree: &Path) -> Result<Option<Repo>, String> {
        let dot_git = worktree.join(".git");
        let git_dir = if dot_git.is_dir() {
            dot_git
        } else if dot_git.is_file() {
            let text = read_text(&dot_git)?;
            let target = refs::parse_gitdir_file(&text)
                .ok_or("`.git` is a file but holds no `gitdir:` line")?;
            let git_dir = worktree.join(target);
            if !git_dir.is_dir() {
                return Err(format!(
                    "`.git` points to `{target}`, which is outside the project directory or missing"
                ));
            }
            git_dir
        } else {
            return Ok(None);
        };
        let common_dir = match fs::read_to_string(git_dir.join("commondir")) {
            Ok(text) => git_dir.join(text.trim()),
            Err(_) => git_dir.clone(),
        };
        let hash = match fs::read_to_string(common_dir.join("config")) {
            Ok(config) if declares_sha256(&config) => HashKind::Sha256,
            _ => HashKind::Sha1,
        };
        let packs = pack::list(&common_dir.join("objects"), hash.len());
        Ok(Some(Repo {
            worktree: worktree.to_path_buf(),
            git_dir,
            common_dir,
            hash,
            packs,
        }))
    }

    /// Resolves `HEAD` to a branch and a commit.
    pub fn head(&self) -> Result<Head, String> {
        let text = read_text(&self.git_dir.join("HEAD"))?;
        match refs::parse_ref_file(&text).ok_or("`HEAD` is neither a ref nor a commit id")? {
            RefTarget::Direct(id) => Ok(Head {
                branch: "HEAD".into(),
                commit: Some(id),
            }),
            RefTarget::Symbolic(name) => Ok(Head {
                branch: refs::branch_name(&name).to_string(),
                commit: self.resolve(&name)?,
            }),
        }
    }

    /// The commit `reference` names: its loose file (following symbolic refs a few
    /// levels), else `packed-refs`; `None` when it does not exist (an unborn branch).
    fn resolve(&self, reference: &str) -> Result<Option<String>, String> {
        let mut name = reference.to_string();
        for _ in 0..5 {
            if name.split('/').any(|part| part == ".." || part.is_empty()) {
                return Err(format!("ref `{name}` is not a valid name"));
            }
            // Per-worktree refs live in the git dir, shared ones in the common dir.
            let loose = [self.git_dir.join(&name), self.common_dir.join(&name)]
                .into_iter()
                .find(|p| p.is_file());
            let Some(path) = loose else { break };
            match refs::parse_ref_file(&read_text(&path)?) {
                Some(RefTarget::Direct(id)) => return Ok(Some(id)),
                Some(RefTarget::Symbolic(next)) => name = next,
                None => return Err(format!("ref file `{name}` holds no commit id")),
            }
        }
        Ok(
            match fs::read_to_string(self.common_dir.join("packed-refs")) {
                Ok(packed) => refs::find_packed_ref(&packed, &name),
                Err(_) => None,
            },
        )
    }

    /// Reads object `id`, loose or from a pack: `Ok(None)` when the repository does not
    /// hold it.
    pub fn read_object(&self, id: &str) -> Result<Option<(String, Vec<u8>)>, String> {
        self.read_object_at_depth(id, 0)
    }

    fn read_object_at_depth(
        &self,
        id: &str,
        depth: usize,
    ) -> Result<Option<(String, Vec<u8>)>, String> {
        if !refs::is_hex_id(id) {
            return Err(format!("`{id}` is not an object id"));
        }
        let path = self
            .common_dir
            .join("objects")
            .join(&id[..2])
            .join(&id[2..]);
        match fs::read(&path) {
            Ok(compressed) => return object::inflate_loose(&compressed).map(Some),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(format!("cannot read object {id}: {err}")),
        }
        let raw = unhex(id).ok_or_else(|| format!("`{id}` is not an object id"))?;
        for (n, pack) in self.packs.iter().enumerate() {
            if let Some(offset) = pack.find(&raw)? {
                let location = pack::Location { pack: n, offset };
                let by_id = |base: &[u8], depth: usize| {
                    self.read_object_at_depth(&object::hex(base), depth)
                };
                return pack::read(&self.packs, &location, &by_id, depth)
                    .map(Some)
                    .map_err(|reason| format!("object {id} in a pack: {reason}"));
            }
        }
        Ok(None)
    }
}

/// The bytes of a hex object id.
fn unhex(id: &str) -> Option<Vec<u8>> {
    (0..id.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(id.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether a git `config` text sets `objectformat = sha256` (in `[extensions]`).
fn declares_sha256(config: &str) -> bool {
    config.lines().any(|line| {
        let line = line.trim().to_ascii_lowercase();
        line.split_once('=')
            .is_some_and(|(key, value)| key.trim() == "objectformat" && value.trim() == "sha256")
    })
}

fn read_text(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|err| format!("cannot read `{}`: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
    }

    fn repo() -> Repo {
        let git_dir = testdata().join("dotgit");
        Repo {
            worktree: testdata(),
            common_dir: git_dir.clone(),
            git_dir,
            hash: HashKind::Sha1,
            packs: Vec::new(),
        }
    }

    #[test]
    fn resolves_a_branch_that_is_only_in_packed_refs() {
        let head = repo().head().expect("readable HEAD");
        assert_eq!(head.branch, "trunk");
        assert_eq!(
            head.commit.as_deref(),
            Some("3e9186549c8208fb71bd722d56c94ba49296d735")
        );
    }

    #[test]
    fn reads_a_loose_object_and_reports_a_missing_one_as_absent() {
        let repo = repo();
        let (kind, _) = repo
            .read_object("3e9186549c8208fb71bd722d56c94ba49296d735")
            .expect("readable")
            .expect("loose");
        assert_eq!(kind, "commit");
        let missing = repo
            .read_object("1111111111111111111111111111111111111111")
            .expect("no error");
        assert_eq!(missing, None);
    }

    #[test]
    fn a_directory_without_dot_git_is_not_a_repository() {
        assert!(matches!(Repo::open(&testdata().join("dotgit")), Ok(None)));
    }

    #[test]
    fn hashes_blobs_as_git_does() {
        let mut content: &[u8] = b"hello\n";
        let id = HashKind::Sha1.blob_id(6, &mut content).expect("hashes");
        assert_eq!(id, "ce013625030ba8dba906f756967f9e9ca394464a");
        let mut empty: &[u8] = b"";
        let id = HashKind::Sha256.blob_id(0, &mut empty).expect("hashes");
        assert_eq!(
            id,
            "473a0f4c3be8a93681a267e3b1e9a7dcda1185436fe141f7749120a303721813"
        );
    }

    #[test]
    fn detects_sha256_repositories_from_their_config() {
        assert!(declares_sha256(
            "[core]\n\tbare = false\n[extensions]\n\tobjectFormat = sha256\n"
        ));
        assert!(!declares_sha256("[core]\n\tbare = false\n"));
    }
}
