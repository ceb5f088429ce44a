//! Chat sessions and messages in the database (`chat_sessions`, `chat_messages`, migration
//! 0003), so conversations survive a restart: the SQL under the chat crate's
//! [`Sessions`], which [`Db`] implements here. Plain rows in, plain rows out; what the API
//! shows is shaped by [`crate::chat`].

use futures::future::BoxFuture;
use sanctuary_chat::chat::store::{MessageRow, NewMessage, SessionRow, Sessions, StoreResult};
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, Result};
use crate::clock;

const SESSION_COLUMNS: &str = "s.id, s.user_id, s.title, s.created_at, s.updated_at, s.metadata, \
     (SELECT COUNT(*) FROM chat_messages m WHERE m.session_id = s.id) AS message_count, \
     (SELECT MAX(m.created_at) FROM chat_messages m WHERE m.session_id = s.id) AS last_message_at";

/// Creates session `id` unless it exists; either way returns it. `title` and `metadata`
/// only apply to a session created now.
pub async fn ensure_session(
    db: &Db,
    id: &str,
    user_id: &str,
    title: Option<&str>,
    metadata: &Value,
) -> Result<SessionRow> {
    let now = clock::timestamp();
    sqlx::query(
        "INSERT INTO chat_sessions (id, user_id, title, created_at, updated_at, metadata) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(user_id)
    .bind(title)
    .bind(&now)
    .bind(&now)
    .bind(metadata.to_string())
    .execute(db.pool())
    .await?;
    match session(db, id).await? {
        Some(row) => Ok(row),
        // Only a concurrent delete gets here; there is no delete route.
        None => Err(sqlx::Error::RowNotFound.into()),
    }
}

/// Session `id`, if it exists.
pub async fn session(db: &Db, id: &str) -> Result<Option<SessionRow>> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM chat_sessions s WHERE s.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref()
        .map(session_row)
        .transpose()
        .map_err(Into::into)
}

