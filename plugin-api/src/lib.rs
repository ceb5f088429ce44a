//! The guest SDK for [Sanctuary] plugins.
//!
//! A Sanctuary plugin is a WebAssembly component built for `wasm32-wasip2` that
//! implements one of four worlds of the WIT package `sanctuary:plugin@0.2.0` (the latest;
//! its manifest says `"api": "^0.2"`):
//!
//! | kind           | module here   | trait to implement | export macro               |
//! | -------------- | ------------- | ------------------ | -------------------------- |
//! | `mcp-server`   | [`mcp`]       | [`mcp::Guest`]      | [`export_mcp_server!`]     |
//! | `ai-provider`  | [`provider`]  | [`provider::Guest`] | [`export_ai_provider!`]    |
//! | `scout-check`  | [`scout`]     | [`scout::Guest`]    | [`export_scout_check!`]    |
//! | `health-probe` | [`probe`]     | [`probe::Guest`]    | [`export_health_probe!`]   |
//!
//! A plugin crate is a `cdylib` that depends on this crate, implements the trait of its
//! kind on a unit struct and names that struct in the kind's export macro. Next to its
//! `Cargo.toml` it keeps a `manifest.json` declaring its id, kind and permissions; the host
//! grants nothing the manifest does not declare.
//!
//! Besides the bindings this crate offers the helpers every plugin needs: [`log`],
//! [`config()`] (the operator's settings for the plugin), [`args()`] (a tool's arguments),
//! [`secret()`], and constructors on [`PluginError`] and the record types. Plugins that
//! call web APIs use [`http`], a blocking HTTP client (with server-sent events) limited to
//! the hosts their manifest lists under `permissions.network`.
//!
//! Functions that call into the host (logging, configuration, secrets, the `system`
//! figures, ...) are WebAssembly imports: they only work inside the host, so the examples
//! that call them below are compiled but not run. Pure helpers ([`args()`], the error
//! constructors, [`provider::estimate_tokens`]) work anywhere, including in your native
//! unit tests.
//!
//! # An MCP server
//!
//! ```no_run
//! use sanctuary_plugin_api::mcp::{self, Content, Tool};
//! use sanctuary_plugin_api::PluginError;
//! use serde::Deserialize;
//!
//! struct Greeter;
//!
//! #[derive(Deserialize)]
//! struct GreetArgs {
//!     name: String,
//! }
//!
//! impl mcp::Guest for Greeter {
//!     fn list_tools() -> Vec<Tool> {
//!         vec![Tool::new(
//!             "greet",
//!             "Greets someone by name",
//!             &serde_json::json!({
//!                 "type": "object",
//!                 "properties": { "name": { "type": "string" } },
//!                 "required": ["name"],
//!                 "additionalProperties": false
//!             }),
//!         )]
//!     }
//!
//!     fn call_tool(name: String, arguments: String) -> Result<Vec<Content>, PluginError> {
//!         match name.as_str() {
//!             "greet" => {
//!                 let args: GreetArgs = sanctuary_plugin_api::args(&arguments)?;
//!                 Ok(vec![Content::text(format!("Hello, {}!", args.name))])
//!             }
//!             other => Err(mcp::unknown_tool(other)),
//!         }
//!     }
//!
//!     fn list_resources() -> Vec<mcp::Resource> {
//!         Vec::new()
//!     }
//!
//!     fn read_resource(uri: String) -> Result<String, PluginError> {
//!         Err(mcp::unknown_resource(&uri))
//!     }
//!
//!     fn list_prompts() -> Vec<mcp::Prompt> {
//!         Vec::new()
//!     }
//!
//!     fn get_prompt(name: String, _arguments: String) -> Result<Vec<mcp::PromptMessage>, PluginError> {
//!         Err(mcp::unknown_prompt(&name))
//!     }
//! }
//!
//! sanctuary_plugin_api::export_mcp_server!(Greeter);
//! ```
//!
//! Rather than writing `list_tools` and `call_tool` by hand, write each tool once: a
//! function with `#[tool]` whose `///` doc comment is the description and whose parameter,
//! a `#[derive(ToolArgs)]` struct, gives the input schema; [`mcp_tools!`] then writes both
//! functions (see [`mcp::ToolFn`] for an example; `plugins/time` is written this way).
//!
//! # An AI provider
//!
//! ```no_run
//! use sanctuary_plugin_api::provider::{self, ChatRequest, ChatResponse, ProviderInfo, Usage};
//! use sanctuary_plugin_api::PluginError;
//!
//! struct Shouter;
//!
//! impl provider::Guest for Shouter {
//!     fn describe() -> ProviderInfo {
//!         ProviderInfo {
//!             name: "Shouter".into(),
//!             models: vec!["loud".into()],
//!             default_model: "loud".into(),
//!             offline: true,
//!         }
//!     }
//!
//!     fn chat(request: ChatRequest) -> Result<ChatResponse, PluginError> {
//!         let last = provider::last_message(&request)?;
//!         let text = last.content.to_uppercase();
//!         if request.streaming {
//!             provider::emit_chunk(&text);
//!         }
//!         Ok(ChatResponse {
//!             usage: Usage {
//!                 prompt_tokens: provider::estimate_tokens(&last.content),
//!                 completion_tokens: provider::estimate_tokens(&text),
//!             },
//!             text,
//!             model: request.model.unwrap_or_else(|| "loud".into()),
//!             finish_reason: "stop".into(),
//!         })
//!     }
//! }
//!
//! sanctuary_plugin_api::export_ai_provider!(Shouter);
//! ```
//!
//! # A scout check
//!
//! ```no_run
//! use sanctuary_plugin_api::scout::{self, Findings, Project};
//! use sanctuary_plugin_api::PluginError;
//!
//! struct HasReadme;
//!
//! impl scout::Guest for HasReadme {
//!     fn check(project: Project) -> Result<Findings, PluginError> {
//!         let found = std::path::Path::new(&project.path).join("README.md").is_file();
//!         Ok(Findings {
//!             score: Some(if found { 100.0 } else { 50.0 }),
//!             notes: vec![if found { "has a README" } else { "no README" }.into()],
//!             ..Findings::default()
//!         })
//!     }
//! }
//!
//! sanctuary_plugin_api::export_scout_check!(HasReadme);
//! ```
//!
//! # A health probe
//!
//! ```no_run
//! use sanctuary_plugin_api::probe::{self, system, Metric, ProbeReport};
//! use sanctuary_plugin_api::PluginError;
//!
//! struct Cores;
//!
//! impl probe::Guest for Cores {
//!     fn probe() -> Result<ProbeReport, PluginError> {
//!         let cpu = system::cpu();
//!         Ok(ProbeReport::healthy(format!("{} cores", cpu.cores))
//!             .with_metric(Metric::new("cores", f64::from(cpu.cores), "count")))
//!     }
//! }
//!
//! sanctuary_plugin_api::export_health_probe!(Cores);
//! ```
//!
//! [Sanctuary]: https://github.com/sanctuary-dev/sanctuary
#![deny(missing_docs)]

