//! The MCP side of the server: the MCP crate ([`sanctuary_mcp`]: the catalogue of every
//! loaded mcp-server plugin, [`call_tool`], the protocol handler and the terminal's command
//! language) re-exported under its old path, and what only a server has: the Streamable
//! HTTP transport of `/mcp` ([`http`]).

pub use sanctuary_mcp::*;

pub mod http;

#[cfg(test)]
mod concurrent;
