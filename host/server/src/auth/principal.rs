//! Who a request comes from, and the extractors that demand a credential.
//!
//! [`resolve`] reads a request's credential: `Authorization: Bearer <key>` (the admin key or
//! an API key) first, else the `sid` session cookie. The result ([`Resolved`]) is kept in
//! the request's extensions by [`super::guard`], so a request is resolved once however
//! many extractors ask. [`Require<S>`] succeeds for a credential holding scope `S` (or
//! `admin`): 401 without a valid credential, 403 without the scope. [`Admin`] is
//! `Require<scope::Admin>` under its old name; [`Authenticated`] takes any valid credential.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::Serialize;

use super::scope::{self, Scope, ScopeMarker, Scopes};
use super::{keys, sessions};
use crate::error::ApiError;
use crate::state::AppState;

/// A valid credential: who presented it and what it may do.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// Which credential.
    pub kind: Kind,
    /// What it may do.
    pub scopes: Scopes,
}

/// The kinds of credential.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// The operator's admin key.
    AdminKey,
    /// An API key.
    ApiKey {
        /// The key's id.
        id: String,
        /// The key's name.
        name: String,
    },
    /// A logged-in user's session.
    Session(sessions::Session),
}

/// The user a principal acts for, as login and `verify_session` answer it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// Id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Scopes.
    #[schema(value_type = Vec<String>)]
    pub scopes: Scopes,
}

impl Principal {
    /// Whether this principal may do what `scope` guards.
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.allows(scope)
    }

    /// Who this is, for logs: `admin key`, `api key <name>`, `user <name>`.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::AdminKey => "admin key".to_owned(),
            Kind::ApiKey { name, .. } => format!("api key {name}"),
            Kind::Session(session) => format!("user {}", session.user.username),
        }
    }

    /// The rate-limit bucket of this credential: one per API key, one per session.
    pub fn bucket(&self) -> String {
        match &self.kind {
            Kind::AdminKey => "admin".to_owned(),
            Kind::ApiKey { id, .. } => format!("key:{id}"),
            Kind::Session(session) => format!("session:{}", session.id),
        }
    }

    /// The session, when this principal is a logged-in user.
    pub fn session(&self) -> Option<&sessions::Session> {
        match &self.kind {
            Kind::Session(session) => Some(session),
            _ => None,
        }
    }
}

/// What a request's credential turned out to be.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// No credential at all.
    Anonymous,
    /// A valid one.
    Valid(Principal),
    /// One that is wrong, revoked or expired: why.
    Invalid(&'static str),
    /// The credential could not be checked (the database failed).
    Unavailable,
}

impl Resolved {
    /// The principal, when the credential is valid.
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Resolved::Valid(principal) => Some(principal),
            _ => None,
        }
    }

    /// The principal, or the error for a request that needs a credential; `needed`
    /// describes what for ("this operation needs the `plugins` scope").
    pub fn require_any(&self, needed: &str) -> Result<&Principal, ApiError> {
        match self {
            Resolved::Valid(principal) => Ok(principal),
            Resolved::Anonymous => Err(ApiError::unauthorized(format!(
                "{needed}: send `Authorization: Bearer <key>` or log in (POST /api/auth/login)"
            ))),
            Resolved::Invalid(why) => Err(ApiError::unauthorized(*why)),
            Resolved::Unavailable => Err(ApiError::unavailable(
                "Credentials cannot be checked right now; try again shortly",
            )),
        }
    }

    /// The principal if it holds `scope`; 401 or 403 (naming the scope) otherwise.
    pub fn require(&self, scope: Scope) -> Result<&Principal, ApiError> {
        let needed = format!("This operation needs the `{scope}` scope");
        let principal = self.require_any(&needed)?;
        if principal.allows(scope) {
            Ok(principal)
        } else {
            Err(ApiError::forbidden(format!(
                "{needed}; this credential ({}) has: {}",
                principal.describe(),
                principal.scopes
            )))
        }
    }
}

const INVALID_KEY: &str = "The API key is not valid (wrong, revoked or expired)";
const INVALID_SESSION: &str = "The session is not valid (expired or logged out); log in again";

