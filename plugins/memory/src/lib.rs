//! The `memory` MCP server: a small knowledge graph (entities with a type and
//! observations, typed relations between them) with the tool set of the reference MCP
//! memory server. It is stored through the host's `kv` interface, so it lives in the
//! host's database: it survives restarts and is shared by every host on that database.
//! Its changes go through the interface's compare-and-swap (API 0.2.1, hence its
//! manifest's `"api": "^0.2.1"`), so concurrent calls never lose each other's writes.

mod graph;

use graph::{Entity, ObservationAdd, ObservationDelete, Relation, Store};
use sanctuary_plugin_api::mcp::{
    self, Content, McpServer, Prompt, PromptArgument, PromptMessage, Resource, Tool, kv,
};
use sanctuary_plugin_api::{PluginError, args};
use serde::Deserialize;
use serde_json::{Value, json};

/// URI of the resource holding the whole graph.
const GRAPH_URI: &str = "memory://graph";

/// The host's key-value store, private to this plugin.
struct Kv;

impl kv::Store for Kv {
    fn get(&self, key: &str) -> Option<String> {
        kv::get(key)
    }
    fn compare_and_swap(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> bool {
        kv::compare_and_swap(key, expected, new)
    }
}

impl Store for Kv {
    fn delete(&self, key: &str) -> bool {
        kv::delete(key)
    }
    fn list(&self, prefix: &str) -> Vec<String> {
        kv::list_keys(prefix)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntitiesArgs {
    entities: Vec<Entity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationsArgs {
    relations: Vec<Relation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddObservationsArgs {
    observations: Vec<ObservationAdd>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DeleteEntitiesArgs {
    entity_names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteObservationsArgs {
    deletions: Vec<ObservationDelete>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    query: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenArgs {
    names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecallArgs {
    topic: Option<String>,
}

fn name() -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": 512 })
}

fn names(what: &str) -> Value {
    json!({ "type": "array", "items": name(), "description": what })
}

fn strings(what: &str) -> Value {
    json!({ "type": "array", "items": { "type": "string", "minLength": 1 }, "description": what })
}

fn relation_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "from": name(),
            "to": name(),
            "relationType": { "type": "string", "minLength": 1, "maxLength": 512, "description": "In active voice, e.g. `works_at`" }
        },
        "required": ["from", "to", "relationType"],
        "additionalProperties": false
    })
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false
    })
}

struct Memory;

impl McpServer for Memory {
    fn list_tools() -> Vec<Tool> {
        let entity = object(
            json!({
                "name": name(),
                "entityType": { "type": "string", "minLength": 1, "maxLength": 512, "description": "What kind of thing it is, e.g. `person`" },
                "observations": strings("Facts about it, one sentence each")
            }),
            &["name", "entityType", "observations"],
        );
        vec![
            Tool::new(
                "create_entities",
                "Creates entities in the knowledge graph (names already present are skipped). \
                 Returns the entities created.",
                &object(
                    json!({ "entities": { "type": "array", "items": entity } }),
                    &["entities"],
                ),
            ),
            Tool::new(
                "create_relations",
                "Creates directed relations between entities, in active voice (`Ada works_at \
                 Acme`); existing ones are skipped. Returns the relations created.",
                &object(
                    json!({ "relations": { "type": "array", "items": relation_schema() } }),
                    &["relations"],
                ),
            ),
            Tool::new(
                "add_observations",
                "Adds observations to existing entities; fails, changing nothing, if one of \
                 them does not exist. Returns the observations that were new.",
                &object(
                    json!({ "observations": { "type": "array", "items": object(
                        json!({ "entityName": name(), "contents": strings("Observations to add") }),
                        &["entityName", "contents"],
                    ) } }),
                    &["observations"],
                ),
            ),
            Tool::new(
                "delete_entities",
                "Deletes entities and every relation from or to them.",
                &object(
                    json!({ "entityNames": names("Entities to delete") }),
                    &["entityNames"],
                ),
            ),
            Tool::new(
                "delete_observations",
                "Deletes observations from entities.",
                &object(
                    json!({ "deletions": { "type": "array", "items": object(
                        json!({ "entityName": name(), "observations": strings("Observations to delete") }),
                        &["entityName", "observations"],
                    ) } }),
                    &["deletions"],
                ),
            ),
            Tool::new(
                "delete_relations",
                "Deletes relations.",
                &object(
                    json!({ "relations": { "type": "array", "items": relation_schema() } }),
                    &["relations"],
                ),
            ),
            Tool::new(
                "read_graph",
                "Reads the whole knowledge graph: every entity and relation.",
                &object(json!({}), &[]),
            ),
            Tool::new(
                "search_nodes",
                "Finds entities whose name, type or observations contain `query` (ignoring \
                 case), with the relations among them.",
                &object(
                    json!({ "query": { "type": "string", "minLength": 1, "description": "Text to look for" } }),
                    &["query"],
                ),
            ),
            Tool::new(
                "open_nodes",
                "Returns the named entities (unknown names are skipped) with the relations \
                 among them.",
                &object(json!({ "names": names("Entity names") }), &["names"]),
            ),
        ]
    }

