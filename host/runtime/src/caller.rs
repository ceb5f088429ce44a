//! Who a plugin call is made for. The server wraps each request (and each Socket.IO
//! event) in [`scope`] with a key naming the caller: its credential, or its client
//! address when it has none. The runtime reads it when a plugin allows instance reuse
//! (`"instances": "reuse"`), so a warm instance only ever serves the caller it served
//! before. Calls made outside any scope (the host's own probes and scout checks are
//! keyed by what they are; anything else gets a fresh instance) never share.

use std::future::Future;
use std::sync::Arc;

tokio::task_local! {
    static CALLER: Arc<str>;
}

/// Runs `future` with `caller` as the caller of every plugin call it makes (on this task).
pub async fn scope<F: Future>(caller: Arc<str>, future: F) -> F::Output {
    CALLER.scope(caller, future).await
}

/// The caller of the current task, if it runs inside [`scope`].
pub(crate) fn current() -> Option<Arc<str>> {
    CALLER.try_with(Arc::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_caller_is_known_inside_its_scope_only() {
        assert!(current().is_none());
        let seen = scope(Arc::from("key:1"), async { current() }).await;
        assert_eq!(seen.as_deref(), Some("key:1"));
        assert!(current().is_none());
    }
}
