//! Request rate limits (`[rate_limit]`, `--rate-limit`, `SANCTUARY_RATE_LIMIT`): a token
//! bucket per client (GCRA, the `governor` crate), refilled at `per_second` requests a
//! second and holding `burst` (default twice that). A client is its API key or session
//! when the request carries a valid one, else its address: the TCP peer, or the first
//! `X-Forwarded-For` address when `trust_forwarded` is set (behind a reverse proxy).
//! Requests with neither (in-process tests) share one bucket. Over the limit: 429 with
//! `Retry-After`.
//!
//! What a request fans out to costs too: every request of a `POST /api/batch`, and every
//! Socket.IO event (websocket and polling alike, counted by the event handlers rather than
//! per polling request), is taken from the same client's bucket through the
//! [`ClientLimit`] the outer layer leaves in the request's extensions. One client has one
//! bucket whatever the transport.
//!
//! With Redis (`--redis-url`) the buckets are the cluster's, kept in Redis
//! ([`crate::cluster::limit`]): a client gets the configured rate from all the nodes
//! together. When Redis cannot answer in time, this node's own buckets decide.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::cluster::limit::SharedBuckets;
use crate::config::RateLimitConfig;
use socketioxide_redis::drivers::redis::redis_client::aio::MultiplexedConnection;

/// Checks between two sweeps of buckets that are full again (idle clients).
const SWEEP_EVERY: u64 = 4096;

/// The rate limiter of one server.
pub struct Limiter {
    buckets: DefaultKeyedRateLimiter<String>,
    per_second: u32,
    burst: u32,
    trust_forwarded: bool,
    checks: AtomicU64,
    shared: Option<SharedBuckets>,
}

impl Limiter {
    /// The limiter `config` asks for; `None` when limits are off (`per_second = 0`).
    pub fn new(config: &RateLimitConfig) -> Option<Limiter> {
        let per_second = NonZeroU32::new(config.per_second)?;
        let burst = config.burst.and_then(NonZeroU32::new).unwrap_or_else(|| {
            NonZeroU32::new(per_second.get().saturating_mul(2)).unwrap_or(per_second)
        });
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Some(Limiter {
            buckets: RateLimiter::keyed(quota),
            per_second: per_second.get(),
            burst: burst.get(),
            trust_forwarded: config.trust_forwarded,
            checks: AtomicU64::new(0),
            shared: None,
        })
    }

    /// The limiter keeping its buckets in Redis through `commands` (see
    /// [`crate::cluster::limit`]), its own buckets deciding when Redis cannot.
    pub fn shared_through(
        mut self,
        commands: Option<MultiplexedConnection>,
        prefix: &str,
    ) -> Limiter {
        self.shared = commands.map(|c| SharedBuckets::new(c, prefix, self.per_second, self.burst));
        self
    }

    /// Whether the buckets are the cluster's (in Redis).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Requests a second per client.
    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    /// Requests a client may make at once.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Takes one request from `bucket`'s allowance; when it has none, how long until it has.
    pub async fn check(&self, bucket: &str) -> Result<(), Duration> {
        if let Some(shared) = &self.shared
            && let Some(answer) = shared.check(bucket).await
        {
            return answer;
        }
        self.check_here(bucket)
    }

    /// [`Limiter::check`] against this node's own buckets.
    fn check_here(&self, bucket: &str) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.buckets.retain_recent();
            self.buckets.shrink_to_fit();
        }
        // Owned keys: the map needs them; a short string per request is cheap.
        self.buckets
            .check_key(&bucket.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.buckets.clock().now()))
    }

    /// What a client over the limit is told.
    pub fn refusal(&self) -> String {
        format!(
            "Too many requests: at most {} a second (bursts of {}); retry after the time in Retry-After",
            self.per_second, self.burst
        )
    }

    /// The address bucket of a request without a valid credential.
    pub fn address_bucket(&self, parts: &Parts) -> String {
        let forwarded = self.trust_forwarded.then(|| forwarded_for(parts)).flatten();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        match forwarded.or(peer) {
            Some(ip) => format!("ip:{ip}"),
            None => "shared".to_owned(),
        }
    }
}

/// One client's rate limit: the server's limiter and the client's bucket. Kept in a
/// request's extensions (and so in a Socket.IO socket's handshake parts) when limits are on.
#[derive(Clone)]
pub struct ClientLimit {
    limiter: Arc<Limiter>,
    bucket: String,
}

