//! Denials as the runtime reports them: what kind of access was refused ([`Kind`]) and
//! where the report goes ([`Denials`]). The host decides what to do with them (the server
//! writes them to its audit table and counts them in `/metrics`); the runtime only says
//! which plugin was refused what.

use serde::Serialize;

/// What was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A file or directory outside its grants.
    File,
    /// An outgoing connection to a host (or address) it was not granted.
    Host,
    /// A secret it may not read.
    Secret,
    /// An environment variable it may not read.
    Env,
    /// A per-call cap: time, memory, resources, output, logs.
    Cap,
    /// A per-plugin budget: concurrent calls, calls per minute, log lines per minute.
    Budget,
    /// A storage quota: kv bytes or keys.
    Quota,
}

impl Kind {
    /// Every kind, in the order the API documents them.
    pub const ALL: [Kind; 7] = [
        Kind::File,
        Kind::Host,
        Kind::Secret,
        Kind::Env,
        Kind::Cap,
        Kind::Budget,
        Kind::Quota,
    ];

    /// The name used in the API, the database and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Host => "host",
            Kind::Secret => "secret",
            Kind::Env => "env",
            Kind::Cap => "cap",
            Kind::Budget => "budget",
            Kind::Quota => "quota",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Where the runtime reports a refusal. Must not block or fail: it is called on the
/// refused call's path.
pub trait Denials: Send + Sync {
    /// `plugin` was refused something of `kind`; `detail` says what.
    fn deny(&self, plugin: &str, kind: Kind, detail: String);
}

/// Denials written to the log only (a runtime with no audit attached: the author CLI's
/// `plugin check`, benchmarks, unit tests).
#[derive(Debug, Default)]
pub struct LogDenials;

impl Denials for LogDenials {
    fn deny(&self, plugin: &str, kind: Kind, mut detail: String) {
        clip(&mut detail, 1024);
        tracing::debug!(plugin, kind = kind.as_str(), detail, "denied");
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary and replaces control
/// characters, so a plugin's or client's text cannot forge log lines or audit rows.
pub fn clip(text: &mut String, max: usize) {
    if text.chars().any(char::is_control) {
        *text = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
    }
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
}
