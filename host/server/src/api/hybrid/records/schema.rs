//! The schemas of the documents' and projects' request bodies, built from the same
//! [`Spec`] tables the handlers validate with: a field's kind and length cap, and whether
//! it is required on creation. Fields not in the table are ignored.

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
        let default = field.default.map(|d| format!(" (default `{d}`)"));
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

macro_rules! body_schema {
    ($(#[$doc:meta])* $name:ident, $spec:expr, $create:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                body(&$spec, $create)
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

body_schema!(
    /// Body of `POST /api/v1/documents`.
    NewDocument,
    DOCUMENTS,
    true
);
body_schema!(
    /// Body of `PUT /api/v1/documents/{id}`.
    DocumentChanges,
    DOCUMENTS,
    false
);
body_schema!(
    /// Body of `POST /api/v1/projects`.
    NewProject,
    PROJECTS,
    true
);
body_schema!(
    /// Body of `PUT /api/v1/projects/{id}`.
    ProjectChanges,
    PROJECTS,
    false
);
