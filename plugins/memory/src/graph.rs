//! The knowledge graph and its operations, over any [`Store`] of string keys and values:
//! the host's `kv` interface in the plugin, a map in the tests.
//!
//! Each entity and each relation is one key, so concurrent calls that touch different
//! nodes never overwrite each other: `e/<name>` holds an entity as JSON, and
//! `r/<from>/<relationType>/<to>` a relation (names escaped so `/` cannot split them).
//! Concurrent calls that touch the same node do not overwrite each other either: every
//! change computed from a stored value (observations added to or removed from an entity)
//! is written with the store's atomic update, and every creation with a compare-and-swap
//! from absent, so a write another call (or another host) made meanwhile is never lost.

use std::collections::BTreeSet;

use sanctuary_plugin_api::PluginError;
use sanctuary_plugin_api::mcp::kv;
use serde::{Deserialize, Serialize};

const ENTITY: &str = "e/";
const RELATION: &str = "r/";

/// Where the graph is kept: reads and atomic writes ([`kv::Store`]: `get`,
/// `compare_and_swap` and the `update` built on them), removals and listings.
pub trait Store: kv::Store {
    /// Removes `key`; whether it existed.
    fn delete(&self, key: &str) -> bool;
    /// The keys starting with `prefix`, sorted.
    fn list(&self, prefix: &str) -> Vec<String>;
}

/// A node: a person, a project, a place... with what is known about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entity {
    /// Unique name.
    pub name: String,
    /// What kind of thing it is (`person`, `project`, ...).
    pub entity_type: String,
    /// Facts about it, one sentence each.
    #[serde(default)]
    pub observations: Vec<String>,
}

/// A directed, typed edge between two entities, in active voice (`Ada works_at Acme`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Relation {
    /// Source entity name.
    pub from: String,
    /// Target entity name.
    pub to: String,
    /// The relation, e.g. `works_at`.
    pub relation_type: String,
}

/// Entities and the relations among them.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Graph {
    /// The entities, by name.
    pub entities: Vec<Entity>,
    /// The relations, sorted.
    pub relations: Vec<Relation>,
}

/// Observations to add to one entity.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObservationAdd {
    /// The entity.
    pub entity_name: String,
    /// New observations.
    pub contents: Vec<String>,
}

/// What `add_observations` added to one entity.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Added {
    /// The entity.
    pub entity_name: String,
    /// The observations that were new.
    pub added_observations: Vec<String>,
}

/// Observations to remove from one entity.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObservationDelete {
    /// The entity.
    pub entity_name: String,
    /// Observations to remove.
    pub observations: Vec<String>,
}

fn escape(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F")
}

fn unescape(part: &str) -> String {
    part.replace("%2F", "/").replace("%25", "%")
}

fn entity_key(name: &str) -> String {
    format!("{ENTITY}{}", escape(name))
}

fn relation_key(r: &Relation) -> String {
    format!(
        "{RELATION}{}/{}/{}",
        escape(&r.from),
        escape(&r.relation_type),
        escape(&r.to)
    )
}

fn relation_of_key(key: &str) -> Option<Relation> {
    let mut parts = key.strip_prefix(RELATION)?.split('/');
    let (from, relation_type, to) = (parts.next()?, parts.next()?, parts.next()?);
    Some(Relation {
        from: unescape(from),
        to: unescape(to),
        relation_type: unescape(relation_type),
    })
}

fn load(store: &impl Store, name: &str) -> Result<Option<Entity>, PluginError> {
    store
        .get(&entity_key(name))
        .map(|json| parse(name, &json))
        .transpose()
}

fn parse(name: &str, json: &str) -> Result<Entity, PluginError> {
    serde_json::from_str(json)
        .map_err(|e| PluginError::failed(format!("the stored entity `{name}` is unreadable: {e}")))
}

fn to_json(entity: &Entity) -> Result<String, PluginError> {
    serde_json::to_string(entity)
        .map_err(|e| PluginError::failed(format!("cannot store `{}`: {e}", entity.name)))
}

/// Changes entity `name` with `change` in one atomic update of its key (retried if
/// another call changes it meanwhile; `change` runs again on the newer entity, so it
/// only computes). `None` if the entity does not exist (then nothing is written), else
/// what `change` returned for the entity that was stored.
fn modify<T>(
    store: &impl Store,
    name: &str,
    mut change: impl FnMut(&mut Entity) -> T,
) -> Result<Option<T>, PluginError> {
    let mut outcome: Result<Option<T>, PluginError> = Ok(None);
    store.update(&entity_key(name), |old| {
        // Each attempt starts afresh: only the one that is stored counts.
        outcome = Ok(None);
        let old = old?;
        let changed = parse(name, &old).and_then(|mut entity| {
            let result = change(&mut entity);
            Ok((to_json(&entity)?, result))
        });
        match changed {
            Ok((json, result)) => {
                outcome = Ok(Some(result));
                Some(json)
            }
            Err(e) => {
                // Leave the stored value as it is: the update writes nothing.
                outcome = Err(e);
                Some(old)
            }
        }
    })?;
    outcome
}

