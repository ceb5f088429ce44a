//! Admin authentication for routes that change the installation. The admin key comes from
//! `SANCTUARY_ADMIN_TOKEN`, or is generated on first start, stored as a sha256 hash in the
//! database and printed once. Callers present it as `Authorization: Bearer <key>`;
//! without it they get 401 in the seeds' error body.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use sqlx::Row;
use tracing::{info, warn};

use crate::clock;
use crate::db::Db;
use crate::error::ApiError;
use crate::state::AppState;

/// The hashes of the keys that grant admin rights.
pub struct AdminKeys {
    hashes: Vec<[u8; 32]>,
}

/// What set-up produced, for the caller to announce.
pub enum KeySource {
    /// From `SANCTUARY_ADMIN_TOKEN`.
    Environment,
    /// Read from the database (generated on an earlier start).
    Stored,
    /// Generated now: the key, to be shown once.
    Generated(String),
}

impl AdminKeys {
    /// Loads the admin keys: the environment token if given, otherwise the stored keys,
    /// generating and storing one when there is none.
    pub async fn init(
        db: &Db,
        env_token: Option<&str>,
    ) -> crate::db::Result<(AdminKeys, KeySource)> {
        if let Some(token) = env_token {
            return Ok((
                AdminKeys {
                    hashes: vec![hash(token)],
                },
                KeySource::Environment,
            ));
        }
        let rows = sqlx::query("SELECT key_hash FROM admin_keys")
            .fetch_all(db.pool())
            .await?;
        let hashes: Vec<[u8; 32]> = rows
            .iter()
            .filter_map(|row| {
                let text: String = row.get("key_hash");
                hex::decode(text).ok()?.try_into().ok()
            })
            .collect();
        if !hashes.is_empty() {
            return Ok((AdminKeys { hashes }, KeySource::Stored));
        }
        let key = generate_key();
        sqlx::query(
            "INSERT INTO admin_keys (id, key_hash, label, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(hex::encode(hash(&key)))
        .bind("generated on first start")
        .bind(clock::timestamp())
        .execute(db.pool())
        .await?;
        Ok((
            AdminKeys {
                hashes: vec![hash(&key)],
            },
            KeySource::Generated(key),
        ))
    }

    /// Keys for tests: exactly `token`.
    pub fn from_token(token: &str) -> AdminKeys {
        AdminKeys {
            hashes: vec![hash(token)],
        }
    }

    /// Whether `presented` is an admin key. Compares hashes in constant time.
    pub fn verify(&self, presented: &str) -> bool {
        let candidate = hash(presented);
        self.hashes.iter().fold(false, |found, stored| {
            let diff = stored
                .iter()
                .zip(candidate.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            found | (diff == 0)
        })
    }
}

impl KeySource {
    /// Logs where the key came from; a generated key is printed once, on stdout too, so
    /// the operator sees it even with logging turned down.
    pub fn announce(&self) {
        match self {
            KeySource::Environment => info!("admin key taken from SANCTUARY_ADMIN_TOKEN"),
            KeySource::Stored => {
                info!("admin key: the one generated on first start (stored hashed)")
            }
            KeySource::Generated(key) => {
                warn!("generated an admin key; it is shown once and stored only as a hash");
                println!(
                    "\n  Admin key (shown once): {key}\n  Send it as `Authorization: Bearer <key>` to install, remove or configure plugins.\n  Set SANCTUARY_ADMIN_TOKEN to choose your own.\n"
                );
            }
        }
    }
}

fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// 256 random bits from two v4 UUIDs (the OS random source), as hex.
fn generate_key() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    format!("sk-sanctuary-{}{}", a.simple(), b.simple())
}

/// Extractor for routes that change the installation: succeeds only for a request that
/// carries an admin key.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Admin, ApiError> {
        let header = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let Some(header) = header else {
            return Err(ApiError::unauthorized(
                "This operation needs an admin key: send `Authorization: Bearer <key>`",
            ));
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .unwrap_or_default();
        if !token.is_empty() && state.admin.verify(token) {
            Ok(Admin)
        } else {
            Err(ApiError::unauthorized("The admin key is not valid"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_exact_key() {
        let keys = AdminKeys::from_token("secret-key");
        assert!(keys.verify("secret-key"));
        assert!(!keys.verify("secret-key "));
        assert!(!keys.verify("Secret-key"));
        assert!(!keys.verify(""));
    }

    #[tokio::test]
    async fn generates_a_key_once_and_stores_only_its_hash() {
        for db in crate::db::testing::all().await {
            let (keys, source) = AdminKeys::init(&db, None).await.expect("init");
            let KeySource::Generated(key) = source else {
                panic!("a fresh database gets a generated key");
            };
            assert!(keys.verify(&key));
            let stored: Vec<String> = sqlx::query("SELECT key_hash FROM admin_keys")
                .fetch_all(db.pool())
                .await
                .expect("query")
                .iter()
                .map(|r| r.get("key_hash"))
                .collect();
            assert_eq!(stored.len(), 1);
            assert!(!stored[0].contains(&key), "the key itself is not stored");
            let (again, source) = AdminKeys::init(&db, None).await.expect("init");
            assert!(matches!(source, KeySource::Stored), "not generated twice");
            assert!(again.verify(&key));
        }
    }
}
