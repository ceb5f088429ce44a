//! Plugin signatures: an ed25519 signature over a component's raw 32-byte sha256 digest,
//! carried in its manifest (or registry entry) as
//! `"signature": {"key": "<base64 public key>", "ed25519": "<base64 signature>"}`, and the
//! host's policy (`[signatures]`): which public keys it trusts and whether it refuses
//! unsigned plugins. Every way a plugin gets in goes through [`Policy::check`]: registry
//! installs and uploads before anything is written, and every load from the plugins
//! directory (at start, by the watcher, on enable) — so a plugin copied there by hand is
//! held to the same policy. The first-party plugins built into the binary are trusted
//! without a signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::manifest::Manifest;

/// A manifest's signature block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The signer's ed25519 public key, base64 (32 bytes).
    pub key: String,
    /// The ed25519 signature of the component's sha256 digest, base64 (64 bytes).
    pub ed25519: String,
}

/// The host's signature settings (`[signatures]` in the config file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignaturesConfig {
    /// Public keys (base64 ed25519) whose signatures this host accepts.
    pub trusted_keys: Vec<String>,
    /// Refuse plugins that carry no signature: registry installs, uploads, and plugins
    /// found in the plugins directory (the bundled first-party plugins excepted).
    pub require_signed: bool,
}

/// Why a signature or key was refused. Refusals of a plugin read
/// "plugin `<id>`: <reason>", the same whether it is installed, uploaded or loaded from
/// the plugins directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The plugin is unsigned and the host requires signatures.
    Unsigned {
        /// Plugin id.
        id: String,
    },
    /// Signed by a key the host does not trust.
    UnknownKey {
        /// Plugin id.
        id: String,
        /// The signer's key, base64.
        key: String,
    },
    /// The signature does not match the component.
    BadSignature {
        /// Plugin id.
        id: String,
        /// The signer's key, base64.
        key: String,
    },
    /// A key or signature that is not valid base64 of the right length.
    Malformed {
        /// Which value.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// The plugin refused, when the error is about one.
    pub fn plugin(&self) -> Option<&str> {
        match self {
            Error::Unsigned { id }
            | Error::UnknownKey { id, .. }
            | Error::BadSignature { id, .. } => Some(id),
            Error::Malformed { .. } => None,
        }
    }

    /// What is wrong, without the plugin's name.
    pub fn reason(&self) -> String {
        match self {
            Error::Unsigned { .. } => "not signed, and this host requires signed plugins \
                                       ([signatures] require_signed)"
                .to_string(),
            Error::UnknownKey { key, .. } => {
                format!("signed by an unknown key {key} (not in [signatures] trusted_keys)")
            }
            Error::BadSignature { key, .. } => format!(
                "bad signature: it does not verify against the component's sha256 with key {key}"
            ),
            Error::Malformed { what, reason } => format!("{what}: {reason}"),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.plugin() {
            Some(id) => write!(f, "plugin `{id}`: {}", self.reason()),
            None => f.write_str(&self.reason()),
        }
    }
}

impl std::error::Error for Error {}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What [`Policy::check`] concluded about an accepted plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Built into the binary: trusted as is.
    Bundled,
    /// No signature, and none is required.
    Unsigned,
    /// Signed by this trusted key.
    Trusted(String),
}

/// The host's trusted keys and whether it requires signatures.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    trusted: Vec<VerifyingKey>,
    require_signed: bool,
}

impl Policy {
    /// The policy of `config`; a trusted key that does not decode is an error naming it.
    pub fn from_config(config: &SignaturesConfig) -> Result<Policy> {
        let trusted = config
            .trusted_keys
            .iter()
            .map(|key| public_key(key, "signatures.trusted_keys"))
            .collect::<Result<_>>()?;
        Ok(Policy {
            trusted,
            require_signed: config.require_signed,
        })
    }

