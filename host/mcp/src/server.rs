//! The MCP protocol handler: rmcp's `ServerHandler` over the catalogue of
//! [`crate`]. Each MCP session (or, without a session, each request) gets its own
//! [`Handler`]; all of them read the live plugin set, so installs, uninstalls and hot
//! reloads show at once.
//!
//! Change notifications: a session that began with `initialize` (protocol revisions up to
//! 2025-11-25) is sent `notifications/{tools,resources,prompts}/list_changed` on its
//! standalone stream whenever an mcp-server plugin is loaded, replaced or removed; a
//! client on 2026-07-28 (no session) gets the same through `subscriptions/listen`.
//!
//! One plugin alone: `/mcp/<plugin>` serves the same protocol over that plugin's tools,
//! resources and prompts only, under their own names (`current_time`, not
//! `time__current_time`), as a client configured with one MCP server per plugin expects
//! ([`scope_of`]).
//!
//! A tool may ask the client that called it to sample its model (`sampling/createMessage`)
//! or its user for input (`elicitation/create`) through the `mcp-client` imports (API
//! 0.2.2); the call's relay asks and hands the client's answer back ([`ask`]).
//!
//! Also served: `logging/setLevel`: once a session set a level, the lines a plugin logs
//! while it runs a tool that session called are sent to it as `notifications/message`
//! (logger: the plugin's id) when at or above that level ([`relay_notices`]),
//! `completion/complete` (no suggestions: plugins offer none), and the legacy
//! `resources/subscribe` / `resources/unsubscribe`: a subscribed session is sent
//! `notifications/resources/updated` for each subscribed URI whenever the plugin set
//! changes (a reloaded plugin may serve new contents).
//!
//! Tools are listed with their title, annotations and output schema when their plugin
//! says (API 0.2.2, [`super::rich`]); results carry images, audio, embedded resources and
//! structured content; a call whose `_meta` has a `progressToken` is sent the plugin's
//! progress reports as `notifications/progress` while it runs ([`relay_notices`]);
//! `resources/templates/list` gives the plugins' resource templates.
//!
//! Request ids: rmcp runs a session's calls on the session's own task, outside the HTTP
//! request's `request{id}` span, so a tool call re-enters a `request` span with the id of
//! the HTTP request that carried it (from the request parts rmcp hands over): the call's
//! lines, the plugin's own included, carry that id.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, GetPromptRequestParams, GetPromptResponse,
    GetPromptResult, Implementation, InitializeRequestParams, InitializeResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, ProgressToken, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, ResourceContents, ResourceUpdatedNotificationParam, Role,
    ServerCapabilities, ServerConfig, SubscribeRequestParams, SubscriptionFilter,
    UnsubscribeRequestParams,
};
// Logging is deprecated by the 2026-07-28 revision (SEP-2577) but part of every earlier
// one, which clients still speak.
#[allow(deprecated)]
use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam, SetLevelRequestParams};
use rmcp::service::{RequestContext, RoleServer, SubscriptionContext};
use rmcp::{ErrorData as McpError, Peer, ServerHandler};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch};
use tracing::{Instrument as _, debug};

use crate::manifest::Kind;
use crate::plugins::{PluginEvent, PluginHost};
use crate::runtime::state::{ClientQuestion, ToolNotice, ToolProgress};

use super::Error;

/// What the server tells clients about itself when they connect.
const INSTRUCTIONS: &str = "Sanctuary serves the tools, resources and prompts of its MCP-server \
plugins. Tool and prompt names are `<plugin>__<name>`, e.g. `time__current_time`; `/mcp/<plugin>` serves \
one plugin's tools, resources and prompts under their own names.";

/// The handler of one MCP session (or one session-less request).
pub struct Handler {
    plugins: Arc<PluginHost>,
    /// Dropped with the handler, at the end of its session: stops the session's notifier.
    alive: watch::Sender<()>,
    /// A subscription to plugin events taken before a `subscriptions/listen` is
    /// acknowledged, so that no change between the acknowledgement and the listening is
    /// lost.
    pending: Mutex<Option<Watch>>,
    /// The resource URIs the session subscribed to (`resources/subscribe`).
    subscribed: Arc<Mutex<BTreeSet<String>>>,
    /// The log level the client asked for (`logging/setLevel`).
    #[allow(deprecated)]
    level: Mutex<Option<LoggingLevel>>,
}

