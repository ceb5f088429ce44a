//! Gives freed heap memory back to the system while serving.
//!
//! glibc's allocator keeps memory a burst freed (ten thousand MCP sessions that expired, a
//! flood of large request bodies) in its arenas for reuse, so the process's resident size
//! stays at its high-water mark long after the load is gone. Every [`INTERVAL`] a
//! background thread asks glibc to return the free pages (`malloc_trim(0)`, which also
//! releases free pages inside the heap with `madvise`). Measured with 10,000 anonymous MCP
//! sessions expired (debug build): 285 MB resident before a trim, 162 MB after
//! (BENCHMARKS.md, "Hostile clients"). On other C libraries this does nothing.

use std::time::Duration;

/// How often freed memory is handed back.
pub const INTERVAL: Duration = Duration::from_secs(30);

/// Starts the trimming thread for the life of the process (once; later calls do nothing).
pub fn spawn_trimmer() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("sanctuary-trim".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(INTERVAL);
                    trim();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(cause = %e, "freed memory will not be handed back to the system");
        }
    });
}

/// Hands the allocator's free pages back to the system; whether any were.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn trim() -> bool {
    // SAFETY: malloc_trim takes no pointers and is safe to call from any thread at any
    // time; it only takes the allocator's own locks.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Hands the allocator's free pages back to the system (not supported here: no-op).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() -> bool {
    false
}
