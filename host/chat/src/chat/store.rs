//! Where chat sessions and their messages are kept, as the chat crate sees it: plain rows
//! and the [`Sessions`] trait the server implements over its database
//! (`sanctuary::db::chat`, tables `chat_sessions` and `chat_messages`). What the API shows
//! is shaped by [`crate::chat`].

use futures::future::BoxFuture;
use serde_json::Value;

/// Result of a session store operation (the store's own error, e.g. a database failure).
pub type StoreResult<T> = anyhow::Result<T>;

/// A session row with figures about its messages.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    /// Session id.
    pub id: String,
    /// Who the session belongs to.
    pub user_id: String,
    /// Its title, once known.
    pub title: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// The caller's metadata (a JSON value, normally an object).
    pub metadata: Value,
    /// How many messages it holds.
    pub message_count: i64,
    /// When its last message was written.
    pub last_message_at: Option<String>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    /// Message id.
    pub id: String,
    /// The session it belongs to.
    pub session_id: String,
    /// `user`, `assistant` or `system`.
    pub role: String,
    /// Its text.
    pub content: String,
    /// When it was written (RFC 3339).
    pub created_at: String,
    /// Figures about it (model, tokens, ... for answers), a JSON object.
    pub metadata: Value,
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    /// `user`, `assistant` or `system`.
    pub role: &'a str,
    /// Its text.
    pub content: &'a str,
    /// When it was written (RFC 3339).
    pub created_at: String,
    /// Figures about it.
    pub metadata: Value,
}

/// Chat sessions and their messages, shared by every node of one database.
pub trait Sessions: Send + Sync {
    /// Session `id`, if it exists.
    fn session<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<SessionRow>>>;

    /// The most recently updated sessions first, at most `limit`, optionally of one user.
    fn sessions<'a>(
        &'a self,
        user_id: Option<&'a str>,
        limit: i64,
    ) -> BoxFuture<'a, StoreResult<Vec<SessionRow>>>;

    /// The last `limit` messages of session `session_id`, oldest first.
    fn messages<'a>(
        &'a self,
        session_id: &'a str,
        limit: i64,
    ) -> BoxFuture<'a, StoreResult<Vec<MessageRow>>>;

    /// Creates session `id` unless it exists; either way returns it. `title` and
    /// `metadata` only apply to a session created now.
    fn ensure_session<'a>(
        &'a self,
        id: &'a str,
        user_id: &'a str,
        title: Option<&'a str>,
        metadata: &'a Value,
    ) -> BoxFuture<'a, StoreResult<SessionRow>>;

    /// Appends `turn` (normally the user's message and the answer) to session
    /// `session_id` at once, gives an untitled session `title`, and marks it updated.
    fn append<'a>(
        &'a self,
        session_id: &'a str,
        turn: &'a [NewMessage<'a>],
        title: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<()>>;
}