// The macros' generated code names this crate `::sanctuary_plugin_api`; so do its own tests.
#[cfg(test)]
extern crate self as sanctuary_plugin_api;

mod error;
mod input;
mod tools;

pub mod http;
pub mod log;
pub mod mcp;
pub mod probe;
pub mod provider;
pub mod scout;

pub use error::PluginError;
pub use input::{args, config, installed_plugins, require_secret, secret};
/// Makes a documented function an MCP tool; see [`mcp_tools!`] and [`mcp::ToolFn`].
pub use plugin_api_macros::tool;

/// What the macros' generated code uses; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use serde_json;
}

/// Writes an `mcp::Guest`'s `list_tools` and `call_tool` from `#[tool]` functions, inside
/// the `impl`: `sanctuary_plugin_api::mcp_tools!(current_time, convert_time);`.
/// `list_tools` lists them in this order, each with its doc comment as description and
/// its arguments' schema; `call_tool` parses the arguments into the function's parameter
/// and calls it, and answers an unknown name with [`mcp::unknown_tool`].
///
/// ```
/// use sanctuary_plugin_api::mcp::{self, Content, Guest};
/// use sanctuary_plugin_api::{PluginError, tool};
///
/// /// Answers pong.
/// #[tool]
/// fn ping() -> Result<String, PluginError> {
///     Ok("pong".into())
/// }
///
/// struct Pinger;
///
/// impl Guest for Pinger {
///     sanctuary_plugin_api::mcp_tools!(ping);
///
///     fn list_resources() -> Vec<mcp::Resource> { Vec::new() }
///     fn read_resource(uri: String) -> Result<String, PluginError> { Err(mcp::unknown_resource(&uri)) }
///     fn list_prompts() -> Vec<mcp::Prompt> { Vec::new() }
///     fn get_prompt(name: String, _: String) -> Result<Vec<mcp::PromptMessage>, PluginError> {
///         Err(mcp::unknown_prompt(&name))
///     }
/// }
///
/// assert_eq!(Pinger::list_tools()[0].description, "Answers pong.");
/// assert_eq!(Pinger::call_tool("ping".into(), "{}".into())?, vec![Content::text("pong")]);
/// assert_eq!(Pinger::call_tool("pong".into(), "{}".into()).unwrap_err().kind(), "invalid-input");
/// # Ok::<(), PluginError>(())
/// ```
#[macro_export]
macro_rules! mcp_tools {
    ($($tool:ident),+ $(,)?) => {
        fn list_tools() -> ::std::vec::Vec<$crate::mcp::Tool> {
            ::std::vec![$(<$tool as $crate::mcp::ToolFn>::tool()),+]
        }

        fn call_tool(
            name: ::std::string::String,
            arguments: ::std::string::String,
        ) -> ::core::result::Result<::std::vec::Vec<$crate::mcp::Content>, $crate::PluginError> {
            $(
                if name == <$tool as $crate::mcp::ToolFn>::NAME {
                    return <$tool as $crate::mcp::ToolFn>::call(&arguments);
                }
            )+
            ::core::result::Result::Err($crate::mcp::unknown_tool(&name))
        }
    };
}

