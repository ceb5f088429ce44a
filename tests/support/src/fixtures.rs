//! Test components: the fixtures under `tests/fixtures/` (built by the dev-only
//! `sanctuary-test-artifacts` crate) and the first-party plugins embedded in the product.

use sanctuary::manifest::Manifest;
use sanctuary::plugins::artifacts::{BUNDLED, BundledPlugin};

pub use sanctuary_test_artifacts::{FIXTURES, Fixture};

/// The manifest and component of test fixture `name`.
pub fn fixture(name: &str) -> (Manifest, Vec<u8>) {
    let fixture = sanctuary_test_artifacts::fixture(name);
    let manifest =
        Manifest::from_json(&fixture.manifest_text()).expect("the fixture's manifest is valid");
    (manifest, fixture.component())
}

/// The built files of test fixture `name` (its `.wasm` and `manifest.json` paths).
pub fn fixture_files(name: &str) -> Fixture {
    sanctuary_test_artifacts::fixture(name)
}

/// The embedded first-party plugin `id`.
pub fn bundled_plugin(id: &str) -> &'static BundledPlugin {
    BUNDLED
        .iter()
        .find(|p| p.dir == id)
        .unwrap_or_else(|| panic!("no bundled plugin {id}"))
}

/// The manifest and component of bundled plugin `id`.
pub fn bundled(id: &str) -> (Manifest, Vec<u8>) {
    let plugin = bundled_plugin(id);
    let manifest = Manifest::from_json(plugin.manifest).expect("the bundled manifest is valid");
    (manifest, plugin.component.to_vec())
}
