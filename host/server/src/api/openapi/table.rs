//! The routes of modules without `#[utoipa::path]` annotations, described by hand: method,
//! path, group, summary, body, answers, and their query parameters. [`super::build`] turns
//! them into operations; the test in [`super`] fails when a routed path is missing here.

use utoipa::openapi::path::HttpMethod;

/// One route described by hand: method, path, group, summary, and its answers
/// (`(status, description)`; statuses of 400 and up answer [`ErrorBody`]).
pub struct Described {
    pub(super) method: HttpMethod,
    pub(super) path: &'static str,
    pub(super) tag: &'static str,
    pub(super) summary: &'static str,
    /// Whether it reads a JSON body.
    pub(super) body: bool,
    pub(super) responses: &'static [(u16, &'static str)],
}

pub(super) const fn route(
    method: HttpMethod,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    body: bool,
    responses: &'static [(u16, &'static str)],
) -> Described {
    Described {
        method,
        path,
        tag,
        summary,
        body,
        responses,
    }
}

const ADMIN: &[(u16, &str)] = &[
    (200, "Done"),
    (401, "No credential, or one that is not valid"),
    (403, "The credential lacks the `plugins` scope"),
    (404, "Unknown plugin"),
];

/// Answers of the key and user management routes (`admin` scope).
const AUTH_ADMIN: &[(u16, &str)] = &[
    (200, "Done"),
    (401, "No credential, or one that is not valid"),
    (403, "The credential lacks the `admin` scope"),
];

/// Answers of the login routes.
const LOGIN: &[(u16, &str)] = &[
    (
        200,
        "`{success, message: \"Logged In\", user: {id, username, scopes}, expires_at}` and the `sid` cookie",
    ),
    (400, "Neither `{usr, pwd}` nor `{username, password}`"),
    (401, "Invalid login credentials"),
];

/// Answers of the logout routes.
const LOGOUT: &[(u16, &str)] = &[(200, "`{success, message}`; the `sid` cookie is cleared")];

/// Answers of the session check routes.
const VERIFY: &[(u16, &str)] = &[
    (
        200,
        "`{success, valid: true, user: {id, username, scopes}, expires_at}`",
    ),
    (401, "No live session"),
];