/// The most recently updated sessions first, at most `limit`, optionally of one user.
pub async fn sessions(db: &Db, user_id: Option<&str>, limit: i64) -> Result<Vec<SessionRow>> {
    let rows = match user_id {
        Some(user) => {
            let sql = format!(
                "SELECT {SESSION_COLUMNS} FROM chat_sessions s WHERE s.user_id = $1 \
                 ORDER BY s.updated_at DESC, s.id LIMIT $2"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(user)
                .bind(limit)
                .fetch_all(db.pool())
                .await?
        }
        None => {
            let sql = format!(
                "SELECT {SESSION_COLUMNS} FROM chat_sessions s \
                 ORDER BY s.updated_at DESC, s.id LIMIT $1"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(limit)
                .fetch_all(db.pool())
                .await?
        }
    };
    Ok(rows.iter().map(session_row).collect::<Result<_, _>>()?)
}

/// The last `limit` messages of session `id`, oldest first.
pub async fn messages(db: &Db, session_id: &str, limit: i64) -> Result<Vec<MessageRow>> {
    let rows = sqlx::query(
        "SELECT id, session_id, role, content, created_at, metadata FROM chat_messages \
         WHERE session_id = $1 ORDER BY position DESC, created_at DESC LIMIT $2",
    )
    .bind(session_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let mut messages = rows
        .iter()
        .map(message_row)
        .collect::<Result<Vec<_>, _>>()?;
    messages.reverse();
    Ok(messages)
}

/// Appends `turn` (normally the user's message and the answer) to session `id` in one
/// transaction, gives an untitled session `title`, and marks the session updated.
pub async fn append(
    db: &Db,
    session_id: &str,
    turn: &[NewMessage<'_>],
    title: Option<&str>,
) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    // Write first: on SQLite a transaction that reads and then writes cannot wait for a
    // concurrent writer (the upgrade from a read lock fails at once with "database is
    // locked"); one that starts by writing waits its turn under the busy timeout.
    sqlx::query(
        "UPDATE chat_sessions SET updated_at = $1, title = COALESCE(title, $2) WHERE id = $3",
    )
    .bind(clock::timestamp())
    .bind(title)
    .bind(session_id)
    .execute(&mut *tx)
    .await?;
    let next: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(position) + 1, 0) FROM chat_messages WHERE session_id = $1",
    )
    .bind(session_id)
    .fetch_one(&mut *tx)
    .await?;
    for (offset, message) in (0_i64..).zip(turn) {
        sqlx::query(
            "INSERT INTO chat_messages \
             (id, session_id, position, role, content, created_at, metadata) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(session_id)
        .bind(next + offset)
        .bind(message.role)
        .bind(message.content)
        .bind(&message.created_at)
        .bind(message.metadata.to_string())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn session_row(row: &AnyRow) -> Result<SessionRow, sqlx::Error> {
    Ok(SessionRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        title: row.try_get("title")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        metadata: json_column(row.try_get("metadata")?),
        message_count: row.try_get("message_count")?,
        last_message_at: row.try_get("last_message_at")?,
    })
}

fn message_row(row: &AnyRow) -> Result<MessageRow, sqlx::Error> {
    Ok(MessageRow {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        role: row.try_get("role")?,
        content: row.try_get("content")?,
        created_at: row.try_get("created_at")?,
        metadata: json_column(row.try_get("metadata")?),
    })
}

/// A JSON text column; text that is not JSON (written by hand) is shown as a string.
fn json_column(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// The chat crate reaches sessions through this.
impl Sessions for Db {
    fn session<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<SessionRow>>> {
        Box::pin(async move { Ok(session(self, id).await?) })
    }

    fn sessions<'a>(
        &'a self,
        user_id: Option<&'a str>,
        limit: i64,
    ) -> BoxFuture<'a, StoreResult<Vec<SessionRow>>> {
        Box::pin(async move { Ok(sessions(self, user_id, limit).await?) })
    }

    fn messages<'a>(
        &'a self,
        session_id: &'a str,
        limit: i64,
    ) -> BoxFuture<'a, StoreResult<Vec<MessageRow>>> {
        Box::pin(async move { Ok(messages(self, session_id, limit).await?) })
    }

    fn ensure_session<'a>(
        &'a self,
        id: &'a str,
        user_id: &'a str,
        title: Option<&'a str>,
        metadata: &'a Value,
    ) -> BoxFuture<'a, StoreResult<SessionRow>> {
        Box::pin(async move { Ok(ensure_session(self, id, user_id, title, metadata).await?) })
    }

    fn append<'a>(
        &'a self,
        session_id: &'a str,
        turn: &'a [NewMessage<'a>],
        title: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move { Ok(append(self, session_id, turn, title).await?) })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::db::testing;

    fn message<'a>(role: &'a str, content: &'a str) -> NewMessage<'a> {
        NewMessage {
            role,
            content,
            created_at: clock::timestamp(),
            metadata: json!({}),
        }
    }

    #[tokio::test]
    async fn a_session_is_created_once_and_keeps_its_first_title_and_metadata() {
        for db in testing::all().await {
            let first = ensure_session(&db, "s1", "nathan", Some("First"), &json!({"a": 1}))
                .await
                .expect("created");
            assert_eq!(first.title.as_deref(), Some("First"));
            assert_eq!(first.message_count, 0);
            assert_eq!(first.last_message_at, None);
            let again = ensure_session(&db, "s1", "other", Some("Second"), &json!({}))
                .await
                .expect("found");
            assert_eq!(again.user_id, "nathan", "{}", db.kind());
            assert_eq!(again.title.as_deref(), Some("First"));
            assert_eq!(again.metadata, json!({"a": 1}));
        }
    }

    #[tokio::test]
    async fn appended_turns_come_back_in_order_with_counts_and_a_title() {
        for db in testing::all().await {
            ensure_session(&db, "s1", "u", None, &json!({}))
                .await
                .expect("created");
            for n in 0..3 {
                let question = format!("question {n}");
                let answer = format!("answer {n}");
                append(
                    &db,
                    "s1",
                    &[message("user", &question), message("assistant", &answer)],
                    Some("question 0"),
                )
                .await
                .expect("appended");
            }
            let all = messages(&db, "s1", 100).await.expect("messages");
            let texts: Vec<&str> = all.iter().map(|m| m.content.as_str()).collect();
            assert_eq!(
                texts,
                [
                    "question 0",
                    "answer 0",
                    "question 1",
                    "answer 1",
                    "question 2",
                    "answer 2"
                ],
                "{}",
                db.kind()
            );
            let last_two = messages(&db, "s1", 2).await.expect("messages");
            assert_eq!(last_two[0].content, "question 2");
            assert_eq!(last_two[1].role, "assistant");
            let session = session(&db, "s1").await.expect("query").expect("exists");
            assert_eq!(session.message_count, 6);
            assert_eq!(session.title.as_deref(), Some("question 0"));
            assert!(session.last_message_at.is_some());
        }
    }

    #[tokio::test]
    async fn sessions_are_listed_newest_first_and_filtered_by_user() {
        for db in testing::all().await {
            ensure_session(&db, "old", "a", None, &json!({}))
                .await
                .expect("created");
            ensure_session(&db, "new", "b", None, &json!({}))
                .await
                .expect("created");
            append(&db, "old", &[message("user", "hi")], None)
                .await
                .expect("appended");
            let all = sessions(&db, None, 10).await.expect("list");
            let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
            assert_eq!(ids, ["old", "new"], "{}", db.kind());
            let of_b = sessions(&db, Some("b"), 10).await.expect("list");
            assert_eq!(of_b.len(), 1);
            assert_eq!(of_b[0].id, "new");
            assert_eq!(sessions(&db, None, 1).await.expect("list").len(), 1);
        }
    }

    #[tokio::test]
    async fn an_unknown_session_is_none() {
        let db = testing::db().await;
        assert_eq!(session(&db, "nope").await.expect("query"), None);
        assert!(messages(&db, "nope", 10).await.expect("query").is_empty());
    }
}
