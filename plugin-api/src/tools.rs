//! MCP tools written once: a documented function with `#[tool]`, its arguments a
//! `#[derive(ToolArgs)]` struct, listed in [`McpServer::TOOLS`](crate::McpServer::TOOLS)
//! whose default methods answer `list_tools` and `call_tool` from those functions. The doc comments are the
//! descriptions the host lists; the argument types are the JSON Schema it validates
//! calls against. Re-exported from [`crate::mcp`]; the example is on [`ToolFn`].

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::PluginError;
use crate::mcp::{Content, Tool, ToolAnnotations, ToolInfo, ToolOutput, ToolResult};

/// What `#[tool]` implements for a tool function (on a hidden struct of the same name):
/// its name, its [`Tool`] record and how to call it.
///
/// ```
/// use sanctuary_plugin_api::mcp::{Content, ToolArgs, ToolFn};
/// use sanctuary_plugin_api::{PluginError, tool};
/// use serde::Deserialize;
///
/// #[derive(Deserialize, ToolArgs)]
/// #[serde(deny_unknown_fields)]
/// struct GreetArgs {
///     /// Who to greet.
///     #[schema(min_length = 1)]
///     name: String,
///     /// How many exclamation marks (default 1).
///     #[schema(maximum = 5)]
///     excitement: Option<u8>,
/// }
///
/// /// Greets someone by name.
/// #[tool]
/// fn greet(args: GreetArgs) -> Result<Vec<Content>, PluginError> {
///     let marks = "!".repeat(args.excitement.unwrap_or(1).into());
///     Ok(vec![Content::text(format!("Hello, {}{marks}", args.name))])
/// }
///
/// let tool = greet::tool();
/// assert_eq!(tool.name, "greet");
/// assert_eq!(tool.description, "Greets someone by name.");
/// let schema: serde_json::Value = serde_json::from_str(&tool.input_schema)?;
/// assert_eq!(schema, serde_json::json!({
///     "type": "object",
///     "properties": {
///         "name": { "type": "string", "minLength": 1, "description": "Who to greet." },
///         "excitement": { "type": "integer", "minimum": 0, "maximum": 5,
///                         "description": "How many exclamation marks (default 1)." }
///     },
///     "required": ["name"],
///     "additionalProperties": false
/// }));
/// assert_eq!(greet::call(r#"{"name": "Ada"}"#)?, vec![Content::text("Hello, Ada!")]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// `#[tool]` also gives the struct a constant `TOOL`, its [`ToolEntry`]: list
/// `greet::TOOL` in the plugin's [`McpServer::TOOLS`](crate::McpServer::TOOLS) and the
/// trait's default `list_tools` (every listed tool, in order) and `call_tool` (parse the
/// arguments, call the function, or `unknown_tool`) serve it.
pub trait ToolFn {
    /// The tool's name: the function's, or `#[tool(name = "...")]`.
    const NAME: &'static str;
    /// The tool as `list_tools` lists it: name, the doc comment, the input schema.
    fn tool() -> Tool;
    /// Parses `arguments` (JSON object text) and calls the function.
    fn call(arguments: &str) -> Result<Vec<Content>, PluginError>;
    /// What `describe_tools` says about the tool: `#[tool(title = "...", read_only, ...)]`
    /// and the output schema of a `Structured<T>` result; nothing by default.
    fn info() -> ToolInfo {
        ToolInfo::new(Self::NAME)
    }
    /// Parses `arguments` and calls the function for a rich result; by default
    /// [`call`](Self::call)'s contents.
    fn call_rich(arguments: &str) -> Result<ToolResult, PluginError> {
        Self::call(arguments).map(ToolResult::from)
    }
}

/// One `#[tool]` function as [`McpServer::TOOLS`](crate::McpServer::TOOLS) lists it:
/// `greet::TOOL` for a tool function `greet` (or [`ToolEntry::of`]).
#[derive(Clone, Copy)]
pub struct ToolEntry {
    name: &'static str,
    tool: fn() -> Tool,
    info: fn() -> ToolInfo,
    call: fn(&str) -> Result<Vec<Content>, PluginError>,
    call_rich: fn(&str) -> Result<ToolResult, PluginError>,
}