/// The routes of modules without annotations.
pub const OTHER_ROUTES: &[Described] = &[
    route(
        HttpMethod::Get,
        "/api/analytics",
        "analytics",
        "Chat calls, plugin calls and jobs over a period: `?start_date=&end_date=` (RFC 3339 or YYYY-MM-DD; default the last 7 days), `?granularity=hour|day` (default day); totals, latency p50/p95/p99, by provider, route and plugin, and a timeline with every bucket",
        false,
        &[
            (
                200,
                "`{success, data: {period, totals, chat, plugins, jobs, timeline}}`",
            ),
            (
                400,
                "A bad date or granularity, or a period with too many buckets",
            ),
        ],
    ),
    route(
        HttpMethod::Get,
        "/api/cache/stats",
        "cache",
        "Chat response cache figures",
        false,
        &[(
            200,
            "`{success, data: {hits, misses, hit_rate, entries, evictions, enabled, ttl_secs, max_entries, routes, by_route}}`",
        )],
    ),
    route(
        HttpMethod::Post,
        "/api/cache/invalidate",
        "cache",
        "Drops cached chat answers (`cache` scope): `{route?, key?}` (a route's answers, or the one whose `metadata.cache_key` is `key`)",
        true,
        &[
            (200, "`{success, data: {invalidated}}`"),
            (400, "Neither `route` nor `key`, or not a JSON object"),
            (401, "No credential, or one that is not valid"),
            (403, "The credential lacks the `cache` scope"),
        ],
    ),
    route(
        HttpMethod::Delete,
        "/api/cache",
        "cache",
        "Drops every cached chat answer (`cache` scope)",
        false,
        &[
            (200, "`{success, data: {cleared}}`"),
            (401, "No credential, or one that is not valid"),
            (403, "The credential lacks the `cache` scope"),
        ],
    ),
    route(
        HttpMethod::Get,
        "/metrics",
        "meta",
        "Prometheus metrics (OpenMetrics text): HTTP requests by route template, plugin and chat calls, Socket.IO connections, jobs by state, cache hits and misses",
        false,
        &[(200, "The exposition text")],
    ),
    route(
        HttpMethod::Post,
        "/api/jobs",
        "jobs",
        "Creates a content-generation job (`jobs` scope): `{prompt, route?, document_id?, channels?}`; one piece of content per channel",
        true,
        &[
            (201, "`{success, data: job}` (status `pending`)"),
            (
                400,
                "Missing or empty prompt, unknown route, or a field of the wrong type",
            ),
            (401, "No credential, or one that is not valid"),
            (403, "The credential lacks the `jobs` scope"),
        ],
    ),
    route(
        HttpMethod::Get,
        "/api/jobs",
        "jobs",
        "Jobs newest first: `?limit=` (1-1000, default 100), `?offset=`, `?status=`; `X-Total-Count` says how many match",
        false,
        &[
            (200, "`{success, data: {jobs, total}}`"),
            (400, "A bad limit, offset or status"),
        ],
    ),
    route(
        HttpMethod::Get,
        "/api/jobs/{job_id}",
        "jobs",
        "One job",
        false,
        &[(200, "`{success, data: job}`"), (404, "Unknown job")],
    ),
    route(
        HttpMethod::Post,
        "/api/jobs/{job_id}/retry",
        "jobs",
        "Puts a failed or cancelled job back in the queue (`jobs` scope)",
        false,
        &[
            (200, "`{success, data: job}` (status `pending`)"),
            (401, "No credential, or one that is not valid"),
            (403, "The credential lacks the `jobs` scope"),
            (404, "Unknown job"),
            (409, "The job is not failed or cancelled"),
        ],
    ),
    route(
        HttpMethod::Post,
        "/api/jobs/{job_id}/cancel",
        "jobs",
        "Cancels a pending or running job, stopping its provider call (`jobs` scope)",
        false,
        &[
            (200, "`{success, data: job}` (status `cancelled`)"),
            (401, "No credential, or one that is not valid"),
            (403, "The credential lacks the `jobs` scope"),
            (404, "Unknown job"),
            (409, "The job is not pending or in progress"),
        ],
    ),
    route(
        HttpMethod::Get,
        "/ws/jobs",
        "jobs",
        "WebSocket of job events `{type: job_created|job_update|job_completed|job_failed, job, timestamp}`; send `{type: subscribe|unsubscribe, job_id}` to narrow them",
        false,
        &[
            (101, "Switching to the WebSocket protocol"),
            (400, "Not a WebSocket upgrade request"),
        ],
    ),
    route(
        HttpMethod::Get,
        "/",
        "health",
        "Connectivity check: `{status, message, timestamp}`",
        false,
        &[(200, "Running")],
    ),
    route(
        HttpMethod::Get,
        "/health",
        "health",
        "Health: `{status, service, version, backend_running, timestamp, uptime, services, checks, probes, loading, pressure}`; probes run under `[health] probe_timeout_ms` and are shared for `[health] cache_ttl_ms`",
        false,
        &[(200, "Health")],
    ),
    route(
        HttpMethod::Get,
        "/health/detailed",
        "health",
        "Every service, probe, provider, plugin and system figure",
        false,
        &[(200, "Detailed health")],
    ),
    route(
        HttpMethod::Get,
        "/health/live",
        "health",
        "Liveness: `{status: \"alive\"}` whenever the process serves",
        false,
        &[(200, "Alive")],
    ),
    route(
        HttpMethod::Get,
        "/health/ready",
        "health",
        "Readiness: 200 once every installed plugin is loaded or failed, 503 while some still load (`loading` names them)",
        false,
        &[(200, "Ready"), (503, "Plugins are still loading")],
    ),
    route(
        HttpMethod::Get,
        "/api/dev/ping",
        "dev",
        "`{status: \"pong\", timestamp, service, version}`",
        false,
        &[(200, "Pong")],
    ),
    route(
        HttpMethod::Post,
        "/api/dev/echo",
        "dev",
        "Echoes the JSON body and the request headers (credentials redacted)",
        true,
        &[(200, "The echo"), (400, "Not JSON")],
    ),
    route(
        HttpMethod::Get,
        "/api/dev/database/info",
        "dev",
        "Database kind, location (no secrets), version, tables and row counts",
        false,
        &[(200, "Database facts")],
    ),
    route(
        HttpMethod::Get,
        "/api/plugins",
        "plugins",
        "Every plugin: registry entries and installed ones",
        false,
        &[(200, "`{success, plugins, total, timestamp}`")],
    ),
    route(
        HttpMethod::Get,
        "/api/plugins/{id}",
        "plugins",
        "One plugin",
        false,
        &[
            (200, "`{success, plugin, timestamp}`"),
            (404, "Unknown plugin"),
        ],
    ),
    route(
        HttpMethod::Delete,
        "/api/plugins/{id}",
        "plugins",
        "Uninstalls a plugin and deletes its key-value data unless `?keep_data=true` (admin)",
        false,
        ADMIN,
    ),
    route(
        HttpMethod::Post,
        "/api/plugins/{id}/install",
        "plugins",
        "Installs or updates a plugin from the registry (admin)",
        false,
        ADMIN,
    ),
    route(
        HttpMethod::Post,
        "/api/plugins/upload",
        "plugins",
        "Installs or updates an uploaded plugin (admin): `{manifest, component_base64}`, checked like a registry install (manifest, API, sha256, signature policy); up to 128 MiB",
        true,
        &[
            (200, "`{success, message, plugin, timestamp}`"),
            (400, "Not JSON, or the component is not base64"),
            (401, "No admin key"),
            (409, "An update that needs permissions not yet granted"),
            (
                422,
                "Invalid manifest, incompatible API, sha256 mismatch, refused signature, or a component that does not load",
            ),
        ],
    ),
    route(
        HttpMethod::Post,
        "/api/plugins/{id}/enable",
        "plugins",
        "Enables and loads a plugin (admin)",
        false,
        ADMIN,
    ),
    route(
        HttpMethod::Post,
        "/api/plugins/{id}/disable",
        "plugins",
        "Disables and unloads a plugin (admin)",
        false,
        ADMIN,
    ),
    route(
        HttpMethod::Post,
        "/api/plugins/{id}/permissions",
        "plugins",
        "Grants a plugin permissions (admin)",
        true,
        &[
            (200, "Done"),
            (401, "No credential, or one that is not valid"),
            (403, "The credential lacks the `plugins` scope"),
            (404, "No such plugin"),
            (
                422,
                "A refused grant (a reserved name, a file grant into the host's files), or a plugin that still does not load with what was granted",
            ),
        ],
    ),
    route(
        HttpMethod::Get,
        "/api/mcp/servers",
        "mcp",
        "The MCP-server plugins as the seeds' MCPServer objects",
        false,
        &[(200, "An array of MCPServer")],
    ),
    route(
        HttpMethod::Get,
        "/api/mcp/search",
        "mcp",
        "Searches MCP servers by `query` and `category`",
        false,
        &[(200, "`{servers, total, query, category, timestamp}`")],
    ),
    route(
        HttpMethod::Post,
        "/api/mcp/servers/{server_name}/install",
        "mcp",
        "Installs an MCP server from the registry (admin)",
        false,
        ADMIN,
    ),
    route(
        HttpMethod::Post,
        "/api/mcp/servers/{server_name}/tools/{tool}",
        "mcp",
        "Calls an MCP server's tool with the JSON body (an object, empty means `{}`) as its arguments: `{success, is_error, server, tool, content, timestamp}`",
        true,
        &[
            (
                200,
                "The tool's result (also a failure inside the plugin, with `is_error: true`)",
            ),
            (400, "The body is not JSON"),
            (404, "Unknown server or tool"),
            (422, "Arguments that do not fit the tool's schema"),
        ],
    ),
    route(
        HttpMethod::Post,
        "/mcp",
        "mcp",
        "The MCP endpoint (Streamable HTTP): JSON-RPC requests and notifications for the tools, resources and prompts of every MCP-server plugin",
        true,
        &[
            (200, "A JSON-RPC answer (JSON or an event stream)"),
            (403, "An `Origin` not in `[cors] origins`"),
        ],
    ),
    route(
        HttpMethod::Get,
        "/mcp",
        "mcp",
        "The MCP endpoint: a session's stream of server notifications (`Mcp-Session-Id`)",
        false,
        &[
            (200, "An event stream"),
            (403, "An `Origin` not in `[cors] origins`"),
        ],
    ),
    route(
        HttpMethod::Delete,
        "/mcp",
        "mcp",
        "The MCP endpoint: ends a session (`Mcp-Session-Id`)",
        false,
        &[
            (200, "Session ended"),
            (403, "An `Origin` not in `[cors] origins`"),
        ],
    ),
    route(
        HttpMethod::Post,
        "/api/auth/keys",
        "auth",
        "Creates an API key `{name, scopes, expires_at?}`; answers the key once (admin)",
        true,
        &[
            (201, "`{success, key, api_key}`"),
            (400, "No name, unknown scopes, or a bad expiry"),
            (401, "No credential, or one that is not valid"),
            (403, "The credential lacks the `admin` scope"),
        ],
    ),
    route(
        HttpMethod::Get,
        "/api/auth/keys",
        "auth",
        "Lists API keys without their secrets: id, name, prefix, scopes, times (admin)",
        false,
        AUTH_ADMIN,
    ),
    route(
        HttpMethod::Delete,
        "/api/auth/keys/{id}",
        "auth",
        "Revokes an API key (admin)",
        false,
        &[
            (200, "`{success, message, api_key}`"),
            (401, "No credential, or one that is not valid"),
            (403, "The credential lacks the `admin` scope"),
            (404, "Unknown key"),
        ],
    ),
    route(
        HttpMethod::Post,
        "/api/auth/users",
        "auth",
        "Creates a user `{username, password, scopes}` (admin)",
        true,
        &[
            (201, "`{success, user}`"),
            (400, "Bad username, short password or unknown scopes"),
            (401, "No credential, or one that is not valid"),
            (403, "The credential lacks the `admin` scope"),
            (409, "The username is taken"),
        ],
    ),
    route(
        HttpMethod::Get,
        "/api/auth/users",
        "auth",
        "Lists users (admin)",
        false,
        AUTH_ADMIN,
    ),
    route(
        HttpMethod::Delete,
        "/api/auth/users/{id}",
        "auth",
        "Deletes a user and ends their sessions (admin)",
        false,
        &[
            (200, "`{success, message}`"),
            (401, "No credential, or one that is not valid"),
            (403, "The credential lacks the `admin` scope"),
            (404, "Unknown user"),
        ],
    ),
    route(
        HttpMethod::Post,
        "/api/auth/login",
        "auth",
        "Logs in with `{usr, pwd}` or `{username, password}`; sets the `sid` cookie",
        true,
        LOGIN,
    ),
    route(
        HttpMethod::Post,
        "/api/method/oropendola.auth.login",
        "auth",
        "Seed 004's (Frappe) path for `POST /api/auth/login`",
        true,
        LOGIN,
    ),
    route(
        HttpMethod::Post,
        "/api/auth/logout",
        "auth",
        "Ends the session of the `sid` cookie and clears the cookie",
        false,
        LOGOUT,
    ),
    route(
        HttpMethod::Post,
        "/api/method/oropendola.auth.logout",
        "auth",
        "Seed 004's (Frappe) path for `POST /api/auth/logout`",
        false,
        LOGOUT,
    ),
    route(
        HttpMethod::Get,
        "/api/auth/verify_session",
        "auth",
        "Whether the `sid` cookie names a live session, and whose",
        false,
        VERIFY,
    ),
    route(
        HttpMethod::Get,
        "/api/method/oropendola.auth.verify_session",
        "auth",
        "Seed 004's (Frappe) path for `GET /api/auth/verify_session`",
        false,
        VERIFY,
    ),
];

