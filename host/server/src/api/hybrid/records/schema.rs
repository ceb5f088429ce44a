//! The schemas of the documents' and projects' request bodies and answers, built from the
//! same [`Spec`] tables the handlers validate and answer with: a field's kind and length
//! cap, and whether it is required on creation (fields not in the table are ignored).

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use super::{DOCUMENTS, Kind, PROJECTS, Spec};

/// The body schema of `spec`'s records: on creation (`create`) the fields without a
/// default are required; an update changes only the fields it names.
fn body(spec: &Spec, create: bool) -> RefOr<Schema> {
    let what = if create {
        format!(
            "A new {}; fields it omits take their defaults",
            spec.singular
        )
    } else {
        format!(
            "Changes to a {}: only the fields named change",
            spec.singular
        )
    };
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(what));
    for field in spec.fields {
        let default = field.default.map(|d| match d {
            "" => " (default empty)".to_owned(),
            d => format!(" (default `{d}`)"),
        });
        let property = match field.kind {
            Kind::Text(max) => ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(max))
                .min_length((field.default.is_none() && create).then_some(1))
                .description(Some(format!(
                    "At most {max} characters{}",
                    default.unwrap_or_default()
                ))),
            Kind::OptText(max) => ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::String,
                    Type::Null,
                ]))
                .max_length(Some(max))
                .description(Some(format!("At most {max} characters, or `null`"))),
            Kind::Object => ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(
                    "A JSON object of the client's own keys: free-form (default `{}`)",
                )),
        };
        object = object.property(field.name, property);
        if create && field.default.is_none() {
            object = object.required(field.name);
        }
    }
    object.into()
}

/// A stored record of `spec`, as the answers show it.
fn record(spec: &Spec) -> ObjectBuilder {
    let text = |what: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(what.to_owned()))
    };
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("id", text("Its id"))
        .property("user_id", text("Whose it is"))
        .property("created_at", text("When it was created (RFC 3339)"))
        .property("updated_at", text("When it last changed (RFC 3339)"));
    for name in ["id", "user_id", "created_at", "updated_at"] {
        object = object.required(name);
    }
    for field in spec.fields {
        let property =
            match field.kind {
                Kind::Text(_) => ObjectBuilder::new().schema_type(Type::String),
                Kind::OptText(_) => ObjectBuilder::new().schema_type(
                    utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]),
                ),
                Kind::Object => ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some("A JSON object of the client's own keys: free-form")),
            };
        object = object.property(field.name, property).required(field.name);
    }
    object
}

/// What an answer's `data` holds.
#[derive(Clone, Copy)]
enum Data {
    /// `{<plural>: [record], total, limit, offset}`.
    List,
    /// `{<singular>: record}`.
    One,
    /// `{id, deleted: true}`.
    Deleted,
}

/// The seed-003 envelope `{success: true, data}` of an answer about `spec`'s records.
fn answer(spec: &Spec, data: Data) -> RefOr<Schema> {
    let count = |what: &str| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .description(Some(what.to_owned()))
    };
    let data = match data {
        Data::List => ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                spec.plural,
                utoipa::openapi::schema::ArrayBuilder::new().items(record(spec)),
            )
            .property("total", count("How many there are in all"))
            .property("limit", count("At most this many were asked for"))
            .property("offset", count("This many were skipped"))
            .required(spec.plural)
            .required("total")
            .required("limit")
            .required("offset"),
        Data::One => ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(spec.singular, record(spec))
            .required(spec.singular),
        Data::Deleted => ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("id", ObjectBuilder::new().schema_type(Type::String))
            .property("deleted", ObjectBuilder::new().schema_type(Type::Boolean))
            .required("id")
            .required("deleted"),
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "success",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .description(Some("Always `true`")),
        )
        .property("data", data)
        .required("success")
        .required("data")
        .into()
}

macro_rules! schema_type {
    ($(#[$doc:meta])* $name:ident, $schema:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

schema_type!(
    /// Body of `POST /api/v1/documents`.
    NewDocument,
    body(&DOCUMENTS, true)
);
schema_type!(
    /// Body of `PUT /api/v1/documents/{id}`.
    DocumentChanges,
    body(&DOCUMENTS, false)
);
schema_type!(
    /// Body of `POST /api/v1/projects`.
    NewProject,
    body(&PROJECTS, true)
);
schema_type!(
    /// Body of `PUT /api/v1/projects/{id}`.
    ProjectChanges,
    body(&PROJECTS, false)
);
schema_type!(
    /// Answer of `GET /api/v1/documents`.
    DocumentList,
    answer(&DOCUMENTS, Data::List)
);
schema_type!(
    /// Answer about one document.
    DocumentAnswer,
    answer(&DOCUMENTS, Data::One)
);
schema_type!(
    /// Answer of `GET /api/v1/projects`.
    ProjectList,
    answer(&PROJECTS, Data::List)
);
schema_type!(
    /// Answer about one project.
    ProjectAnswer,
    answer(&PROJECTS, Data::One)
);
schema_type!(
    /// Answer of a deletion.
    RecordDeleted,
    answer(&DOCUMENTS, Data::Deleted)
);
