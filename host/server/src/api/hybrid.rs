//! The hybrid backend's API (seed 003, BeSunny.ai's "Python backend") under `/api/v1`:
//! documents and projects, kept per user ([`records`]). Answers are the envelope the seed's
//! client reads (`response.data.documents`): `{success: true, data}`; failures
//! `{success: false, error: {message, status, details?}}` with the same status.
//!
//! The caller ([`V1User`]) is a bearer JWT as the seed's Supabase frontend sends it,
//! verified with `[jwt]`'s HS256 secret (from the environment) or RS256 public key and
//! mapped to the user of its `sub` claim; or any of Sanctuary's own credentials (a `sid`
//! session, an API key, the admin key). Anything else is refused with 401, saying why.

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::auth::principal::{self, Kind};
use crate::config::JwtConfig;
use crate::error::EnvelopeError;
use crate::state::AppState;

pub mod calendar;
pub mod records;

/// Default environment variable of the HS256 secret.
pub const JWT_SECRET_ENV: &str = "SANCTUARY_JWT_SECRET";

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    records::routes().merge(calendar::routes())
}

/// Who calls the hybrid API: a stable id the records are kept under, and a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1User {
    /// `jwt:<sub>` for a JWT, the user's id for a session, `key:<id>`, `admin`.
    pub id: String,
    /// The token's `email` (or `sub`), the username, the key's name.
    pub name: String,
}

/// The claims read from a token.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
}

fn unauthorized(message: impl Into<String>) -> EnvelopeError {
    EnvelopeError::new(StatusCode::UNAUTHORIZED, message)
}

/// Whether `token` looks like a JWT (three base64url parts).
fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3 && token.starts_with("eyJ")
}

/// Verifies `token` with the configured keys; the user it names.
pub fn verify_jwt(config: &JwtConfig, token: &str) -> Result<V1User, EnvelopeError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| unauthorized(format!("The bearer token is not a valid JWT: {e}")))?;
    let key = match header.alg {
        Algorithm::HS256 => {
            let var = config.secret_env.as_deref().unwrap_or(JWT_SECRET_ENV);
            let secret = std::env::var(var)
                .ok()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    unauthorized(format!(
                        "HS256 tokens are not accepted here: no secret is configured ({var})"
                    ))
                })?;
            DecodingKey::from_secret(secret.as_bytes())
        }
        Algorithm::RS256 => {
            let path = config.public_key_file.as_ref().ok_or_else(|| {
                unauthorized(
                    "RS256 tokens are not accepted here: no [jwt] public_key_file is configured",
                )
            })?;
            let pem = std::fs::read(path).map_err(|e| {
                tracing::error!(file = %path.display(), cause = %e, "cannot read the JWT public key");
                EnvelopeError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The JWT public key cannot be read; tokens cannot be checked right now",
                )
            })?;
            DecodingKey::from_rsa_pem(&pem).map_err(|e| {
                tracing::error!(file = %path.display(), cause = %e, "the JWT public key is not an RSA PEM key");
                EnvelopeError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The JWT public key is not valid; tokens cannot be checked right now",
                )
            })?
        }
        other => {
            return Err(unauthorized(format!(
                "JWTs signed with {other:?} are not accepted; use HS256 or RS256"
            )));
        }
    };
    let mut validation = Validation::new(header.alg);
    validation.set_required_spec_claims(&["exp", "sub"]);
    match &config.audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    if let Some(issuer) = &config.issuer {
        validation.set_issuer(&[issuer]);
    }
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| unauthorized(format!("The bearer token was refused: {e}")))?;
    let claims = data.claims;
    Ok(V1User {
        id: format!("jwt:{}", claims.sub),
        name: claims.email.unwrap_or(claims.sub),
    })
}

impl FromRequestParts<AppState> for V1User {
    type Rejection = EnvelopeError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<V1User, EnvelopeError> {
        if let Some(token) = principal::bearer(&parts.headers)
            && looks_like_jwt(token)
            && !state.admin.verify(token)
        {
            return verify_jwt(&state.config.jwt, token);
        }
        let resolved = principal::resolved(parts, state).await;
        let principal = resolved
            .require_any("This needs a credential: a bearer JWT, a session or an API key")
            .map_err(EnvelopeError::from)?;
        Ok(match &principal.kind {
            Kind::AdminKey => V1User {
                id: "admin".to_owned(),
                name: "Administrator".to_owned(),
            },
            Kind::ApiKey { id, name } => V1User {
                id: format!("key:{id}"),
                name: name.clone(),
            },
            Kind::Session(session) => V1User {
                id: session.user.id.clone(),
                name: session.user.username.clone(),
            },
        })
    }
}
