//! Authentication and authorization for the HTTP API and Socket.IO.
//!
//! Three kinds of credential, each resolved to a [`Principal`] holding [`Scopes`]:
//! - the operator's **admin key** ([`AdminKeys`]): from `SANCTUARY_ADMIN_TOKEN`, or
//!   generated on first start, stored as a sha256 hash and printed once; it holds every scope;
//! - **API keys** ([`keys`]) created by an admin, with scopes, an optional expiry and a
//!   last-used time, stored hashed and shown once;
//! - **sessions** ([`sessions`]) of users ([`users`], argon2id passwords) who logged in with
//!   `POST /api/auth/login`: a `sid` cookie, stored hashed.
//!
//! Keys travel as `Authorization: Bearer <key>`, sessions as the `sid` cookie. Handlers
//! name what they need with an extractor: [`Require<scope::Plugins>`](Require) and the like
//! (401 without a credential, 403 without the scope), or [`Admin`]. [`guard`] resolves the
//! credential once per request, applies the rate limits ([`ratelimit`]) and closes reading
//! and chat when `[auth] open_read` / `open_chat` say so.

pub mod guard;
pub mod keys;
pub mod principal;
pub mod ratelimit;
pub mod scope;
pub mod sessions;
pub mod users;

use sha2::{Digest, Sha256};
use sqlx::Row;
use tracing::{info, warn};

pub use principal::{Admin, Authenticated, Principal, Require, Resolved};
pub use scope::{Scope, Scopes};

use crate::clock;
use crate::db::Db;

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

/// Row id of the admin key generated on first start: one per database, whichever node
/// starts first.
const FIRST_START_KEY_ID: &str = "generated-on-first-start";

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
        // Nodes starting together on a fresh database race here: the key generated on
        // first start has one fixed row id, so exactly one insert wins, and the others
        // use the winner's key (printed by the node that generated it).
        let key = generate_key();
        let inserted = sqlx::query(
            "INSERT INTO admin_keys (id, key_hash, label, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(FIRST_START_KEY_ID)
        .bind(hex::encode(hash(&key)))
        .bind("generated on first start")
        .bind(clock::timestamp())
        .execute(db.pool())
        .await?
        .rows_affected();
        if inserted == 0 {
            let row = sqlx::query("SELECT key_hash FROM admin_keys WHERE id = $1")
                .bind(FIRST_START_KEY_ID)
                .fetch_one(db.pool())
                .await?;
            let text: String = row.get("key_hash");
            let hashes = hex::decode(text)
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .into_iter()
                .collect();
            return Ok((AdminKeys { hashes }, KeySource::Stored));
        }
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
            found | constant_time_eq(stored, &candidate)
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

/// The sha256 of a secret as hex: how API keys and session ids are stored and looked up.
/// (A 256-bit random secret needs no slow hash: it cannot be guessed from its hash.)
pub fn hash_hex(secret: &str) -> String {
    hex::encode(hash(secret))
}

/// The start of every key this host hands out.
pub const KEY_PREFIX: &str = "sk-sanctuary-";

/// 256 bits from the operator system's random source, as 64 hex digits.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    // Without a working OS random source no secret can be made safely: a fault of the
    // machine, not of a request.
    getrandom::fill(&mut bytes).expect("the OS random source works");
    hex::encode(bytes)
}

/// A new key: [`KEY_PREFIX`] and 256 random bits.
fn generate_key() -> String {
    format!("{KEY_PREFIX}{}", random_hex())
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

    #[tokio::test]
    async fn nodes_starting_together_on_a_fresh_database_agree_on_one_generated_key() {
        for db in crate::db::testing::all().await {
            let starts =
                futures::future::join_all((0..4).map(|_| AdminKeys::init(&db, None))).await;
            let mut generated = Vec::new();
            let mut keys = Vec::new();
            for start in starts {
                let (admin, source) = start.expect("init");
                if let KeySource::Generated(key) = source {
                    generated.push(key);
                }
                keys.push(admin);
            }
            assert_eq!(generated.len(), 1, "exactly one node generates the key");
            for admin in &keys {
                assert!(
                    admin.verify(&generated[0]),
                    "every node accepts the one key"
                );
            }
            let count: i64 = sqlx::query("SELECT COUNT(*) FROM admin_keys")
                .fetch_one(db.pool())
                .await
                .expect("count")
                .get(0);
            assert_eq!(count, 1);
        }
    }
}
