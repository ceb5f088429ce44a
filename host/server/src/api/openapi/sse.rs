//! The schema of a server-sent event stream. OpenAPI 3.1 has a media type's `schema`
//! describe each event of a `text/event-stream` (3.2 adds `itemSchema`), read as
//! `{event, data, id?, retry?}`: [`events`] builds that schema from the stream's events,
//! each named and carrying JSON `data` of a given schema (`contentMediaType` and
//! `contentSchema`, which validators such as schemathesis check).

use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};

/// The schema of one event of a stream whose events are `(name, schema name of its JSON
/// data, what it means)`; an unnamed event (what `EventSource.onmessage` sees) is named
/// `message`.
pub fn events(description: &str, events: &[(&str, &str, &str)]) -> RefOr<Schema> {
    let mut one_of = OneOfBuilder::new().description(Some(description));
    for (name, data, meaning) in events {
        let data = ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(format!("JSON: `{data}`")))
            .content_media_type("application/json")
            .content_schema(Some(Ref::from_schema_name(*data)));
        let event = ObjectBuilder::new()
            .schema_type(Type::Object)
            .title(Some(format!("`{name}` event")))
            .description(Some(*meaning))
            .property(
                "event",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([*name])),
            )
            .property("data", data)
            .property("id", ObjectBuilder::new().schema_type(Type::String))
            .property("retry", ObjectBuilder::new().schema_type(Type::Integer))
            .required("event")
            .required("data");
        one_of = one_of.item(event);
    }
    one_of.into()
}
