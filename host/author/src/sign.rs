//! `sanctuary plugin keygen` and `sanctuary plugin sign`: an ed25519 key pair in two text
//! files (`key`: the secret seed, base64, readable by its owner only; `key.pub`: the public
//! key, base64, what operators list in `[signatures] trusted_keys`), and a signature over
//! a component's sha256, printed and optionally written into its manifest or into its
//! entry of a registry file.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use serde_json::Value;

use super::manifest_file;
use crate::signing;

/// `sanctuary plugin keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the secret key; the public key goes to `<out>.pub`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace existing key files.
    #[arg(long)]
    pub force: bool,
}

/// `sanctuary plugin sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The component to sign.
    #[arg(value_name = "COMPONENT")]
    pub component: PathBuf,
    /// The secret key file written by `sanctuary plugin keygen`.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// A manifest.json (or a registry.json holding the component's entry) to write the
    /// signature (and the component's sha256) into.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

/// Writes a new key pair and prints the public key.
pub fn keygen(args: &KeygenArgs) -> Result<()> {
    let public_path = public_path(&args.out);
    for path in [&args.out, &public_path] {
        if path.exists() && !args.force {
            bail!(
                "{} exists; pass --force to replace it (signatures made with the old key stop being trusted)",
                path.display()
            );
        }
    }
    let key = signing::generate()?;
    write_secret(&args.out, &signing::encode_secret(&key))?;
    let public = signing::encode_public(&key.verifying_key());
    std::fs::write(&public_path, format!("{public}\n"))
        .with_context(|| format!("writing {}", public_path.display()))?;
    eprintln!(
        "wrote the secret key to {} (keep it private) and the public key to {}",
        args.out.display(),
        public_path.display()
    );
    eprintln!("operators trust it with: [signatures] trusted_keys = [\"{public}\"]");
    println!("{public}");
    Ok(())
}

/// Signs a component; prints the signature and writes it where asked.
pub fn sign(args: &SignArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading the key {}", args.key.display()))?;
    let key = signing::decode_secret(&text).with_context(|| {
        format!(
            "{} is not a key written by `sanctuary plugin keygen`",
            args.key.display()
        )
    })?;
    let bytes = std::fs::read(&args.component)
        .with_context(|| format!("reading {}", args.component.display()))?;
    let digest = signing::digest(&bytes);
    let signature = signing::sign(&key, &digest);
    let sha256 = hex::encode(digest);
    eprintln!(
        "signed {} (sha256 {sha256}) with key {}",
        args.component.display(),
        signature.key
    );
    println!("{}", signature.ed25519);
    if let Some(path) = &args.manifest {
        let file_name = args
            .component
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut value = manifest_file::read(path)?;
        let entry = entry_for(&mut value, &file_name, &sha256)
            .with_context(|| format!("in {}", path.display()))?;
        entry.insert("sha256".into(), Value::String(sha256.clone()));
        entry.insert(
            "signature".into(),
            serde_json::to_value(&signature).context("encoding the signature")?,
        );
        manifest_file::write(path, &value)?;
        eprintln!("wrote the signature into {}", path.display());
    }
    Ok(())
}

/// The object to sign in `value`: the manifest itself, or the registry entry naming the
/// component (by file name, else by sha256).
fn entry_for<'a>(
    value: &'a mut Value,
    file_name: &str,
    sha256: &str,
) -> Result<&'a mut serde_json::Map<String, Value>> {
    if value.get("plugins").is_some_and(Value::is_array) {
        let plugins = value["plugins"].as_array_mut().context("plugins")?;
        let at = plugins
            .iter()
            .position(|p| p["component"] == file_name)
            .or_else(|| plugins.iter().position(|p| p["sha256"] == sha256))
            .with_context(|| {
                format!("no registry entry names the component `{file_name}` or its sha256")
            })?;
        return plugins[at]
            .as_object_mut()
            .context("a registry entry is not an object");
    }
    value.as_object_mut().context("not a JSON object")
}

/// `<key>.pub`.
fn public_path(secret: &Path) -> PathBuf {
    let mut name = secret.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Writes the secret key readable by its owner only.
fn write_secret(path: &Path, text: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    std::io::Write::write_all(&mut file, format!("{text}\n").as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    #[test]
    fn a_signed_manifest_verifies_and_a_registry_entry_can_be_signed_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("key");
        keygen(&KeygenArgs {
            out: key.clone(),
            force: false,
        })
        .expect("keygen");
        assert!(
            keygen(&KeygenArgs {
                out: key.clone(),
                force: false
            })
            .is_err(),
            "an existing key is not overwritten"
        );
        let public = std::fs::read_to_string(dir.path().join("key.pub")).expect("pub");

        let component = dir.path().join("p.wasm");
        std::fs::write(&component, b"\0asm component bytes").expect("write");
        let manifest = dir.path().join("manifest.json");
        std::fs::write(
            &manifest,
            r#"{"schema_version":1,"id":"p","name":"P","kind":"health-probe","version":"0.1.0","api":"^0.1"}"#,
        )
        .expect("write");
        sign(&SignArgs {
            component: component.clone(),
            key: key.clone(),
            manifest: Some(manifest.clone()),
        })
        .expect("signs");
        let m =
            Manifest::from_json(&std::fs::read_to_string(&manifest).expect("read")).expect("valid");
        let signature = m.signature.expect("signed");
        assert_eq!(signature.key, public.trim());
        let digest = signing::digest(b"\0asm component bytes");
        signing::verify("p", &signature, &digest).expect("verifies");
        assert_eq!(m.sha256, Some(hex::encode(digest)));

        let registry = dir.path().join("registry.json");
        std::fs::write(
            &registry,
            r#"{"schema_version":1,"name":"R","plugins":[
                {"schema_version":1,"id":"other","name":"O","kind":"health-probe","version":"0.1.0","api":"^0.1","component":"o.wasm","sha256":"00"},
                {"schema_version":1,"id":"p","name":"P","kind":"health-probe","version":"0.1.0","api":"^0.1","component":"p.wasm"}]}"#,
        )
        .expect("write");
        sign(&SignArgs {
            component,
            key,
            manifest: Some(registry.clone()),
        })
        .expect("signs the entry");
        let value = manifest_file::read(&registry).expect("read");
        assert!(value["plugins"][0].get("signature").is_none());
        assert_eq!(value["plugins"][1]["signature"]["key"], public.trim());
    }
}
