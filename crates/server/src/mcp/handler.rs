//! The MCP handler: tools, resources, prompts, completion and logging,
//! through the catalogue.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::StatusCode;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams,
    CompleteResult, CompletionInfo, ErrorCode, GetPromptRequestParams, GetPromptResponse,
    GetPromptResult, Implementation, InitializeResult, InputRequiredResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, ProgressToken, Prompt, PromptMessage, ProtocolVersion,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Reference, Resource,
    ResourceContents, ResourceTemplate, ResultType, ServerCapabilities, ServerConfig, Tool,
};
#[expect(
    deprecated,
    reason = "MCP 2026-07-28 deprecates logging (SEP-2577); 2025 clients still set a level"
)]
use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam, SetLevelRequestParams};
use rmcp::model::{SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams};
use rmcp::service::{NotificationContext, Peer, RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Value, json};
use tracing::Instrument as _;

use super::approval::{Pending, Sought};
use super::asking::{Channel, Round, Rounds, Unasked};
use super::request_state::{Binding, Progress, RequestStates};
use super::session_settings::SessionSettings;
use super::subscriptions::{
    CHANGED_WITH_POLICIES, LISTENS_PER_PRINCIPAL, Listeners, MAX_LISTENS, ResourceSubscriptions,
    notify_session,
};
use crate::catalogue::{
    Approval, Asking, CallRefusal, Caller, Catalogue, ClientLink, ItemRefusal, Notice, Prompted,
};
use crate::telemetry::traces;

/// The most times one `prompts/get` may render a prompt that keeps asking.
const MAX_PROMPT_ROUNDS: usize = 8;

/// JSON-RPC error code for a call the policies deny. MCP defines none; this
/// sits in the range JSON-RPC leaves to servers.
pub(crate) const FORBIDDEN: ErrorCode = ErrorCode(-32003);

/// The protocol versions this server speaks, newest first (the server card
/// lists the same: `catalogue::PROTOCOL_VERSIONS`).
const SUPPORTED_VERSIONS: &[ProtocolVersion] = &[
    ProtocolVersion::V_2026_07_28,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_03_26,
];

/// How long a client may keep a list (tools, prompts, resources) before
/// asking again. Lists follow the policies, which an operator may reload at
/// any time; subscribed clients hear of a change at once.
pub(crate) const LIST_TTL_MS: u64 = 30_000;

/// The MCP handler. In session mode one serves a whole session, so what it
/// holds besides the catalogue (the log level the client set) lasts the
/// session; served statelessly, one serves one request.
#[derive(Clone)]
pub(crate) struct McpServer {
    pub(super) catalogue: Catalogue,
    /// The level a 2025-era client set with `logging/setLevel`.
    #[expect(deprecated, reason = "see the import")]
    pub(super) log_level: Arc<Mutex<Option<LoggingLevel>>>,
    /// The resources a 2025-era session subscribed to.
    subscriptions: ResourceSubscriptions,
    /// The listening streams open per principal, shared by every handler.
    listeners: Arc<Listeners>,
    /// Dropped with the last copy of the handler, when its session ends:
    /// stops the task that tells the session of changes.
    ended: Arc<tokio::sync::watch::Sender<()>>,
    /// Whether that task was started.
    watching: Arc<std::sync::atomic::AtomicBool>,
    /// Seals and opens the `requestState` of calls that wait for a person.
    pub(super) states: Arc<RequestStates>,
    /// Every tool's MCP object.
    tools: Arc<ToolObjects>,
}

impl McpServer {
    pub(super) fn new(
        catalogue: Catalogue,
        listeners: Arc<Listeners>,
        states: Arc<RequestStates>,
        tools: Arc<ToolObjects>,
    ) -> Self {
        Self {
            states,
            tools,
            catalogue,
            log_level: Arc::default(),
            subscriptions: ResourceSubscriptions::default(),
            listeners,
            ended: Arc::new(tokio::sync::watch::Sender::new(())),
            watching: Arc::default(),
        }
    }