/// The bearer token of `headers`, unless absent or empty (seed-001 clients send
/// `Bearer ` with an empty key when none is configured).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Reads the credential of a request with `headers`.
pub async fn resolve(headers: &HeaderMap, state: &AppState) -> Resolved {
    if let Some(token) = bearer(headers) {
        if state.admin.verify(token) {
            return Resolved::Valid(Principal {
                kind: Kind::AdminKey,
                scopes: Scopes::all(),
            });
        }
        return match keys::authenticate(&state.db, token).await {
            Ok(Some(key)) => Resolved::Valid(Principal {
                kind: Kind::ApiKey {
                    id: key.id,
                    name: key.name,
                },
                scopes: key.scopes,
            }),
            Ok(None) => Resolved::Invalid(INVALID_KEY),
            Err(err) => {
                tracing::error!(cause = %format!("{:#}", anyhow::Error::from(err)), "checking an API key failed");
                Resolved::Unavailable
            }
        };
    }
    if let Some(token) = sessions::cookie(headers) {
        return match sessions::resolve(&state.db, token).await {
            Ok(Some(session)) => Resolved::Valid(Principal {
                scopes: session.user.scopes.clone(),
                kind: Kind::Session(session),
            }),
            Ok(None) => Resolved::Invalid(INVALID_SESSION),
            Err(err) => {
                tracing::error!(cause = %format!("{:#}", anyhow::Error::from(err)), "checking a session failed");
                Resolved::Unavailable
            }
        };
    }
    Resolved::Anonymous
}

/// The request's credential: as [`super::guard`] resolved it, or resolved now (for a
/// request that did not pass the guard, such as one of a batch).
pub async fn resolved(parts: &mut Parts, state: &AppState) -> Resolved {
    if let Some(resolved) = parts.extensions.get::<Resolved>() {
        return resolved.clone();
    }
    let resolved = resolve(&parts.headers, state).await;
    parts.extensions.insert(resolved.clone());
    resolved
}

/// Extractor: the request's credential holds scope `S` (or `admin`).
#[derive(Debug, Clone)]
pub struct Require<S> {
    /// Who.
    pub principal: Principal,
    _scope: PhantomData<S>,
}

impl<S: ScopeMarker> FromRequestParts<AppState> for Require<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let resolved = resolved(parts, state).await;
        let principal = resolved.require(S::SCOPE)?.clone();
        Ok(Require {
            principal,
            _scope: PhantomData,
        })
    }
}

/// Extractor for routes that only an admin may use: the `admin` scope.
#[derive(Debug, Clone)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Admin, ApiError> {
        Require::<scope::Admin>::from_request_parts(parts, state).await?;
        Ok(Admin)
    }
}

/// Extractor: any valid credential.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Authenticated, ApiError> {
        let resolved = resolved(parts, state).await;
        let principal = resolved.require_any("This needs a credential")?;
        Ok(Authenticated(principal.clone()))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn a_bearer_token_is_read_in_any_case_and_an_empty_one_is_none() {
        let mut headers = HeaderMap::new();
        for (value, expected) in [
            ("Bearer abc", Some("abc")),
            ("bearer  abc ", Some("abc")),
            ("BEARER abc", Some("abc")),
            ("Bearer ", None),
            ("Basic abc", None),
            ("abc", None),
        ] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer(&headers), expected, "{value:?}");
        }
    }

    #[test]
    fn a_principal_without_the_scope_is_forbidden_naming_it() {
        let resolved = Resolved::Valid(Principal {
            kind: Kind::ApiKey {
                id: "1".into(),
                name: "ci".into(),
            },
            scopes: Scopes::parse(&["read"]).expect("scopes"),
        });
        let err = resolved.require(Scope::Plugins).expect_err("forbidden");
        assert_eq!(err.status(), axum::http::StatusCode::FORBIDDEN);
        assert!(resolved.require(Scope::Read).is_ok());
        let err = Resolved::Anonymous
            .require(Scope::Plugins)
            .expect_err("401");
        assert_eq!(err.status(), axum::http::StatusCode::UNAUTHORIZED);
        let err = Resolved::Invalid(INVALID_KEY)
            .require(Scope::Read)
            .expect_err("401");
        assert_eq!(err.status(), axum::http::StatusCode::UNAUTHORIZED);
    }
}
