//! Guest paths, checked before anything touches the filesystem: lexical normalisation
//! (`.` and `..` resolved without following anything), confinement to the roots, name
//! patterns, and the symlink walk that refuses links leading out of a root.
//!
//! All of it is pure: [`check_links`] reads link targets through a
//! [`Links`] implementation so that it can be tested natively.

use sanctuary_plugin_api::PluginError;

/// How many symlinks one path may traverse before it is refused (as `ELOOP` would).
const MAX_LINK_HOPS: usize = 32;

/// Resolves `.` and `..` in `path` (absolute, or relative to `base`) without looking at the
/// filesystem. A `..` above `/` is an error: nothing a caller types may climb out.
pub fn normalize(base: &str, path: &str) -> Result<String, PluginError> {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{base}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(outside(path));
                }
            }
            name => parts.push(name),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Whether normalised `path` is `root` or inside it.
pub fn within(path: &str, root: &str) -> bool {
    let root = root.trim_end_matches('/');
    root.is_empty()
        || path == root
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The root `path` (already normalised) lies in, if any.
pub fn root_of<'a>(path: &str, roots: &'a [String]) -> Option<&'a str> {
    roots
        .iter()
        .map(String::as_str)
        .filter(|root| within(path, root))
        .max_by_key(|root| root.len())
}

/// Normalises `input` (relative paths are relative to the first root) and checks that it
/// stays inside one of `roots`. Returns the path and its root.
pub fn resolve<'a>(roots: &'a [String], input: &str) -> Result<(String, &'a str), PluginError> {
    let Some(first) = roots.first() else {
        return Err(PluginError::denied(
            "no directory is granted to this plugin: add one under permissions.files in its \
             manifest (and grant it), or set `roots` in [plugins.filesystem]",
        ));
    };
    let input = input.trim();
    let path = normalize(first, if input.is_empty() { first } else { input })?;
    match root_of(&path, roots) {
        Some(root) => Ok((path, root)),
        None => Err(outside(input)),
    }
}

/// Reads symlinks; the real filesystem in the plugin, a map in tests.
pub trait Links {
    /// The target of `path` when it is a symlink, `None` when it is anything else or
    /// does not exist.
    fn read_link(&self, path: &str) -> Option<String>;
}

/// Walks `path` (normalised, inside `root`) component by component and follows each
/// symlink lexically: a link whose target leaves `root` is refused (`denied`). Returns
/// the path with every link resolved, which is what the caller should open.
///
/// The WASI pre-opens refuse such escapes too; this check makes the refusal a clear
/// error instead of an opaque "not permitted", and covers links to other roots.
pub fn check_links(links: &impl Links, path: &str, root: &str) -> Result<String, PluginError> {
    let mut walk = path.to_string();
    let mut hops = 0;
    'restart: loop {
        let root = root.trim_end_matches('/');
        let rest = walk.strip_prefix(root).unwrap_or_default();
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        let mut current = root.to_string();
        for (i, part) in parts.iter().enumerate() {
            let next = format!("{current}/{part}");
            let Some(target) = links.read_link(&next) else {
                current = next;
                continue;
            };
            hops += 1;
            if hops > MAX_LINK_HOPS {
                return Err(PluginError::invalid_input(format!(
                    "too many symbolic links in `{path}`"
                )));
            }
            let parent = if current.is_empty() { "/" } else { &current };
            let resolved = normalize(parent, &target).map_err(|_| link_outside(path))?;
            if !within(&resolved, root) {
                return Err(link_outside(path));
            }
            // Walk again from the root: the target itself may go through links.
            walk = std::iter::once(resolved.as_str())
                .chain(parts[i + 1..].iter().copied())
                .collect::<Vec<_>>()
                .join("/");
            continue 'restart;
        }
        return Ok(if current.is_empty() {
            "/".into()
        } else {
            current
        });
    }
}

fn outside(path: &str) -> PluginError {
    PluginError::denied(format!(
        "`{path}` is outside the directories this plugin may use"
    ))
}

fn link_outside(path: &str) -> PluginError {
    PluginError::denied(format!(
        "`{path}` goes through a symbolic link that points outside the directories this \
         plugin may use"
    ))
}

/// A file-name pattern: a glob (`*` any run, `?` one character) when it has either,
/// a substring otherwise; both ignore case.
pub struct NamePattern {
    pattern: Vec<char>,
    glob: bool,
}

impl NamePattern {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> NamePattern {
        let lower = pattern.to_lowercase();
        NamePattern {
            glob: lower.contains(['*', '?']),
            pattern: lower.chars().collect(),
        }
    }