fn all_entities(store: &impl Store) -> Result<Vec<Entity>, PluginError> {
    let mut entities = Vec::new();
    for key in store.list(ENTITY) {
        let name = unescape(&key[ENTITY.len()..]);
        if let Some(entity) = load(store, &name)? {
            entities.push(entity);
        }
    }
    Ok(entities)
}

fn all_relations(store: &impl Store) -> Vec<Relation> {
    store
        .list(RELATION)
        .iter()
        .filter_map(|k| relation_of_key(k))
        .collect()
}

/// Creates the entities whose names are new; returns those it created. Of two calls
/// creating one name at once, exactly one creates it.
pub fn create_entities(
    store: &impl Store,
    entities: Vec<Entity>,
) -> Result<Vec<Entity>, PluginError> {
    let mut created: Vec<Entity> = Vec::new();
    for mut entity in entities {
        if created.iter().any(|c| c.name == entity.name) {
            continue;
        }
        dedup(&mut entity.observations);
        let json = to_json(&entity)?;
        if store.compare_and_swap(&entity_key(&entity.name), None, Some(&json)) {
            created.push(entity);
        }
    }
    Ok(created)
}

/// Creates the relations that do not exist yet; returns those it created.
pub fn create_relations(store: &impl Store, relations: Vec<Relation>) -> Vec<Relation> {
    relations
        .into_iter()
        .filter(|relation| store.compare_and_swap(&relation_key(relation), None, Some("")))
        .collect()
}

/// Adds observations to existing entities; every entity must exist (checked before
/// anything is written). Returns what was new for each. Each entity is updated
/// atomically, so observations that concurrent calls add to one entity are all kept.
pub fn add_observations(
    store: &impl Store,
    additions: Vec<ObservationAdd>,
) -> Result<Vec<Added>, PluginError> {
    for addition in &additions {
        if load(store, &addition.entity_name)?.is_none() {
            return Err(not_found(&addition.entity_name));
        }
    }
    let mut results = Vec::new();
    for addition in additions {
        let added = modify(store, &addition.entity_name, |entity| {
            let mut added = Vec::new();
            for content in &addition.contents {
                if !entity.observations.contains(content) && !added.contains(content) {
                    added.push(content.clone());
                }
            }
            entity.observations.extend(added.iter().cloned());
            added
        })?
        // Deleted by another call since the check above.
        .ok_or_else(|| not_found(&addition.entity_name))?;
        results.push(Added {
            entity_name: addition.entity_name,
            added_observations: added,
        });
    }
    Ok(results)
}

/// Deletes entities and every relation from or to them; returns the names that existed.
pub fn delete_entities(store: &impl Store, names: &[String]) -> Vec<String> {
    let mut deleted = Vec::new();
    for name in names {
        if store.delete(&entity_key(name)) {
            deleted.push(name.clone());
        }
    }
    for relation in all_relations(store) {
        if names.contains(&relation.from) || names.contains(&relation.to) {
            store.delete(&relation_key(&relation));
        }
    }
    deleted
}

/// Removes observations from entities (missing entities and observations are ignored).
pub fn delete_observations(
    store: &impl Store,
    deletions: Vec<ObservationDelete>,
) -> Result<(), PluginError> {
    for deletion in deletions {
        modify(store, &deletion.entity_name, |entity| {
            entity
                .observations
                .retain(|o| !deletion.observations.contains(o));
        })?;
    }
    Ok(())
}

/// Deletes relations; returns how many existed.
pub fn delete_relations(store: &impl Store, relations: &[Relation]) -> usize {
    relations
        .iter()
        .filter(|relation| store.delete(&relation_key(relation)))
        .count()
}

/// The whole graph.
pub fn read_graph(store: &impl Store) -> Result<Graph, PluginError> {
    Ok(Graph {
        entities: all_entities(store)?,
        relations: all_relations(store),
    })
}

/// Entities whose name, type or observations contain `query` (ignoring case), with the
/// relations among them.
pub fn search_nodes(store: &impl Store, query: &str) -> Result<Graph, PluginError> {
    let query = query.to_lowercase();
    let hit = |text: &str| text.to_lowercase().contains(&query);
    let entities = all_entities(store)?
        .into_iter()
        .filter(|e| hit(&e.name) || hit(&e.entity_type) || e.observations.iter().any(|o| hit(o)))
        .collect();
    Ok(subgraph(store, entities))
}

