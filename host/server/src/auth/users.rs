//! Users (`users`): created by an admin with a username, a password and scopes; the
//! password is kept only as an argon2id PHC string. [`check_password`] answers the same,
//! and takes about as long, for an unknown user as for a wrong password, so a login
//! attempt cannot tell which usernames exist.

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Scopes;
use crate::clock;
use crate::db::Db;

/// Longest username accepted.
pub const MAX_USERNAME: usize = 128;
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;
/// Longest password accepted (bytes): hashing is the cost, not storage.
pub const MAX_PASSWORD: usize = 1024;

/// What can go wrong managing users.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The username or password does not meet the rules.
    #[error("{0}")]
    Invalid(String),
    /// The username is taken.
    #[error("a user named {0:?} exists already")]
    Exists(String),
    /// Hashing failed (the OS random source, or a task that did not finish).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] crate::db::Error),
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Error {
        Error::Db(err.into())
    }
}

/// Result of a user operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A user as the API shows it: never the password hash.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct User {
    /// Id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// What the user may do.
    #[schema(value_type = Vec<String>)]
    pub scopes: Scopes,
    /// When the user was created (RFC 3339).
    pub created_at: String,
}

pub(crate) fn from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        scopes: Scopes::from_json(&row.try_get::<String, _>("scopes")?),
        created_at: row.try_get("created_at")?,
    })
}

/// Checks a username and password against the rules.
fn validate(username: &str, password: &str) -> Result<()> {
    if username.is_empty() || username.chars().count() > MAX_USERNAME {
        return Err(Error::Invalid(format!(
            "username must have 1 to {MAX_USERNAME} characters"
        )));
    }
    if username
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::Invalid(
            "username must not contain spaces or control characters".into(),
        ));
    }
    if password.chars().count() < MIN_PASSWORD || password.len() > MAX_PASSWORD {
        return Err(Error::Invalid(format!(
            "password must have at least {MIN_PASSWORD} characters (and at most {MAX_PASSWORD} bytes)"
        )));
    }
    Ok(())
}

/// Hashes `password` with argon2id and a random salt, off the async threads.
async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| Error::Hash(e.to_string()))
    })
    .await
    .map_err(|e| Error::Hash(e.to_string()))?
}

/// Whether `password` matches the PHC string `hash`, off the async threads.
async fn verify_password(password: &str, hash: String) -> bool {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// A hash of a password nobody knows, verified against when the username is unknown so
/// that answer takes as long as a wrong password.
async fn decoy_hash() -> String {
    static DECOY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DECOY.get() {
        return hash.clone();
    }
    let hash = hash_password(&super::random_hex())
        .await
        .unwrap_or_else(|_| "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".to_owned());
    DECOY.get_or_init(|| hash).clone()
}

/// Creates a user.
pub async fn create(db: &Db, username: &str, password: &str, scopes: &Scopes) -> Result<User> {
    validate(username, password)?;
    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(db.pool())
        .await?;
    if exists.is_some() {
        return Err(Error::Exists(username.to_owned()));
    }
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        username: username.to_owned(),
        scopes: scopes.clone(),
        created_at: clock::timestamp(),
    };
    let hash = hash_password(password).await?;
    let inserted = sqlx::query(
        "INSERT INTO users (id, username, password_hash, scopes, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&user.id)
    .bind(&user.username)
    .bind(hash)
    .bind(user.scopes.to_json())
    .bind(&user.created_at)
    .execute(db.pool())
    .await;
    match inserted {
        Ok(_) => Ok(user),
        // Created by a concurrent request between the check and the insert.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(Error::Exists(username.to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Every user, by username.
pub async fn list(db: &Db) -> Result<Vec<User>> {
    let rows = sqlx::query("SELECT id, username, scopes, created_at FROM users ORDER BY username")
        .fetch_all(db.pool())
        .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// Deletes user `id` and ends their sessions; `false` when there is no such user.
pub async fn delete(db: &Db, id: &str) -> Result<bool> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(id)
        .execute(db.pool())
        .await?;
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The user with this username and password, or `None` for an unknown user or a wrong
/// password alike.
pub async fn check_password(db: &Db, username: &str, password: &str) -> Result<Option<User>> {
    let row = sqlx::query(
        "SELECT id, username, scopes, created_at, password_hash FROM users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        verify_password(password, decoy_hash().await).await;
        return Ok(None);
    };
    let hash: String = row.try_get("password_hash")?;
    if password.len() > MAX_PASSWORD || !verify_password(password, hash).await {
        return Ok(None);
    }
    Ok(Some(from_row(&row)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_user_logs_in_with_the_right_password_only() {
        for db in crate::db::testing::all().await {
            let scopes = Scopes::parse(&["plugins"]).expect("scopes");
            let user = create(&db, "ada@example.com", "correct horse", &scopes)
                .await
                .expect("create");
            let hash: String = sqlx::query_scalar("SELECT password_hash FROM users")
                .fetch_one(db.pool())
                .await
                .expect("query");
            assert!(hash.starts_with("$argon2id$"), "{hash}");
            assert!(!hash.contains("correct horse"));

            let found = check_password(&db, "ada@example.com", "correct horse")
                .await
                .expect("check")
                .expect("the right password");
            assert_eq!(found, user);
            for (name, password) in [
                ("ada@example.com", "wrong horse"),
                ("ada@example.com", ""),
                ("bob@example.com", "correct horse"),
            ] {
                let found = check_password(&db, name, password).await.expect("check");
                assert!(found.is_none(), "{name}/{password}");
            }
        }
    }

    #[tokio::test]
    async fn usernames_are_unique_and_weak_passwords_refused() {
        for db in crate::db::testing::all().await {
            let scopes = Scopes::default();
            create(&db, "ada", "long enough", &scopes)
                .await
                .expect("create");
            let err = create(&db, "ada", "another one", &scopes)
                .await
                .expect_err("taken");
            assert!(matches!(err, Error::Exists(_)), "{err}");
            for (name, password) in [
                ("bob", "short"),
                ("", "long enough"),
                ("b ob", "long enough"),
            ] {
                let err = create(&db, name, password, &scopes)
                    .await
                    .expect_err("refused");
                assert!(matches!(err, Error::Invalid(_)), "{name}: {err}");
            }
            assert_eq!(list(&db).await.expect("list").len(), 1);
        }
    }

    #[tokio::test]
    async fn deleting_a_user_ends_their_sessions() {
        for db in crate::db::testing::all().await {
            let user = create(&db, "ada", "long enough", &Scopes::default())
                .await
                .expect("create");
            let (_, token) = super::super::sessions::create(&db, &user, chrono::Duration::hours(1))
                .await
                .expect("session");
            assert!(delete(&db, &user.id).await.expect("delete"));
            assert!(
                !delete(&db, &user.id).await.expect("delete"),
                "gone already"
            );
            let session = super::super::sessions::resolve(&db, &token)
                .await
                .expect("ok");
            assert!(session.is_none());
        }
    }
}
