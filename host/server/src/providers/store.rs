//! Route bindings set through the admin API, kept in the database (`provider_routes`) so
//! they survive a restart.

use std::collections::BTreeMap;

use sqlx::Row;

use crate::config::RouteConfig;
use crate::db::{Db, Result};

/// Every stored binding, by route name. A row whose JSON no longer parses is skipped with
/// a warning rather than failing start-up.
pub async fn all(db: &Db) -> Result<BTreeMap<String, RouteConfig>> {
    let rows = sqlx::query("SELECT name, spec FROM provider_routes")
        .fetch_all(db.pool())
        .await?;
    let mut routes = BTreeMap::new();
    for row in rows {
        let name: String = row.try_get("name")?;
        let spec: String = row.try_get("spec")?;
        match serde_json::from_str::<RouteConfig>(&spec) {
            Ok(route) => {
                routes.insert(name, route);
            }
            Err(e) => tracing::warn!(route = %name, cause = %e, "unreadable stored route binding"),
        }
    }
    Ok(routes)
}

/// Stores (or replaces) the binding of route `name`.
pub async fn put(db: &Db, name: &str, route: &RouteConfig) -> Result<()> {
    let spec = serde_json::to_string(route).unwrap_or_else(|_| "{}".into());
    sqlx::query(
        "INSERT INTO provider_routes (name, spec, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(spec)
    .bind(crate::clock::timestamp())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Removes the binding of route `name`; `true` if there was one.
pub async fn delete(db: &Db, name: &str) -> Result<bool> {
    let result = sqlx::query("DELETE FROM provider_routes WHERE name = $1")
        .bind(name)
        .execute(db.pool())
        .await?;
    Ok(result.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ChainEntry;

    #[tokio::test]
    async fn bindings_round_trip_through_every_database() {
        for test_db in crate::db::testing::all().await {
            let db = test_db.db();
            assert!(all(&db).await.expect("read").is_empty());
            let route = RouteConfig {
                chain: vec![
                    ChainEntry {
                        model: Some("gpt-4o-mini".into()),
                        ..ChainEntry::new("openai-compatible")
                    },
                    ChainEntry::new("local"),
                ],
                timeout_ms: Some(5000),
                retries: Some(2),
                backoff_ms: None,
            };
            put(&db, "coder", &route).await.expect("put");
            put(&db, "coder", &route).await.expect("put again replaces");
            let stored = all(&db).await.expect("read");
            assert_eq!(stored.get("coder"), Some(&route));
            assert!(delete(&db, "coder").await.expect("delete"));
            assert!(!delete(&db, "coder").await.expect("delete again"));
            assert!(all(&db).await.expect("read").is_empty());
        }
    }
}