impl ToolEntry {
    /// The entry of the tool function `T` (the struct `#[tool]` adds).
    pub const fn of<T: ToolFn>() -> Self {
        Self {
            name: T::NAME,
            tool: T::tool,
            info: T::info,
            call: T::call,
            call_rich: T::call_rich,
        }
    }

    /// What `describe_tools` says about the tool (title, annotations, output schema).
    pub fn info(&self) -> ToolInfo {
        (self.info)()
    }

    /// Parses `arguments` (JSON object text) and calls the tool for a rich result.
    pub fn call_rich(&self, arguments: &str) -> Result<ToolResult, PluginError> {
        (self.call_rich)(arguments)
    }

    /// The tool's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The tool as `list_tools` lists it.
    pub fn tool(&self) -> Tool {
        (self.tool)()
    }

    /// Parses `arguments` (JSON object text) and calls the tool.
    pub fn call(&self, arguments: &str) -> Result<Vec<Content>, PluginError> {
        (self.call)(arguments)
    }
}

impl std::fmt::Debug for ToolEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolEntry")
            .field("name", &self.name)
            .finish()
    }
}

/// The arguments of a tool: an object type whose [`SchemaType::schema`] is the tool's
/// input schema. Derive it with `#[derive(ToolArgs)]`.
pub trait ToolArgs: SchemaType + DeserializeOwned {
    /// The JSON Schema of the arguments object.
    fn input_schema() -> Value {
        Self::schema()
    }
}

/// A type that has a JSON Schema: the argument types the derive understands. Implemented
/// for strings, booleans, numbers, `Option`, `Vec`, string-keyed maps, `serde_json::Value`
/// and every `#[derive(ToolArgs)]` struct (so arguments may nest).
pub trait SchemaType {
    /// The JSON Schema of a value of this type.
    fn schema() -> Value;
    /// Whether an argument of this type may be left out (`Option`).
    const OPTIONAL: bool = false;
}

/// The arguments of a tool that takes none: `{}` and nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

impl SchemaType for NoArgs {
    fn schema() -> Value {
        json!({ "type": "object", "properties": {}, "additionalProperties": false })
    }
}

impl ToolArgs for NoArgs {}

/// What a tool function may return: `Result<T, PluginError>` where `T` is a list of
/// contents, one content, or text; or, for richer results, a
/// [`Structured`](crate::mcp::Structured) value (structured content with an output
/// schema), a [`ToolResult`], a list of [`RichContent`](crate::mcp::RichContent) or one.
pub trait IntoToolResult: Sized {
    /// The contents of the answer, or the plugin's error (for hosts that call `call-tool`:
    /// rich pieces are flattened to text and JSON).
    fn into_tool_result(self) -> Result<Vec<Content>, PluginError>;

    /// The rich answer (for hosts that call `call-tool-rich`); by default the contents of
    /// [`into_tool_result`](Self::into_tool_result).
    fn into_rich_result(self) -> Result<ToolResult, PluginError> {
        self.into_tool_result().map(ToolResult::from)
    }

    /// The JSON Schema of the structured content this type gives, if it gives any (the
    /// tool's `outputSchema`).
    fn output_schema() -> Option<Value> {
        None
    }
}

impl<T: ToolOutput> IntoToolResult for Result<crate::mcp::Structured<T>, PluginError> {
    fn into_tool_result(self) -> Result<Vec<Content>, PluginError> {
        self?.into_contents()
    }

    fn into_rich_result(self) -> Result<ToolResult, PluginError> {
        self?.into_result()
    }

    fn output_schema() -> Option<Value> {
        Some(T::output_schema())
    }
}

impl IntoToolResult for Result<ToolResult, PluginError> {
    fn into_tool_result(self) -> Result<Vec<Content>, PluginError> {
        Ok(self?.into_contents())
    }

    fn into_rich_result(self) -> Result<ToolResult, PluginError> {
        self
    }
}