impl Handler {
    /// A handler over the live plugins.
    pub fn new(plugins: Arc<PluginHost>) -> Handler {
        Handler {
            plugins,
            alive: watch::channel(()).0,
            pending: Mutex::new(None),
            subscribed: Arc::new(Mutex::new(BTreeSet::new())),
            level: Mutex::new(None),
        }
    }
}

/// The plugin a request is scoped to: `Some("time")` on `/mcp/time`, `None` on `/mcp`.
pub fn scope_of(context: &RequestContext<RoleServer>) -> Option<String> {
    let parts = context.extensions.get::<http::request::Parts>()?;
    let plugin = parts
        .uri
        .path()
        .strip_prefix(crate::PATH)?
        .strip_prefix('/')?;
    (!plugin.is_empty() && !plugin.contains('/')).then(|| plugin.to_owned())
}

/// `name` as the client sees it: unqualified in the scope of its own plugin.
fn shown(scope: Option<&str>, server: &str, name: &str) -> Option<String> {
    match scope {
        Some(plugin) if plugin == server => Some(name.to_owned()),
        Some(_) => None,
        None => Some(super::qualified(server, name)),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Follows the plugin set and says when the MCP lists change.
struct Watch {
    events: broadcast::Receiver<PluginEvent>,
    /// The mcp-server plugins loaded, to tell whether an unloaded id was one.
    servers: BTreeSet<String>,
}

impl Watch {
    fn new(plugins: &PluginHost) -> Watch {
        // Subscribe first, then read the set: a change in between is seen twice, never
        // missed.
        let events = plugins.subscribe();
        let servers = super::servers(plugins)
            .iter()
            .map(|live| live.id().to_string())
            .collect();
        Watch { events, servers }
    }

    /// Waits for the next change of the MCP lists: `true` then, `false` when the plugin
    /// host is gone.
    async fn changed(&mut self) -> bool {
        loop {
            match self.events.recv().await {
                Ok(event) => {
                    if self.affects(&event) {
                        return true;
                    }
                }
                // Missed some events: something may have changed.
                Err(broadcast::error::RecvError::Lagged(_)) => return true,
                Err(broadcast::error::RecvError::Closed) => return false,
            }
        }
    }

    fn affects(&mut self, event: &PluginEvent) -> bool {
        match event {
            PluginEvent::PluginLoaded { id, kind, .. } => {
                if *kind == Kind::McpServer {
                    self.servers.insert(id.clone());
                    true
                } else {
                    self.servers.remove(id)
                }
            }
            PluginEvent::PluginUnloaded { id } => self.servers.remove(id),
            PluginEvent::PluginError { .. } => false,
        }
    }
}

/// Sends the three list-changed notifications to a session's peer, and an update for each
/// resource it subscribed to.
async fn notify_session(
    peer: &Peer<RoleServer>,
    subscribed: &[String],
) -> Result<(), rmcp::service::ServiceError> {
    peer.notify_tool_list_changed().await?;
    peer.notify_resource_list_changed().await?;
    peer.notify_prompt_list_changed().await?;
    for uri in subscribed {
        peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(uri.clone()))
            .await?;
    }
    Ok(())
}

/// Sends the accepted list-changed notifications to a `subscriptions/listen` stream.
async fn notify_subscription(
    context: &SubscriptionContext,
) -> Result<(), rmcp::service::SubscriptionSendError> {
    let sink = context.sink();
    let accepted = sink.accepted().clone();
    if accepted.tools_list_changed == Some(true) {
        sink.notify_tool_list_changed().await?;
    }
    if accepted.resources_list_changed == Some(true) {
        sink.notify_resource_list_changed().await?;
    }
    if accepted.prompts_list_changed == Some(true) {
        sink.notify_prompt_list_changed().await?;
    }
    Ok(())
}

pub use super::rich::tool_result;

fn protocol_error(e: Error) -> McpError {
    match e {
        Error::UnknownResource(uri) => {
            McpError::resource_not_found(format!("no MCP server offers the resource `{uri}`"), None)
        }
        e if e.is_not_found() => McpError::invalid_params(e.to_string(), None),
        e @ Error::InvalidArguments { .. } => McpError::invalid_params(e.to_string(), None),
        e => McpError::internal_error(e.to_string(), None),
    }
}

impl ServerHandler for Handler {
    #[allow(deprecated)] // `enable_logging`: see the import of `LoggingLevel`.
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_prompts()
                .enable_prompts_list_changed()
                .enable_resources()
                .enable_resources_list_changed()
                .enable_resources_subscribe()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_logging()
                .enable_completions()
                .build(),
        )
        .with_server_info(Implementation::new("sanctuary", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        context.peer.set_peer_info(request.clone());
        let result = self.negotiate_initialize(&request)?;
        // The session's notifier: started before the answer, so that any change after
        // the client sees it is notified.
        let mut watch = Watch::new(&self.plugins);
        let mut alive = self.alive.subscribe();
        let peer = context.peer.clone();
        let subscribed = self.subscribed.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    // Resolves only when the handler (its session) is dropped.
                    _ = alive.changed() => break,
                    changed = watch.changed() => if !changed { break },
                }
                let uris: Vec<String> = lock(&subscribed).iter().cloned().collect();
                if let Err(e) = notify_session(&peer, &uris).await {
                    debug!(cause = %e, "MCP session gone; stopping its notifications");
                    break;
                }
            }
        });
        Ok(result)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let scope = scope_of(&context);
        let tools = super::rich::described_tools(&self.plugins)
            .into_iter()
            .filter_map(|(server, tool, info)| {
                let name = shown(scope.as_deref(), &server, &tool.name)?;
                Some(super::rich::mcp_tool(name, tool, info))
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let scope = scope_of(&context);
        let split = match &scope {
            Some(plugin) => Some((plugin.as_str(), request.name.as_ref())),
            None => super::split(&request.name),
        };
        let Some((server, tool)) = split else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool `{}`: tool names are `<plugin>__<tool>` (or connect to \
                     /mcp/<plugin> for one plugin's tools under their own names)",
                    request.name
                ),
                None,
            ));
        };
        let arguments = request.arguments.map(Value::Object).unwrap_or(Value::Null);
        let span = request_span(&context);
        let relay = Relay {
            token: context.meta.get_progress_token(),
            level: *lock(&self.level),
            logger: server.to_string(),
        };
        // Every call over MCP is relayed: what its client asked to be told (progress, log
        // lines), and the questions the tool may ask its client (sampling, input).
        let outcome = relay_notices(&context.peer, relay, |sink| {
            super::rich::call_tool_rich(&self.plugins, server, tool, arguments, Some(sink))
        })
        .instrument(span)
        .await;
        tool_result(outcome).map(CallToolResponse::from)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let scope = scope_of(&context);
        let resources = super::resources(&self.plugins)
            .await
            .into_iter()
            .filter(|offered| {
                scope
                    .as_ref()
                    .is_none_or(|plugin| *plugin == offered.server)
            })
            .map(|offered| {
                rmcp::model::Resource::new(offered.uri, offered.resource.name)
                    .with_description(offered.resource.description)
                    .with_mime_type(offered.resource.mime_type)
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let scope = scope_of(&context);
        let templates = super::rich::resource_templates(&self.plugins)
            .await
            .into_iter()
            .filter(|(server, _)| scope.as_ref().is_none_or(|plugin| plugin == server))
            .map(|(_, template)| super::rich::mcp_resource_template(template))
            .collect();
        Ok(ListResourceTemplatesResult::with_all_items(templates))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let (pieces, mime, server) = super::read_resource(&self.plugins, &request.uri)
            .await
            .map_err(protocol_error)?;
        if scope_of(&context).is_some_and(|plugin| plugin != server) {
            return Err(protocol_error(Error::UnknownResource(request.uri.clone())));
        }
        // Each piece with its own MIME type, or the one the resource is listed with.
        let contents = pieces
            .into_iter()
            .map(|piece| {
                let uri = piece.uri;
                let mime = piece.mime_type.unwrap_or_else(|| mime.clone());
                match piece.body {
                    crate::runtime::mcp::ResourceBody::Text(text) => {
                        ResourceContents::text(text, uri).with_mime_type(mime)
                    }
                    crate::runtime::mcp::ResourceBody::Blob(blob) => {
                        ResourceContents::blob(blob, uri).with_mime_type(mime)
                    }
                }
            })
            .collect();
        Ok(ReadResourceResult::new(contents).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let scope = scope_of(&context);
        let prompts = super::prompts(&self.plugins)
            .await
            .into_iter()
            .filter_map(|(name, prompt)| {
                let (server, own) = super::split(&name)?;
                Some((shown(scope.as_deref(), server, own)?, prompt))
            })
            .map(|(name, prompt)| {
                let arguments = prompt
                    .arguments
                    .into_iter()
                    .map(|a| {
                        rmcp::model::PromptArgument::new(a.name)
                            .with_description(a.description)
                            .with_required(a.required)
                    })
                    .collect();
                rmcp::model::Prompt::new(name, Some(prompt.description), Some(arguments))
            })
            .collect();
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let name = match scope_of(&context) {
            Some(plugin) => super::qualified(&plugin, &request.name),
            None => request.name.clone(),
        };
        let arguments: BTreeMap<String, String> = request
            .arguments
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect();
        let (prompt, messages) = super::get_prompt(&self.plugins, &name, arguments)
            .await
            .map_err(protocol_error)?;
        let messages = messages
            .into_iter()
            .map(|m| {
                let role = if m.role == "assistant" {
                    Role::Assistant
                } else {
                    Role::User
                };
                rmcp::model::PromptMessage::new(role, super::rich::content_block(&m.content))
            })
            .collect();
        let mut result = GetPromptResult::new(messages);
        result.description = Some(prompt.description);
        Ok(result.into())
    }

    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        debug!(level = ?request.level, "MCP client set its log level");
        *lock(&self.level) = Some(request.level);
        Ok(())
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let scope = scope_of(&context);
        let known = super::resources(&self.plugins)
            .await
            .into_iter()
            .any(|o| o.uri == request.uri && scope.as_ref().is_none_or(|p| *p == o.server));
        if !known {
            return Err(protocol_error(Error::UnknownResource(request.uri)));
        }
        lock(&self.subscribed).insert(request.uri);
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        lock(&self.subscribed).remove(&request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        *self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Watch::new(&self.plugins));
        Some(requested.supported_by(&self.get_info().capabilities))
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let taken = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let mut watch = taken.unwrap_or_else(|| Watch::new(&self.plugins));
        loop {
            tokio::select! {
                _ = context.cancelled() => return Ok(()),
                changed = watch.changed() => if !changed { return Ok(()) },
            }
            if let Err(e) = notify_subscription(&context).await {
                debug!(cause = %e, "MCP subscription closed");
                return Ok(());
            }
        }
    }
}

