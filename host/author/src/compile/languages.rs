//! `sanctuary plugin build` for plugins written in JavaScript or Python: the directories
//! `sanctuary plugin new --lang js|python` writes. JavaScript runs `npm install` (when
//! `node_modules` is missing) and the package's `build` script (jco componentize); Python
//! runs `componentize-py` against the plugin's own `wit/`, for the world
//! `mcp-server-ext` when `app.py` implements `exports.McpExt` and `mcp-server` otherwise
//! (a JavaScript package names its world in its `build` script). Either way the
//! component is the file the manifest's `component` names, in the plugin directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use super::manifest_file;
use crate::manifest::MANIFEST_FILE;

/// Builds the JavaScript or Python plugin in `dir`; `None` when `dir` is neither.
pub fn build(dir: &Path) -> Result<Option<PathBuf>> {
    if dir.join("package.json").is_file() {
        let out = component_path(dir)?;
        if !dir.join("node_modules").is_dir() {
            run(
                dir,
                "npm",
                &["install", "--no-audit", "--no-fund"],
                "Node.js and npm",
            )?;
        }
        run(dir, "npm", &["run", "--silent", "build"], "Node.js and npm")?;
        return produced(out).map(Some);
    }
    if dir.join("app.py").is_file() && dir.join("wit").is_dir() {
        let out = component_path(dir)?;
        // componentize-py runs in `dir`: it writes the file name there.
        let out_arg = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let app = std::fs::read_to_string(dir.join("app.py"))
            .with_context(|| format!("reading {}", dir.join("app.py").display()))?;
        let world = python_world(&app);
        let args = [
            "-d",
            "wit",
            "-w",
            world,
            "componentize",
            "app",
            "-o",
            &out_arg,
        ];
        run(
            dir,
            "componentize-py",
            &args,
            "componentize-py (python3 -m pip install componentize-py)",
        )?;
        return produced(out).map(Some);
    }
    Ok(None)
}

/// The world a Python plugin's `app.py` is built for: `mcp-server-ext` when it implements
/// the `mcp-ext` export (a class deriving `exports.McpExt`), else `mcp-server`.
fn python_world(app: &str) -> &'static str {
    if app.contains("(exports.McpExt)") {
        "mcp-server-ext"
    } else {
        "mcp-server"
    }
}

/// Where the manifest says the component is.
fn component_path(dir: &Path) -> Result<PathBuf> {
    let manifest = dir.join(MANIFEST_FILE);
    let value = manifest_file::read(&manifest)?;
    let Some(name) = value.get("component").and_then(|c| c.as_str()) else {
        bail!("{} names no `component` file to build", manifest.display());
    };
    if name.contains(['/', '\\']) || name.starts_with('.') {
        bail!(
            "{}: `component` must be a file name, got `{name}`",
            manifest.display()
        );
    }
    Ok(dir.join(name))
}

/// Runs `program args` in `dir`, its output passed through; `needs` names what to install
/// when the program is missing.
fn run(dir: &Path, program: &str, args: &[&str], needs: &str) -> Result<()> {
    eprintln!("running {program} {} in {}", args.join(" "), dir.display());
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .with_context(|| format!("running {program}: is {needs} installed?"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// `out`, once the build has written it.
fn produced(out: PathBuf) -> Result<PathBuf> {
    if !out.is_file() {
        bail!(
            "the build finished but wrote no {}: does the build command's output match the \
             manifest's `component`?",
            out.display()
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_of_no_known_language_is_not_built() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(build(dir.path()).expect("no error").is_none());
    }

    #[test]
    fn a_component_name_with_a_path_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(MANIFEST_FILE),
            r#"{"component": "../elsewhere.wasm"}"#,
        )
        .expect("write");
        let err = component_path(dir.path()).expect_err("a path").to_string();
        assert!(err.contains("file name"), "{err}");
    }

    #[test]
    fn a_python_app_implementing_mcp_ext_is_built_for_the_ext_world() {
        assert_eq!(
            python_world("class McpExt(exports.McpExt):\n    pass\n"),
            "mcp-server-ext"
        );
        assert_eq!(python_world("class Mcp(exports.Mcp):\n"), "mcp-server");
    }
}
