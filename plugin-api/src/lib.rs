//! The guest SDK for [Sanctuary] plugins.
//!
//! A Sanctuary plugin is a WebAssembly component built for `wasm32-wasip2` that
//! implements one of four worlds of the WIT package `sanctuary:plugin@0.2.2` (this SDK's
//! version follows the API's: a 0.2.x SDK serves API 0.2; its manifest says `"api": "^0.2"`,
//! or `"^0.2.1"` when it uses what 0.2.1 added, [`mcp::kv::compare_and_swap`] and
//! [`mcp::kv::update`], or `"^0.2.2"` when it reports [`mcp::progress`]). An MCP server
//! implements `mcp-server-ext`, 0.2.2's world that adds the tools' titles, annotations,
//! output schemas and rich results to `mcp-server`. The WIT files ship inside this package
//! (`wit/v0.2.2`, and the older `wit/v0.2.1`, `wit/v0.2.0` and `wit/v0.1.0`).
//!
//! | kind           | trait to implement            | export                                    |
//! | -------------- | ----------------------------- | ----------------------------------------- |
//! | `mcp-server`   | [`McpServer`]                 | `sanctuary_plugin_api::export!(mcp: P);`      |
//! | `ai-provider`  | [`AiProvider`]                | `sanctuary_plugin_api::export!(provider: P);` |
//! | `scout-check`  | [`ScoutCheck`]                | `sanctuary_plugin_api::export!(scout: P);`    |
//! | `health-probe` | [`HealthProbe`]               | `sanctuary_plugin_api::export!(probe: P);`    |
//!
//! A plugin crate is a `cdylib` that depends on this crate, implements the trait of its
//! kind on a unit struct and names that struct once in [`export!`]. Every method has a
//! default where an empty answer makes sense: an MCP server that only offers tools lists
//! its `#[tool]` functions in [`McpServer::TOOLS`] and writes nothing else. Next to its
//! `Cargo.toml` the crate keeps a `manifest.json` declaring its id, kind and permissions;
//! the host grants nothing the manifest does not declare.
//!
//! Besides the traits this crate offers the helpers every plugin needs: [`log`],
//! [`config()`] (the operator's settings for the plugin), [`args()`] (a tool's arguments),
//! [`secret()`], [`mcp::kv`] (a private key-value store with atomic updates), and
//! constructors on [`PluginError`] and the record types. Plugins that call web APIs use [`http`], a
//! blocking HTTP client (with server-sent events) limited to the hosts their manifest lists
//! under `permissions.network`.
//!
//! Functions that call into the host (logging, configuration, secrets, the `system`
//! figures, ...) are WebAssembly imports: they only work inside the host, so the examples
//! that call them below are compiled but not run. Pure helpers ([`args()`], the error
//! constructors, [`provider::estimate_tokens`]) and the trait methods of a plugin that
//! uses none of the imports work anywhere, including in your native unit tests.
//!
//! # An MCP server
//!
//! Each tool is a function with `#[tool]`: its `///` doc comment is the description the
//! host lists, and its parameter, a `#[derive(ToolArgs)]` struct, gives the JSON Schema
//! the host checks calls against (see [`mcp::ToolFn`] for the schema rules).
//!
//! ```
//! use sanctuary_plugin_api::mcp::{McpServer, ToolArgs, ToolEntry};
//! use sanctuary_plugin_api::{PluginError, tool};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, ToolArgs)]
//! #[serde(deny_unknown_fields)]
//! struct GreetArgs {
//!     /// Who to greet.
//!     name: String,
//! }
//!
//! /// Greets someone by name.
//! #[tool]
//! fn greet(args: GreetArgs) -> Result<String, PluginError> {
//!     Ok(format!("Hello, {}!", args.name))
//! }
//!
//! struct Greeter;
//!
//! impl McpServer for Greeter {
//!     const TOOLS: &'static [ToolEntry] = &[greet::TOOL];
//! }
//!
//! sanctuary_plugin_api::export!(mcp: Greeter);
//!
//! // The trait's methods are plain functions: test them natively.
//! assert_eq!(Greeter::list_tools()[0].description, "Greets someone by name.");
//! let answer = Greeter::call_tool("greet".into(), r#"{"name": "Ada"}"#.into())?;
//! assert_eq!(answer, vec![sanctuary_plugin_api::mcp::Content::text("Hello, Ada!")]);
//! assert!(Greeter::list_resources().is_empty());
//! # Ok::<(), PluginError>(())
//! ```
//!
//! Resources and prompts are methods with defaults ([`McpServer::list_resources`],
//! [`McpServer::read_resource`], [`McpServer::list_prompts`], [`McpServer::get_prompt`]);
//! a server whose tools are only known at run time overrides [`McpServer::list_tools`]
//! and [`McpServer::call_tool`] instead of setting `TOOLS`.
//!
//! # An AI provider
//!
//! ```no_run
//! use sanctuary_plugin_api::provider::{self, AiProvider, ChatRequest, ChatResponse, ProviderInfo, Usage};
//! use sanctuary_plugin_api::PluginError;
//!
//! struct Shouter;
//!
//! impl AiProvider for Shouter {
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
//! sanctuary_plugin_api::export!(provider: Shouter);
//! ```
//!
//! # A scout check
//!
//! ```no_run
//! use sanctuary_plugin_api::scout::{Findings, Project, ScoutCheck};
//! use sanctuary_plugin_api::PluginError;
//!
//! struct HasReadme;
//!
//! impl ScoutCheck for HasReadme {
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
//! sanctuary_plugin_api::export!(scout: HasReadme);
//! ```
//!
//! # A health probe
//!
//! ```no_run
//! use sanctuary_plugin_api::probe::{system, HealthProbe, Metric, ProbeReport};
//! use sanctuary_plugin_api::PluginError;
//!
//! struct Cores;
//!
//! impl HealthProbe for Cores {
//!     fn probe() -> Result<ProbeReport, PluginError> {
//!         let cpu = system::cpu();
//!         Ok(ProbeReport::healthy(format!("{} cores", cpu.cores))
//!             .with_metric(Metric::new("cores", f64::from(cpu.cores), "count")))
//!     }
//! }
//!
//! sanctuary_plugin_api::export!(probe: Cores);
//! ```
//!
//! [Sanctuary]: https://github.com/sanctuary-dev/sanctuary
#![deny(missing_docs)]

