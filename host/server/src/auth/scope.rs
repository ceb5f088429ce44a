//! What a credential may do: the scopes an API key or a user holds, and the marker types
//! that name one scope in a handler's signature (`Require<scope::Plugins>`).
//!
//! `admin` grants everything, including key and user management; every other scope grants
//! one group of changes. Any valid credential may read (`read` is the scope of a key that
//! may do nothing else), which matters only when `[auth] open_read = false`.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One permission a credential can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Everything, including managing keys and users.
    Admin,
    /// Install, uninstall, enable and disable plugins, grant permissions, install MCP servers.
    Plugins,
    /// Bind chat routes to providers (provider swap).
    Providers,
    /// Create, retry and cancel jobs.
    Jobs,
    /// Invalidate and clear caches.
    Cache,
    /// Read, when reading is closed (`[auth] open_read = false`).
    Read,
}

impl Scope {
    /// Every scope, in the order listings show them.
    pub const ALL: [Scope; 6] = [
        Scope::Admin,
        Scope::Plugins,
        Scope::Providers,
        Scope::Jobs,
        Scope::Cache,
        Scope::Read,
    ];

    /// The scope's name as the API spells it.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Plugins => "plugins",
            Scope::Providers => "providers",
            Scope::Jobs => "jobs",
            Scope::Cache => "cache",
            Scope::Read => "read",
        }
    }

    /// The scope called `name`, if there is one.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.name() == name)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// Every scope (the operator's admin key).
    pub fn all() -> Scopes {
        Scopes(Scope::ALL.into_iter().collect())
    }

    /// Parses scope names; an unknown name is an error naming it and the known ones.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Scopes, String> {
        names
            .iter()
            .map(|name| {
                let name = name.as_ref().trim();
                Scope::parse(name).ok_or_else(|| {
                    format!(
                        "unknown scope {name:?}; the scopes are {}",
                        Scope::ALL.map(Scope::name).join(", ")
                    )
                })
            })
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Scopes)
    }

    /// Whether these scopes allow what `scope` guards: holding it, or holding `admin`.
    pub fn allows(&self, scope: Scope) -> bool {
        self.0.contains(&Scope::Admin) || self.0.contains(&scope)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes' names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|scope| scope.name()).collect()
    }

    /// As stored in the database: a JSON array of names.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.names()).unwrap_or_else(|_| "[]".to_owned())
    }

    /// Reads the stored JSON array; unknown names (from a newer version) are skipped.
    pub fn from_json(text: &str) -> Scopes {
        let names: Vec<String> = serde_json::from_str(text).unwrap_or_default();
        Scopes(names.iter().filter_map(|name| Scope::parse(name)).collect())
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&self.names().join(", "))
    }
}

/// A scope named by a type, for [`super::Require`].
pub trait ScopeMarker: Send + Sync + 'static {
    /// The scope this type names.
    const SCOPE: Scope;
}

macro_rules! markers {
    ($($(#[$doc:meta])* $name:ident => $scope:expr;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl ScopeMarker for $name {
                const SCOPE: Scope = $scope;
            }
        )*
    };
}

markers! {
    /// The `admin` scope.
    Admin => Scope::Admin;
    /// The `plugins` scope.
    Plugins => Scope::Plugins;
    /// The `providers` scope.
    Providers => Scope::Providers;
    /// The `jobs` scope.
    Jobs => Scope::Jobs;
    /// The `cache` scope.
    Cache => Scope::Cache;
    /// The `read` scope.
    Read => Scope::Read;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_allows_everything_and_other_scopes_only_themselves() {
        let admin = Scopes::parse(&["admin"]).expect("parses");
        assert!(Scope::ALL.into_iter().all(|scope| admin.allows(scope)));
        let plugins = Scopes::parse(&["plugins", "cache"]).expect("parses");
        assert!(plugins.allows(Scope::Plugins) && plugins.allows(Scope::Cache));
        assert!(!plugins.allows(Scope::Jobs) && !plugins.allows(Scope::Admin));
    }

    #[test]
    fn an_unknown_scope_is_refused_by_name() {
        let err = Scopes::parse(&["plugins", "plugin"]).expect_err("refused");
        assert!(
            err.contains("\"plugin\"") && err.contains("providers"),
            "{err}"
        );
    }

    #[test]
    fn scopes_round_trip_through_their_stored_form() {
        let scopes = Scopes::parse(&["read", "jobs", "jobs"]).expect("parses");
        assert_eq!(scopes.to_json(), r#"["jobs","read"]"#);
        assert_eq!(Scopes::from_json(&scopes.to_json()), scopes);
        assert_eq!(Scopes::from_json("not json"), Scopes::default());
        assert_eq!(scopes.to_string(), "jobs, read");
    }
}
