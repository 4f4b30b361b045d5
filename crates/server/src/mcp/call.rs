//! A tool call over MCP, whichever way it came: through rmcp's service
//! (sessions, 2025-era clients, calls that stream notices) or the direct
//! path (`direct.rs`), which answers a stateless 2026-07-28 call in JSON
//! without one. Both run [`call_tool`] with a [`CallContext`], so the
//! decision, the approval, the questions and the call itself are one code.

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, InputRequiredResult,
    ProgressNotificationParam, ProgressToken, RequestMetaObject,
};
#[expect(
    deprecated,
    reason = "MCP 2026-07-28 deprecates logging (SEP-2577); 2025 clients still set a level"
)]
use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::approval::{Pending, Sought};
use super::asking::{Channel, Round, Rounds};
use super::declared::Declared;
use super::denial::DenialSlot;
use super::refusals::{check_length, refusal_to_error};
use super::request_state::{Binding, Progress, RequestStates};
use super::session_settings::SessionSettings;
use crate::catalogue::{Approval, Asking, CallRefusal, Caller, Catalogue, ClientLink, Notice};
use crate::telemetry::traces;

/// Marks a request whose client accepts only JSON (or says nothing of what
/// it accepts): its call reports no progress and sends no messages, so the
/// answer stays plain JSON.
#[derive(Clone, Copy, Debug)]
pub(super) struct JsonOnly;

/// What a tool call knows of the request it came in.
pub(super) struct CallContext {
    /// The request's `_meta`.
    pub(super) meta: RequestMetaObject,
    /// Where the client declared what it can do, as `_meta` says.
    pub(super) declared: Declared,
    /// The token the client wants progress reported under, from `_meta`.
    pub(super) progress_token: Option<ProgressToken>,
    /// Who calls: the HTTP layers' caller, narrowed to the session's
    /// settings.
    pub(super) caller: Caller,
    /// The client's end of a stream, for notices and 2025-era requests;
    /// none on the direct path, which sends neither.
    pub(super) peer: Option<Peer<RoleServer>>,
    /// Whether the client reads an event stream, which notices need.
    pub(super) streams: bool,
    /// The least severe log message the client wants, if any.
    pub(super) log_level: Option<plugin_host::LogLevel>,
    /// Where a denial is left for the guard's HTTP status.
    pub(super) denial: Option<DenialSlot>,
    /// Cancelled when the client cancels the call or goes away.
    pub(super) ct: CancellationToken,
}

impl CallContext {
    /// The context of a request rmcp's service hands the handler;
    /// `session_level` is the level a 2025-era session set.
    #[expect(deprecated, reason = "see the import")]
    pub(super) fn of_rmcp(
        context: RequestContext<RoleServer>,
        session_level: Option<LoggingLevel>,
    ) -> Result<Self, McpError> {
        let parts = context.extensions.get::<http::request::Parts>();
        let caller = caller_of(parts)?;
        let streams = parts.is_some_and(|parts| parts.extensions.get::<JsonOnly>().is_none());
        let denial = parts
            .and_then(|parts| parts.extensions.get::<DenialSlot>())
            .cloned();
        let declared = Declared::of(&context.meta);
        let level = match declared {
            Declared::InRequest(_) => context.meta.log_level(),
            Declared::AtInitialize => session_level,
        };
        Ok(Self {
            log_level: level.map(plugin_level),
            progress_token: context.meta.get_progress_token(),
            declared,
            meta: context.meta,
            caller,
            peer: Some(context.peer),
            streams,
            denial,
            ct: context.ct,
        })
    }

    /// Whether notices can reach the client: it reads a stream, and there
    /// is one to send them on.
    fn notices_reach(&self) -> bool {
        self.streams && self.peer.is_some()
    }
}

/// The plugin's name for a client's log level.
#[expect(deprecated, reason = "see the import")]
pub(super) fn plugin_level(level: LoggingLevel) -> plugin_host::LogLevel {
    match level {
        LoggingLevel::Debug => plugin_host::LogLevel::DEBUG,
        LoggingLevel::Info | LoggingLevel::Notice => plugin_host::LogLevel::INFO,
        LoggingLevel::Warning => plugin_host::LogLevel::WARN,
        _ => plugin_host::LogLevel::ERROR,
    }
}

/// The authenticated caller that the HTTP layers put on the request, narrowed
/// to the session's settings (which the `/mcp` guard read from the URL) for
/// this call and every call its tool makes.
pub(super) fn caller_of(parts: Option<&http::request::Parts>) -> Result<Caller, McpError> {
    let session = parts
        .and_then(|parts| parts.extensions.get::<SessionSettings>())
        .cloned()
        .unwrap_or_default();
    narrowed(parts.and_then(|parts| parts.extensions.get()), session)
}

