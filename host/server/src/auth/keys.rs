//! API keys (`api_keys`): created by an admin with a name, scopes and an optional expiry,
//! shown once, stored as a sha256 hash with a short prefix for listings. A key is valid
//! until revoked or expired; each use records `last_used_at` (at most once a minute, so a
//! busy client does not write on every request).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Scopes;
use crate::clock;
use crate::db::{Db, Result};

/// How many characters of a key its listing shows (the fixed prefix and 8 hex digits).
const SHOWN: usize = super::KEY_PREFIX.len() + 8;

/// How stale `last_used_at` may get before a use writes it again.
const LAST_USED_RESOLUTION: Duration = Duration::seconds(60);

/// An API key as listings show it: never the secret.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// Id, for revoking.
    pub id: String,
    /// What the admin called it.
    pub name: String,
    /// The key's first characters.
    pub prefix: String,
    /// What it may do.
    #[schema(value_type = Vec<String>)]
    pub scopes: Scopes,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it stops working, if ever.
    pub expires_at: Option<String>,
    /// When it was last used (to the minute), if ever.
    pub last_used_at: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

const COLUMNS: &str = "id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at";

fn from_row(row: &AnyRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        scopes: Scopes::from_json(&row.try_get::<String, _>("scopes")?),
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// Creates a key; returns it as listed and the secret, which is not kept.
pub async fn create(
    db: &Db,
    name: &str,
    scopes: &Scopes,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(ApiKey, String)> {
    let secret = super::generate_key();
    let key = ApiKey {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        prefix: secret[..SHOWN].to_owned(),
        scopes: scopes.clone(),
        created_at: clock::timestamp(),
        expires_at: expires_at.map(clock::format),
        last_used_at: None,
        revoked_at: None,
    };
    sqlx::query(
        "INSERT INTO api_keys (id, name, prefix, key_hash, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.id)
    .bind(&key.name)
    .bind(&key.prefix)
    .bind(super::hash_hex(&secret))
    .bind(key.scopes.to_json())
    .bind(&key.created_at)
    .bind(&key.expires_at)
    .execute(db.pool())
    .await?;
    Ok((key, secret))
}

/// Every key, newest first, revoked ones included.
pub async fn list(db: &Db) -> Result<Vec<ApiKey>> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at DESC, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(from_row).collect()
}

/// The key with `id`, if there is one.
pub async fn get(db: &Db, id: &str) -> Result<Option<ApiKey>> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Revokes key `id` (a key revoked already keeps its first revocation time); the key as it
/// now stands, or `None` when there is no such key.
pub async fn revoke(db: &Db, id: &str) -> Result<Option<ApiKey>> {
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(clock::timestamp())
        .bind(id)
        .execute(db.pool())
        .await?;
    get(db, id).await
}

/// The key whose secret is `secret`, if it is neither revoked nor expired; records the use.
pub async fn authenticate(db: &Db, secret: &str) -> Result<Option<ApiKey>> {
    if !secret.starts_with(super::KEY_PREFIX) {
        return Ok(None);
    }
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(super::hash_hex(secret))
        .fetch_optional(db.pool())
        .await?;
    let Some(mut key) = row.as_ref().map(from_row).transpose()? else {
        return Ok(None);
    };
    let now = Utc::now();
    if key.revoked_at.is_some() || key.expires_at.as_deref().is_some_and(|at| passed(at, now)) {
        return Ok(None);
    }
    let stale = key
        .last_used_at
        .as_deref()
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .is_none_or(|at| now - at.with_timezone(&Utc) >= LAST_USED_RESOLUTION);
    if stale {
        let at = clock::format(now);
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(&at)
            .bind(&key.id)
            .execute(db.pool())
            .await?;
        key.last_used_at = Some(at);
    }
    Ok(Some(key))
}

/// Whether the stored time `at` is not after `now` (an unreadable time counts as passed).
fn passed(at: &str, now: DateTime<Utc>) -> bool {
    DateTime::parse_from_rfc3339(at).map_or(true, |at| at.with_timezone(&Utc) <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Scope;

    fn scopes(names: &[&str]) -> Scopes {
        Scopes::parse(names).expect("scopes")
    }

    #[tokio::test]
    async fn a_created_key_authenticates_until_revoked_and_only_its_hash_is_stored() {
        for db in crate::db::testing::all().await {
            let (key, secret) = create(&db, "ci", &scopes(&["plugins"]), None)
                .await
                .expect("create");
            assert!(secret.starts_with("sk-sanctuary-") && secret.len() == 13 + 64);
            assert!(secret.starts_with(&key.prefix) && key.prefix.len() < 30);
            let stored: Vec<String> = sqlx::query_scalar("SELECT key_hash FROM api_keys")
                .fetch_all(db.pool())
                .await
                .expect("query");
            assert_eq!(stored, [crate::auth::hash_hex(&secret)]);

            let found = authenticate(&db, &secret)
                .await
                .expect("authenticate")
                .expect("valid");
            assert_eq!(found.id, key.id);
            assert!(found.scopes.allows(Scope::Plugins));
            assert!(found.last_used_at.is_some(), "the use is recorded");
            let listed = list(&db).await.expect("list");
            assert_eq!(listed[0].last_used_at, found.last_used_at);

            assert!(
                authenticate(&db, "sk-sanctuary-nope")
                    .await
                    .expect("ok")
                    .is_none()
            );
            let revoked = revoke(&db, &key.id).await.expect("revoke").expect("exists");
            let first = revoked.revoked_at.clone().expect("revoked");
            assert!(authenticate(&db, &secret).await.expect("ok").is_none());
            let again = revoke(&db, &key.id).await.expect("revoke").expect("exists");
            assert_eq!(
                again.revoked_at,
                Some(first),
                "the first revocation time stays"
            );
            assert!(revoke(&db, "no-such-id").await.expect("ok").is_none());
        }
    }

    #[tokio::test]
    async fn an_expired_key_does_not_authenticate() {
        for db in crate::db::testing::all().await {
            let past = Utc::now() - Duration::seconds(1);
            let (_, secret) = create(&db, "old", &scopes(&["read"]), Some(past))
                .await
                .expect("create");
            assert!(authenticate(&db, &secret).await.expect("ok").is_none());
            let future = Utc::now() + Duration::days(1);
            let (key, secret) = create(&db, "new", &scopes(&["read"]), Some(future))
                .await
                .expect("create");
            assert!(authenticate(&db, &secret).await.expect("ok").is_some());
            assert_eq!(key.expires_at, Some(clock::format(future)));
        }
    }
}