/// The named entities (unknown names are skipped) with the relations among them.
pub fn open_nodes(store: &impl Store, names: &[String]) -> Result<Graph, PluginError> {
    let mut entities = Vec::new();
    for name in names.iter().collect::<BTreeSet<_>>() {
        if let Some(entity) = load(store, name)? {
            entities.push(entity);
        }
    }
    Ok(subgraph(store, entities))
}

fn subgraph(store: &impl Store, entities: Vec<Entity>) -> Graph {
    let names: BTreeSet<&str> = entities.iter().map(|e| e.name.as_str()).collect();
    let relations = all_relations(store)
        .into_iter()
        .filter(|r| names.contains(r.from.as_str()) && names.contains(r.to.as_str()))
        .collect();
    Graph {
        entities,
        relations,
    }
}

fn dedup(items: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    items.retain(|item| seen.insert(item.clone()));
}

fn not_found(name: &str) -> PluginError {
    PluginError::invalid_input(format!(
        "no entity named `{name}`; create it first with create_entities"
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use super::*;

    /// What another call does to the store, run between a read and a write.
    type OtherCall = Box<dyn FnOnce(&Map)>;

    /// A store in a map, for native tests. `meanwhile`, when set, runs once just before
    /// the next compare-and-swap, as a concurrent call would between a read and a write.
    #[derive(Default)]
    pub(crate) struct Map {
        pairs: RefCell<BTreeMap<String, String>>,
        meanwhile: RefCell<Option<OtherCall>>,
    }

    impl kv::Store for Map {
        fn get(&self, key: &str) -> Option<String> {
            self.pairs.borrow().get(key).cloned()
        }
        fn compare_and_swap(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> bool {
            let meanwhile = self.meanwhile.borrow_mut().take();
            if let Some(other_call) = meanwhile {
                other_call(self);
            }
            let mut pairs = self.pairs.borrow_mut();
            if pairs.get(key).map(String::as_str) != expected {
                return false;
            }
            match new {
                Some(value) => pairs.insert(key.into(), value.into()),
                None => pairs.remove(key),
            };
            true
        }
    }

    impl Store for Map {
        fn delete(&self, key: &str) -> bool {
            self.pairs.borrow_mut().remove(key).is_some()
        }
        fn list(&self, prefix: &str) -> Vec<String> {
            self.pairs
                .borrow()
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect()
        }
    }

    fn entity(name: &str, ty: &str, observations: &[&str]) -> Entity {
        Entity {
            name: name.into(),
            entity_type: ty.into(),
            observations: observations.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn relation(from: &str, ty: &str, to: &str) -> Relation {
        Relation {
            from: from.into(),
            to: to.into(),
            relation_type: ty.into(),
        }
    }

    fn seeded() -> Map {
        let store = Map::default();
        create_entities(
            &store,
            vec![
                entity("Ada", "person", &["writes programs"]),
                entity("Acme/Labs", "company", &["makes anvils"]),
                entity("Bob", "person", &[]),
            ],
        )
        .expect("created");
        create_relations(
            &store,
            vec![
                relation("Ada", "works_at", "Acme/Labs"),
                relation("Bob", "knows", "Ada"),
            ],
        );
        store
    }

    #[test]
    fn creating_an_existing_entity_or_relation_is_skipped() {
        let store = seeded();
        let created = create_entities(
            &store,
            vec![entity("Ada", "robot", &[]), entity("Cy", "cat", &["purrs"])],
        )
        .expect("created");
        assert_eq!(created, [entity("Cy", "cat", &["purrs"])]);
        assert_eq!(
            load(&store, "Ada").expect("ok").expect("kept").entity_type,
            "person"
        );
        let again = create_relations(&store, vec![relation("Ada", "works_at", "Acme/Labs")]);
        assert!(again.is_empty());
    }

    #[test]
    fn names_with_slashes_and_percent_signs_round_trip() {
        let store = seeded();
        let graph = read_graph(&store).expect("read");
        assert!(graph.entities.iter().any(|e| e.name == "Acme/Labs"));
        assert!(
            graph
                .relations
                .contains(&relation("Ada", "works_at", "Acme/Labs"))
        );
        let r = relation("50%/x", "a/b", "%2F");
        assert_eq!(relation_of_key(&relation_key(&r)), Some(r));
    }

    #[test]
    fn observations_are_added_once_and_only_to_existing_entities() {
        let store = seeded();
        let added = add_observations(
            &store,
            vec![ObservationAdd {
                entity_name: "Ada".into(),
                contents: vec!["writes programs".into(), "likes tea".into()],
            }],
        )
        .expect("added");
        assert_eq!(added[0].added_observations, ["likes tea"]);
        let err = add_observations(
            &store,
            vec![
                ObservationAdd {
                    entity_name: "Bob".into(),
                    contents: vec!["x".into()],
                },
                ObservationAdd {
                    entity_name: "Nobody".into(),
                    contents: vec!["y".into()],
                },
            ],
        )
        .expect_err("Nobody is unknown");
        assert_eq!(err.kind(), "invalid-input");
        assert!(err.message().contains("Nobody"));
        // Nothing was written for Bob either.
        assert!(
            load(&store, "Bob")
                .expect("ok")
                .expect("exists")
                .observations
                .is_empty()
        );
    }

    fn observe(name: &str, contents: &[&str]) -> Vec<ObservationAdd> {
        vec![ObservationAdd {
            entity_name: name.into(),
            contents: contents.iter().map(|c| c.to_string()).collect(),
        }]
    }

    #[test]
    fn an_observation_added_by_a_concurrent_call_is_kept() {
        let store = seeded();
        // Another call adds its observation after this one read Ada and before it writes.
        *store.meanwhile.borrow_mut() = Some(Box::new(|store: &Map| {
            add_observations(store, observe("Ada", &["from the other call"])).expect("added");
        }));
        let added = add_observations(&store, observe("Ada", &["from this call"])).expect("ok");
        assert_eq!(added[0].added_observations, ["from this call"]);
        let ada = load(&store, "Ada").expect("ok").expect("exists");
        assert_eq!(
            ada.observations,
            ["writes programs", "from the other call", "from this call"]
        );
    }

    #[test]
    fn of_two_calls_creating_one_entity_exactly_one_creates_it() {
        let store = Map::default();
        *store.meanwhile.borrow_mut() = Some(Box::new(|store: &Map| {
            let first = create_entities(store, vec![entity("Ada", "person", &["first"])]);
            assert_eq!(first.expect("ok").len(), 1);
        }));
        let second = create_entities(&store, vec![entity("Ada", "robot", &["second"])]);
        assert!(second.expect("ok").is_empty());
        let ada = load(&store, "Ada").expect("ok").expect("exists");
        assert_eq!(
            (ada.entity_type.as_str(), ada.observations),
            ("person", vec!["first".into()])
        );
    }

    #[test]
    fn an_entity_deleted_while_observations_are_added_is_reported_missing() {
        let store = seeded();
        *store.meanwhile.borrow_mut() = Some(Box::new(|store: &Map| {
            delete_entities(store, &["Bob".into()]);
        }));
        let err = add_observations(&store, observe("Bob", &["x"])).expect_err("deleted");
        assert!(err.message().contains("Bob"), "{}", err.message());
        assert_eq!(load(&store, "Bob").expect("ok"), None);
    }

    #[test]
    fn deleting_an_entity_deletes_its_relations() {
        let store = seeded();
        assert_eq!(
            delete_entities(&store, &["Ada".into(), "Zed".into()]),
            ["Ada"]
        );
        let graph = read_graph(&store).expect("read");
        assert_eq!(graph.entities.len(), 2);
        assert!(graph.relations.is_empty(), "{:?}", graph.relations);
    }

    #[test]
    fn observations_and_relations_can_be_deleted() {
        let store = seeded();
        delete_observations(
            &store,
            vec![ObservationDelete {
                entity_name: "Ada".into(),
                observations: vec!["writes programs".into()],
            }],
        )
        .expect("deleted");
        assert!(
            load(&store, "Ada")
                .expect("ok")
                .expect("exists")
                .observations
                .is_empty()
        );
        assert_eq!(
            delete_relations(&store, &[relation("Bob", "knows", "Ada")]),
            1
        );
        assert_eq!(read_graph(&store).expect("read").relations.len(), 1);
    }

    #[test]
    fn search_matches_names_types_and_observations_ignoring_case() {
        let store = seeded();
        let names = |g: Graph| g.entities.into_iter().map(|e| e.name).collect::<Vec<_>>();
        assert_eq!(
            names(search_nodes(&store, "ANVIL").expect("ok")),
            ["Acme/Labs"]
        );
        let people = search_nodes(&store, "person").expect("ok");
        assert_eq!(people.relations, [relation("Bob", "knows", "Ada")]);
        assert_eq!(names(people), ["Ada", "Bob"]);
    }

    #[test]
    fn open_nodes_returns_the_named_entities_and_the_relations_among_them() {
        let store = seeded();
        let graph =
            open_nodes(&store, &["Ada".into(), "Acme/Labs".into(), "Nope".into()]).expect("ok");
        assert_eq!(graph.entities.len(), 2);
        assert_eq!(graph.relations, [relation("Ada", "works_at", "Acme/Labs")]);
    }
}