/// What a tool call's caller gets told while it runs.
#[allow(deprecated)]
struct Relay {
    /// The call's `progressToken`: progress reports are sent for it.
    token: Option<ProgressToken>,
    /// The session's log level (`logging/setLevel`): log lines at or above it are sent.
    level: Option<LoggingLevel>,
    /// The `logger` of the log notifications: the plugin's id.
    logger: String,
}

/// Runs `call` with a sink for the tool's notices and sends each that `relay` wants to
/// `peer`, in order, all before the call's result: progress reports as
/// `notifications/progress` for the call's token, log lines as `notifications/message`.
/// They are sent from the request's own task: rmcp ties a notification sent there to the
/// request, so it reaches the stream that carries the request's answer.
async fn relay_notices<F>(
    peer: &Peer<RoleServer>,
    relay: Relay,
    call: impl FnOnce(mpsc::Sender<ToolNotice>) -> F,
) -> F::Output
where
    F: Future,
{
    let (sink, mut notices) = mpsc::channel(crate::runtime::call::PROGRESS_QUEUE);
    let call = call(sink);
    tokio::pin!(call);
    let outcome = loop {
        tokio::select! {
            biased;
            Some(notice) = notices.recv() => notify(peer, &relay, notice).await,
            outcome = &mut call => break outcome,
        }
    };
    while let Ok(notice) = notices.try_recv() {
        notify(peer, &relay, notice).await;
    }
    outcome
}