/// The `types` interface: log levels, [`PluginError`] and [`Metric`], shared by every kind.
pub use mcp_server::sanctuary::plugin::types;

/// The `host` interface: the functions every kind may import (log, config, secrets,
/// installed plugins). The helpers at the crate root wrap them.
pub use mcp_server::sanctuary::plugin::host;

pub use host::PluginSummary;
pub use types::{LogLevel, Metric};

/// Exports `$ty`, which implements [`mcp::Guest`], as the plugin's `mcp-server`
/// implementation: `sanctuary_plugin_api::export_mcp_server!(MyPlugin);`, once, at the top
/// level of the plugin crate. See the [crate docs](crate#an-mcp-server) for an example.
#[macro_export]
macro_rules! export_mcp_server {
    ($ty:ident) => {
        // Exported only where it means something: the export names (`pkg:iface#func`) are
        // not valid symbol versions for a native linker, so a native build of a plugin
        // crate (its unit tests, `cargo build` of the workspace) exports nothing.
        #[cfg(target_arch = "wasm32")]
        $crate::mcp_server::export_mcp_server!($ty with_types_in $crate::mcp_server);
        // Natively, refer to the implementation so it (and what it calls) is not dead code.
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || { let _ = <$ty as $crate::mcp::Guest>::list_tools; let _ = <$ty as $crate::mcp::Guest>::call_tool; let _ = <$ty as $crate::mcp::Guest>::list_resources; let _ = <$ty as $crate::mcp::Guest>::read_resource; let _ = <$ty as $crate::mcp::Guest>::list_prompts; let _ = <$ty as $crate::mcp::Guest>::get_prompt; };
    };
}

/// Exports `$ty`, which implements [`provider::Guest`], as the plugin's `ai-provider`
/// implementation: `sanctuary_plugin_api::export_ai_provider!(MyProvider);`, once, at the
/// top level of the plugin crate. See the [crate docs](crate#an-ai-provider) for an example.
#[macro_export]
macro_rules! export_ai_provider {
    ($ty:ident) => {
        // Exported only where it means something: the export names (`pkg:iface#func`) are
        // not valid symbol versions for a native linker, so a native build of a plugin
        // crate (its unit tests, `cargo build` of the workspace) exports nothing.
        #[cfg(target_arch = "wasm32")]
        $crate::ai_provider::export_ai_provider!($ty with_types_in $crate::ai_provider);
        // Natively, refer to the implementation so it (and what it calls) is not dead code.
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || { let _ = <$ty as $crate::provider::Guest>::describe; let _ = <$ty as $crate::provider::Guest>::chat; };
    };
}