    /// Accepts or refuses `manifest` whose component hashes to `digest`. `bundled` marks
    /// the first-party plugins built into the binary, which are trusted.
    pub fn check(&self, manifest: &Manifest, digest: &[u8; 32], bundled: bool) -> Result<Verdict> {
        if bundled {
            return Ok(Verdict::Bundled);
        }
        let Some(signature) = &manifest.signature else {
            return if self.require_signed {
                Err(Error::Unsigned {
                    id: manifest.id.clone(),
                })
            } else {
                Ok(Verdict::Unsigned)
            };
        };
        let key = public_key(&signature.key, "signature.key")?;
        if !self.trusted.contains(&key) {
            return Err(Error::UnknownKey {
                id: manifest.id.clone(),
                key: signature.key.clone(),
            });
        }
        verify(&manifest.id, signature, digest)?;
        Ok(Verdict::Trusted(signature.key.clone()))
    }
}

/// Checks `signature` against `digest` with the key it names (trust is not checked).
pub fn verify(id: &str, signature: &Signature, digest: &[u8; 32]) -> Result<()> {
    let key = public_key(&signature.key, "signature.key")?;
    let bytes: [u8; 64] = decode(&signature.ed25519, "signature.ed25519")?;
    let sig = ed25519_dalek::Signature::from_bytes(&bytes);
    key.verify(digest, &sig).map_err(|_| Error::BadSignature {
        id: id.to_string(),
        key: signature.key.clone(),
    })
}

/// Checks that a signature block holds a public key and a 64-byte signature (whether it
/// verifies is [`verify`]'s business).
pub fn check_shape(signature: &Signature) -> Result<()> {
    public_key(&signature.key, "signature.key")?;
    decode::<64>(&signature.ed25519, "signature.ed25519")?;
    Ok(())
}

/// The sha256 of a component, as the raw 32 bytes that are signed.
pub fn digest(component: &[u8]) -> [u8; 32] {
    Sha256::digest(component).into()
}

/// Signs `digest` with `key`.
pub fn sign(key: &SigningKey, digest: &[u8; 32]) -> Signature {
    Signature {
        key: encode_public(&key.verifying_key()),
        ed25519: BASE64.encode(key.sign(digest).to_bytes()),
    }
}

