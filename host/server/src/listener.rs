//! The TCP listener and its connection limits (`[server]`, see [`ServerConfig`]): a cap on
//! open connections (over it, a new connection is answered `503` with the seeds' error body
//! and closed), a time limit on each request's head (from its first byte), on each
//! request's body (from the request's start) and on a kept-alive connection waiting for its
//! next request. Upgraded connections (WebSocket: `/socket.io/`, `/ws/jobs`) leave these
//! limits once upgraded (they still count under the cap); their own pings keep them
//! honest. Streams being answered
//! (server-sent events, long polls) are not idle.
//!
//! axum's `serve` offers none of this, so connections are accepted here and served by
//! hyper's connection builder (HTTP/1.1 with upgrades), each under a watchdog task.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use crate::config::ServerConfig;

pub mod port_file;

/// File descriptors kept free for the database, plugins and files when the connection cap
/// is derived from the process's limit.
const FD_RESERVE: usize = 256;
/// How long a refused connection's answer may take to write.
const REFUSAL_WRITE: Duration = Duration::from_secs(2);
/// How long a graceful shutdown waits for open connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The limits one listener applies, resolved from [`ServerConfig`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A request's head must be complete this long after its first byte.
    pub header_timeout: Duration,
    /// A request's body must be complete this long after the request started.
    pub body_timeout: Duration,
    /// A kept-alive connection waiting this long for its next request is closed.
    pub idle_timeout: Duration,
    /// Connections open at once; more are refused with 503.
    pub max_connections: usize,
}

impl Limits {
    /// The limits `config` asks for, the connection cap lowered to what the process's
    /// file-descriptor limit allows.
    pub fn from_config(config: &ServerConfig) -> Limits {
        let mut max_connections = config.max_connections.max(1);
        if let Some(fds) = open_files_limit() {
            let allowed = fds.saturating_sub(FD_RESERVE).max(16);
            if allowed < max_connections {
                tracing::warn!(
                    configured = max_connections,
                    allowed,
                    open_files_limit = fds,
                    "server.max_connections lowered to fit the open-files limit (raise `ulimit -n` for more)"
                );
                max_connections = allowed;
            }
        }
        Limits {
            header_timeout: Duration::from_secs(config.header_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(config.body_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(config.idle_timeout_secs.max(1)),
            max_connections,
        }
    }
}

/// The soft `RLIMIT_NOFILE` of this process, read from `/proc/self/limits` (Linux).
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Serves `app` on `listener` under `limits` until `shutdown` completes, then closes
/// connections gracefully (in-flight requests finish, for at most ten seconds).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let mut last_accept_warning: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors (or another passing failure): wait a little
                // rather than spin; say so at most once a minute.
                if last_accept_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!(cause = %err, "accepting a connection failed");
                    last_accept_warning = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(refuse(tcp, limits.max_connections));
            continue;
        };
        if let Err(err) = tcp.set_nodelay(true) {
            // Without TCP_NODELAY a streamed answer written in small pieces waits for the
            // client's delayed ACK: ~40 ms per call.
            tracing::debug!(cause = %err, "cannot set TCP_NODELAY");
        }
        let app = app.clone();
        let stop = stop_rx.clone();
        tokio::spawn(connection(tcp, permit, peer, app, limits, stop));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::info!("closing connections still open after the shutdown grace period");
    }
}

/// Answers a connection over the cap with 503 and closes it.
async fn refuse(mut tcp: TcpStream, cap: usize) {
    tracing::debug!(cap, "connection refused: too many open connections");
    let body = serde_json::json!({
        "success": false,
        "error": "Service Unavailable",
        "message": format!("too many open connections (at most {cap}, server.max_connections); retry shortly"),
        "timestamp": crate::clock::timestamp(),
    })
    .to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_WRITE, async {
        tcp.write_all(answer.as_bytes()).await?;
        tcp.shutdown().await
    })
    .await;
}

/// What the watchdog of one connection watches. Times are milliseconds since `origin`.
struct Watch {
    origin: Instant,
    /// Requests started and responses finished (sent, or dropped).
    started: AtomicU64,
    finished: AtomicU64,
    /// When the connection last became idle (no request being handled).
    idle_since: AtomicU64,
    /// When the first byte of the next request head arrived while idle; 0: none yet.
    head_since: AtomicU64,
    /// Set by a response switching protocols: the connection leaves the watchdog.
    upgraded: AtomicBool,
    /// Set when a request body ran out of time: the connection is closed.
    body_expired: AtomicBool,
}

impl Watch {
    fn new() -> Watch {
        Watch {
            origin: Instant::now(),
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            upgraded: AtomicBool::new(false),
            body_expired: AtomicBool::new(false),
        }
    }

    /// Milliseconds since the connection opened, at least 1 (0 means "not set").
    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    fn idle(&self) -> bool {
        self.started.load(Ordering::Acquire) == self.finished.load(Ordering::Acquire)
    }

