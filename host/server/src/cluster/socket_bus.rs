//! The pub/sub driver under the Socket.IO server's adapter.
//!
//! The server always runs socketioxide-redis's adapter ([`Adapter`]), over this driver:
//! with Redis ([`SocketBus::Redis`]) rooms and broadcasts span every node; alone
//! ([`SocketBus::Local`]) nothing is published, nothing arrives and the server counts
//! itself as the only one, so the adapter behaves as the in-memory one. One adapter type
//! either way keeps every Socket.IO handler and emitter free of a type parameter.

use socketioxide_redis::drivers::redis::{RedisDriver, RedisError};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};

/// The Socket.IO adapter every namespace runs.
pub type Adapter =
    socketioxide_redis::CustomRedisAdapter<socketioxide::adapter::Emitter, SocketBus>;

/// The Socket.IO server handle with [`Adapter`].
pub type Io = socketioxide::SocketIo<Adapter>;

/// Where Socket.IO's adapter publishes: Redis, or nowhere.
#[derive(Clone)]
pub enum SocketBus {
    /// One node: nothing travels.
    Local,
    /// Through Redis to every node.
    Redis(RedisDriver),
}

impl Driver for SocketBus {
    type Error = RedisError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        match self {
            SocketBus::Local => Ok(()),
            SocketBus::Redis(driver) => driver.publish(chan, val).await,
        }
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        match self {
            SocketBus::Local => Ok(MessageStream::new_empty()),
            SocketBus::Redis(driver) => driver.subscribe(chan, size).await,
        }
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        match self {
            SocketBus::Local => Ok(()),
            SocketBus::Redis(driver) => driver.unsubscribe(chan).await,
        }
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        match self {
            // This server alone: requests to "the others" expect no answer.
            SocketBus::Local => Ok(1),
            SocketBus::Redis(driver) => driver.num_serv(chan).await,
        }
    }
}

/// The adapter's settings: its channels are prefixed `<prefix>-socket.io` (see
/// [`super::DEFAULT_PREFIX`]).
pub fn adapter_state(
    bus: SocketBus,
    prefix: &str,
) -> socketioxide_redis::RedisAdapterCtr<SocketBus> {
    let config =
        socketioxide_redis::RedisAdapterConfig::new().with_prefix(format!("{prefix}-socket.io"));
    socketioxide_redis::RedisAdapterCtr::new_with_driver(bus, config)
}
