//! The knowledge graph and its operations, over any [`Store`] of string keys and values:
//! the host's `kv` interface in the plugin, a map in the tests.
//!
//! Each entity and each relation is one key, so concurrent calls that touch different
//! nodes never overwrite each other: `e/<name>` holds an entity as JSON, and
//! `r/<from>/<relationType>/<to>` a relation (names escaped so `/` cannot split them).

use std::collections::BTreeSet;

use sanctuary_plugin_api::PluginError;
use serde::{Deserialize, Serialize};

const ENTITY: &str = "e/";
const RELATION: &str = "r/";

/// Where the graph is kept.
pub trait Store {
    /// The value under `key`.
    fn get(&self, key: &str) -> Option<String>;
    /// Stores `value` under `key`.
    fn set(&self, key: &str, value: &str);
    /// Removes `key`.
    fn delete(&self, key: &str);
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
        .map(|json| {
            serde_json::from_str(&json).map_err(|e| {
                PluginError::failed(format!("the stored entity `{name}` is unreadable: {e}"))
            })
        })
        .transpose()
}

fn save(store: &impl Store, entity: &Entity) -> Result<(), PluginError> {
    let json = serde_json::to_string(entity)
        .map_err(|e| PluginError::failed(format!("cannot store `{}`: {e}", entity.name)))?;
    store.set(&entity_key(&entity.name), &json);
    Ok(())
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

/// Creates the entities whose names are new; returns those it created.
pub fn create_entities(
    store: &impl Store,
    entities: Vec<Entity>,
) -> Result<Vec<Entity>, PluginError> {
    let mut created: Vec<Entity> = Vec::new();
    for mut entity in entities {
        if load(store, &entity.name)?.is_some() || created.iter().any(|c| c.name == entity.name) {
            continue;
        }
        dedup(&mut entity.observations);
        save(store, &entity)?;
        created.push(entity);
    }
    Ok(created)
}

/// Creates the relations that do not exist yet; returns those it created.
pub fn create_relations(store: &impl Store, relations: Vec<Relation>) -> Vec<Relation> {
    let mut created = Vec::new();
    for relation in relations {
        let key = relation_key(&relation);
        if store.get(&key).is_none() {
            store.set(&key, "");
            created.push(relation);
        }
    }
    created
}

/// Adds observations to existing entities; every entity must exist (checked before
/// anything is written). Returns what was new for each.
pub fn add_observations(
    store: &impl Store,
    additions: Vec<ObservationAdd>,
) -> Result<Vec<Added>, PluginError> {
    let mut loaded = Vec::with_capacity(additions.len());
    for addition in &additions {
        let Some(entity) = load(store, &addition.entity_name)? else {
            return Err(not_found(&addition.entity_name));
        };
        loaded.push(entity);
    }
    let mut results = Vec::new();
    for (addition, mut entity) in additions.into_iter().zip(loaded) {
        let mut added = Vec::new();
        for content in addition.contents {
            if !entity.observations.contains(&content) && !added.contains(&content) {
                added.push(content);
            }
        }
        entity.observations.extend(added.iter().cloned());
        save(store, &entity)?;
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
        let key = entity_key(name);
        if store.get(&key).is_some() {
            store.delete(&key);
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
        if let Some(mut entity) = load(store, &deletion.entity_name)? {
            entity
                .observations
                .retain(|o| !deletion.observations.contains(o));
            save(store, &entity)?;
        }
    }
    Ok(())
}

/// Deletes relations; returns how many existed.
pub fn delete_relations(store: &impl Store, relations: &[Relation]) -> usize {
    let mut deleted = 0;
    for relation in relations {
        let key = relation_key(relation);
        if store.get(&key).is_some() {
            store.delete(&key);
            deleted += 1;
        }
    }
    deleted
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
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Default)]
    struct Map(RefCell<BTreeMap<String, String>>);

    impl Store for Map {
        fn get(&self, key: &str) -> Option<String> {
            self.0.borrow().get(key).cloned()
        }
        fn set(&self, key: &str, value: &str) {
            self.0.borrow_mut().insert(key.into(), value.into());
        }
        fn delete(&self, key: &str) {
            self.0.borrow_mut().remove(key);
        }
        fn list(&self, prefix: &str) -> Vec<String> {
            self.0
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
