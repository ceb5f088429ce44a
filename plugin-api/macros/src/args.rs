//! `#[derive(ToolArgs)]`: the JSON Schema of a struct of tool arguments.
//!
//! One property per field, named as serde names it (`rename`, the container's
//! `rename_all`), with the schema of the field's type (`mcp::SchemaType`), its `///` doc
//! comment as `description`, and any `#[schema(key = literal)]` keyword (snake_case keys
//! become camelCase: `min_length` is `minLength`) or `#[schema(json = "{...}")]` JSON
//! merged in. A field is required unless its type is an `Option` or serde gives it a
//! default. `#[serde(deny_unknown_fields)]` gives `additionalProperties: false`.
//!
//! `#[derive(ToolOutput)]` gives the same schema for a tool's structured output, as serde
//! *serialises* the struct: a field is required unless it is an `Option` (which may be
//! `null`: its type admits `"null"`) or serde may skip it (`skip_serializing_if`).

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Data, DeriveInput, Fields, Lit, LitStr};

use crate::docs;

/// What the serde attributes of the container say.
#[derive(Default)]
struct Container {
    deny_unknown_fields: bool,
    default: bool,
    rename_all: Option<String>,
}

/// Which schema a derive gives: of arguments (deserialised) or of output (serialised).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `#[derive(ToolArgs)]`.
    Args,
    /// `#[derive(ToolOutput)]`.
    Output,
}

/// What the serde and `schema` attributes of one field say.
#[derive(Default)]
struct Field {
    rename: Option<String>,
    default: bool,
    /// `skip` or `skip_deserializing`: not an argument.
    skip_de: bool,
    /// `skip` or `skip_serializing`: not in the output.
    skip_ser: bool,
    /// `skip_serializing_if`: the field may be left out of the output.
    maybe_skipped: bool,
    keywords: Vec<(String, Lit)>,
    schema: Option<LitStr>,
}