// The macros' generated code names this crate `::sanctuary_plugin_api`; so do its own tests.
#[cfg(test)]
extern crate self as sanctuary_plugin_api;

mod error;
mod export;
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
pub use mcp::McpServer;
pub use probe::HealthProbe;
pub use provider::AiProvider;
/// Makes a documented function an MCP tool; see [`McpServer::TOOLS`] and [`mcp::ToolFn`].
pub use sanctuary_plugin_api_macros::tool;
pub use scout::ScoutCheck;

/// The `types` interface: log levels, [`PluginError`] and [`Metric`], shared by every kind.
pub use __private::mcp_server::sanctuary::plugin::types;

/// The `host` interface: the functions every kind may import (log, config, secrets,
/// installed plugins). The helpers at the crate root wrap them.
pub use __private::mcp_server::sanctuary::plugin::host;

pub use host::PluginSummary;
pub use types::{LogLevel, Metric};

/// What [`export!`] and `#[tool]` expand to; not part of the API.
///
/// The generated bindings, one module per world (`mcp_server` holds `mcp-server-ext`). The
/// `types` and `host` interfaces are generated once (in `mcp_server`) and shared by the other worlds through `with`, so a
/// `PluginError` or `Metric` is the same Rust type whatever the kind. The worlds' export
/// macros emit the full type information into the plugin that invokes [`export!`]; the
/// import-only type information emitted here is dropped by the componentizer when unused.
#[doc(hidden)]
pub mod __private {
    pub use serde_json;

    #[allow(missing_docs, unsafe_code, clippy::all, clippy::unwrap_used)]
    pub mod mcp_server {
        wit_bindgen::generate!({
            world: "mcp-server-ext",
            path: "wit/v0.2.2",
            additional_derives: [PartialEq],
            pub_export_macro: true,
            export_macro_name: "export_mcp_server",
            default_bindings_module: "sanctuary_plugin_api::__private::mcp_server",
        });
    }

    #[allow(missing_docs, unsafe_code, clippy::all, clippy::unwrap_used)]
    pub mod ai_provider {
        wit_bindgen::generate!({
            world: "ai-provider",
            path: "wit/v0.2.2",
            additional_derives: [PartialEq],
            pub_export_macro: true,
            export_macro_name: "export_ai_provider",
            default_bindings_module: "sanctuary_plugin_api::__private::ai_provider",
            with: {
                "sanctuary:plugin/types@0.2.2": crate::types,
                "sanctuary:plugin/host@0.2.2": crate::host,
            },
        });
    }

    #[allow(missing_docs, unsafe_code, clippy::all, clippy::unwrap_used)]
    pub mod scout_check {
        wit_bindgen::generate!({
            world: "scout-check",
            path: "wit/v0.2.2",
            additional_derives: [PartialEq],
            pub_export_macro: true,
            export_macro_name: "export_scout_check",
            default_bindings_module: "sanctuary_plugin_api::__private::scout_check",
            with: {
                "sanctuary:plugin/types@0.2.2": crate::types,
                "sanctuary:plugin/host@0.2.2": crate::host,
            },
        });
    }

    #[allow(missing_docs, unsafe_code, clippy::all, clippy::unwrap_used)]
    pub mod health_probe {
        wit_bindgen::generate!({
            world: "health-probe",
            path: "wit/v0.2.2",
            additional_derives: [PartialEq],
            pub_export_macro: true,
            export_macro_name: "export_health_probe",
            default_bindings_module: "sanctuary_plugin_api::__private::health_probe",
            with: {
                "sanctuary:plugin/types@0.2.2": crate::types,
                "sanctuary:plugin/host@0.2.2": crate::host,
            },
        });
    }
}