/// The `caller` the HTTP layers recorded, narrowed to `session`.
pub(super) fn narrowed(
    caller: Option<&Caller>,
    session: SessionSettings,
) -> Result<Caller, McpError> {
    caller
        .cloned()
        .map(|caller| Caller {
            session: Arc::new(session),
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

/// Calls a tool for the client of `context`, in a span of its own that
/// continues the client's trace (`_meta.traceparent`, SEP-414).
pub(super) async fn call_tool(
    catalogue: &Catalogue,
    states: &RequestStates,
    request: CallToolRequestParams,
    context: CallContext,
) -> Result<CallToolResponse, McpError> {
    let span = tracing::debug_span!(
        traces::MCP_CALL_SPAN,
        // A name the client sent: escaped, so it cannot break a log line.
        tool = %crate::catalogue::shorten(&request.name).escape_debug()
    );
    if let Some(parent) = context
        .meta
        .get_traceparent()
        .and_then(traces::parent_from_traceparent)
    {
        traces::continue_trace(&span, parent);
        traces::settle_sampling(&span);
    }
    traced(catalogue, states, request, context)
        .instrument(span)
        .await
}

async fn traced(
    catalogue: &Catalogue,
    states: &RequestStates,
    request: CallToolRequestParams,
    context: CallContext,
) -> Result<CallToolResponse, McpError> {
    check_length("tool name", &request.name)?;
    let denial = context.denial.as_ref();
    let arguments = request.arguments.map_or(Value::Null, Value::Object);
    let token = context.progress_token.clone();
    let streams = context.notices_reach();
    let cancelled = context.ct.clone();
    let (client, notices) = ClientLink::new(
        token.is_some() && streams,
        context.log_level.filter(|_| streams),
        Arc::new(move || cancelled.is_cancelled()),
    );
    let caller = Caller {
        client,
        ..context.caller.clone()
    };
    let channel = Channel::of(
        &context.declared,
        context.peer.as_ref(),
        request.input_responses.as_ref(),
    );
    // A retry's state is checked before anything else: it must be this
    // caller's, for this very call, unaltered, unexpired and unused.
    let mut progress = match request.request_state.as_deref() {
        Some(state) => states
            .open(state, &Binding::of(&caller, &request.name, &arguments))
            .await
            .map_err(|refusal| {
                McpError::invalid_params(refusal.to_string(), Some(json!({ "tool": request.name })))
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
    let authorized = match catalogue.authorize_with(&caller, &request.name, &arguments, approval) {
        Ok(authorized) => authorized,
        Err(CallRefusal::NeedsApproval { policies, .. }) => {
            let pending = Pending {
                catalogue,
                states,
                caller: &caller,
                tool: &request.name,
                arguments: &arguments,
                policies: &policies,
            };
            match pending
                .seek(
                    &context.ct,
                    context.denial.as_ref(),
                    &channel,
                    &mut progress,
                )
                .await?
            {
                Sought::Answer(answer) => return Ok(*answer),
                Sought::Given => catalogue
                    .authorize_approved(&caller, &request.name, &arguments)
                    .map_err(|refusal| refusal_to_error(denial, refusal))?,
            }
        }
        Err(refusal) => return Err(refusal_to_error(denial, refusal)),
    };
    // Allowed, and audited so: from here on a call that does not finish is
    // audited as cancelled, unless it is refused first.
    let mut unfinished = Unfinished {
        catalogue,
        caller: &caller,
        tool: &request.name,
        armed: true,
    };
    let admitted = match check_client_capabilities(catalogue, &request.name, &context) {
        Ok(()) => authorized
            .admit()
            .await
            .map_err(|refusal| refusal_to_error(denial, refusal)),
        Err(error) => Err(error),
    };
    if let Err(error) = admitted {
        unfinished.armed = false;
        return Err(error);
    }
    // Forwarding runs only for a client that wants progress or messages.
    let forwarding = match (notices, &context.peer) {
        (Some(notices), Some(peer)) => {
            let (finished, done) = tokio::sync::oneshot::channel();
            let forwarding = tokio::spawn(forward_notices(peer.clone(), token, notices, done));
            Some((finished, forwarding))
        }
        _ => None,
    };
    // A call the client cancels (notifications/cancelled in a session,
    // or going away) is not waited for: its plugin is told through
    // is_cancelled and its slot stays taken until it returns.
    let cancelled = context.ct.clone();
    let can_ask =
        channel.can_ask(channel.offers_sampling() && catalogue.may_sample(&caller, &request.name));
    let mut asking = Asking {
        can_ask,
        inputs: std::mem::take(&mut progress.answers),
    };
    // A retry's answers to what was asked before go to the tool's first
    // run, checked against the questions sealed in the state.
    let mut consumed = std::collections::HashSet::new();
    if let Err(why) = channel.take_pending(&progress.pending, &mut asking.inputs, &mut consumed) {
        unfinished.armed = false;
        return Err(McpError::invalid_params(
            why,
            Some(json!({ "tool": request.name })),
        ));
    }
    let rounds = Rounds {
        tool: &request.name,
        channel: &channel,
        timeout: states.ttl(),
    };
    let outcome = tokio::select! {
        round = rounds.run(&authorized, arguments, asking, consumed) => Some(round),
        () = cancelled.cancelled() => None,
    };
    if let Some((finished, forwarding)) = forwarding {
        let _ = finished.send(());
        let _ = forwarding.await;
    }
    let result = match outcome {
        None => {
            return Err(McpError::invalid_request(
                format!("the call to `{}` was cancelled by the client", request.name),
                None,
            ));
        }
        Some(round) => {
            unfinished.armed = false;
            round
        }
    };
    let result = match result {
        Round::Done(result) => result,
        Round::Invalid(why) => {
            return Err(McpError::invalid_params(
                why,
                Some(json!({ "tool": request.name })),
            ));
        }
        Round::Ask {
            requests,
            answers,
            arguments,
        } => {
            let state = states
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
    // Built from the parts, not read back from the result written out as
    // JSON: only the content blocks need reading, and a block rmcp cannot
    // read is a fault in the plugin's answer.
    let plugin_host::ToolResult {
        content,
        structured_content,
        is_error,
        ..
    } = result;
    let content = content_blocks(content)
        .map_err(|err| McpError::internal_error(format!("tool result: {err}"), None))?;
    // 2026-07-28 results say they are complete (`success` marks them so);
    // rmcp drops the field for older clients.
    let mut result = CallToolResult::success(content);
    result.structured_content = structured_content;
    result.is_error = Some(is_error);
    Ok(result.into())
}

/// A plugin's content blocks as rmcp's. A block of plain text, what nearly
/// every tool answers, is made as it is; any other is read as rmcp reads
/// it (serde reads a tagged enum through a buffer of its own, at several
/// times the cost).
fn content_blocks(content: Vec<Value>) -> Result<Vec<ContentBlock>, serde_json::Error> {
    content
        .into_iter()
        .map(|block| match plain_text(block) {
            Ok(text) => Ok(ContentBlock::text(text)),
            Err(block) => serde_json::from_value(block),
        })
        .collect()
}

/// The text of a block that is `{"type": "text", "text": …}` and nothing
/// else; any other block back as it was.
fn plain_text(block: Value) -> Result<String, Value> {
    let Value::Object(fields) = block else {
        return Err(block);
    };
    // Two fields are looked at in turn: cheaper than hashing their names.
    let plain = fields.len() == 2
        && fields.iter().all(|(name, value)| match name.as_str() {
            "type" => value.as_str() == Some("text"),
            "text" => value.is_string(),
            _ => false,
        });
    if !plain {
        return Err(Value::Object(fields));
    }
    let text = fields.into_iter().find_map(|(name, value)| match value {
        Value::String(text) if name == "text" => Some(text),
        _ => None,
    });
    Ok(text.expect("a plain text block has a text, as just checked"))
}

/// Audits an allowed call as cancelled unless it finished or was refused:
/// whether the client cancelled it (its token fired) or went away and the
/// request was dropped mid-call, as the direct path's is. A call that
/// panics was not cancelled.
struct Unfinished<'a> {
    catalogue: &'a Catalogue,
    caller: &'a Caller,
    tool: &'a str,
    armed: bool,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if self.armed && !std::thread::panicking() {
            self.catalogue.audit_cancelled(self.caller, self.tool);
        }
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
    context: &CallContext,
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
    let in_session = || {
        context
            .peer
            .as_ref()
            .and_then(Peer::peer_info)
            .map(|info| Cow::Owned(info.capabilities.clone()))
    };
    let declared = match &context.declared {
        Declared::InRequest(Some(capabilities)) => Some(Cow::Borrowed(capabilities)),
        // Capabilities that do not read: the session's, if it has any.
        Declared::InRequest(None) => in_session(),
        // An earlier revision's request that names capabilities in its
        // `_meta` anyway is taken at its word before its session.
        Declared::AtInitialize => context
            .meta
            .client_capabilities()
            .map(Cow::Owned)
            .or_else(in_session),
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    /// rmcp's own reading of content blocks, which the plain-text path
    /// must agree with.
    fn read_by_rmcp(content: &[Value]) -> Result<Vec<ContentBlock>, String> {
        serde_json::from_value(Value::Array(content.to_vec())).map_err(|err| err.to_string())
    }

    #[test]
    fn content_blocks_are_read_as_rmcp_reads_them() {
        let cases = [
            json!([{"type": "text", "text": "pong"}]),
            json!([{"text": "key order", "type": "text"}, {"type": "text", "text": ""}]),
            json!([{"type": "text", "text": "with annotations", "annotations": {"priority": 0.5}}]),
            json!([{"type": "text", "text": "with meta", "_meta": {"a": 1}}]),
            json!([{"type": "text", "text": "an unknown field", "colour": "red"}]),
            json!([{"type": "image", "data": "aGk=", "mimeType": "image/png"}]),
            json!([{"type": "text", "text": 7}]),
            json!([{"type": "text"}]),
            json!([{"type": "text", "other": "x"}]),
            json!([{"type": "sound", "text": "x"}]),
            json!([{"type": 1, "text": "x"}]),
            json!(["text"]),
            json!([null]),
            json!([]),
        ];
        for case in cases {
            let Value::Array(content) = case else {
                unreachable!("every case is an array");
            };
            let expected = read_by_rmcp(&content);
            let read = content_blocks(content.clone()).map_err(|err| err.to_string());
            assert_eq!(read, expected, "{content:?}");
        }
    }
}