    fn call_tool(name: String, arguments: String) -> Result<Vec<Content>, PluginError> {
        call(&Kv, &name, &arguments)
    }

    fn list_resources() -> Vec<Resource> {
        vec![Resource::new(
            GRAPH_URI,
            "Knowledge graph",
            "Every entity and relation, as JSON ({entities, relations})",
            "application/json",
        )]
    }

    fn read_resource(uri: String) -> Result<String, PluginError> {
        if uri != GRAPH_URI {
            return Err(mcp::unknown_resource(&uri));
        }
        serde_json::to_string(&graph::read_graph(&Kv)?)
            .map_err(|e| PluginError::failed(format!("cannot serialise the graph: {e}")))
    }

    fn list_prompts() -> Vec<Prompt> {
        vec![Prompt {
            name: "recall".into(),
            description: "Starts a conversation with what the knowledge graph remembers (about \
                          a topic, or everything)."
                .into(),
            arguments: vec![PromptArgument::new(
                "topic",
                "What to recall, searched like search_nodes (default: the whole graph)",
                false,
            )],
        }]
    }

    fn get_prompt(name: String, arguments: String) -> Result<Vec<PromptMessage>, PluginError> {
        if name != "recall" {
            return Err(mcp::unknown_prompt(&name));
        }
        let request: RecallArgs = args(&arguments)?;
        let topic = request.topic.filter(|t| !t.trim().is_empty());
        let graph = match &topic {
            Some(topic) => graph::search_nodes(&Kv, topic)?,
            None => graph::read_graph(&Kv)?,
        };
        Ok(vec![PromptMessage::user(recall_text(
            topic.as_deref(),
            &graph,
        ))])
    }
}

sanctuary_plugin_api::export!(mcp: Memory);

/// Runs tool `name` against `store`.
fn call(store: &impl Store, name: &str, arguments: &str) -> Result<Vec<Content>, PluginError> {
    match name {
        "create_entities" => {
            let request: EntitiesArgs = args(arguments)?;
            let created = graph::create_entities(store, request.entities)?;
            answer(format!("created {} entities", created.len()), &created)
        }
        "create_relations" => {
            let request: RelationsArgs = args(arguments)?;
            let created = graph::create_relations(store, request.relations);
            answer(format!("created {} relations", created.len()), &created)
        }
        "add_observations" => {
            let request: AddObservationsArgs = args(arguments)?;
            let added = graph::add_observations(store, request.observations)?;
            let count: usize = added.iter().map(|a| a.added_observations.len()).sum();
            answer(format!("added {count} observations"), &added)
        }
        "delete_entities" => {
            let request: DeleteEntitiesArgs = args(arguments)?;
            let deleted = graph::delete_entities(store, &request.entity_names);
            answer(format!("deleted {} entities", deleted.len()), &deleted)
        }
        "delete_observations" => {
            let request: DeleteObservationsArgs = args(arguments)?;
            graph::delete_observations(store, request.deletions)?;
            Ok(vec![Content::text("observations deleted")])
        }
        "delete_relations" => {
            let request: RelationsArgs = args(arguments)?;
            let deleted = graph::delete_relations(store, &request.relations);
            Ok(vec![Content::text(format!("deleted {deleted} relations"))])
        }
        "read_graph" => {
            let _: EmptyArgs = args(arguments)?;
            graph_answer(graph::read_graph(store)?)
        }
        "search_nodes" => {
            let request: SearchArgs = args(arguments)?;
            graph_answer(graph::search_nodes(store, &request.query)?)
        }
        "open_nodes" => {
            let request: OpenArgs = args(arguments)?;
            graph_answer(graph::open_nodes(store, &request.names)?)
        }
        other => Err(mcp::unknown_tool(other)),
    }
}

fn answer<T: serde::Serialize>(summary: String, value: &T) -> Result<Vec<Content>, PluginError> {
    Ok(vec![Content::text(summary), Content::json(value)?])
}

fn graph_answer(graph: graph::Graph) -> Result<Vec<Content>, PluginError> {
    answer(
        format!(
            "{} entities, {} relations",
            graph.entities.len(),
            graph.relations.len()
        ),
        &graph,
    )
}

/// The text of the `recall` prompt.
fn recall_text(topic: Option<&str>, graph: &graph::Graph) -> String {
    let mut text = match topic {
        Some(topic) => format!("Here is what my memory holds about \"{topic}\":\n"),
        None => "Here is everything my memory holds:\n".to_string(),
    };
    if graph.entities.is_empty() {
        text.push_str("(nothing yet)\n");
    }
    for entity in &graph.entities {
        text.push_str(&format!("- {} ({})", entity.name, entity.entity_type));
        if !entity.observations.is_empty() {
            text.push_str(&format!(": {}", entity.observations.join("; ")));
        }
        text.push('\n');
    }
    for r in &graph.relations {
        text.push_str(&format!("- {} {} {}\n", r.from, r.relation_type, r.to));
    }
    text.push_str(
        "\nUse this as context. When you learn something new worth remembering, store it \
         with the memory tools (create_entities, add_observations, create_relations).",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::tests::Map;

    fn json_of(contents: &[Content]) -> Value {
        contents
            .iter()
            .find_map(|c| match c {
                Content::Json(j) => serde_json::from_str(j).ok(),
                Content::Text(_) => None,
            })
            .expect("a JSON content")
    }

    #[test]
    fn the_tools_are_the_reference_memory_servers() {
        let names: Vec<String> = Memory::list_tools().into_iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "create_entities",
                "create_relations",
                "add_observations",
                "delete_entities",
                "delete_observations",
                "delete_relations",
                "read_graph",
                "search_nodes",
                "open_nodes"
            ]
        );
        for tool in Memory::list_tools() {
            let schema: Value = serde_json::from_str(&tool.input_schema).expect("JSON");
            assert_eq!(schema["additionalProperties"], false, "{}", tool.name);
            assert!(schema["required"].is_array(), "{}", tool.name);
        }
    }

