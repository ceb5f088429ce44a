//! The nodes of one database: each node heart-beats its row in the `nodes` table every
//! [`BEAT`]; rows not seen for [`GONE_AFTER`] are gone. A node that finds other live nodes
//! while it or they run without Redis says once, plainly, what they do not share.

use std::time::Duration;

use serde::Serialize;
use sqlx::Row as _;

use crate::clock;
use crate::db::Db;

/// How often a node writes its row.
pub const BEAT: Duration = Duration::from_secs(5);

/// A node not seen for this long counts as gone.
pub const GONE_AFTER: Duration = Duration::from_secs(20);

/// What two nodes without Redis between them do not share.
pub const NOT_SHARED: &str = "Socket.IO rooms and broadcasts, job events on /ws/jobs and \
    Socket.IO, chat-cache clears, routes bound through the API, plugin installs and \
    changes, and rate limits (each node allows the full rate)";

/// One node as its row says.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Node {
    /// The node id (`<data-dir>/node-id`).
    pub id: String,
    /// The sanctuary version it runs.
    pub version: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it last wrote its row (RFC 3339).
    pub last_seen: String,
    /// Whether it shares events through Redis.
    pub shared: bool,
}

/// Writes this node's row now.
pub async fn beat(db: &Db, node: &str, started_at: &str, shared: bool) -> crate::db::Result<()> {
    let now = clock::timestamp();
    sqlx::query(
        "INSERT INTO nodes (id, version, started_at, last_seen, shared) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, started_at = excluded.started_at, \
         last_seen = excluded.last_seen, shared = excluded.shared",
    )
    .bind(node)
    .bind(env!("CARGO_PKG_VERSION"))
    .bind(started_at)
    .bind(&now)
    .bind(i64::from(shared))
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The nodes seen within [`GONE_AFTER`], this one included, by id.
pub async fn live(db: &Db) -> crate::db::Result<Vec<Node>> {
    let since = chrono::Duration::from_std(GONE_AFTER).unwrap_or(chrono::Duration::MAX);
    let since = clock::format(chrono::Utc::now() - since);
    let rows = sqlx::query(
        "SELECT id, version, started_at, last_seen, shared FROM nodes WHERE last_seen >= $1 ORDER BY id",
    )
    .bind(since)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Node {
                id: row.try_get("id")?,
                version: row.try_get("version")?,
                started_at: row.try_get("started_at")?,
                last_seen: row.try_get("last_seen")?,
                shared: row.try_get::<i64, _>("shared")? != 0,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Heart-beats `node` for as long as the runtime runs, warning once (and again whenever the
/// set of unshared peers changes) when live nodes of this database do not share events.
pub fn spawn(db: Db, node: String, shared: bool) {
    let started_at = clock::timestamp();
    tokio::spawn(async move {
        let mut warned_about: Vec<String> = Vec::new();
        let mut ticks = tokio::time::interval(BEAT);
        loop {
            ticks.tick().await;
            if let Err(err) = beat(&db, &node, &started_at, shared).await {
                tracing::warn!(cause = %err, "could not write this node's heartbeat");
                continue;
            }
            let peers = match live(&db).await {
                Ok(nodes) => nodes,
                Err(err) => {
                    tracing::warn!(cause = %err, "could not read the nodes of this database");
                    continue;
                }
            };
            let unshared: Vec<String> = peers
                .iter()
                .filter(|peer| peer.id != node && !(shared && peer.shared))
                .map(|peer| peer.id.clone())
                .collect();
            if !unshared.is_empty() && unshared != warned_about {
                tracing::warn!(
                    nodes = %unshared.join(", "),
                    this_node_has_redis = shared,
                    "other nodes use this database without Redis between them (set --redis-url / \
                     SANCTUARY_REDIS_URL on every node); not shared: {NOT_SHARED}"
                );
            }
            warned_about = unshared;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_node_that_beats_is_live_and_says_whether_it_shares() {
        for test_db in crate::db::testing::all().await {
            let db = test_db.db();
            beat(&db, "node-a", "2026-01-01T00:00:00Z", true)
                .await
                .expect("beat");
            beat(&db, "node-b", "2026-01-01T00:00:00Z", false)
                .await
                .expect("beat");
            beat(&db, "node-b", "2026-01-01T00:00:01Z", false)
                .await
                .expect("beat");
            let nodes = live(&db).await.expect("live nodes");
            let ids: Vec<_> = nodes.iter().map(|n| (n.id.as_str(), n.shared)).collect();
            assert!(ids.contains(&("node-a", true)), "{ids:?}");
            assert!(ids.contains(&("node-b", false)), "{ids:?}");
        }
    }
}
