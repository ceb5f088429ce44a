//! Login sessions (`sessions`) and their `sid` cookie (seed 004, Frappe's session cookie).
//! A session id is 256 random bits, handed to the browser once as `sid` (HttpOnly,
//! SameSite=Lax, Path=/) and stored only as its sha256 hash; it ends at its expiry, at
//! logout, or when its user is deleted.

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::Row;

use super::users::{self, User};
use crate::clock;
use crate::db::{Db, Result};

/// The cookie's name (Frappe's).
pub const COOKIE: &str = "sid";

/// Frappe's `sid` for a visitor who is not logged in: no credential.
const GUEST: &str = "Guest";

/// A live session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    /// Id (not the cookie value).
    pub id: String,
    /// Whose.
    pub user: User,
    /// When it was opened (RFC 3339).
    pub created_at: String,
    /// When it ends (RFC 3339).
    pub expires_at: String,
}

/// Opens a session for `user` lasting `ttl`; returns it and the cookie value.
pub async fn create(db: &Db, user: &User, ttl: Duration) -> Result<(Session, String)> {
    let token = super::random_hex();
    let now = Utc::now();
    let session = Session {
        id: uuid::Uuid::new_v4().to_string(),
        user: user.clone(),
        created_at: clock::format(now),
        expires_at: clock::format(now + ttl),
    };
    // Expired sessions of anyone go when someone logs in: the table stays small without a
    // sweeper task.
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(&session.created_at)
        .execute(db.pool())
        .await?;
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&session.id)
    .bind(super::hash_hex(&token))
    .bind(&user.id)
    .bind(&session.created_at)
    .bind(&session.expires_at)
    .execute(db.pool())
    .await?;
    Ok((session, token))
}

/// The live session whose cookie value is `token`, with its user as they are now.
pub async fn resolve(db: &Db, token: &str) -> Result<Option<Session>> {
    let row = sqlx::query(
        "SELECT s.id AS session_id, s.created_at AS session_created_at, s.expires_at, \
         u.id, u.username, u.scopes, u.created_at \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
    )
    .bind(super::hash_hex(token))
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let expires_at: String = row.try_get("expires_at")?;
    let expired = DateTime::parse_from_rfc3339(&expires_at)
        .map_or(true, |at| at.with_timezone(&Utc) <= Utc::now());
    let id: String = row.try_get("session_id")?;
    if expired {
        delete(db, &id).await?;
        return Ok(None);
    }
    Ok(Some(Session {
        id,
        user: users::from_row(&row)?,
        created_at: row.try_get("session_created_at")?,
        expires_at,
    }))
}

/// Ends session `id`; `true` if it was open.
pub async fn delete(db: &Db, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The `sid` cookie's value in `headers`, unless absent, empty or Frappe's `Guest`.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|value| !value.is_empty() && *value != GUEST)
}

/// `Set-Cookie` for a new session: `sid`, HttpOnly, SameSite=Lax, Path=/, for `ttl`.
pub fn set_cookie(token: &str, ttl: Duration, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}",
        ttl.num_seconds()
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| clear_cookie(false))
}

/// `Set-Cookie` that makes the browser forget `sid`.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static(
            "sid=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure",
        )
    } else {
        HeaderValue::from_static(
            "sid=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Scopes;

    #[test]
    fn the_sid_cookie_is_found_among_others_and_guest_is_no_session() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; sid=abc ; b=2"),
        );
        assert_eq!(cookie(&headers), Some("abc"));
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("x=1"));
        headers.append(header::COOKIE, HeaderValue::from_static("sid=Guest"));
        assert_eq!(cookie(&headers), None);
        headers.append(header::COOKIE, HeaderValue::from_static("notsid=1"));
        assert_eq!(cookie(&headers), None);
    }

    #[test]
    fn the_session_cookie_is_http_only_lax_and_site_wide() {
        let value = set_cookie("t0k", Duration::days(7), false);
        let text = value.to_str().expect("ascii");
        assert_eq!(
            text,
            "sid=t0k; HttpOnly; SameSite=Lax; Path=/; Max-Age=604800"
        );
        assert!(
            set_cookie("t", Duration::hours(1), true)
                .to_str()
                .expect("ascii")
                .ends_with("; Secure")
        );
        assert!(
            clear_cookie(false)
                .to_str()
                .expect("ascii")
                .contains("Max-Age=0")
        );
    }

    #[tokio::test]
    async fn a_session_resolves_until_it_expires_or_is_deleted() {
        for db in crate::db::testing::all().await {
            let scopes = Scopes::parse(&["jobs"]).expect("scopes");
            let user = users::create(&db, "ada", "long enough", &scopes)
                .await
                .expect("user");
            let (session, token) = create(&db, &user, Duration::hours(1))
                .await
                .expect("session");
            let stored: String = sqlx::query_scalar("SELECT token_hash FROM sessions")
                .fetch_one(db.pool())
                .await
                .expect("query");
            assert_ne!(stored, token, "only the hash is stored");
            let found = resolve(&db, &token).await.expect("ok").expect("live");
            assert_eq!(found, session);
            assert_eq!(found.user.scopes, scopes);
            assert!(resolve(&db, "other").await.expect("ok").is_none());
            assert!(delete(&db, &session.id).await.expect("delete"));
            assert!(resolve(&db, &token).await.expect("ok").is_none());

            let (_, expired) = create(&db, &user, Duration::seconds(-1))
                .await
                .expect("session");
            assert!(resolve(&db, &expired).await.expect("ok").is_none());
            let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
                .fetch_one(db.pool())
                .await
                .expect("count");
            assert_eq!(left, 0, "an expired session is removed when met");
        }
    }
}