/// Expands `#[derive(ToolArgs)]` (or, in [`Mode::Output`], `#[derive(ToolOutput)]`) on
/// `item`.
pub fn expand(item: TokenStream, mode: Mode) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(item)?;
    let ident = &input.ident;
    let derive = match mode {
        Mode::Args => "ToolArgs",
        Mode::Output => "ToolOutput",
    };
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            ident.span(),
            format!("`{derive}` derives the schema of a struct with named fields"),
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new(
            ident.span(),
            format!("`{derive}` needs named fields: each is one property"),
        ));
    };
    let container = container(&input.attrs)?;
    let sdk = quote!(::sanctuary_plugin_api);
    let json = quote!(#sdk::__private::serde_json);

    let mut properties = Vec::new();
    for field in &fields.named {
        let options = field_options(&field.attrs)?;
        let skipped = match mode {
            Mode::Args => options.skip_de,
            Mode::Output => options.skip_ser,
        };
        if skipped {
            continue;
        }
        let rust_name = field
            .ident
            .as_ref()
            .map(|i| i.to_string().trim_start_matches("r#").to_owned())
            .unwrap_or_default();
        let name = match (&options.rename, &container.rename_all) {
            (Some(name), _) => name.clone(),
            (None, Some(rule)) => rename(&rust_name, rule).ok_or_else(|| {
                syn::Error::new(
                    ident.span(),
                    format!("unsupported `rename_all = \"{rule}\"`"),
                )
            })?,
            (None, None) => rust_name,
        };
        let ty = &field.ty;
        let description = docs::text(&field.attrs).map(|d| {
            quote! { schema.insert("description".into(), #json::Value::from(#d)); }
        });
        let keywords = options.keywords.iter().map(|(key, lit)| {
            quote! { schema.insert(#key.into(), #json::Value::from(#lit)); }
        });
        let merged = options.schema.as_ref().map(|text| {
            quote! {
                if let Ok(#json::Value::Object(extra)) = #json::from_str::<#json::Value>(#text) {
                    schema.extend(extra);
                }
            }
        });
        // Arguments may be left out when serde has a default for them; output fields
        // when serde may skip them.
        let may_be_absent = match mode {
            Mode::Args => options.default || container.default,
            Mode::Output => options.maybe_skipped,
        };
        // An `Option` in the output is serialised as `null` when it is `None`.
        let nullable = (mode == Mode::Output).then(|| {
            quote! {
                if <#ty as #sdk::mcp::SchemaType>::OPTIONAL
                    && let ::core::option::Option::Some(#json::Value::String(kind)) = schema.get("type").cloned()
                {
                    schema.insert("type".into(), #json::json!([kind, "null"]));
                }
            }
        });
        properties.push(quote! {
            {
                let mut schema = match <#ty as #sdk::mcp::SchemaType>::schema() {
                    #json::Value::Object(map) => map,
                    _ => #json::Map::new(),
                };
                #nullable
                #description
                #(#keywords)*
                #merged
                properties.insert(#name.into(), #json::Value::Object(schema));
                if !<#ty as #sdk::mcp::SchemaType>::OPTIONAL && !#may_be_absent {
                    required.push(#json::Value::from(#name));
                }
            }
        });
    }
    let closed = container.deny_unknown_fields.then(|| {
        quote! { object.insert("additionalProperties".into(), #json::Value::Bool(false)); }
    });
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let marker = match mode {
        Mode::Args => quote!(#sdk::mcp::ToolArgs),
        Mode::Output => quote!(#sdk::mcp::ToolOutput),
    };

    Ok(quote! {
        impl #impl_generics #sdk::mcp::SchemaType for #ident #ty_generics #where_clause {
            fn schema() -> #json::Value {
                let mut properties = #json::Map::new();
                let mut required: ::std::vec::Vec<#json::Value> = ::std::vec::Vec::new();
                #(#properties)*
                let mut object = #json::Map::new();
                object.insert("type".into(), #json::Value::from("object"));
                object.insert("properties".into(), #json::Value::Object(properties));
                if !required.is_empty() {
                    object.insert("required".into(), #json::Value::Array(required));
                }
                #closed
                #json::Value::Object(object)
            }
        }

        impl #impl_generics #marker for #ident #ty_generics #where_clause {}
    })
}

fn container(attrs: &[Attribute]) -> syn::Result<Container> {
    let mut out = Container::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("deny_unknown_fields") {
                out.deny_unknown_fields = true;
            } else if meta.path.is_ident("default") {
                out.default = true;
                skip_value(&meta)?;
            } else if meta.path.is_ident("rename_all") {
                out.rename_all = Some(meta.value()?.parse::<LitStr>()?.value());
            } else {
                skip_value(&meta)?;
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn field_options(attrs: &[Attribute]) -> syn::Result<Field> {
    let mut out = Field::default();
    for attr in attrs {
        if attr.path().is_ident("serde") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    out.rename = Some(meta.value()?.parse::<LitStr>()?.value());
                } else if meta.path.is_ident("default") {
                    out.default = true;
                    skip_value(&meta)?;
                } else if meta.path.is_ident("skip") {
                    out.skip_de = true;
                    out.skip_ser = true;
                } else if meta.path.is_ident("skip_deserializing") {
                    out.skip_de = true;
                } else if meta.path.is_ident("skip_serializing") {
                    out.skip_ser = true;
                } else if meta.path.is_ident("skip_serializing_if") {
                    out.maybe_skipped = true;
                    skip_value(&meta)?;
                } else {
                    skip_value(&meta)?;
                }
                Ok(())
            })?;
        } else if attr.path().is_ident("schema") {
            attr.parse_nested_meta(|meta| {
                let key = meta
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .ok_or_else(|| meta.error("expected `keyword = value`"))?;
                if key == "json" {
                    let text: LitStr = meta.value()?.parse()?;
                    match serde_json::from_str::<serde_json::Value>(&text.value()) {
                        Ok(serde_json::Value::Object(_)) => out.schema = Some(text),
                        _ => return Err(meta.error("`json` must be a JSON object text")),
                    }
                } else {
                    let lit: Lit = meta.value()?.parse()?;
                    if !matches!(
                        lit,
                        Lit::Str(_) | Lit::Int(_) | Lit::Float(_) | Lit::Bool(_)
                    ) {
                        return Err(meta.error("a keyword's value is a string, number or bool"));
                    }
                    out.keywords.push((camel_case(&key), lit));
                }
                Ok(())
            })?;
        }
    }
    Ok(out)
}

/// Consumes `= value` after a serde keyword this derive does not need.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|inner| skip_value(&inner))?;
    }
    Ok(())
}

/// `min_length` → `minLength`.
fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A field name as serde's `rename_all = rule` spells it, for the rules that apply to
/// snake_case field names.
fn rename(field: &str, rule: &str) -> Option<String> {
    let words: Vec<&str> = field.split('_').filter(|w| !w.is_empty()).collect();
    let capitalised = |w: &&str| {
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    Some(match rule {
        "snake_case" | "lowercase" => field.to_owned(),
        "UPPERCASE" | "SCREAMING_SNAKE_CASE" => field.to_uppercase(),
        "kebab-case" => words.join("-"),
        "SCREAMING-KEBAB-CASE" => words.join("-").to_uppercase(),
        "camelCase" => {
            let mut out = words.first().map(|w| (*w).to_owned()).unwrap_or_default();
            out.extend(words.iter().skip(1).map(capitalised));
            out
        }
        "PascalCase" => words.iter().map(capitalised).collect(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_camel_cased() {
        assert_eq!(camel_case("min_length"), "minLength");
        assert_eq!(camel_case("maximum"), "maximum");
    }

    #[test]
    fn rename_all_follows_serde() {
        assert_eq!(
            rename("source_timezone", "camelCase").as_deref(),
            Some("sourceTimezone")
        );
        assert_eq!(
            rename("source_timezone", "kebab-case").as_deref(),
            Some("source-timezone")
        );
        assert_eq!(
            rename("source_timezone", "PascalCase").as_deref(),
            Some("SourceTimezone")
        );
        assert_eq!(rename("x", "weird"), None);
    }

    #[test]
    fn refuses_an_enum() {
        let err = expand(quote! { enum E { A } }, Mode::Args).expect_err("not a struct");
        assert!(err.to_string().contains("named fields"), "{err}");
    }

    #[test]
    fn refuses_a_schema_that_is_not_a_json_object() {
        let err = expand(
            quote! {
                struct A { #[schema(json = "[1]")] a: String }
            },
            Mode::Output,
        )
        .expect_err("bad schema");
        assert!(err.to_string().contains("JSON object"), "{err}");
    }
}