    /// The least severe message the client wants: the request's own
    /// `logLevel` (2026-07-28), else the session's level, else none.
    #[expect(deprecated, reason = "see the import")]
    fn log_level(&self, context: &RequestContext<RoleServer>) -> Option<plugin_host::LogLevel> {
        let level = if is_stateless_revision(context) {
            context.meta.log_level()?
        } else {
            (*self
                .log_level
                .lock()
                .unwrap_or_else(PoisonError::into_inner))?
        };
        Some(match level {
            LoggingLevel::Debug => plugin_host::LogLevel::DEBUG,
            LoggingLevel::Info | LoggingLevel::Notice => plugin_host::LogLevel::INFO,
            LoggingLevel::Warning => plugin_host::LogLevel::WARN,
            _ => plugin_host::LogLevel::ERROR,
        })
    }
}

/// Whether the request comes from a client speaking 2026-07-28 or later,
/// which declares its version in every request's `_meta`.
fn is_stateless_revision(context: &RequestContext<RoleServer>) -> bool {
    context
        .meta
        .protocol_version()
        .is_some_and(|version| version.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

/// Whether the client accepts an SSE answer, which notifications need.
fn accepts_event_stream(context: &RequestContext<RoleServer>) -> bool {
    context
        .extensions
        .get::<http::request::Parts>()
        .is_some_and(|parts| parts.extensions.get::<super::guard::JsonOnly>().is_none())
}

/// Sends a call's notices to the client until the call is over, then the
/// ones still queued, so that all of them precede the answer.
async fn forward_notices(
    peer: Peer<RoleServer>,
    token: Option<ProgressToken>,
    mut notices: tokio::sync::mpsc::Receiver<Notice>,
    mut done: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let notice = tokio::select! {
            biased;
            notice = notices.recv() => notice,
            _ = &mut done => break,
        };
        match notice {
            Some(notice) => send_notice(&peer, token.as_ref(), notice).await,
            None => return,
        }
    }
    while let Ok(notice) = notices.try_recv() {
        send_notice(&peer, token.as_ref(), notice).await;
    }
}

#[expect(deprecated, reason = "see the import")]
async fn send_notice(peer: &Peer<RoleServer>, token: Option<&ProgressToken>, notice: Notice) {
    // A client gone away is not the call's failure: its answer will not be
    // read either.
    let _ = match notice {
        Notice::Progress(progress) => {
            let Some(token) = token else { return };
            let mut params = ProgressNotificationParam::new(token.clone(), progress.done);
            if let Some(total) = progress.total {
                params = params.with_total(total);
            }
            if let Some(message) = progress.message {
                params = params.with_message(message);
            }
            peer.notify_progress(params).await
        }
        Notice::Log(level, message) => {
            let level = match level {
                plugin_host::LogLevel::ERROR => LoggingLevel::Error,
                plugin_host::LogLevel::WARN => LoggingLevel::Warning,
                plugin_host::LogLevel::INFO => LoggingLevel::Info,
                _ => LoggingLevel::Debug,
            };
            peer.notify_logging_message(
                LoggingMessageNotificationParam::new(level, json!(message)).with_logger("tool"),
            )
            .await
        }
    };
}

/// The authenticated caller that the HTTP layers put on the request, as the
/// MCP transport hands it to the handler, narrowed to the session's settings
/// (which the `/mcp` guard read from the URL) for this call and every call
/// its tool makes.
fn caller(context: &RequestContext<RoleServer>) -> Result<Caller, McpError> {
    let parts = context.extensions.get::<http::request::Parts>();
    let session = parts
        .and_then(|parts| parts.extensions.get::<SessionSettings>())
        .cloned()
        .unwrap_or_default();
    parts
        .and_then(|parts| parts.extensions.get::<Caller>())
        .cloned()
        .map(|caller| Caller {
            session: std::sync::Arc::new(session),
            ..caller
        })
        // The authentication layer guards /mcp, so this means a wiring bug;
        // refuse rather than serve an anonymous caller.
        .ok_or_else(|| {
            McpError::internal_error(
                "request reached the MCP handler without an authenticated principal",
                None,
            )
        })
}

fn to_tool(descriptor: &Value) -> Option<Tool> {
    serde_json::from_value(descriptor.clone()).ok()
}

/// Every tool's MCP object, read from its descriptor once. rmcp asks for a
/// tool on every call (to check the `Mcp-Name` and `Mcp-Param-*` headers
/// against its schema), and reading a descriptor into a `Tool` each time
/// cost more than the rest of the lookup; tools never change while the
/// server runs.
pub(crate) struct ToolObjects(std::collections::HashMap<String, Tool>);

impl ToolObjects {
    pub(crate) fn of(catalogue: &Catalogue) -> Self {
        Self(
            catalogue
                .tool_names()
                .into_iter()
                .filter_map(|name| {
                    let tool = to_tool(&catalogue.descriptor(name)?)?;
                    Some((name.to_owned(), tool))
                })
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&Tool> {
        self.0.get(name)
    }
}

/// Refuses a plugin whose tool descriptor is not a valid MCP tool: it would
/// otherwise be callable over REST yet missing from `tools/list`.
pub(crate) fn check_tool_descriptors(plugins: &plugin_host::PluginHost) -> anyhow::Result<()> {
    for plugin in plugins.plugins() {
        for name in &plugin.tools {
            let Some(tool) = plugins.tool(name) else {
                continue;
            };
            if let Err(err) = serde_json::from_value::<Tool>(tool.descriptor().clone()) {
                anyhow::bail!(
                    "plugin {}: tool `{name}` is not a valid MCP tool: {err}",
                    plugin.file.display()
                );
            }
        }
    }
    Ok(())
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        #[expect(deprecated, reason = "see the import")]
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_list_changed()
            .enable_resources_subscribe()
            .enable_completions()
            .enable_logging()
            .build();
        InitializeResult::new(capabilities)
            .with_protocol_version(ProtocolVersion::V_2025_11_25)
            .with_server_info(Implementation::new(
                "orchestrator-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Policy-governed tools. tools/list shows the tools your token may call.",
            )
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(SUPPORTED_VERSIONS)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.get(name).cloned()
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let caller = caller(&context)?;
        let tools = self
            .catalogue
            .visible_tool_names(&caller)
            .into_iter()
            .filter_map(|name| self.tools.get(name).cloned())
            .collect();
        // The list is the caller's own: the policies decide what is in it.
        Ok(ListToolsResult::with_all_items(tools)
            .with_ttl_ms(LIST_TTL_MS)
            .with_cache_scope(CacheScope::Private))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let caller = caller(&context)?;
        let resources = convert_all::<Resource>(self.catalogue.visible_resources(&caller))?;
        Ok(ListResourcesResult::with_all_items(resources)
            .with_ttl_ms(LIST_TTL_MS)
            .with_cache_scope(CacheScope::Private))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let caller = caller(&context)?;
        let templates =
            convert_all::<ResourceTemplate>(self.catalogue.visible_resource_templates(&caller))?;
        Ok(ListResourceTemplatesResult::with_all_items(templates)
            .with_ttl_ms(LIST_TTL_MS)
            .with_cache_scope(CacheScope::Private))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        check_length("resource URI", &request.uri)?;
        let caller = caller(&context)?;
        let contents = self
            .catalogue
            .read_resource(&caller, &request.uri)
            .await
            .map_err(|refusal| item_refusal_to_error(&context, refusal))?;
        let contents = convert_all::<ResourceContents>(contents)?;
        // What a read returns is the caller's: the policies decided it.
        Ok(ReadResourceResult::new(contents)
            .with_ttl_ms(0)
            .with_cache_scope(CacheScope::Private)
            .into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let caller = caller(&context)?;
        let prompts = convert_all::<Prompt>(self.catalogue.visible_prompts(&caller))?;
        Ok(ListPromptsResult::with_all_items(prompts)
            .with_ttl_ms(LIST_TTL_MS)
            .with_cache_scope(CacheScope::Private))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        check_length("prompt name", &request.name)?;
        let caller = caller(&context)?;
        let mut arguments = std::collections::BTreeMap::new();
        for (name, value) in request.arguments.unwrap_or_default() {
            let Value::String(value) = value else {
                return Err(McpError::invalid_params(
                    format!("prompt argument `{name}` is {value}; prompt arguments are strings"),
                    Some(json!({ "prompt": request.name, "argument": name })),
                ));
            };
            arguments.insert(name, value);
        }
        // A prompt may ask its client for input, as a tool may: its answers
        // are bound to the prompt (named apart from tools) and its arguments.
        let channel = Channel::of(&context, request.input_responses.as_ref());
        let bound = || {
            let decided = Value::Object(
                arguments
                    .iter()
                    .map(|(key, value)| (key.clone(), Value::String(value.clone())))
                    .collect(),
            );
            Binding::of(&caller, &format!("prompt:{}", request.name), &decided)
        };
        let progress = match request.request_state.as_deref() {
            Some(state) => self.states.open(state, &bound()).await.map_err(|refusal| {
                McpError::invalid_params(refusal.to_string(), Some(json!({ "name": request.name })))
            })?,
            None => Progress::default(),
        };
        let mut asking = Asking {
            can_ask: channel.can_ask(false),
            inputs: progress.answers,
        };
        let mut consumed = std::collections::HashSet::new();
        channel
            .take_pending(&progress.pending, &mut asking.inputs, &mut consumed)
            .map_err(|why| McpError::invalid_params(why, Some(json!({ "name": request.name }))))?;
        let mut rounds = 0;
        let (description, messages) = loop {
            let prompted = self
                .catalogue
                .get_prompt(&caller, &request.name, arguments.clone(), &asking)
                .await
                .map_err(|refusal| item_refusal_to_error(&context, refusal))?;
            let requests = match prompted {
                Prompted::Got {
                    description,
                    messages,
                } => break (description, messages),
                Prompted::NeedsInput(requests) => requests,
            };
            rounds += 1;
            if rounds >= MAX_PROMPT_ROUNDS {
                return Err(McpError::internal_error(
                    format!(
                        "prompt `{}` asked for input {MAX_PROMPT_ROUNDS} times in one request, the most it may",
                        request.name
                    ),
                    None,
                ));
            }
            let asked = channel.put(
                &requests,
                &mut asking.inputs,
                &mut consumed,
                self.states.ttl(),
            );
            let unanswered = match tokio::select! {
                unanswered = asked => unanswered,
                () = context.ct.cancelled() => {
                    return Err(McpError::invalid_request(
                        format!("getting prompt `{}` was cancelled by the client", request.name),
                        None,
                    ));
                }
            } {
                Ok(unanswered) => unanswered,
                Err(Unasked::Answer(why)) => {
                    return Err(McpError::invalid_params(
                        why,
                        Some(json!({ "name": request.name })),
                    ));
                }
                Err(Unasked::Tool(why) | Unasked::Client(why)) => {
                    return Err(McpError::internal_error(
                        format!("prompt `{}` {why}", request.name),
                        None,
                    ));
                }
            };
            if !unanswered.is_empty() {
                let state = self
                    .states
                    .seal(
                        &bound(),
                        &Progress {
                            answers: asking.inputs,
                            pending: unanswered.clone(),
                            ..Progress::default()
                        },
                    )
                    .map_err(|why| McpError::internal_error(why, None))?;
                let unanswered = super::asking::to_rmcp_all(&unanswered)?;
                return Ok(InputRequiredResult::new(Some(unanswered), Some(state)).into());
            }
        };
        let messages = convert_all::<PromptMessage>(messages)?;
        let mut result = GetPromptResult::new(messages);
        if let Some(description) = description {
            result = result.with_description(description);
        }
        Ok(result.into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        check_length("argument name", &request.argument.name)?;
        check_length("argument value", &request.argument.value)?;
        let caller = caller(&context)?;
        let reference = match &request.r#ref {
            Reference::Prompt(prompt) => {
                check_length("prompt name", &prompt.name)?;
                plugin_host::CompletionRef::Prompt {
                    name: prompt.name.clone(),
                }
            }
            Reference::Resource(template) => {
                check_length("resource template", &template.uri)?;
                plugin_host::CompletionRef::Resource {
                    uri: template.uri.clone(),
                }
            }
            _ => {
                return Err(McpError::invalid_params(
                    "completion/complete completes a prompt's argument (ref/prompt) or a resource template's parameter (ref/resource)",
                    None,
                ));
            }
        };
        let completed = self
            .catalogue
            .complete(
                &caller,
                &reference,
                &request.argument.name,
                &request.argument.value,
            )
            .map_err(|refusal| item_refusal_to_error(&context, refusal))?;
        let total = u32::try_from(completed.total).unwrap_or(u32::MAX);
        let info =
            CompletionInfo::with_pagination(completed.values, Some(total), completed.has_more)
                .map_err(|err| McpError::internal_error(format!("completion: {err}"), None))?;
        Ok(CompleteResult::new(info))
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        // Only a session lives past its requests: a stateless initialize
        // has no stream to hear changes on.
        if context.peer.peer_info().is_none() {
            return;
        }
        // One watcher per session, however often the client says it is
        // initialized.
        if self
            .watching
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        tokio::spawn(notify_session(
            context.peer.clone(),
            self.catalogue.policy_store().changes(),
            self.subscriptions.clone(),
            self.ended.subscribe(),
        ));
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        check_length("resource URI", &request.uri)?;
        let caller = caller(&context)?;
        // Only what the caller may read, which also says whether it exists.
        self.catalogue
            .may_read(&caller, &request.uri)
            .map_err(|refusal| item_refusal_to_error(&context, refusal))?;
        self.subscriptions.add(&request.uri);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.subscriptions.remove(&request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = SubscriptionFilter::builder()
            .tools_list_changed()
            .prompts_list_changed()
            .resources_list_changed()
            .build();
        let watched: Vec<String> = requested
            .resource_subscriptions
            .iter()
            .flatten()
            .filter(|uri| CHANGED_WITH_POLICIES.contains(&uri.as_str()))
            .cloned()
            .collect();
        if !watched.is_empty() {
            accepted.resource_subscriptions = Some(watched);
        }
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        // Only the principal is kept for the life of the stream, not its
        // policy set: a stream may outlive many reloads.
        let (principal, readable) = {
            let caller = caller(context.request_context())?;
            let readable: Vec<&'static str> = CHANGED_WITH_POLICIES
                .into_iter()
                .filter(|uri| self.catalogue.may_read(&caller, uri).is_ok())
                .collect();
            (caller.principal.id.clone(), readable)
        };
        let Some(_listening) = self.listeners.enter(&principal) else {
            return Err(McpError::invalid_request(
                format!(
                    "no more subscriptions/listen streams: a caller may hold {LISTENS_PER_PRINCIPAL} open and the server {MAX_LISTENS}; close one first"
                ),
                None,
            ));
        };
        let mut changes = self.catalogue.policy_store().changes();
        changes.mark_unchanged();
        loop {
            tokio::select! {
                () = context.cancelled() => return Ok(()),
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
            }
            // The sink sends only what the client asked for and was
            // accepted; the rest is refused there, not an error here.
            let sink = context.sink();
            let _ = sink.notify_tool_list_changed().await;
            let _ = sink.notify_prompt_list_changed().await;
            let _ = sink.notify_resource_list_changed().await;
            // Updates only for what the caller may read.
            for uri in &readable {
                let _ = sink.notify_resource_updated(*uri).await;
            }
        }
    }

    #[expect(deprecated, reason = "see the import")]
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        // 2026-07-28 removed the method: the level travels in each
        // request's `_meta` instead.
        if is_stateless_revision(&context) {
            return Err(McpError::method_not_found::<
                rmcp::model::SetLevelRequestMethod,
            >());
        }
        *self
            .log_level
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(request.level);
        Ok(())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        // A client's `_meta.traceparent` (SEP-414) continues its trace from
        // here on, inside the request's own span.
        let span = tracing::debug_span!(
            traces::MCP_CALL_SPAN,
            tool = %crate::catalogue::shorten(&request.name)
        );
        if let Some(parent) = context
            .meta
            .get_traceparent()
            .and_then(traces::parent_from_traceparent)
        {
            traces::continue_trace(&span, parent);
            traces::settle_sampling(&span);
        }
        self.call_tool_traced(request, context)
            .instrument(span)
            .await
    }
}

impl McpServer {
    async fn call_tool_traced(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        check_length("tool name", &request.name)?;
        let caller = caller(&context)?;
        let arguments = request.arguments.map_or(Value::Null, Value::Object);
        let token = context.meta.get_progress_token();
        let streams = accepts_event_stream(&context);
        let cancelled = context.ct.clone();
        let (client, notices) = ClientLink::new(
            token.is_some() && streams,
            self.log_level(&context).filter(|_| streams),
            Arc::new(move || cancelled.is_cancelled()),
        );
        let caller = Caller { client, ..caller };
        let channel = Channel::of(&context, request.input_responses.as_ref());
        // A retry's state is checked before anything else: it must be this
        // caller's, for this very call, unaltered, unexpired and unused.
        let mut progress = match request.request_state.as_deref() {
            Some(state) => self
                .states
                .open(state, &Binding::of(&caller, &request.name, &arguments))
                .await
                .map_err(|refusal| {
                    McpError::invalid_params(
                        refusal.to_string(),
                        Some(json!({ "tool": request.name })),
                    )
                })?,
            None => Progress::default(),
        };
        let approval = if progress.approved {
            Approval::Given
        } else {
            Approval::None
        };
        // Decided first: what a tool needs of the client is only told to a
        // caller who may call it.
        let authorized =
            match self
                .catalogue
                .authorize_with(&caller, &request.name, &arguments, approval)
            {
                Ok(authorized) => authorized,
                Err(CallRefusal::NeedsApproval { policies, .. }) => {
                    let pending = Pending {
                        catalogue: &self.catalogue,
                        states: &self.states,
                        caller: &caller,
                        tool: &request.name,
                        arguments: &arguments,
                        policies: &policies,
                    };
                    match pending.seek(&context, &channel, &mut progress).await? {
                        Sought::Answer(answer) => return Ok(*answer),
                        Sought::Given => self
                            .catalogue
                            .authorize_approved(&caller, &request.name, &arguments)
                            .map_err(|refusal| refusal_to_error(&context, refusal))?,
                    }
                }
                Err(refusal) => return Err(refusal_to_error(&context, refusal)),
            };
        check_client_capabilities(&self.catalogue, &request.name, &context)?;
        authorized
            .admit()
            .await
            .map_err(|refusal| refusal_to_error(&context, refusal))?;
        // Forwarding runs only for a client that wants progress or messages.
        let (finished, done) = tokio::sync::oneshot::channel();
        let forwarding = notices.map(|notices| {
            tokio::spawn(forward_notices(context.peer.clone(), token, notices, done))
        });
        // A call the client cancels (notifications/cancelled in a session,
        // or going away) is not waited for: its plugin is told through
        // is_cancelled and its slot stays taken until it returns.
        let cancelled = context.ct.clone();
        let can_ask = channel.can_ask(
            channel.offers_sampling() && self.catalogue.may_sample(&caller, &request.name),
        );
        let mut asking = Asking {
            can_ask,
            inputs: std::mem::take(&mut progress.answers),
        };
        // A retry's answers to what was asked before go to the tool's first
        // run, checked against the questions sealed in the state.
        let mut consumed = std::collections::HashSet::new();
        channel
            .take_pending(&progress.pending, &mut asking.inputs, &mut consumed)
            .map_err(|why| McpError::invalid_params(why, Some(json!({ "tool": request.name }))))?;
        let rounds = Rounds {
            tool: &request.name,
            channel: &channel,
            timeout: self.states.ttl(),
        };
        let outcome = tokio::select! {
            round = rounds.run(&authorized, arguments, asking, consumed) => Some(round),
            () = cancelled.cancelled() => None,
        };
        let _ = finished.send(());
        if let Some(forwarding) = forwarding {
            let _ = forwarding.await;
        }
        let result = match outcome {
            None => {
                self.catalogue.audit_cancelled(&caller, &request.name);
                return Err(McpError::invalid_request(
                    format!("the call to `{}` was cancelled by the client", request.name),
                    None,
                ));
            }
            Some(Round::Done(result)) => result,
            Some(Round::Invalid(why)) => {
                return Err(McpError::invalid_params(
                    why,
                    Some(json!({ "tool": request.name })),
                ));
            }
            Some(Round::Ask {
                requests,
                answers,
                arguments,
            }) => {
                let state = self
                    .states
                    .seal(
                        &Binding::of(&caller, &request.name, &arguments),
                        &Progress {
                            approved: progress.approved,
                            awaiting_approval: false,
                            answers,
                            approved_until: progress.approved_until,
                            pending: requests.clone(),
                        },
                    )
                    .map_err(|why| McpError::internal_error(why, None))?;
                let requests = super::asking::to_rmcp_all(&requests)?;
                return Ok(InputRequiredResult::new(Some(requests), Some(state)).into());
            }
        };
        let value = serde_json::to_value(&result)
            .map_err(|err| McpError::internal_error(format!("tool result: {err}"), None))?;
        let mut result: CallToolResult = serde_json::from_value(value)
            .map_err(|err| McpError::internal_error(format!("tool result: {err}"), None))?;
        // 2026-07-28 results say they are complete; rmcp drops the field for
        // older clients.
        result.result_type = Some(ResultType::COMPLETE);
        Ok(result.into())
    }
}

/// The `_meta` key under which a tool declares what it needs the client to
/// offer (`{"sampling": {}}`), as MCP `ClientCapabilities`.
const REQUIRED_CLIENT_CAPABILITIES: &str = "orchestrator-mcp/requiredClientCapabilities";

/// Refuses, with MCP's -32021, a call to a tool that needs a capability the
/// client did not declare. A client whose capabilities are unknown (a
/// 2025-era request outside a session) is let through.
fn check_client_capabilities(
    catalogue: &Catalogue,
    tool: &str,
    context: &RequestContext<RoleServer>,
) -> Result<(), McpError> {
    // Only plugins' tools declare needs; the descriptor is borrowed, as
    // this runs on every call.
    let Some(Value::Object(required)) = catalogue
        .plugins()
        .tool(tool)
        .and_then(|tool| tool.descriptor().get("_meta"))
        .and_then(|meta| meta.get(REQUIRED_CLIENT_CAPABILITIES))
    else {
        return Ok(());
    };
    let declared = context.meta.client_capabilities().or_else(|| {
        context
            .peer
            .peer_info()
            .map(|info| info.capabilities.clone())
    });
    let Some(declared) = declared else {
        return Ok(());
    };
    let declared = serde_json::to_value(declared).unwrap_or_default();
    let missing: serde_json::Map<String, Value> = required
        .iter()
        .filter(|(name, _)| declared.get(name.as_str()).is_none_or(Value::is_null))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let missing = serde_json::from_value(Value::Object(missing)).unwrap_or_default();
    Err(McpError::missing_required_client_capability(missing))
}

/// The longest name or URI a request may give: nothing the server serves
/// needs more, and an error never echoes a longer one back.
const MAX_NAME_BYTES: usize = 2048;

/// Refuses a `what` (a URI, a name) longer than [`MAX_NAME_BYTES`],
/// without echoing it.
fn check_length(what: &str, value: &str) -> Result<(), McpError> {
    if value.len() <= MAX_NAME_BYTES {
        return Ok(());
    }
    Err(McpError::invalid_params(
        format!(
            "the {what} is {} bytes; the server reads at most {MAX_NAME_BYTES}",
            value.len()
        ),
        None,
    ))
}

/// Each of `values` as the rmcp type `T`: what plugins declare was checked
/// at load, so a failure here is a fault in a plugin's answer.
fn convert_all<T: serde::de::DeserializeOwned>(values: Vec<Value>) -> Result<Vec<T>, McpError> {
    values
        .into_iter()
        .map(|value| {
            serde_json::from_value(value).map_err(|err| {
                McpError::internal_error(
                    format!("a plugin answered with something that is not valid MCP: {err}"),
                    None,
                )
            })
        })
        .collect()
}

/// The JSON-RPC error for a resource, prompt or completion that did not
/// happen; a denial also asks the transport for a 403 with a challenge.
fn item_refusal_to_error(context: &RequestContext<RoleServer>, refusal: ItemRefusal) -> McpError {
    let message = refusal.to_string();
    match refusal {
        // MCP (2026-07-28, SEP-2164): a missing resource is invalid params
        // naming the URI.
        ItemRefusal::NotFound { kind, name } => McpError::invalid_params(
            message,
            Some(match kind {
                policy::Kind::Resource => json!({ "uri": name }),
                _ => json!({ "name": name }),
            }),
        ),
        ItemRefusal::Denied {
            kind,
            name,
            accepted_scopes,
        } => {
            super::denial::report(context, &message, &accepted_scopes);
            let data = match kind {
                policy::Kind::Resource => {
                    json!({ "uri": name, "required_scopes": accepted_scopes })
                }
                _ => json!({ "name": name, "required_scopes": accepted_scopes }),
            };
            McpError::new(FORBIDDEN, message, Some(data))
        }
        ItemRefusal::InvalidArguments(_) => McpError::invalid_params(message, None),
        ItemRefusal::Failed(_) => McpError::internal_error(message, None),
        ItemRefusal::Busy(_) => McpError::internal_error(message, None),
    }
}

fn refusal_to_error(context: &RequestContext<RoleServer>, refusal: CallRefusal) -> McpError {
    let message = refusal.to_string();
    match refusal {
        // MCP asks for "Invalid params" when the tool does not exist.
        CallRefusal::UnknownTool(tool) => {
            McpError::invalid_params(message, Some(json!({ "tool": tool })))
        }
        CallRefusal::Denied {
            tool,
            accepted_scopes,
        } => {
            super::denial::report(context, &message, &accepted_scopes);
            McpError::new(
                FORBIDDEN,
                message,
                Some(json!({ "tool": tool, "required_scopes": accepted_scopes })),
            )
        }
        CallRefusal::NeedsApproval { tool, policies } => {
            super::denial::report_unchallenged(context, &message);
            McpError::new(
                FORBIDDEN,
                message,
                Some(json!({ "tool": tool, "approval_required": true, "policies": policies })),
            )
        }
        CallRefusal::OutsideSession { tool, .. } => {
            McpError::invalid_params(message, Some(json!({ "tool": tool })))
        }
        CallRefusal::BudgetSpent { tool, limit } => McpError::invalid_request(
            message,
            Some(json!({ "tool": tool, "max_tool_calls_per_request": limit })),
        ),
        CallRefusal::ToolRateLimited {
            tool,
            per_minute,
            retry_after_secs,
        } => {
            super::denial::report_limited(context, retry_after_secs, StatusCode::TOO_MANY_REQUESTS);
            McpError::invalid_request(
                message,
                Some(json!({
                    "tool": tool,
                    "rate_limit_per_minute": per_minute,
                    "retry_after_secs": retry_after_secs,
                })),
            )
        }
        CallRefusal::LimitUnavailable { tool } => {
            super::denial::report_limited(context, 1, StatusCode::SERVICE_UNAVAILABLE);
            McpError::internal_error(
                message,
                Some(json!({ "tool": tool, "retry_after_secs": 1 })),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_card_lists_the_versions_the_handler_speaks() {
        let spoken: Vec<&str> = SUPPORTED_VERSIONS
            .iter()
            .map(ProtocolVersion::as_str)
            .collect();
        assert_eq!(spoken, crate::catalogue::PROTOCOL_VERSIONS);
    }
}
