//! The plugins' key-value store: the `plugin_kv` table, one row per plugin and key,
//! which plugins reach through the runtime's [`KvStore`] (the WIT `kv` interface). Every
//! operation is one statement, and [`Db::kv_compare_and_swap`] is the atomic one that
//! read-modify-write updates build on, on SQLite and PostgreSQL alike.

use futures::future::BoxFuture;
use sanctuary_runtime::kv::KvStore;
use sqlx::Row;

use super::{Db, Result};

impl Db {
    /// A plugin's value for `key`, if set.
    pub async fn kv_get(&self, plugin: &str, key: &str) -> Result<Option<String>> {
        let value =
            sqlx::query_scalar("SELECT value FROM plugin_kv WHERE plugin_id = $1 AND key = $2")
                .bind(plugin)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(value)
    }

    /// Sets a plugin's `key` to `value`, replacing any previous value.
    pub async fn kv_set(&self, plugin: &str, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO plugin_kv (plugin_id, key, value, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (plugin_id, key) \
             DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(plugin)
        .bind(key)
        .bind(value)
        .bind(crate::clock::timestamp())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a plugin's `key`; `true` if it existed.
    pub async fn kv_delete(&self, plugin: &str, key: &str) -> Result<bool> {
        let result = sqlx::query("DELETE FROM plugin_kv WHERE plugin_id = $1 AND key = $2")
            .bind(plugin)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// In one statement, so atomically against every other writer (other connections,
    /// other hosts on the same database): if a plugin's `key` holds `expected` (`None`:
    /// is absent), sets it to `new` (`None`: removes it). `true` if it did.
    pub async fn kv_compare_and_swap(
        &self,
        plugin: &str,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<bool> {
        // Each case is one conditional statement whose row count says whether it applied;
        // a PostgreSQL UPDATE or DELETE that waited on a concurrent writer re-checks its
        // WHERE against the row that writer left, so two swaps from one value cannot
        // both apply. An INSERT of an absent key loses to any concurrent one.
        let query = match (expected, new) {
            (None, None) => return Ok(self.kv_get(plugin, key).await?.is_none()),
            (None, Some(new)) => sqlx::query(
                "INSERT INTO plugin_kv (plugin_id, key, value, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (plugin_id, key) DO NOTHING",
            )
            .bind(plugin)
            .bind(key)
            .bind(new)
            .bind(crate::clock::timestamp()),
            (Some(expected), Some(new)) => sqlx::query(
                "UPDATE plugin_kv SET value = $3, updated_at = $4 \
                 WHERE plugin_id = $1 AND key = $2 AND value = $5",
            )
            .bind(plugin)
            .bind(key)
            .bind(new)
            .bind(crate::clock::timestamp())
            .bind(expected),
            (Some(expected), None) => sqlx::query(
                "DELETE FROM plugin_kv WHERE plugin_id = $1 AND key = $2 AND value = $3",
            )
            .bind(plugin)
            .bind(key)
            .bind(expected),
        };
        Ok(query.execute(&self.pool).await?.rows_affected() == 1)
    }

    /// How many keys a plugin keeps, and their keys and values' length in characters.
    pub async fn kv_usage(&self, plugin: &str) -> Result<(u64, u64)> {
        let row = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(LENGTH(key) + LENGTH(value)), 0) AS BIGINT) \
             FROM plugin_kv WHERE plugin_id = $1",
        )
        .bind(plugin)
        .fetch_one(&self.pool)
        .await?;
        let keys: i64 = row.try_get(0)?;
        let chars: i64 = row.try_get(1)?;
        Ok((keys.max(0) as u64, chars.max(0) as u64))
    }

    /// A plugin's keys starting with `prefix` (case-sensitive), sorted by code point.
    pub async fn kv_list(&self, plugin: &str, prefix: &str) -> Result<Vec<String>> {
        // `substr` rather than LIKE: LIKE is case-insensitive on SQLite and treats `%`/`_`
        // in the prefix as wildcards.
        let rows = sqlx::query(
            "SELECT key FROM plugin_kv WHERE plugin_id = $1 \
             AND substr(key, 1, length(CAST($2 AS TEXT))) = CAST($2 AS TEXT)",
        )
        .bind(plugin)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        let mut keys = rows
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()?;
        // Sorted here, not by ORDER BY, so both engines agree whatever their collation.
        keys.sort_unstable();
        Ok(keys)
    }
}

/// The plugins' key-value store is the `plugin_kv` table.
impl KvStore for Db {
    fn get<'a>(
        &'a self,
        plugin: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        Box::pin(async move { Ok(self.kv_get(plugin, key).await?) })
    }