    /// Whether file name `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.to_lowercase().chars().collect();
        if self.glob {
            glob_match(&self.pattern, &name)
        } else {
            name.windows(self.pattern.len().max(1))
                .any(|w| w == self.pattern.as_slice())
                || self.pattern.is_empty()
        }
    }
}

/// Iterative glob matching with backtracking to the last `*` (linear in practice).
fn glob_match(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn roots() -> Vec<String> {
        vec!["/files".into(), "/notes".into()]
    }

    #[test]
    fn dot_and_dot_dot_are_resolved_lexically() {
        assert_eq!(normalize("/files", "a/./b/../c").expect("ok"), "/files/a/c");
        assert_eq!(normalize("/files", "/files//x/").expect("ok"), "/files/x");
        assert_eq!(normalize("/files", "").expect("ok"), "/files");
    }

    #[test]
    fn climbing_above_the_filesystem_root_is_refused() {
        let err = normalize("/files", "../../../etc/passwd").expect_err("above /");
        assert_eq!(err.kind(), "denied");
    }

    #[test]
    fn relative_paths_are_taken_from_the_first_root() {
        let roots = roots();
        let (path, root) = resolve(&roots, "docs/a.md").expect("inside");
        assert_eq!((path.as_str(), root), ("/files/docs/a.md", "/files"));
        let (path, root) = resolve(&roots, "/notes/today.md").expect("inside");
        assert_eq!((path.as_str(), root), ("/notes/today.md", "/notes"));
        assert_eq!(resolve(&roots, " ").expect("the root").0, "/files");
    }

    #[test]
    fn dot_dot_out_of_a_root_is_refused_naming_the_path() {
        let roots = roots();
        for escape in [
            "../../etc/passwd",
            "/files/../etc/passwd",
            "/files/../../etc/passwd",
            "/etc/passwd",
            "/filesystem/x",
        ] {
            let err = resolve(&roots, escape).expect_err(escape);
            assert_eq!(err.kind(), "denied", "{escape}");
            assert!(err.message().contains(escape), "{}", err.message());
        }
    }

    #[test]
    fn a_path_inside_another_root_by_dot_dot_is_allowed() {
        let roots = roots();
        let (path, root) = resolve(&roots, "/files/../notes/a").expect("inside /notes");
        assert_eq!((path.as_str(), root), ("/notes/a", "/notes"));
    }

    #[test]
    fn without_roots_everything_is_denied() {
        let err = resolve(&[], "a").expect_err("no roots");
        assert_eq!(err.kind(), "denied");
    }

    struct Map(HashMap<&'static str, &'static str>);
    impl Links for Map {
        fn read_link(&self, path: &str) -> Option<String> {
            self.0.get(path).map(|t| t.to_string())
        }
    }

    #[test]
    fn links_inside_the_root_are_followed() {
        let links = Map(HashMap::from([
            ("/files/latest", "reports/2024"),
            ("/files/reports/2024/top", "../2023/top"),
        ]));
        assert_eq!(
            check_links(&links, "/files/latest/a.txt", "/files").expect("inside"),
            "/files/reports/2024/a.txt"
        );
        assert_eq!(
            check_links(&links, "/files/latest/top/x", "/files").expect("inside"),
            "/files/reports/2023/top/x"
        );
    }

    #[test]
    fn links_pointing_outside_the_root_are_refused() {
        let links = Map(HashMap::from([
            ("/files/etc", "/etc"),
            ("/files/up", "../../.."),
            ("/files/sibling", "../notes"),
        ]));
        for path in [
            "/files/etc/passwd",
            "/files/up/etc/passwd",
            "/files/sibling/a",
        ] {
            let err = check_links(&links, path, "/files").expect_err(path);
            assert_eq!(err.kind(), "denied", "{path}");
            assert!(err.message().contains("symbolic link"), "{}", err.message());
        }
    }

    #[test]
    fn a_link_loop_is_refused() {
        let links = Map(HashMap::from([("/files/a", "b"), ("/files/b", "a")]));
        let err = check_links(&links, "/files/a", "/files").expect_err("loop");
        assert_eq!(err.kind(), "invalid-input");
    }

    #[test]
    fn substring_patterns_ignore_case() {
        let p = NamePattern::new("READ");
        assert!(p.matches("README.md"));
        assert!(p.matches("unread.txt"));
        assert!(!p.matches("notes.md"));
    }

    #[test]
    fn glob_patterns_match_the_whole_name() {
        let p = NamePattern::new("*.md");
        assert!(p.matches("a.md") && p.matches("README.MD"));
        assert!(!p.matches("a.md.bak"));
        let p = NamePattern::new("report-??.*");
        assert!(p.matches("report-01.csv"));
        assert!(!p.matches("report-1.csv"));
        assert!(NamePattern::new("*a*b*").matches("xxaxxbxx"));
    }
}
