//! The test fixture components (`tests/fixtures/*`: hostile plugins, version probes and
//! the like), built by this crate's build script, wasmtime's `test-programs/artifacts`
//! pattern. A dev-dependency only: the product build never compiles a fixture.

use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));

/// One built fixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixture {
    /// Its directory name under `tests/fixtures/` (`hostile-loop`, `api-v0-1`, ...).
    pub name: &'static str,
    /// The built component.
    pub wasm: &'static Path,
    /// Its `manifest.json`.
    pub manifest: &'static Path,
}

impl Fixture {
    /// The component's bytes.
    pub fn component(&self) -> Vec<u8> {
        std::fs::read(self.wasm).unwrap_or_else(|e| {
            panic!(
                "read the {} fixture {}: {e}",
                self.name,
                self.wasm.display()
            )
        })
    }

    /// The manifest's text.
    pub fn manifest_text(&self) -> String {
        std::fs::read_to_string(self.manifest).unwrap_or_else(|e| {
            panic!(
                "read the {} manifest {}: {e}",
                self.name,
                self.manifest.display()
            )
        })
    }
}

/// The fixture named `name`; panics naming it when there is none (a typo in a test).
pub fn fixture(name: &str) -> Fixture {
    FIXTURES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(name, wasm, manifest)| Fixture {
            name,
            wasm: Path::new(wasm),
            manifest: Path::new(manifest),
        })
        .unwrap_or_else(|| panic!("no test fixture named {name:?} under tests/fixtures"))
}

/// Every fixture, by name.
pub fn all() -> impl Iterator<Item = Fixture> {
    FIXTURES.iter().map(|&(name, _, _)| fixture(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_under_tests_fixtures_is_built_with_its_manifest() {
        assert!(
            FIXTURES.iter().any(|(n, _, _)| *n == "hostile-loop"),
            "the hostile fixtures are listed"
        );
        for f in all() {
            assert!(
                f.wasm.is_file(),
                "{} was built at {}",
                f.name,
                f.wasm.display()
            );
            assert!(f.manifest.is_file(), "{} has a manifest", f.name);
            assert_eq!(&f.component()[..4], b"\0asm", "{} is WebAssembly", f.name);
        }
    }

    #[test]
    #[should_panic(expected = "no test fixture named")]
    fn an_unknown_fixture_name_panics_naming_it() {
        let _ = fixture("no-such-fixture");
    }
}