/// Sends one notice, if `relay` wants it; a client that went away is not an error of the
/// call.
#[allow(deprecated)]
async fn notify(peer: &Peer<RoleServer>, relay: &Relay, notice: ToolNotice) {
    match notice {
        ToolNotice::Progress(report) => {
            if let Some(token) = &relay.token {
                notify_progress(peer, token, report).await;
            }
        }
        ToolNotice::Log { level, message } => {
            let level = mcp_level(level);
            if relay
                .level
                .is_some_and(|wanted| rank(level) >= rank(wanted))
            {
                let mut param = LoggingMessageNotificationParam::new(level, Value::String(message));
                param.logger = Some(relay.logger.clone());
                if let Err(e) = peer.notify_logging_message(param).await {
                    debug!(cause = %e, "could not send a log notification");
                }
            }
        }
        ToolNotice::Ask { question, reply } => {
            // The plugin waits for the answer; a plugin that timed out meanwhile has
            // dropped the receiver, which is fine.
            let _ = reply.send(ask(peer, question).await);
        }
    }
}

/// Asks the MCP client `question` for a tool: `sampling/createMessage` or
/// `elicitation/create`, when the client said it offers that. The answer is the JSON text
/// of the client's result; an error says why there is none.
#[allow(deprecated)]
async fn ask(peer: &Peer<RoleServer>, question: ClientQuestion) -> Result<String, String> {
    let capabilities = peer.peer_info().map(|info| info.capabilities.clone());
    match question {
        ClientQuestion::Sampling { request } => {
            if capabilities.as_ref().is_none_or(|c| c.sampling.is_none()) {
                return Err("the MCP client does not offer sampling".to_string());
            }
            let params: rmcp::model::CreateMessageRequestParams = serde_json::from_str(&request)
                .map_err(|e| format!("not the params of a sampling/createMessage request: {e}"))?;
            let result = peer
                .create_message(params)
                .await
                .map_err(|e| format!("the MCP client did not sample: {e}"))?;
            serde_json::to_string(&result).map_err(|e| e.to_string())
        }
        ClientQuestion::Elicitation { message, schema } => {
            if capabilities
                .as_ref()
                .is_none_or(|c| c.elicitation.is_none())
            {
                return Err("the MCP client does not offer elicitation".to_string());
            }
            let schema: Value = serde_json::from_str(&schema)
                .map_err(|e| format!("the requested schema is not JSON: {e}"))?;
            let params: rmcp::model::ElicitRequestParams = serde_json::from_value(
                serde_json::json!({ "mode": "form", "message": message, "requestedSchema": schema }),
            )
            .map_err(|e| format!("not an elicitation schema (an object of primitive properties): {e}"))?;
            let result = peer
                .create_elicitation(params)
                .await
                .map_err(|e| format!("the MCP client did not answer: {e}"))?;
            serde_json::to_string(&result).map_err(|e| e.to_string())
        }
    }
}

