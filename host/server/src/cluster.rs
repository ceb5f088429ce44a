//! More than one node: what travels between the nodes that share one database.
//!
//! A node is one `sanctuary` process; its id is kept in `<data-dir>/node-id`
//! ([`crate::jobs::node_id`]). The database already holds everything stored (jobs with
//! their leases, keys, sessions, routes bound through the API, installed plugins). What
//! lives in memory travels through **Redis** when `--redis-url` / `SANCTUARY_REDIS_URL` /
//! `redis_url` is set:
//!
//! - Socket.IO rooms and broadcasts span the nodes through socketioxide's Redis adapter
//!   ([`socket_bus`]);
//! - [`Event`]s — job events, cache clears, route and plugin changes — are published on one
//!   channel and applied by every other node ([`Cluster::publish`], [`Cluster::subscribe`]);
//! - rate-limit buckets are kept in Redis, so a client gets the configured rate from the
//!   whole cluster ([`limit`]).
//!
//! Without Redis the node is on its own: [`nodes`] notices other nodes heart-beating in the
//! same database and the log says what they do not share.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use socketioxide_redis::drivers::Driver as _;
use socketioxide_redis::drivers::redis::RedisDriver;
use socketioxide_redis::drivers::redis::redis_client as redis;
use tokio::sync::{broadcast, mpsc};

use crate::jobs::JobEvent;

pub mod apply;
pub mod limit;
pub mod nodes;
pub mod socket_bus;

/// What every Redis key and channel of one installation starts with, unless
/// `redis_prefix` says otherwise (the config's default).
pub use crate::config::DEFAULT_REDIS_PREFIX as DEFAULT_PREFIX;

/// How long start-up waits for Redis before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Events buffered for publishing, and received events buffered for the appliers.
const EVENT_BUFFER: usize = 4096;

/// Something one node did that the others must follow.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A job was created or changed on the sending node (its subscribers here hear of it;
    /// a cancelled job running here is stopped; a pending one wakes a worker).
    Job {
        /// The event as the sending node's own subscribers got it (boxed: the other events
        /// are small, and up to [`EVENT_BUFFER`] of them wait in a queue).
        event: Box<JobEvent>,
    },
    /// The chat cache was cleared.
    CacheCleared,
    /// Chat cache entries of a route, or one entry, were invalidated.
    CacheInvalidated {
        /// The route whose entries went.
        route: Option<String>,
        /// The one entry that went.
        key: Option<String>,
    },
    /// A chat route was bound or unbound through the API: reread the stored bindings.
    RoutesChanged,
    /// A plugin was installed, replaced, enabled, disabled, granted or uninstalled:
    /// reconcile the live set with the database.
    PluginsChanged {
        /// The plugin.
        plugin: String,
    },
}

/// An event with the node that sent it, as it travels.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    from: String,
    event: Event,
}

/// Why Redis could not be used at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not a Redis URL.
    #[error(
        "the Redis URL {shown:?} is not valid ({cause}); expected redis://[USER:PASSWORD@]HOST[:PORT][/DB] \
         or rediss:// (set by --redis-url, SANCTUARY_REDIS_URL or redis_url)"
    )]
    BadUrl {
        /// The URL without its password.
        shown: String,
        /// Why.
        cause: String,
    },
    /// Redis did not answer.
    #[error(
        "cannot reach Redis at {shown}: {cause} (check that it runs and the URL set by \
         --redis-url, SANCTUARY_REDIS_URL or redis_url; leave it unset to run one node alone)"
    )]
    Unreachable {
        /// The URL without its password.
        shown: String,
        /// Why.
        cause: String,
    },
}

/// This node's view of the cluster: its id, and Redis when there is one.
pub struct Cluster {
    node: String,
    prefix: String,
    redis: Option<Redis>,
    /// Events from other nodes.
    received: broadcast::Sender<Event>,
}

struct Redis {
    shown: String,
    driver: RedisDriver,
    /// Commands (rate-limit scripts) go through this multiplexed connection.
    commands: redis::aio::MultiplexedConnection,
    outbox: mpsc::Sender<Event>,
}