/// Exports `$ty`, which implements [`scout::Guest`], as the plugin's `scout-check`
/// implementation: `sanctuary_plugin_api::export_scout_check!(MyCheck);`, once, at the top
/// level of the plugin crate. See the [crate docs](crate#a-scout-check) for an example.
#[macro_export]
macro_rules! export_scout_check {
    ($ty:ident) => {
        // Exported only where it means something: the export names (`pkg:iface#func`) are
        // not valid symbol versions for a native linker, so a native build of a plugin
        // crate (its unit tests, `cargo build` of the workspace) exports nothing.
        #[cfg(target_arch = "wasm32")]
        $crate::scout_check::export_scout_check!($ty with_types_in $crate::scout_check);
        // Natively, refer to the implementation so it (and what it calls) is not dead code.
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || { let _ = <$ty as $crate::scout::Guest>::check; };
    };
}

/// Exports `$ty`, which implements [`probe::Guest`], as the plugin's `health-probe`
/// implementation: `sanctuary_plugin_api::export_health_probe!(MyProbe);`, once, at the
/// top level of the plugin crate. See the [crate docs](crate#a-health-probe) for an
/// example.
#[macro_export]
macro_rules! export_health_probe {
    ($ty:ident) => {
        // Exported only where it means something: the export names (`pkg:iface#func`) are
        // not valid symbol versions for a native linker, so a native build of a plugin
        // crate (its unit tests, `cargo build` of the workspace) exports nothing.
        #[cfg(target_arch = "wasm32")]
        $crate::health_probe::export_health_probe!($ty with_types_in $crate::health_probe);
        // Natively, refer to the implementation so it (and what it calls) is not dead code.
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || { let _ = <$ty as $crate::probe::Guest>::probe; };
    };
}

// The generated bindings, one module per world. The `types` and `host` interfaces are
// generated once (in `mcp_server`) and shared by the other worlds through `with`, so a
// `PluginError` or `Metric` is the same Rust type whatever the kind. The export macros
// emit the world's full type information into the plugin that invokes them; the
// import-only type information emitted here is dropped by the componentizer when unused.
// The generated export macros are hidden from the docs, hence the documented wrappers
// above, which also name this crate through `$crate` so that renaming the dependency
// works.

/// Raw bindings of the world `mcp-server`; use [`mcp`] instead.
#[allow(missing_docs, unsafe_code, clippy::all, clippy::unwrap_used)]
pub mod mcp_server {
    wit_bindgen::generate!({
        world: "mcp-server",
        path: "../wit",
        additional_derives: [PartialEq],
        pub_export_macro: true,
        export_macro_name: "export_mcp_server",
        default_bindings_module: "sanctuary_plugin_api::mcp_server",
    });
}

/// Raw bindings of the world `ai-provider`; use [`provider`] instead.
#[allow(missing_docs, unsafe_code, clippy::all, clippy::unwrap_used)]
pub mod ai_provider {
    wit_bindgen::generate!({
        world: "ai-provider",
        path: "../wit",
        additional_derives: [PartialEq],
        pub_export_macro: true,
        export_macro_name: "export_ai_provider",
        default_bindings_module: "sanctuary_plugin_api::ai_provider",
        with: {
            "sanctuary:plugin/types@0.2.0": crate::types,
            "sanctuary:plugin/host@0.2.0": crate::host,
        },
    });
}

/// Raw bindings of the world `scout-check`; use [`scout`] instead.
#[allow(missing_docs, unsafe_code, clippy::all, clippy::unwrap_used)]
pub mod scout_check {
    wit_bindgen::generate!({
        world: "scout-check",
        path: "../wit",
        additional_derives: [PartialEq],
        pub_export_macro: true,
        export_macro_name: "export_scout_check",
        default_bindings_module: "sanctuary_plugin_api::scout_check",
        with: {
            "sanctuary:plugin/types@0.2.0": crate::types,
            "sanctuary:plugin/host@0.2.0": crate::host,
        },
    });
}

/// Raw bindings of the world `health-probe`; use [`probe`] instead.
#[allow(missing_docs, unsafe_code, clippy::all, clippy::unwrap_used)]
pub mod health_probe {
    wit_bindgen::generate!({
        world: "health-probe",
        path: "../wit",
        additional_derives: [PartialEq],
        pub_export_macro: true,
        export_macro_name: "export_health_probe",
        default_bindings_module: "sanctuary_plugin_api::health_probe",
        with: {
            "sanctuary:plugin/types@0.2.0": crate::types,
            "sanctuary:plugin/host@0.2.0": crate::host,
        },
    });
}
