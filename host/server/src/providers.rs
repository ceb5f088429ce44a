//! AI routing in the server. The routing itself (the route table, the failover walk, the
//! breakers, who served) is the chat crate's ([`sanctuary_chat::providers`]), re-exported
//! here under its old path; what needs the server stays here: the bindings made through
//! the admin API ([`store`]), the status view of each route ([`status`]) and the warnings about
//! providers that lack the key or endpoint they need ([`configured`]).

pub mod configured;
pub mod status;
pub mod store;

pub use sanctuary_chat::providers::*;

use crate::config::Config;
use crate::db::Db;

/// The routing for `config`: its `[routes]` and `[breaker]`, without API bindings.
pub fn for_config(config: &Config) -> Providers {
    Providers::new(config.routes.clone(), config.breaker)
}

/// Takes the bindings stored through the admin API as `providers`' API layer (another node
/// may have bound or unbound routes); returns what changed in the table.
pub async fn load_stored(providers: &Providers, db: &Db) -> crate::db::Result<Vec<String>> {
    Ok(providers.set_api_routes(store::all(db).await?))
}
