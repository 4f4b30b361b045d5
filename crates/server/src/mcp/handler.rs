//! The MCP handler: tools, resources, prompts, completion and logging,
//! through the catalogue.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult,
    CompletionInfo, GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation,
    InitializeResult, InputRequiredResult, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, Prompt, PromptMessage,
    ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    Reference, Resource, ResourceContents, ResourceTemplate, ServerCapabilities, ServerConfig,
    Tool,
};
#[expect(
    deprecated,
    reason = "MCP 2026-07-28 deprecates logging (SEP-2577); 2025 clients still set a level"
)]
use rmcp::model::{LoggingLevel, SetLevelRequestParams};
use rmcp::model::{SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Value, json};

use super::asking::{Channel, Unasked};
use super::call::{self, CallContext};
use super::declared::{self, Declared};
use super::denial;
use super::refusals::{check_length, item_refusal_to_error};
use super::request_state::{Binding, Progress, RequestStates};
use super::subscriptions::{
    CHANGED_WITH_POLICIES, LISTENS_PER_PRINCIPAL, Listeners, MAX_LISTENS, ResourceSubscriptions,
    notify_session,
};
use crate::catalogue::{Asking, Caller, Catalogue, Prompted};

/// The most times one `prompts/get` may render a prompt that keeps asking.
const MAX_PROMPT_ROUNDS: usize = 8;

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
}

/// The caller of a request rmcp hands the handler.
fn caller(context: &RequestContext<RoleServer>) -> Result<Caller, McpError> {
    call::caller_of(context.extensions.get::<http::request::Parts>())
}

fn to_tool(descriptor: &Value) -> Option<Tool> {
    serde_json::from_value(descriptor.clone()).ok()
}

/// Every tool's MCP object, read from its descriptor once. rmcp asks for a
/// tool on every call (to check the `Mcp-Name` and `Mcp-Param-*` headers
/// against its schema), and reading a descriptor into a `Tool` each time
/// cost more than the rest of the lookup; tools never change while the
/// server runs.
pub(crate) struct ToolObjects(std::collections::HashMap<String, ToolObject>);

struct ToolObject {
    tool: Tool,
    /// Whether its input schema has an argument travel in a header
    /// (`x-mcp-header`, SEP-2243).
    header_arguments: bool,
}

impl ToolObjects {
    pub(crate) fn of(catalogue: &Catalogue) -> Self {
        Self(
            catalogue
                .tool_names()
                .into_iter()
                .filter_map(|name| {
                    let descriptor = catalogue.descriptor(name)?;
                    let header_arguments = descriptor
                        .get("inputSchema")
                        .is_some_and(names_header_arguments);
                    let tool = to_tool(&descriptor)?;
                    Some((
                        name.to_owned(),
                        ToolObject {
                            tool,
                            header_arguments,
                        },
                    ))
                })
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&Tool> {
        self.0.get(name).map(|object| &object.tool)
    }

    /// Whether `name` is a tool whose input schema has an argument travel
    /// in a header, which only rmcp's path checks.
    pub(super) fn has_header_arguments(&self, name: &str) -> bool {
        self.0
            .get(name)
            .is_some_and(|object| object.header_arguments)
    }
}

/// Whether a schema has an `x-mcp-header` key anywhere in it.
fn names_header_arguments(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => {
            map.contains_key("x-mcp-header") || map.values().any(names_header_arguments)
        }
        Value::Array(items) => items.iter().any(names_header_arguments),
        _ => false,
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
            .map_err(|refusal| item_refusal_to_error(denial::slot(&context), refusal))?;
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
        let channel = Channel::of(
            &Declared::of(&context.meta),
            Some(&context.peer),
            request.input_responses.as_ref(),
        );
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
                .map_err(|refusal| item_refusal_to_error(denial::slot(&context), refusal))?;
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
            .map_err(|refusal| item_refusal_to_error(denial::slot(&context), refusal))?;
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
            .map_err(|refusal| item_refusal_to_error(denial::slot(&context), refusal))?;
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
        if declared::is_stateless_revision(&context.meta) {
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
        let session_level = *self
            .log_level
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let context = CallContext::of_rmcp(context, session_level)?;
        call::call_tool(&self.catalogue, &self.states, request, context).await
    }
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
