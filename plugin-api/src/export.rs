//! [`export!`](crate::export): the one macro that turns a type implementing a kind's trait
//! into the plugin's exports.

/// Exports `$ty` as the plugin's implementation of its kind, once, at the top level of the
/// plugin crate. The kind comes first and names the trait `$ty` implements:
///
/// | call                         | `$ty` implements            | manifest `kind` |
/// | ---------------------------- | --------------------------- | --------------- |
/// | `export!(mcp: MyPlugin)`      | [`McpServer`](crate::McpServer)   | `mcp-server`    |
/// | `export!(provider: MyPlugin)` | [`AiProvider`](crate::AiProvider) | `ai-provider`   |
/// | `export!(scout: MyPlugin)`    | [`ScoutCheck`](crate::ScoutCheck) | `scout-check`   |
/// | `export!(probe: MyPlugin)`    | [`HealthProbe`](crate::HealthProbe) | `health-probe` |
///
/// The component exports exist only in a `wasm32` build: their names
/// (`pkg:iface#func`) are not valid symbols for a native linker, so a native build of a
/// plugin crate (its unit tests, `cargo build` of a workspace) exports nothing, and only
/// checks that `$ty` implements the trait. See the [crate docs](crate) for an example of
/// each kind.
#[macro_export]
macro_rules! export {
    (mcp: $ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::__private::mcp_server::export_mcp_server!($ty with_types_in $crate::__private::mcp_server);
        // Natively, refer to the implementation so it (and what it calls) is not dead code.
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            let _ = <$ty as $crate::McpServer>::list_tools;
            let _ = <$ty as $crate::McpServer>::call_tool;
            let _ = <$ty as $crate::McpServer>::list_resources;
            let _ = <$ty as $crate::McpServer>::read_resource;
            let _ = <$ty as $crate::McpServer>::list_prompts;
            let _ = <$ty as $crate::McpServer>::get_prompt;
            let _ = <$ty as $crate::McpServer>::describe_tools;
            let _ = <$ty as $crate::McpServer>::call_tool_rich;
            let _ = <$ty as $crate::McpServer>::list_resource_templates;
        };
    };
    (provider: $ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::__private::ai_provider::export_ai_provider!($ty with_types_in $crate::__private::ai_provider);
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            let _ = <$ty as $crate::AiProvider>::describe;
            let _ = <$ty as $crate::AiProvider>::chat;
        };
    };
    (scout: $ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::__private::scout_check::export_scout_check!($ty with_types_in $crate::__private::scout_check);
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            let _ = <$ty as $crate::ScoutCheck>::check;
        };
    };
    (probe: $ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::__private::health_probe::export_health_probe!($ty with_types_in $crate::__private::health_probe);
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            let _ = <$ty as $crate::HealthProbe>::probe;
        };
    };
    ($kind:ident : $ty:ident) => {
        ::core::compile_error!(::core::concat!(
            "unknown plugin kind `", ::core::stringify!($kind),
            "`: write `export!(mcp: ...)`, `export!(provider: ...)`, `export!(scout: ...)` or `export!(probe: ...)`"
        ));
    };
}