/// Plugin changes reach the other nodes as [`Event::PluginsChanged`] (each follows it
/// with [`crate::plugins::PluginHost::follow`]).
impl crate::plugins::store::Announce for Cluster {
    fn plugin_changed(&self, id: &str) {
        self.publish(Event::PluginsChanged {
            plugin: id.to_owned(),
        });
    }
}

impl Cluster {
    /// A node on its own: events go nowhere and nothing is received.
    pub fn single(node: impl Into<String>) -> Cluster {
        Cluster {
            node: node.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            redis: None,
            received: broadcast::channel(EVENT_BUFFER).0,
        }
    }

    /// A node sharing events through the Redis at `url`, its keys and channels starting
    /// with `prefix`; fails with a clear message when the URL is wrong or Redis does not
    /// answer within five seconds.
    pub async fn connect(
        url: &str,
        prefix: &str,
        node: impl Into<String>,
    ) -> Result<Cluster, ConnectError> {
        let node = node.into();
        let prefix = prefix.to_owned();
        let channel = format!("{prefix}:events");
        let shown = crate::db::redact(url);
        let client =
            redis::Client::open(resp3(url).as_str()).map_err(|e| ConnectError::BadUrl {
                shown: shown.clone(),
                cause: e.to_string(),
            })?;
        let unreachable = |cause: String| ConnectError::Unreachable {
            shown: shown.clone(),
            cause,
        };
        let connect = async {
            let driver = RedisDriver::new(&client).await?;
            let mut commands = client.get_multiplexed_async_connection().await?;
            redis::cmd("PING")
                .query_async::<String>(&mut commands)
                .await?;
            Ok::<_, redis::RedisError>((driver, commands))
        };
        let (driver, commands) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| unreachable(format!("no answer within {CONNECT_TIMEOUT:?}")))?
            .map_err(|e| unreachable(e.to_string()))?;
        let stream = driver
            .subscribe(channel.clone(), EVENT_BUFFER)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let (received, _) = broadcast::channel(EVENT_BUFFER);
        let (outbox, queued) = mpsc::channel(EVENT_BUFFER);
        tokio::spawn(publish_queued(
            driver.clone(),
            channel,
            node.clone(),
            queued,
        ));
        tokio::spawn(receive(stream, node.clone(), received.clone()));
        tracing::info!(redis = %shown, node = %node, prefix = %prefix, "sharing events, Socket.IO rooms and rate limits through Redis");
        Ok(Cluster {
            node,
            prefix,
            redis: Some(Redis {
                shown,
                driver,
                commands,
                outbox,
            }),
            received,
        })
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// What this installation's Redis keys and channels start with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether events travel to other nodes (Redis is set).
    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// Where Redis is (without its password), when it is set.
    pub fn redis_location(&self) -> Option<&str> {
        self.redis.as_ref().map(|r| r.shown.as_str())
    }

    /// Tells the other nodes about `event`; nothing without Redis. Events from one node
    /// arrive in the order they were published. Never blocks: when Redis falls far behind,
    /// the event is dropped with a warning.
    pub fn publish(&self, event: Event) {
        let Some(redis) = &self.redis else { return };
        if let Err(err) = redis.outbox.try_send(event) {
            tracing::warn!(cause = %err, "a cluster event was not published: the queue to Redis is full");
        }
    }

    /// The events other nodes publish from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.received.subscribe()
    }

    /// The Redis connection for commands, when Redis is set.
    pub(crate) fn commands(&self) -> Option<redis::aio::MultiplexedConnection> {
        self.redis.as_ref().map(|r| r.commands.clone())
    }

    /// The pub/sub driver for the Socket.IO adapter ([`socket_bus`]).
    pub fn socket_bus(&self) -> socket_bus::SocketBus {
        match &self.redis {
            Some(redis) => socket_bus::SocketBus::Redis(redis.driver.clone()),
            None => socket_bus::SocketBus::Local,
        }
    }
}