/// The MCP level of a plugin's log line (MCP has no trace: it is debug).
#[allow(deprecated)]
fn mcp_level(level: tracing::Level) -> LoggingLevel {
    match level {
        tracing::Level::TRACE | tracing::Level::DEBUG => LoggingLevel::Debug,
        tracing::Level::INFO => LoggingLevel::Info,
        tracing::Level::WARN => LoggingLevel::Warning,
        tracing::Level::ERROR => LoggingLevel::Error,
    }
}

/// The severity order of the MCP levels (RFC 5424's, lowest first).
#[allow(deprecated)]
fn rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// Sends one progress report; a client that went away is not an error of the call.
async fn notify_progress(peer: &Peer<RoleServer>, token: &ProgressToken, report: ToolProgress) {
    let mut param = ProgressNotificationParam::new(token.clone(), report.progress);
    param.total = report.total;
    param.message = report.message;
    if let Err(e) = peer.notify_progress(param).await {
        debug!(cause = %e, "could not send a progress notification");
    }
}

/// The `request{id}` span of the HTTP request that carried an MCP call (see the module
/// docs); the current span when the call came some other way.
fn request_span(context: &RequestContext<RoleServer>) -> tracing::Span {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<crate::runtime::logsafe::RequestId>())
        .map_or_else(
            tracing::Span::current,
            |id| tracing::info_span!("request", id = %id.0),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::CallError;
    use crate::runtime::mcp::{Content, rich};
    use rmcp::model::CallToolResult;

    fn text_of(result: &CallToolResult) -> String {
        result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_successful_call_gives_text_and_one_json_object_as_structured_content() {
        let result = tool_result(Ok(rich(vec![
            Content::Text("12:00".into()),
            Content::Json(r#"{"time":"12:00"}"#.into()),
        ])))
        .expect("a result");
        assert_eq!(result.is_error, Some(false));
        assert_eq!(text_of(&result), "12:00\n{\"time\":\"12:00\"}");
        assert_eq!(
            result.structured_content,
            Some(serde_json::json!({"time": "12:00"}))
        );
    }

    #[test]
    fn bad_arguments_are_an_error_result_naming_the_field() {
        let result = tool_result(Err(Error::InvalidArguments {
            name: "time__current_time".into(),
            errors: vec![super::super::ArgumentError {
                field: "timezone".into(),
                message: "3 is not of type \"string\"".into(),
            }],
        }))
        .expect("an error result, not a protocol error");
        assert_eq!(result.is_error, Some(true));
        assert!(
            text_of(&result).contains("`timezone`"),
            "{}",
            text_of(&result)
        );
    }

    #[test]
    fn a_plugin_failure_is_an_error_result() {
        for error in [
            CallError::Timeout {
                plugin: "slow".into(),
                ms: 100,
            },
            CallError::Trap {
                plugin: "crashy".into(),
                message: "unreachable".into(),
            },
            CallError::Plugin {
                plugin: "fetch".into(),
                code: "denied",
                message: "host not allowed".into(),
            },
        ] {
            let result = tool_result(Err(Error::Call(error.clone()))).expect("a result");
            assert_eq!(result.is_error, Some(true));
            assert_eq!(text_of(&result), error.to_string());
        }
    }

    #[tokio::test]
    async fn only_changes_of_mcp_servers_call_for_notifications() {
        let (host, _dir) = crate::testing::empty_host();
        let mut watch = Watch::new(&host);
        let loaded = |id: &str, kind| PluginEvent::PluginLoaded {
            id: id.into(),
            kind,
            version: "0.1.0".into(),
            replaced: None,
        };
        let unloaded = |id: &str| PluginEvent::PluginUnloaded { id: id.into() };
        assert!(watch.affects(&loaded("clock", Kind::McpServer)));
        assert!(!watch.affects(&loaded("local", Kind::AiProvider)));
        assert!(!watch.affects(&unloaded("local")));
        assert!(watch.affects(&unloaded("clock")));
        assert!(!watch.affects(&unloaded("clock")), "already gone");
        // A plugin replaced by one of another kind leaves the MCP lists.
        assert!(watch.affects(&loaded("shape", Kind::McpServer)));
        assert!(watch.affects(&loaded("shape", Kind::HealthProbe)));
        assert!(!watch.affects(&PluginEvent::PluginError {
            id: "x".into(),
            error: "bad".into()
        }));
    }

    #[test]
    fn an_unknown_tool_is_a_protocol_error() {
        let err = tool_result(Err(Error::UnknownServer("nope".into()))).expect_err("protocol");
        assert_eq!(err.code, rmcp::model::ErrorCode::INVALID_PARAMS);
    }
}
