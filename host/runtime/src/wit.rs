//! The WIT of every released version of `sanctuary:plugin`, and the rule that keeps them
//! frozen. Each release lives unchanged in `wit/v<version>/` (the host binds the ones it
//! serves from there); the files directly in `wit/` are the version under development,
//! which the SDK builds against. While its package line names a released version, the
//! development copy must be byte-for-byte that release; to change the API, first bump
//! its package line (a patch version for additions, which wasmtime's semver-aware linker
//! serves to older components with no shim; a new minor for breaking changes, which get
//! a converter like `v0_1_0`). The tests below hold the hash of every release.

use semver::Version;

/// Every released version and the sha256 over the file names and contents of its
/// `wit/v<version>/` folder, as released. Add a row when a version is released; never
/// change one.
pub static RELEASED: [(Version, &str); 4] = [
    (
        Version::new(0, 1, 0),
        "df2b43351514339cd8ee88bfbb1ad5e1a92378e7ae07347a2388345a9e699d8a",
    ),
    (
        Version::new(0, 2, 0),
        "24b4ff0bfc1e0a8353b70677b98c318efcc7270e508c0c581204efd7af02dac8",
    ),
    (
        Version::new(0, 2, 1),
        "487402f854504cdd605ac3434a8cda4c8b1f74aab70b651a52a9a364e6f769a3",
    ),
    (
        Version::new(0, 2, 2),
        "f1583ad068e16c1be903d520a067ab997929e8b886f1e94dafd371aa272393bd",
    ),
];

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use sha2::{Digest, Sha256};

    use super::*;
    use crate::manifest::{SUPPORTED_WIT_VERSIONS, WIT_VERSION};

    fn wit_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit")
    }

    /// The `.wit` files directly in `dir`, by name.
    fn wit_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "wit"))
            .map(|p| {
                let name = p.file_name().expect("name").to_string_lossy().into_owned();
                (name, std::fs::read(&p).expect("read"))
            })
            .collect();
        files.sort();
        files
    }

    fn hash(files: &[(String, Vec<u8>)]) -> String {
        let mut hash = Sha256::new();
        for (name, bytes) in files {
            hash.update(name.as_bytes());
            hash.update([0]);
            hash.update(bytes);
            hash.update([0]);
        }
        hex::encode(hash.finalize())
    }

    /// The version on the `package sanctuary:plugin@…;` line of `files`.
    fn package_version(files: &[(String, Vec<u8>)]) -> Version {
        let text = String::from_utf8_lossy(&files.first().expect("a .wit file").1).into_owned();
        let line = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("package sanctuary:plugin@"))
            .expect("a package line");
        Version::parse(line.trim_end_matches(';')).expect("a version")
    }

    #[test]
    fn every_released_wit_is_unchanged() {
        for (version, released) in &RELEASED {
            let dir = wit_dir().join(format!("v{version}"));
            let files = wit_files(&dir);
            assert_eq!(package_version(&files), *version, "{}", dir.display());
            assert_eq!(
                hash(&files),
                *released,
                "wit/v{version} is a released API and must not change: change the version \
                 under development (the files directly in wit/) instead"
            );
        }
    }

    #[test]
    fn the_version_under_development_is_a_released_one_only_if_unchanged() {
        let files = wit_files(&wit_dir());
        let version = package_version(&files);
        if let Some((_, released)) = RELEASED.iter().find(|(v, _)| *v == version) {
            assert_eq!(
                hash(&files),
                *released,
                "wit/*.wit says package sanctuary:plugin@{version}, which is released and \
                 frozen in wit/v{version}: bump the package line before changing it"
            );
        } else {
            let latest = RELEASED.iter().map(|(v, _)| v).max().expect("a release");
            assert!(version > *latest, "wit/ is {version}, older than {latest}");
        }
    }

    #[test]
    fn the_host_serves_exactly_the_released_versions() {
        let released: Vec<Version> = RELEASED.iter().map(|(v, _)| v.clone()).collect();
        assert_eq!(SUPPORTED_WIT_VERSIONS.to_vec(), released);
        assert_eq!(released.last(), Some(&WIT_VERSION));
    }
}
