//! The host's one file watcher: notify's recommended watcher, changes only, debounced.
//!
//! Three things follow files while the server runs — the plugins directory (hot reload,
//! [`crate::watch`]), the config and secrets files (the server's `reload`) and
//! the directories of watched workspaces (the server's `workspace`) — and all of them go
//! through
//! [`start`]: events are filtered to changes ([`is_change`]: notify reports every open and
//! close, and each of those readers reads the files it watches, so counting reads would
//! reload forever), gathered until the files have been quiet for [`Debounce::quiet`]
//! (at most [`Debounce::max`] after the first), and handed over as one [`Batch`].
//!
//! A debouncer crate (`notify-debouncer-mini`) is not used for this because it drops the kind
//! of each event, which the read filter needs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{self, Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

/// How long to gather changes.
#[derive(Debug, Clone, Copy)]
pub struct Debounce {
    /// The files must be quiet this long before a batch is handed over.
    pub quiet: Duration,
    /// A batch is handed over at the latest this long after its first change, quiet or not
    /// (a writer that never pauses is still followed).
    pub max: Duration,
}

/// The changes of one burst.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Every path a change named, sorted, once each.
    pub paths: BTreeSet<PathBuf>,
    /// Events were lost (the kernel queue overflowed): anything may have changed.
    pub rescan: bool,
}

/// Watches what [`FileWatcher::watch`] is given; dropping it stops the watching, and the
/// batch channel closes once the changes already seen are handed over.
pub struct FileWatcher {
    inner: Mutex<RecommendedWatcher>,
}

impl std::fmt::Debug for FileWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatcher").finish_non_exhaustive()
    }
}

impl FileWatcher {
    /// Also watches `path` (a directory, recursively or not, or a file).
    pub fn watch(&self, path: &Path, mode: RecursiveMode) -> notify::Result<()> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .watch(path, mode)
    }
}

/// Starts a watcher (watching nothing yet) whose debounced changes arrive on the returned
/// channel. `what` names it in warnings. Must be called inside a tokio runtime.
pub fn start(
    what: &'static str,
    debounce: Debounce,
) -> notify::Result<(FileWatcher, mpsc::UnboundedReceiver<Batch>)> {
    let (raw_tx, raw_rx) = mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
        // A closed channel means the task is gone; the watcher is being dropped too.
        let _ = raw_tx.send(event);
    })?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(gather(what, debounce, raw_rx, tx));
    Ok((
        FileWatcher {
            inner: Mutex::new(watcher),
        },
        rx,
    ))
}

/// Turns raw events into batches until the watcher is dropped (or nobody reads).
async fn gather(
    what: &'static str,
    debounce: Debounce,
    mut raw: mpsc::UnboundedReceiver<notify::Result<Event>>,
    batches: mpsc::UnboundedSender<Batch>,
) {
    loop {
        let mut batch = Batch::default();
        // Wait for a change...
        loop {
            match raw.recv().await {
                Some(event) => {
                    if note(what, event, &mut batch) {
                        break;
                    }
                }
                None => return,
            }
        }
        // ...then for the burst it starts to end.
        let started = tokio::time::Instant::now();
        let mut quiet_from = started;
        let mut open = true;
        loop {
            let deadline = (quiet_from + debounce.quiet).min(started + debounce.max);
            match tokio::time::timeout_at(deadline, raw.recv()).await {
                Ok(Some(event)) => {
                    if note(what, event, &mut batch) {
                        quiet_from = tokio::time::Instant::now();
                    }
                }
                Ok(None) => {
                    open = false;
                    break;
                }
                Err(_) => break,
            }
        }
        if batches.send(batch).is_err() || !open {
            return;
        }
    }
}

/// Adds what `event` changed to `batch`; whether it was a change.
fn note(what: &str, event: notify::Result<Event>, batch: &mut Batch) -> bool {
    let event = match event {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(cause = %e, "{what} watcher error");
            return false;
        }
    };
    if event.need_rescan() {
        tracing::warn!("the {what} watcher missed events; looking at everything again");
        batch.rescan = true;
        return true;
    }
    if !is_change(&event.kind) {
        return false;
    }
    batch.paths.extend(event.paths);
    true
}

/// Whether an event kind can change what a directory holds; opening, reading and closing
/// a file unchanged cannot.
pub fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Debounce = Debounce {
        quiet: Duration::from_millis(50),
        max: Duration::from_secs(1),
    };

    #[test]
    fn reading_a_file_is_not_a_change_but_writing_it_is() {
        use notify::event::{CreateKind, ModifyKind, RemoveKind, RenameMode};
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
        assert!(is_change(&EventKind::Modify(ModifyKind::Name(
            RenameMode::To
        ))));
        assert!(is_change(&EventKind::Remove(RemoveKind::Any)));
    }

    #[tokio::test]
    async fn a_burst_of_writes_arrives_as_one_batch_and_reads_as_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical");
        let (watcher, mut batches) = start("test", FAST).expect("watcher");
        watcher
            .watch(&root, RecursiveMode::Recursive)
            .expect("watch");
        for name in ["a.txt", "b.txt", "c.txt"] {
            std::fs::write(root.join(name), name).expect("write");
        }
        let batch = tokio::time::timeout(Duration::from_secs(10), batches.recv())
            .await
            .expect("a batch within 10 s")
            .expect("open");
        for name in ["a.txt", "b.txt", "c.txt"] {
            assert!(batch.paths.contains(&root.join(name)), "{batch:?}");
        }
        let _ = std::fs::read(root.join("a.txt")).expect("read");
        let quiet = tokio::time::timeout(Duration::from_millis(400), batches.recv()).await;
        assert!(quiet.is_err(), "a read made a batch: {quiet:?}");
        drop(watcher);
        let closed = tokio::time::timeout(Duration::from_secs(5), batches.recv())
            .await
            .expect("closes once the watcher is dropped");
        assert!(closed.is_none());
    }
}