/// The whole description (built once).

/// The query parameters of the routes in [`OTHER_ROUTES`]: path, name, type
/// (`string` or `integer`), and what it does. All are optional.
pub(super) const QUERY_PARAMETERS: &[(&str, &str, &str, &str)] = &[
    (
        "/api/jobs",
        "limit",
        "integer",
        "At most this many jobs (1 to 1000, default 50)",
    ),
    (
        "/api/jobs",
        "offset",
        "integer",
        "Skip this many (default 0)",
    ),
    (
        "/api/jobs",
        "status",
        "string",
        "Only jobs in this state: pending, in_progress, completed, failed, cancelled",
    ),
    (
        "/api/analytics",
        "start_date",
        "string",
        "Start of the period: RFC 3339 or YYYY-MM-DD (default 7 days ago)",
    ),
    (
        "/api/analytics",
        "end_date",
        "string",
        "End of the period: RFC 3339 or YYYY-MM-DD (default now)",
    ),
    (
        "/api/analytics",
        "granularity",
        "string",
        "Timeline buckets: hour or day (default day)",
    ),
    (
        "/api/mcp/search",
        "query",
        "string",
        "Words to find in a server's name, description or tools",
    ),
    (
        "/api/mcp/search",
        "category",
        "string",
        "Only servers of this category",
    ),
];