impl IntoToolResult for Result<Vec<crate::mcp::RichContent>, PluginError> {
    fn into_tool_result(self) -> Result<Vec<Content>, PluginError> {
        self.into_rich_result().map(ToolResult::into_contents)
    }

    fn into_rich_result(self) -> Result<ToolResult, PluginError> {
        self.map(ToolResult::new)
    }
}

impl IntoToolResult for Result<crate::mcp::RichContent, PluginError> {
    fn into_tool_result(self) -> Result<Vec<Content>, PluginError> {
        self.map(|c| vec![c]).into_tool_result()
    }

    fn into_rich_result(self) -> Result<ToolResult, PluginError> {
        self.map(|c| vec![c]).into_rich_result()
    }
}

impl ToolInfo {
    /// Metadata of tool `name` that says nothing more (no title, no hints, no output
    /// schema). For a server that lists its tools by hand (overriding
    /// [`McpServer::describe_tools`](crate::McpServer::describe_tools)):
    ///
    /// ```
    /// use sanctuary_plugin_api::mcp::ToolInfo;
    ///
    /// let info = ToolInfo::new("fetch").with_title("Fetch a web page").read_only(true).open_world(true);
    /// assert_eq!(info.annotations.open_world, Some(true));
    /// assert_eq!(info.annotations.destructive, None);
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            title: None,
            annotations: ToolAnnotations::default(),
            output_schema: None,
        }
    }

    /// With a human-readable title.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Says whether the tool leaves its environment unchanged.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.annotations.read_only = Some(read_only);
        self
    }

    /// Says whether the tool may destroy or overwrite things.
    pub fn destructive(mut self, destructive: bool) -> Self {
        self.annotations.destructive = Some(destructive);
        self
    }

    /// Says whether calling the tool again with the same arguments has no further effect.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.annotations.idempotent = Some(idempotent);
        self
    }

    /// Says whether the tool reaches an open world of external entities (the web).
    pub fn open_world(mut self, open_world: bool) -> Self {
        self.annotations.open_world = Some(open_world);
        self
    }

    /// With `schema` (an object schema) as the JSON Schema of its structured content.
    pub fn with_output_schema(mut self, schema: &Value) -> Self {
        self.output_schema = Some(schema.to_string());
        self
    }
}

// The type is generated by wit-bindgen, so it cannot derive `Default`.
#[allow(clippy::derivable_impls)]
impl Default for ToolAnnotations {
    fn default() -> Self {
        Self {
            read_only: None,
            destructive: None,
            idempotent: None,
            open_world: None,
        }
    }
}

impl IntoToolResult for Result<Vec<Content>, PluginError> {
    fn into_tool_result(self) -> Result<Vec<Content>, PluginError> {
        self
    }
}

impl IntoToolResult for Result<Content, PluginError> {
    fn into_tool_result(self) -> Result<Vec<Content>, PluginError> {
        self.map(|c| vec![c])
    }
}

impl IntoToolResult for Result<String, PluginError> {
    fn into_tool_result(self) -> Result<Vec<Content>, PluginError> {
        self.map(|text| vec![Content::Text(text)])
    }
}

impl SchemaType for String {
    fn schema() -> Value {
        json!({ "type": "string" })
    }
}