/// `url` asking for RESP3, which the pub/sub driver needs (push messages).
fn resp3(url: &str) -> String {
    if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    }
}

/// Publishes queued events, in order, until the cluster is dropped.
async fn publish_queued(
    driver: RedisDriver,
    channel: String,
    node: String,
    mut queued: mpsc::Receiver<Event>,
) {
    while let Some(event) = queued.recv().await {
        let envelope = Envelope {
            from: node.clone(),
            event,
        };
        let bytes = match serde_json::to_vec(&envelope) {
            Ok(bytes) => bytes,
            Err(err) => {
                tracing::error!(cause = %err, "a cluster event could not be encoded");
                continue;
            }
        };
        if let Err(err) = driver.publish(channel.clone(), bytes).await {
            tracing::warn!(cause = %err, "a cluster event could not be published to Redis");
        }
    }
}

/// Hands every event another node published to this node's subscribers.
async fn receive(
    mut stream: socketioxide_redis::drivers::MessageStream<socketioxide_redis::drivers::ChanItem>,
    node: String,
    received: broadcast::Sender<Event>,
) {
    use futures::StreamExt as _;
    while let Some((_, bytes)) = stream.next().await {
        match serde_json::from_slice::<Envelope>(&bytes) {
            Ok(envelope) if envelope.from == node => {}
            Ok(envelope) => {
                tracing::debug!(from = %envelope.from, event = ?envelope.event, "cluster event");
                // No subscriber is not an error.
                let _ = received.send(envelope.event);
            }
            Err(err) => tracing::warn!(cause = %err, "an unreadable cluster event was ignored"),
        }
    }
    tracing::warn!("the Redis event subscription ended: events from other nodes no longer arrive");
}

/// Test support: the Redis the multi-node tests use.
#[cfg(test)]
pub(crate) mod testing {
    /// `SANCTUARY_TEST_REDIS_URL`, or `None` (with a note on stderr) when it is unset and
    /// the calling test should skip.
    pub fn redis_url() -> Option<String> {
        let url = std::env::var("SANCTUARY_TEST_REDIS_URL")
            .ok()
            .filter(|url| !url.is_empty());
        if url.is_none() {
            eprintln!(
                "skipped: set SANCTUARY_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379) to run the Redis tests"
            );
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_a_protocol_asks_for_resp3() {
        assert_eq!(resp3("redis://h:6379"), "redis://h:6379?protocol=resp3");
        assert_eq!(resp3("redis://h/0?x=1"), "redis://h/0?x=1&protocol=resp3");
        assert_eq!(
            resp3("redis://h?protocol=resp3"),
            "redis://h?protocol=resp3"
        );
    }

    #[tokio::test]
    async fn a_malformed_redis_url_is_refused_with_what_was_expected() {
        let Err(err) = Cluster::connect("http://nowhere", DEFAULT_PREFIX, "n1").await else {
            panic!("connected to an http URL");
        };
        let text = err.to_string();
        assert!(text.contains("not valid"), "{text}");
        assert!(text.contains("SANCTUARY_REDIS_URL"), "{text}");
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_named_without_its_password() {
        let Err(err) =
            Cluster::connect("redis://user:hunter2@127.0.0.1:1", DEFAULT_PREFIX, "n1").await
        else {
            panic!("connected to port 1");
        };
        let text = err.to_string();
        assert!(text.contains("cannot reach Redis"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn events_travel_as_tagged_json_with_their_sender() {
        let envelope = Envelope {
            from: "node-a".into(),
            event: Event::CacheInvalidated {
                route: Some("mama-bear".into()),
                key: None,
            },
        };
        let text = serde_json::to_string(&envelope).expect("serialize");
        assert!(text.contains(r#""type":"cache_invalidated""#), "{text}");
        let back: Envelope = serde_json::from_str(&text).expect("parse");
        assert_eq!(back.from, "node-a");
        assert!(
            matches!(back.event, Event::CacheInvalidated { route: Some(r), key: None } if r == "mama-bear")
        );
    }
}
