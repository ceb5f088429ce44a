//! One set of rules for every id a client or an operator names: plugins, providers, routes,
//! users, chat sessions, documents and job channels, on every surface (HTTP bodies and
//! paths, Socket.IO events, the config file, the registry, manifests).
//!
//! **The charset** is ASCII letters, digits and `-` `_` `.` `:` `@` `+`; an id starts with a
//! letter or a digit and is 1 to [`MAX_LEN`] bytes long. Nothing else gets in: no control
//! characters (a newline cannot forge a log line), no spaces, no `/` or `\` (ids name files
//! and directories), no quotes or brackets.
//!
//! **Narrower kinds.** Some ids become more than text, and take a subset of that charset:
//! - plugin and provider ids (a provider is a plugin) become file and directory names and
//!   the `<plugin>__<tool>` prefix of MCP tool names: lower-case letters, digits and `-`,
//!   at most [`MAX_PLUGIN_LEN`] bytes;
//! - route names are also OpenAI `model` names (`gpt-4.1-mini`): lower-case letters,
//!   digits, `-`, `_` and `.`, at most [`MAX_PLUGIN_LEN`] bytes.
//!
//! Client-made ids (users, sessions, documents, channels) take the whole charset: the seed
//! frontends send `session_1712345678`, `test_session` and `nathan`.

use std::fmt;

/// Longest id of any kind, in bytes.
pub const MAX_LEN: usize = 200;
/// Longest plugin, provider or route id, in bytes.
pub const MAX_PLUGIN_LEN: usize = 64;

/// What an id names; it decides the subset of the charset that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A plugin id (also a directory and file name, and MCP tool names' prefix).
    Plugin,
    /// A provider id: a plugin id.
    Provider,
    /// A provider route's name (also an OpenAI `model` name).
    Route,
    /// A user id as a client names it (`user_id`).
    User,
    /// A chat session id.
    Session,
    /// A document id (jobs).
    Document,
    /// A channel name (jobs).
    Channel,
}

impl Kind {
    /// The word used in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Plugin => "plugin id",
            Kind::Provider => "provider id",
            Kind::Route => "route name",
            Kind::User => "user id",
            Kind::Session => "session id",
            Kind::Document => "document id",
            Kind::Channel => "channel name",
        }
    }

    fn max_len(self) -> usize {
        match self {
            Kind::Plugin | Kind::Provider | Kind::Route => MAX_PLUGIN_LEN,
            _ => MAX_LEN,
        }
    }

    fn allows(self, b: u8) -> bool {
        match self {
            Kind::Plugin | Kind::Provider => {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
            }
            Kind::Route => {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
            }
            _ => b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@' | b'+'),
        }
    }

    fn charset(self) -> &'static str {
        match self {
            Kind::Plugin | Kind::Provider => "a-z, 0-9 and `-`",
            Kind::Route => "a-z, 0-9, `-`, `_` and `.`",
            _ => "letters, digits, `-`, `_`, `.`, `:`, `@` and `+`",
        }
    }
}

/// An id that breaks the rules; its `Display` says which rule, in words a client can act on.
/// The offending value is shown escaped and clipped, so the message is safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdError {
    /// What the id names.
    pub kind: Kind,
    message: String,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for IdError {}

/// Checks `value` as an id of `kind`.
pub fn check(kind: Kind, value: &str) -> Result<(), IdError> {
    let max = kind.max_len();
    let fail = |rule: String| {
        Err(IdError {
            kind,
            message: format!("{} {} {rule}", kind.noun(), shown(value)),
        })
    };
    if value.is_empty() {
        return fail("must not be empty".into());
    }
    if value.len() > max {
        return fail(format!("must be at most {max} bytes, not {}", value.len()));
    }
    if !value.as_bytes()[0].is_ascii_alphanumeric() {
        return fail("must start with a letter or a digit".into());
    }
    if !value.bytes().all(|b| kind.allows(b)) {
        return fail(format!("may only contain {}", kind.charset()));
    }
    Ok(())
}

/// `value` quoted, with control and non-ASCII characters escaped, clipped to 40 characters.
fn shown(value: &str) -> String {
    let mut out = String::from("`");
    for (i, c) in value.chars().enumerate() {
        if i == 40 {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out.push('`');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_ids_are_lower_case_letters_digits_and_dashes() {
        for good in ["time", "web-search", "a", "a1-b2", &"x".repeat(64)] {
            check(Kind::Plugin, good).expect(good);
            check(Kind::Provider, good).expect(good);
        }
        for bad in [
            "",
            "-x",
            "Time",
            "a_b",
            "a.b",
            "a b",
            "a/b",
            "..",
            "a\nb",
            &"x".repeat(65),
        ] {
            assert!(check(Kind::Plugin, bad).is_err(), "{bad:?}");
            assert!(check(Kind::Provider, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn route_names_also_take_model_punctuation() {
        for good in ["mama-bear", "gpt-4.1-mini", "my_route", "0"] {
            check(Kind::Route, good).expect(good);
        }
        for bad in ["", ".x", "_x", "Mama", "a:b", "a b", "a\u{7}"] {
            assert!(check(Kind::Route, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn client_ids_take_the_whole_charset_and_nothing_else() {
        for good in [
            "session_1712345678",
            "test_session",
            "nathan",
            "Nathan.B",
            "a@example.com",
            "u+1",
            "urn:x:1",
            "550e8400-e29b-41d4-a716-446655440000",
        ] {
            for kind in [Kind::User, Kind::Session, Kind::Document, Kind::Channel] {
                check(kind, good).expect(good);
            }
        }
        for bad in [
            "",
            "a\nb",
            "a b",
            "a/b",
            "-a",
            "é",
            "a\"b",
            "<x>",
            &"x".repeat(201),
        ] {
            assert!(check(Kind::Session, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_refusal_names_the_kind_and_shows_the_value_escaped_and_clipped() {
        let err = check(Kind::User, "evil\nINFO forged").expect_err("refused");
        let text = err.to_string();
        assert!(text.starts_with("user id `evil\\nINFO forged`"), "{text}");
        assert!(!text.contains('\n'));
        let long = check(Kind::Session, &format!("{}\u{0}", "y".repeat(300))).expect_err("long");
        assert!(long.to_string().len() < 120, "{long}");
    }
}