impl SchemaType for bool {
    fn schema() -> Value {
        json!({ "type": "boolean" })
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl SchemaType for $t {
            fn schema() -> Value {
                json!({ "type": "integer", "minimum": 0, "maximum": <$t>::MAX })
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64);

macro_rules! signed {
    ($($t:ty),*) => {$(
        impl SchemaType for $t {
            fn schema() -> Value {
                json!({ "type": "integer", "minimum": <$t>::MIN, "maximum": <$t>::MAX })
            }
        }
    )*};
}
signed!(i8, i16, i32, i64);

impl SchemaType for usize {
    fn schema() -> Value {
        json!({ "type": "integer", "minimum": 0 })
    }
}

impl SchemaType for f32 {
    fn schema() -> Value {
        json!({ "type": "number" })
    }
}

impl SchemaType for f64 {
    fn schema() -> Value {
        json!({ "type": "number" })
    }
}

impl SchemaType for Value {
    fn schema() -> Value {
        json!({})
    }
}

impl<T: SchemaType> SchemaType for Option<T> {
    fn schema() -> Value {
        T::schema()
    }
    const OPTIONAL: bool = true;
}

impl<T: SchemaType> SchemaType for Vec<T> {
    fn schema() -> Value {
        json!({ "type": "array", "items": T::schema() })
    }
}

impl<T: SchemaType> SchemaType for BTreeMap<String, T> {
    fn schema() -> Value {
        json!({ "type": "object", "additionalProperties": T::schema() })
    }
}

impl<T: SchemaType, S> SchemaType for HashMap<String, T, S> {
    fn schema() -> Value {
        json!({ "type": "object", "additionalProperties": T::schema() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tool;

    /// Where to look.
    #[derive(Debug, Deserialize, crate::mcp::ToolArgs)]
    #[serde(rename_all = "camelCase")]
    struct Nested {
        /// Page size.
        #[serde(default)]
        page_size: u32,
        /// Labels to match.
        labels: Vec<String>,
        /// Free-form filters.
        #[schema(json = r#"{"examples": [{"kind": "x"}]}"#)]
        filters: Option<BTreeMap<String, Value>>,
    }

    #[derive(Debug, Deserialize, crate::mcp::ToolArgs)]
    #[serde(deny_unknown_fields)]
    struct SearchArgs {
        /// What to find.
        #[serde(rename = "q")]
        query: String,
        /// Paging and filters.
        options: Option<Nested>,
    }

    /// Searches things.
    ///
    /// Second paragraph.
    #[tool(name = "search-things")]
    fn search(args: SearchArgs) -> Result<String, PluginError> {
        let options = args
            .options
            .map(|o| (o.page_size, o.labels, o.filters.map(|f| f.len())));
        Ok(format!("{} {options:?}", args.query))
    }

    /// Says hi.
    #[tool]
    fn hello() -> Result<Content, PluginError> {
        Ok(Content::text("hi"))
    }

    #[test]
    fn a_tool_takes_its_description_from_its_doc_comment() {
        let tool = search::tool();
        assert_eq!(search::NAME, "search-things");
        assert_eq!(tool.name, "search-things");
        assert_eq!(tool.description, "Searches things.\n\nSecond paragraph.");
    }

    #[test]
    fn the_input_schema_follows_the_types_docs_and_serde_names() {
        let schema = SearchArgs::input_schema();
        assert_eq!(schema["required"], json!(["q"]));
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["properties"]["q"]["description"], "What to find.");
        let nested = &schema["properties"]["options"];
        assert_eq!(nested["description"], "Paging and filters.");
        assert_eq!(nested["required"], json!(["labels"]));
        assert!(nested.get("additionalProperties").is_none());
        assert_eq!(
            nested["properties"]["pageSize"],
            json!({ "type": "integer", "minimum": 0, "maximum": u32::MAX, "description": "Page size." })
        );
        assert_eq!(
            nested["properties"]["labels"]["items"],
            json!({ "type": "string" })
        );
        assert_eq!(
            nested["properties"]["filters"]["examples"],
            json!([{ "kind": "x" }])
        );
    }

    #[test]
    fn calling_a_tool_parses_its_arguments() {
        let out = search::call(r#"{"q": "cats", "options": {"labels": ["a"]}}"#).expect("ok");
        assert_eq!(out, vec![Content::text(r#"cats Some((0, ["a"], None))"#)]);
        let err = search::call(r#"{"query": "cats"}"#).expect_err("renamed");
        assert_eq!(err.kind(), "invalid-input");
    }

    #[test]
    fn a_tool_without_parameters_accepts_only_an_empty_object() {
        assert_eq!(hello::call("{}").expect("ok"), vec![Content::text("hi")]);
        assert_eq!(hello::call("").expect("ok"), vec![Content::text("hi")]);
        assert!(hello::call(r#"{"x": 1}"#).is_err());
        let schema: Value = serde_json::from_str(&hello::tool().input_schema).expect("json");
        assert_eq!(schema["additionalProperties"], false);
    }
}
