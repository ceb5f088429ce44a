//! The secrets file (`secrets_file` in the config, `--secrets-file`): API keys and the
//! like for plugins that declare them in `permissions.secrets`. Two formats, chosen by the
//! file name: `*.toml` is a table of `NAME = "value"`; anything else is `.env`-style
//! `NAME=value` lines (`#` comments, optional `export `, optional quotes). Values never
//! reach a log line or an error message: only names and line numbers do.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context as _, bail};

/// Reads the secrets in `path`.
pub fn read(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the secrets file {}", path.display()))?;
    let is_toml = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("toml"));
    let parsed = if is_toml {
        parse_toml(&text)
    } else {
        parse_env(&text)
    };
    parsed.with_context(|| format!("in the secrets file {}", path.display()))
}

/// A TOML table of string values.
pub fn parse_toml(text: &str) -> anyhow::Result<HashMap<String, String>> {
    // toml's own messages quote the offending line, which may hold a value: keep only
    // where the problem is.
    let table: toml::Table = toml::from_str(text).map_err(|e| match e.span() {
        Some(span) => anyhow::anyhow!(
            "not valid TOML near line {}",
            text[..span.start.min(text.len())].lines().count().max(1)
        ),
        None => anyhow::anyhow!("not valid TOML"),
    })?;
    let mut secrets = HashMap::new();
    for (name, value) in table {
        check_name(&name)?;
        match value {
            toml::Value::String(value) => {
                secrets.insert(name, value);
            }
            _ => bail!("secret {name} must be a string"),
        }
    }
    Ok(secrets)
}

/// `.env`-style lines: `NAME=value`, `export NAME=value`, `NAME="quoted value"`.
pub fn parse_env(text: &str) -> anyhow::Result<HashMap<String, String>> {
    let mut secrets = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((name, value)) = line.split_once('=') else {
            bail!("line {}: expected NAME=value", i + 1);
        };
        let name = name.trim();
        check_name(name).with_context(|| format!("line {}", i + 1))?;
        secrets.insert(name.to_string(), unquote(value.trim()));
    }
    Ok(secrets)
}

fn unquote(value: &str) -> String {
    for quote in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return value[1..value.len() - 1].to_string();
        }
    }
    // An unquoted value may carry a trailing ` # comment`.
    match value.find(" #") {
        Some(at) => value[..at].trim_end().to_string(),
        None => value.to_string(),
    }
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        bail!("{name:?} is not a valid secret name (letters, digits and `_`)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_env_style_lines_with_comments_exports_and_quotes() {
        let secrets = parse_env(
            "# keys\nOPENAI_API_KEY=sk-one\n\nexport ANTHROPIC_API_KEY = \"sk two\"\n\
             GEMINI_API_KEY='g=3' \nEMPTY=\nTRAILING=abc # note\n",
        )
        .expect("parses");
        assert_eq!(secrets["OPENAI_API_KEY"], "sk-one");
        assert_eq!(secrets["ANTHROPIC_API_KEY"], "sk two");
        assert_eq!(secrets["GEMINI_API_KEY"], "g=3");
        assert_eq!(secrets["EMPTY"], "");
        assert_eq!(secrets["TRAILING"], "abc");
    }

    #[test]
    fn reads_a_toml_table_of_strings() {
        let secrets = parse_toml("OPENAI_API_KEY = \"sk-one\"\nOTHER = \"x\"").expect("parses");
        assert_eq!(secrets.len(), 2);
        assert_eq!(secrets["OPENAI_API_KEY"], "sk-one");
    }

    #[test]
    fn errors_name_the_line_but_never_echo_a_value() {
        let err = parse_env("GOOD=1\nthis line holds sk-secret-value\n").expect_err("refused");
        let text = format!("{err:#}");
        assert!(text.contains("line 2"), "{text}");
        assert!(!text.contains("sk-secret-value"), "{text}");

        let err = parse_toml("KEY = \"sk-secret-value\"\nBAD = = \"sk-other\"").expect_err("bad");
        let text = format!("{err:#}");
        assert!(text.contains("line 2"), "{text}");
        assert!(!text.contains("sk-"), "{text}");

        let err = parse_toml("KEY = 5").expect_err("not a string");
        assert!(format!("{err:#}").contains("KEY must be a string"));
        assert!(parse_env("1BAD=x").is_err());
        assert!(parse_env("BAD NAME=x").is_err());
    }

    #[test]
    fn the_format_follows_the_file_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let toml = dir.path().join("secrets.toml");
        std::fs::write(&toml, "A = \"1\"").expect("write");
        assert_eq!(read(&toml).expect("toml")["A"], "1");
        let env = dir.path().join(".env");
        std::fs::write(&env, "A=2").expect("write");
        assert_eq!(read(&env).expect("env")["A"], "2");
        let err = read(&dir.path().join("missing")).expect_err("missing");
        assert!(format!("{err:#}").contains("missing"));
    }
}
