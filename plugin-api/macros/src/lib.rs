//! Macros of the Sanctuary plugin SDK, re-exported by `sanctuary-plugin-api` (this crate
//! is versioned with it): an MCP tool
//! is written once, as a documented Rust function.
//!
//! - `#[tool]` on a function makes it a tool: the function's `///` doc comment is the
//!   tool's description and the type of its one parameter gives the JSON Schema of its
//!   arguments. It adds a struct of the same name whose constant `TOOL` a plugin lists in
//!   `McpServer::TOOLS` (`&[a::TOOL, b::TOOL]`), which serves `list_tools` and `call_tool`.
//! - `#[derive(ToolArgs)]` on a struct with named fields gives that JSON Schema: one
//!   property per field, described by the field's `///` doc comment, required unless it is
//!   an `Option` or has `#[serde(default)]`.
//! - `#[derive(ToolOutput)]` gives the JSON Schema of a tool's structured output the same
//!   way (the `outputSchema` of a tool returning `Structured<T>`).
//!
//! Use them through `sanctuary_plugin_api` (whose docs have the examples); the generated
//! code names that crate.

mod args;
mod docs;
mod tool;

use proc_macro::TokenStream;

/// Makes a function an MCP tool: its doc comment is the description, its parameter's
/// type (a `#[derive(ToolArgs)]` struct, or none) the input schema. `#[tool(name =
/// "other")]` names the tool differently from the function; `title = "..."` gives it a
/// human-readable title and the flags `read_only`, `destructive`, `idempotent` and
/// `open_world` (or `flag = false`) its MCP annotations.
#[proc_macro_attribute]
pub fn tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    tool::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `ToolArgs` (and `SchemaType`) for a struct with named fields: the JSON Schema
/// of a tool's arguments, from the fields' types, doc comments, serde attributes and
/// `#[schema(...)]` keywords.
#[proc_macro_derive(ToolArgs, attributes(schema))]
pub fn derive_tool_args(item: TokenStream) -> TokenStream {
    args::expand(item.into(), args::Mode::Args)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `ToolOutput` (and `SchemaType`) for a struct with named fields: the JSON
/// Schema of a tool's structured output (its `outputSchema`), as serde serialises the
/// struct, from the fields' types, doc comments and `#[schema(...)]` keywords. A tool
/// returning `Structured<T>` lists it.
#[proc_macro_derive(ToolOutput, attributes(schema))]
pub fn derive_tool_output(item: TokenStream) -> TokenStream {
    args::expand(item.into(), args::Mode::Output)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