    /// Called for bytes read from the client.
    fn read(&self) {
        if self.idle() && self.head_since.load(Ordering::Relaxed) == 0 {
            self.head_since.store(self.now(), Ordering::Relaxed);
        }
    }

    fn request_started(&self) {
        self.started.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(0, Ordering::Relaxed);
    }

    fn response_finished(&self) {
        self.idle_since.store(self.now(), Ordering::Relaxed);
        self.head_since.store(0, Ordering::Relaxed);
        self.finished.fetch_add(1, Ordering::AcqRel);
    }

    /// Why the connection must close now, if it must.
    fn expired(&self, limits: &Limits) -> Option<&'static str> {
        if self.body_expired.load(Ordering::Relaxed) {
            return Some("request body timeout");
        }
        if !self.idle() {
            return None;
        }
        let now = self.now();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        match self.head_since.load(Ordering::Relaxed) {
            0 => {
                let since = self.idle_since.load(Ordering::Relaxed);
                (now.saturating_sub(since) > ms(limits.idle_timeout)).then_some("idle timeout")
            }
            since => (now.saturating_sub(since) > ms(limits.header_timeout))
                .then_some("request head timeout"),
        }
    }
}

/// Serves one connection until it ends, a limit closes it, or shutdown.
async fn connection(
    tcp: TcpStream,
    permit: OwnedSemaphorePermit,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let watch = Arc::new(Watch::new());
    let io = TokioIo::new(Watched {
        inner: tcp,
        watch: watch.clone(),
        _permit: permit,
    });
    let service = {
        let watch = watch.clone();
        hyper::service::service_fn(move |request: Request<Incoming>| {
            let app = app.clone();
            let watch = watch.clone();
            async move {
                watch.request_started();
                let guard = Finished(watch.clone());
                let (mut parts, incoming) = request.into_parts();
                parts.extensions.insert(ConnectInfo(peer));
                let body = Body::new(TimedBody {
                    inner: incoming,
                    deadline: Box::pin(tokio::time::sleep(limits.body_timeout)),
                    watch: watch.clone(),
                });
                let request = Request::from_parts(parts, body);
                let response = match app.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                    watch.upgraded.store(true, Ordering::Relaxed);
                }
                Ok::<_, Infallible>(response.map(|inner| {
                    Body::new(GuardedBody {
                        inner,
                        _guard: guard,
                    })
                }))
            }
        })
    };
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(true);
    let mut conn = pin!(builder.serve_connection_with_upgrades(io, service));
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    tracing::trace!(%peer, cause = %err, "connection ended with an error");
                }
                return;
            }
            _ = tick.tick(), if !watch.upgraded.load(Ordering::Relaxed) => {
                if let Some(why) = watch.expired(&limits) {
                    tracing::debug!(%peer, why, "connection closed");
                    return;
                }
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Marks the end of a response when dropped (sent in full, or abandoned).
struct Finished(Arc<Watch>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.response_finished();
    }
}

/// A response body that reports its end to the connection's watchdog.
struct GuardedBody {
    inner: Body,
    _guard: Finished,
}

impl HttpBody for GuardedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that must be complete by its deadline; past it, reading fails and the
/// connection is marked for closing.
struct TimedBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    watch: Arc<Watch>,
}

impl HttpBody for TimedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(axum::Error::new))),
            Poll::Pending => {
                if self.deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.watch.body_expired.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the request body did not arrive in time (server.body_timeout_secs)",
                )))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// The client's socket, telling the watchdog when bytes arrive. It holds the connection's
/// place under the cap for as long as the socket lives, upgraded (WebSocket) or not.
struct Watched {
    inner: TcpStream,
    watch: Arc<Watch>,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.watch.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(20),
            max_connections: 10,
        }
    }

    #[test]
    fn a_fresh_connection_is_not_expired() {
        assert_eq!(Watch::new().expired(&limits()), None);
    }

    #[test]
    fn a_connection_idle_past_the_idle_timeout_expires() {
        let watch = Watch::new();
        watch.idle_since.store(1, Ordering::Relaxed);
        let limits = Limits {
            idle_timeout: Duration::ZERO,
            ..limits()
        };
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(watch.expired(&limits), Some("idle timeout"));
    }

    #[test]
    fn a_started_head_is_timed_by_the_header_timeout_and_a_request_by_neither() {
        let watch = Watch::new();
        let limits = Limits {
            header_timeout: Duration::ZERO,
            idle_timeout: Duration::from_secs(3600),
            ..limits()
        };
        watch.read();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(watch.expired(&limits), Some("request head timeout"));
        watch.request_started();
        assert_eq!(watch.expired(&limits), None, "a request is being handled");
        watch.response_finished();
        assert_eq!(watch.expired(&limits), None, "idle again, and freshly");
    }

    #[test]
    fn the_open_files_limit_is_read() {
        if cfg!(target_os = "linux") {
            assert!(open_files_limit().is_some_and(|n| n > 0));
        }
    }
}
