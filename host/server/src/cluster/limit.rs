//! Rate-limit buckets kept in Redis, so that a client gets the configured rate from the
//! whole cluster and not once per node.
//!
//! Each bucket is one Redis key holding its GCRA "theoretical arrival time", updated by one
//! Lua script that reads the clock of the Redis server (one clock for every node), so a
//! check is one round trip and atomic. Keys are `<prefix>:rl:<sha-256 of the bucket>` (a
//! bucket may name a session) and expire once the bucket is full again.
//!
//! When Redis fails or is slower than [`DEADLINE`], the node falls back to its own
//! in-memory buckets for that request and says so in the log (at most every
//! [`WARN_EVERY`]); a Redis outage never refuses or stalls requests.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use socketioxide_redis::drivers::redis::redis_client as redis;

/// Longest a check waits for Redis before the local buckets decide.
pub const DEADLINE: Duration = Duration::from_millis(250);

/// Least time between two warnings about Redis failing the limiter.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// GCRA over microseconds: ARGV[1] is the time between two requests, ARGV[2] the burst.
/// Returns 0 when the request may go, else the microseconds until it may.
const SCRIPT: &str = r"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - burst * interval - now
if wait > 0 then return math.ceil(wait) end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
";

/// The buckets of every node, in Redis.
pub struct SharedBuckets {
    commands: redis::aio::MultiplexedConnection,
    /// `<prefix>:rl:`.
    keys: String,
    interval_us: u64,
    burst: u32,
    last_warning: Mutex<Option<Instant>>,
}

impl SharedBuckets {
    /// Buckets refilled at `per_second` holding `burst`, through `commands`.
    pub fn new(
        commands: redis::aio::MultiplexedConnection,
        prefix: &str,
        per_second: u32,
        burst: u32,
    ) -> SharedBuckets {
        SharedBuckets {
            commands,
            keys: format!("{prefix}:rl:"),
            interval_us: 1_000_000 / u64::from(per_second.max(1)),
            burst: burst.max(1),
            last_warning: Mutex::new(None),
        }
    }

    /// Takes one request from `bucket`: `Some(Ok(()))` when it may go, `Some(Err(wait))`
    /// when it may go after `wait`, `None` when Redis could not tell in time (the caller
    /// decides with its own buckets).
    pub async fn check(&self, bucket: &str) -> Option<Result<(), Duration>> {
        let key = format!(
            "{}{}",
            self.keys,
            hex::encode(Sha256::digest(bucket.as_bytes()))
        );
        let mut commands = self.commands.clone();
        let mut eval = redis::cmd("EVAL");
        eval.arg(SCRIPT)
            .arg(1)
            .arg(key)
            .arg(self.interval_us)
            .arg(self.burst);
        let call = eval.query_async::<i64>(&mut commands);
        let answer = match tokio::time::timeout(DEADLINE, call).await {
            Ok(Ok(wait_us)) => wait_us,
            Ok(Err(err)) => {
                self.warn(&err.to_string());
                return None;
            }
            Err(_) => {
                self.warn(&format!("no answer within {DEADLINE:?}"));
                return None;
            }
        };
        Some(match u64::try_from(answer) {
            Ok(0) | Err(_) => Ok(()),
            Ok(wait_us) => Err(Duration::from_micros(wait_us)),
        })
    }

    fn warn(&self, cause: &str) {
        let mut last = self
            .last_warning
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *last = Some(Instant::now());
            tracing::warn!(
                cause,
                "the shared rate limit could not reach Redis; this node is limiting on its own meanwhile"
            );
        }
    }
}
