//! The first-party plugins built into this binary, as the signature policy sees them:
//! a component whose sha256 is one of theirs is trusted without a signature.

use crate::manifest::Manifest;
use crate::signing::{self, Policy, Verdict};

use super::artifacts;

/// Whether `digest` is the sha256 of one of the first-party components built into this
/// binary ([`artifacts::BUNDLED`]), which are trusted without a signature.
pub fn is_bundled(digest: &[u8; 32]) -> bool {
    let hex = hex::encode(digest);
    artifacts::BUNDLED
        .iter()
        .any(|bundled| bundled.sha256.eq_ignore_ascii_case(&hex))
}

/// [`Policy::check`] of `manifest` and its `component` bytes as found on disk: the
/// component is bundled when [`is_bundled`] says so by its sha256.
pub fn check_component(
    policy: &Policy,
    manifest: &Manifest,
    component: &[u8],
) -> signing::Result<Verdict> {
    let digest = signing::digest(component);
    policy.check(manifest, &digest, is_bundled(&digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::api_version_of;
    use crate::signing::{SignaturesConfig, digest};

    const COMPONENT: &[u8] = b"\0asm not really a component";

    fn manifest() -> Manifest {
        Manifest::from_json(
            r#"{"schema_version":1,"id":"signed","name":"Signed","kind":"health-probe",
                "version":"0.1.0","api":"^0.1"}"#,
        )
        .expect("manifest")
    }

    #[test]
    fn a_component_built_into_the_binary_is_trusted_by_its_digest_alone() {
        let bundled = artifacts::BUNDLED
            .first()
            .expect("first-party plugins are bundled");
        assert!(is_bundled(&digest(bundled.component)));
        let strict = Policy::from_config(&SignaturesConfig {
            trusted_keys: Vec::new(),
            require_signed: true,
        })
        .expect("policy");
        assert_eq!(
            check_component(&strict, &manifest(), bundled.component),
            Ok(Verdict::Bundled)
        );
        // Any other bytes, even with a bundled plugin's manifest, are held to the policy.
        assert!(!is_bundled(&digest(COMPONENT)));
        let err = check_component(&strict, &manifest(), COMPONENT).expect_err("unsigned");
        assert_eq!(
            err.to_string(),
            "plugin `signed`: not signed, and this host requires signed plugins \
             ([signatures] require_signed)"
        );
        assert_eq!(err.plugin(), Some("signed"));
        assert!(err.to_string().ends_with(&err.reason()), "{err}");
    }

    #[test]
    fn reads_the_version_and_kind_of_every_first_party_plugin() {
        for bundled in artifacts::BUNDLED {
            let api = api_version_of(bundled.component).expect(bundled.dir);
            assert_eq!(api.version, crate::manifest::WIT_VERSION, "{}", bundled.dir);
            assert!(api.supported);
            let manifest = Manifest::from_json(bundled.manifest).expect("manifest");
            assert_eq!(api.kind, Some(manifest.kind), "{}", bundled.dir);
            assert!(
                api.exports
                    .iter()
                    .all(|e| e.ends_with(&format!("@{}", api.version))),
                "{api:?}"
            );
        }
    }
}