    fn set<'a>(
        &'a self,
        plugin: &'a str,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(self.kv_set(plugin, key, value).await?) })
    }

    fn delete<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, anyhow::Result<bool>> {
        Box::pin(async move { Ok(self.kv_delete(plugin, key).await?) })
    }

    fn compare_and_swap<'a>(
        &'a self,
        plugin: &'a str,
        key: &'a str,
        expected: Option<&'a str>,
        new: Option<&'a str>,
    ) -> BoxFuture<'a, anyhow::Result<bool>> {
        Box::pin(async move { Ok(self.kv_compare_and_swap(plugin, key, expected, new).await?) })
    }

    fn list<'a>(
        &'a self,
        plugin: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Vec<String>>> {
        Box::pin(async move { Ok(self.kv_list(plugin, prefix).await?) })
    }

    fn usage<'a>(&'a self, plugin: &'a str) -> BoxFuture<'a, anyhow::Result<(u64, u64)>> {
        Box::pin(async move { Ok(self.kv_usage(plugin).await?) })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;

    #[tokio::test]
    async fn kv_values_round_trip_and_are_scoped_per_plugin() {
        for db in testing::all().await {
            assert_eq!(db.kv_get("a", "k").await.expect("get"), None);
            db.kv_set("a", "k", "one").await.expect("set");
            db.kv_set("b", "k", "other").await.expect("set");
            assert_eq!(
                db.kv_get("a", "k").await.expect("get").as_deref(),
                Some("one")
            );
            assert_eq!(
                db.kv_get("b", "k").await.expect("get").as_deref(),
                Some("other")
            );
            db.kv_set("a", "k", "two").await.expect("overwrite");
            assert_eq!(
                db.kv_get("a", "k").await.expect("get").as_deref(),
                Some("two")
            );
            let info = db.info().await.expect("info");
            let kv = info
                .tables
                .iter()
                .find(|t| t.name == "plugin_kv")
                .expect("plugin_kv");
            assert_eq!(kv.rows, 2, "{}", db.kind());
        }
    }

    #[tokio::test]
    async fn kv_delete_says_whether_the_key_existed() {
        for db in testing::all().await {
            db.kv_set("a", "k", "v").await.expect("set");
            assert!(db.kv_delete("a", "k").await.expect("delete"));
            assert!(!db.kv_delete("a", "k").await.expect("delete again"));
            assert_eq!(db.kv_get("a", "k").await.expect("get"), None);
        }
    }

    #[tokio::test]
    async fn kv_list_matches_the_prefix_exactly_and_sorts() {
        for db in testing::all().await {
            for key in ["user:2", "user:10", "User:1", "user_x", "usage", "user:é"] {
                db.kv_set("a", key, "v").await.expect("set");
            }
            db.kv_set("b", "user:3", "v").await.expect("set");
            let keys = db.kv_list("a", "user:").await.expect("list");
            assert_eq!(keys, ["user:10", "user:2", "user:é"], "{}", db.kind());
            // `_` and `%` are not wildcards.
            let keys = db.kv_list("a", "user_").await.expect("list");
            assert_eq!(keys, ["user_x"], "{}", db.kind());
            assert!(db.kv_list("a", "user%").await.expect("list").is_empty());
            let all = db.kv_list("a", "").await.expect("list");
            assert_eq!(all.len(), 6, "{}", db.kind());
            assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
        }
    }

    #[tokio::test]
    async fn values_keep_unicode_quotes_and_large_text() {
        for db in testing::all().await {
            let value = format!("'\"; DROP TABLE plugin_kv; -- ✓ {}", "x".repeat(100_000));
            db.kv_set("a", "k'ey", &value).await.expect("set");
            assert_eq!(db.kv_get("a", "k'ey").await.expect("get"), Some(value));
        }
    }

    #[tokio::test]
    async fn compare_and_swap_applies_only_over_the_expected_value() {
        for db in testing::all().await {
            let kind = db.kind();
            let cas = |expected, new| db.kv_compare_and_swap("a", "k", expected, new);
            // Absent expected: only creates.
            assert!(cas(None, Some("1")).await.expect("create"), "{kind}");
            assert!(!cas(None, Some("2")).await.expect("exists"), "{kind}");
            assert!(!cas(None, None).await.expect("exists"), "{kind}");
            // A stale expected value changes nothing; the current one swaps.
            assert!(!cas(Some("0"), Some("2")).await.expect("stale"), "{kind}");
            assert!(cas(Some("1"), Some("2")).await.expect("swap"), "{kind}");
            assert_eq!(
                db.kv_get("a", "k").await.expect("get").as_deref(),
                Some("2")
            );
            // No new value: removes, only over the expected one.
            assert!(!cas(Some("1"), None).await.expect("stale"), "{kind}");
            assert!(cas(Some("2"), None).await.expect("remove"), "{kind}");
            assert_eq!(db.kv_get("a", "k").await.expect("get"), None, "{kind}");
            assert!(cas(None, None).await.expect("absent"), "{kind}");
            assert!(!cas(Some("2"), Some("3")).await.expect("absent"), "{kind}");
            // Another plugin's key of the same name is not this one's.
            db.kv_set("b", "k", "1").await.expect("set");
            assert!(
                !cas(Some("1"), Some("x")).await.expect("not ours"),
                "{kind}"
            );
            assert!(cas(None, Some("mine")).await.expect("ours"), "{kind}");
            assert_eq!(
                db.kv_get("b", "k").await.expect("get").as_deref(),
                Some("1")
            );
        }
    }

    #[tokio::test]
    async fn concurrent_compare_and_swap_loops_lose_no_update() {
        for db in testing::all().await {
            // 16 writers each add their own item to one list by read, swap, retry: the
            // plugins' atomic update. Every item must be there at the end.
            let writers = (0..16).map(|i| {
                let db = db.db();
                tokio::spawn(async move {
                    let mut retries = 0;
                    loop {
                        let old = db.kv_get("a", "list").await.expect("get");
                        let mut items: Vec<String> = old
                            .as_deref()
                            .map(|o| serde_json::from_str(o).expect("a list"))
                            .unwrap_or_default();
                        items.push(format!("item {i}"));
                        let new = serde_json::to_string(&items).expect("JSON");
                        let applied = db
                            .kv_compare_and_swap("a", "list", old.as_deref(), Some(&new))
                            .await
                            .expect("swap");
                        if applied {
                            return retries;
                        }
                        retries += 1;
                    }
                })
            });
            let retries: Vec<u32> = futures::future::join_all(writers)
                .await
                .into_iter()
                .map(|r| r.expect("a writer"))
                .collect();
            let list = db.kv_get("a", "list").await.expect("get").expect("set");
            let mut items: Vec<String> = serde_json::from_str(&list).expect("a list");
            items.sort();
            let mut expected: Vec<String> = (0..16).map(|i| format!("item {i}")).collect();
            expected.sort();
            assert_eq!(items, expected, "{}: retries {retries:?}", db.kind());
        }
    }
}