    #[test]
    fn a_conversation_through_the_tools_builds_and_reads_the_graph() {
        let store = Map::default();
        call(
            &store,
            "create_entities",
            r#"{"entities":[{"name":"Ada","entityType":"person","observations":["writes code"]},
                            {"name":"Acme","entityType":"company","observations":[]}]}"#,
        )
        .expect("created");
        call(
            &store,
            "create_relations",
            r#"{"relations":[{"from":"Ada","to":"Acme","relationType":"works_at"}]}"#,
        )
        .expect("related");
        call(
            &store,
            "add_observations",
            r#"{"observations":[{"entityName":"Acme","contents":["makes anvils"]}]}"#,
        )
        .expect("observed");
        let graph = json_of(&call(&store, "read_graph", "{}").expect("read"));
        assert_eq!(graph["entities"].as_array().map(Vec::len), Some(2));
        assert_eq!(graph["relations"][0]["relationType"], "works_at");
        let found = json_of(&call(&store, "search_nodes", r#"{"query":"anvil"}"#).expect("ok"));
        assert_eq!(found["entities"][0]["name"], "Acme");
    }

    #[test]
    fn arguments_of_the_wrong_shape_are_refused_naming_the_field() {
        let err = call(
            &Map::default(),
            "create_entities",
            r#"{"entities":[{"name":"A"}]}"#,
        )
        .expect_err("entityType missing");
        assert_eq!(err.kind(), "invalid-input");
        assert!(err.message().contains("entityType"), "{}", err.message());
    }

    #[test]
    fn the_recall_prompt_lists_entities_and_relations() {
        let store = Map::default();
        graph::create_entities(
            &store,
            vec![Entity {
                name: "Ada".into(),
                entity_type: "person".into(),
                observations: vec!["likes tea".into()],
            }],
        )
        .expect("created");
        let text = recall_text(
            Some("Ada"),
            &graph::search_nodes(&store, "Ada").expect("ok"),
        );
        assert!(text.contains("- Ada (person): likes tea"), "{text}");
        assert!(recall_text(None, &graph::Graph::default()).contains("(nothing yet)"));
    }
}