impl ClientLimit {
    /// The limit of `bucket` under `limiter`.
    pub fn new(limiter: Arc<Limiter>, bucket: String) -> ClientLimit {
        ClientLimit { limiter, bucket }
    }

    /// Takes one request (or event) from the client's allowance; when it has none, how long
    /// until it has.
    pub async fn check(&self) -> Result<(), Duration> {
        self.limiter.check(&self.bucket).await
    }

    /// The client's bucket (`key:…`, `session:…`, `ip:…`).
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The limiter itself.
    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }
}

/// The client's address as the nearest proxy reported it: the first `X-Forwarded-For` entry.
fn forwarded_for(parts: &Parts) -> Option<IpAddr> {
    let value = parts.headers.get("x-forwarded-for")?.to_str().ok()?;
    value.split(',').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn limiter(per_second: u32, burst: Option<u32>, trust_forwarded: bool) -> Option<Limiter> {
        Limiter::new(&RateLimitConfig {
            per_second,
            burst,
            trust_forwarded,
        })
    }

    #[test]
    fn zero_turns_limits_off() {
        assert!(limiter(0, Some(5), false).is_none());
    }

    #[tokio::test]
    async fn a_client_gets_its_burst_then_waits_while_another_is_unaffected() {
        let limiter = limiter(1, None, false).expect("on");
        assert_eq!(limiter.burst(), 2, "burst defaults to twice the rate");
        assert!(limiter.check("a").await.is_ok());
        assert!(limiter.check("a").await.is_ok());
        let wait = limiter.check("a").await.expect_err("over the limit");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(limiter.check("b").await.is_ok(), "buckets are per client");
    }

    #[tokio::test]
    async fn a_client_limit_draws_from_the_same_bucket_as_its_requests() {
        let limiter = Arc::new(limiter(1, Some(2), false).expect("on"));
        let limit = ClientLimit::new(limiter.clone(), "ip:1".into());
        assert!(limiter.check("ip:1").await.is_ok());
        assert!(limit.check().await.is_ok());
        assert!(
            limit.check().await.is_err(),
            "the request and the event shared one burst"
        );
        assert!(limiter.refusal().contains("at most 1 a second"));
    }

    #[tokio::test]
    async fn an_explicit_burst_is_used() {
        let limiter = limiter(10, Some(1), false).expect("on");
        assert!(limiter.check("a").await.is_ok());
        assert!(limiter.check("a").await.is_err());
    }

    #[test]
    fn the_address_is_the_peer_unless_forwarded_addresses_are_trusted() {
        let request = Request::get("/")
            .header("x-forwarded-for", "203.0.113.7, 10.0.0.1")
            .extension(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 4000))))
            .body(())
            .expect("request");
        let (parts, ()) = request.into_parts();
        let plain = limiter(1, None, false).expect("on");
        assert_eq!(plain.address_bucket(&parts), "ip:10.0.0.1");
        let proxied = limiter(1, None, true).expect("on");
        assert_eq!(proxied.address_bucket(&parts), "ip:203.0.113.7");
        let (bare, ()) = Request::get("/").body(()).expect("request").into_parts();
        assert_eq!(plain.address_bucket(&bare), "shared");
    }

    #[tokio::test]
    async fn two_nodes_sharing_redis_draw_from_one_bucket_per_client() {
        let Some(url) = crate::cluster::testing::redis_url() else {
            return;
        };
        let node = |name: &'static str| {
            let url = url.clone();
            async move {
                let cluster =
                    crate::cluster::Cluster::connect(&url, crate::cluster::DEFAULT_PREFIX, name)
                        .await
                        .expect("redis");
                limiter(1, Some(3), false)
                    .expect("on")
                    .shared_through(cluster.commands(), cluster.prefix())
            }
        };
        let (a, b) = (node("node-a").await, node("node-b").await);
        assert!(a.is_shared() && b.is_shared());
        let client = format!("ip:test-{}", uuid::Uuid::new_v4());
        assert!(a.check(&client).await.is_ok());
        assert!(b.check(&client).await.is_ok());
        assert!(a.check(&client).await.is_ok());
        let wait = b
            .check(&client)
            .await
            .expect_err("the burst of 3 was spent across both nodes");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        let other = format!("ip:test-{}", uuid::Uuid::new_v4());
        assert!(b.check(&other).await.is_ok(), "buckets are per client");
    }
}