/// A new random signing key.
pub fn generate() -> Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::Malformed {
        what: "random key".into(),
        reason: format!("no randomness available: {e}"),
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A public key as written in configs and manifests: base64 of its 32 bytes.
pub fn encode_public(key: &VerifyingKey) -> String {
    BASE64.encode(key.as_bytes())
}

/// A secret key as written in a key file: base64 of its 32-byte seed.
pub fn encode_secret(key: &SigningKey) -> String {
    BASE64.encode(key.to_bytes())
}

/// Reads a secret key written by [`encode_secret`] (surrounding whitespace ignored).
pub fn decode_secret(text: &str) -> Result<SigningKey> {
    let seed: [u8; 32] = decode(text.trim(), "secret key")?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Decodes a base64 public key; `what` names it in errors.
pub fn public_key(text: &str, what: &str) -> Result<VerifyingKey> {
    let bytes: [u8; 32] = decode(text.trim(), what)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| Error::Malformed {
        what: what.to_string(),
        reason: format!("`{text}` is not an ed25519 public key"),
    })
}

fn decode<const N: usize>(text: &str, what: &str) -> Result<[u8; N]> {
    let bytes = BASE64.decode(text.trim()).map_err(|e| Error::Malformed {
        what: what.to_string(),
        reason: format!("not base64: {e}"),
    })?;
    let len = bytes.len();
    bytes.try_into().map_err(|_| Error::Malformed {
        what: what.to_string(),
        reason: format!("expected {N} bytes, found {len}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(signature: Option<Signature>) -> Manifest {
        let mut m = Manifest::from_json(
            r#"{"schema_version":1,"id":"signed","name":"Signed","kind":"health-probe",
                "version":"0.1.0","api":"^0.1"}"#,
        )
        .expect("valid");
        m.signature = signature;
        m
    }

    fn policy(keys: &[&SigningKey], require_signed: bool) -> Policy {
        Policy::from_config(&SignaturesConfig {
            trusted_keys: keys
                .iter()
                .map(|k| encode_public(&k.verifying_key()))
                .collect(),
            require_signed,
        })
        .expect("valid keys")
    }

    const COMPONENT: &[u8] = b"\0asm not really a component";

    #[test]
    fn accepts_a_component_signed_by_a_trusted_key() {
        let key = generate().expect("key");
        let digest = digest(COMPONENT);
        let m = manifest(Some(sign(&key, &digest)));
        let verdict = policy(&[&key], true).check(&m, &digest, false);
        assert_eq!(
            verdict,
            Ok(Verdict::Trusted(encode_public(&key.verifying_key())))
        );
    }

    #[test]
    fn refuses_a_signature_by_an_unknown_key_naming_the_key() {
        let trusted = generate().expect("key");
        let stranger = generate().expect("key");
        let digest = digest(COMPONENT);
        let m = manifest(Some(sign(&stranger, &digest)));
        let err = policy(&[&trusted], false)
            .check(&m, &digest, false)
            .expect_err("unknown key");
        assert!(matches!(err, Error::UnknownKey { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("unknown key"), "{text}");
        assert!(
            text.contains(&encode_public(&stranger.verifying_key())),
            "{text}"
        );
    }

    #[test]
    fn refuses_a_signature_that_does_not_match_the_component() {
        let key = generate().expect("key");
        let m = manifest(Some(sign(&key, &digest(COMPONENT))));
        let tampered = digest(b"\0asm something else");
        let err = policy(&[&key], false)
            .check(&m, &tampered, false)
            .expect_err("bad signature");
        assert!(matches!(err, Error::BadSignature { .. }), "{err}");
        assert!(err.to_string().contains("bad signature"), "{err}");
    }

    #[test]
    fn refuses_an_unsigned_plugin_only_when_signatures_are_required() {
        let key = generate().expect("key");
        let digest = digest(COMPONENT);
        let m = manifest(None);
        assert_eq!(
            policy(&[&key], false).check(&m, &digest, false),
            Ok(Verdict::Unsigned)
        );
        let err = policy(&[&key], true)
            .check(&m, &digest, false)
            .expect_err("unsigned");
        assert!(matches!(err, Error::Unsigned { .. }), "{err}");
        assert!(err.to_string().contains("require_signed"), "{err}");
    }

    #[test]
    fn trusts_the_bundled_plugins_without_a_signature() {
        let m = manifest(None);
        assert_eq!(
            policy(&[], true).check(&m, &digest(COMPONENT), true),
            Ok(Verdict::Bundled)
        );
    }

    #[test]
    fn a_malformed_trusted_key_is_a_config_error_naming_the_setting() {
        for bad in ["not base64!", "AAAA"] {
            let err = Policy::from_config(&SignaturesConfig {
                trusted_keys: vec![bad.into()],
                require_signed: false,
            })
            .expect_err(bad);
            assert!(err.to_string().contains("signatures.trusted_keys"), "{err}");
        }
    }

    #[test]
    fn a_secret_key_survives_its_text_form() {
        let key = generate().expect("key");
        let back = decode_secret(&format!("{}\n", encode_secret(&key))).expect("decodes");
        assert_eq!(back.to_bytes(), key.to_bytes());
        assert!(decode_secret("short").is_err());
    }

    #[test]
    fn a_tampered_signature_text_is_refused_not_panicking() {
        let key = generate().expect("key");
        let digest = digest(COMPONENT);
        let mut sig = sign(&key, &digest);
        sig.ed25519 = "%%%".into();
        let err = verify("x", &sig, &digest).expect_err("malformed");
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
    }
}
