//! Asking the client during a call: a person's approval of the call, and
//! (through the same exchange) the input a tool asks for.
//!
//! Two protocol generations ask differently. A 2026-07-28 client gets an
//! input-required result with the requests and a sealed `requestState`,
//! and retries the call with the answers (`Channel::Retry`). A 2025-era
//! client in a session is sent `elicitation/create`, `sampling/createMessage`
//! or `roots/list` on the call's own stream, and the call waits for the
//! answer (`Channel::Stream`). Anything else cannot be asked.

#![expect(
    deprecated,
    reason = "MCP 2026-07-28 deprecates sampling and roots (SEP-2577); clients still offer them"
)]

use plugin_host::{InputKind, InputRequests};
use rmcp::model::{
    ClientCapabilities, CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams,
    InputRequest, ListRootsResult,
};
use rmcp::service::Peer;
use rmcp::{ErrorData as McpError, RoleServer};
use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::declared::Declared;
use crate::catalogue::{Asking, AuthorizedCall, Caller};

/// The key under which the server asks for a person's approval, among the
/// input requests of a 2026-07-28 input-required result. Tools' own keys
/// may not start with `orchestrator-mcp/`.
pub(super) const APPROVAL_KEY: &str = "orchestrator-mcp/approval";

/// The longest the comment of an approval may be.
const MAX_COMMENT_CHARS: u64 = 500;

/// How much of one argument's value an approval form shows before it says
/// how much it left out.
const MAX_VALUE_CHARS: usize = 300;

/// The most arguments an approval form shows: a call with more cannot be
/// approved.
const MAX_SHOWN_ARGUMENTS: usize = 40;

/// How the client of a call can be asked something.
pub(super) enum Channel<'a> {
    /// MCP 2026-07-28: the answer is an input-required result, and the
    /// client's retry brings the responses.
    Retry {
        offers: Offers,
        /// The responses the request carries, by key.
        responses: &'a std::collections::BTreeMap<String, Value>,
    },
    /// A 2025-era session: requests go on the call's stream.
    Stream {
        offers: Offers,
        peer: Peer<RoleServer>,
    },
    /// A client that cannot be asked anything: a 2025-era request outside
    /// a session, or one whose client declared nothing it could answer.
    Closed,
}

/// What the client said it can answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Offers {
    pub(super) elicitation: bool,
    pub(super) sampling: bool,
    pub(super) roots: bool,
}

impl Offers {
    fn of(capabilities: &ClientCapabilities) -> Self {
        Self {
            elicitation: capabilities.elicitation.is_some(),
            sampling: capabilities.sampling.is_some(),
            roots: capabilities.roots.is_some(),
        }
    }
}

impl<'a> Channel<'a> {
    /// How the client of a request can be asked, as it `declared` itself,
    /// `peer` being the client's end of a stream if it has one;
    /// `responses` are the request's `inputResponses`.
    pub(super) fn of(
        declared: &Declared,
        peer: Option<&Peer<RoleServer>>,
        responses: Option<&'a std::collections::BTreeMap<String, Value>>,
    ) -> Self {
        if let Declared::InRequest(capabilities) = declared {
            return Self::Retry {
                offers: capabilities.as_ref().map(Offers::of).unwrap_or_default(),
                responses: responses.unwrap_or(&NO_RESPONSES),
            };
        }
        // Only a session has a client that answers requests: a stateless
        // 2025-era request has nobody listening for them.
        match peer.and_then(|peer| Some((peer, peer.peer_info()?))) {
            Some((peer, info)) => Self::Stream {
                offers: Offers::of(&info.capabilities),
                peer: peer.clone(),
            },
            None => Self::Closed,
        }
    }

    /// Whether the client can show a person a form.
    pub(super) fn can_elicit(&self) -> bool {
        match self {
            Self::Retry { offers, .. } | Self::Stream { offers, .. } => offers.elicitation,
            Self::Closed => false,
        }
    }

    /// Whether the client offers sampling at all (before asking the
    /// policies whether the tool may use it).
    pub(super) fn offers_sampling(&self) -> bool {
        match self {
            Self::Retry { offers, .. } | Self::Stream { offers, .. } => offers.sampling,
            Self::Closed => false,
        }
    }

    /// What a tool may ask this client for; sampling only where
    /// `may_sample` (the policies let the tool spend the user's model).
    pub(super) fn can_ask(&self, may_sample: bool) -> Vec<InputKind> {
        let offers = match self {
            Self::Retry { offers, .. } | Self::Stream { offers, .. } => *offers,
            Self::Closed => return Vec::new(),
        };
        let mut kinds = Vec::new();
        if offers.elicitation {
            kinds.push(InputKind::Elicitation);
        }
        if offers.sampling && may_sample {
            kinds.push(InputKind::Sampling);
        }
        if offers.roots {
            kinds.push(InputKind::Roots);
        }
        kinds
    }

    /// Puts a tool's (or a prompt's) `requests` to the client and records
    /// the answers in `answers`. On a 2025 session's stream every request
    /// is asked and answered here; in a 2026-07-28 retry the answers are
    /// taken from the request, and what is still unanswered is returned, to
    /// be asked in an input-required result.
    ///
    /// A response is used once (`consumed`): a tool that asks the same key
    /// again is asked anew rather than handed the answer it refused.
    pub(super) async fn put(
        &self,
        requests: &InputRequests,
        answers: &mut Map<String, Value>,
        consumed: &mut HashSet<String>,
        timeout: std::time::Duration,
    ) -> Result<InputRequests, Unasked> {
        check_requests(requests)?;
        let mut unanswered = InputRequests::new();
        for (key, request) in requests {
            let kind = request
                .kind()
                .ok_or_else(|| Unasked::Tool(format!("asked `{key}` with `{}`", request.method)))?;
            // Checked to be valid MCP whichever way it is asked.
            to_rmcp(key, request)?;
            let answer = match self {
                Self::Retry { responses, .. } => match responses.get(key) {
                    Some(answer) if consumed.insert(key.clone()) => answer.clone(),
                    _ => {
                        unanswered.insert(key.clone(), request.clone());
                        continue;
                    }
                },
                Self::Stream { peer, .. } => {
                    ask_on_stream(peer, key, kind, request, timeout).await?
                }
                Self::Closed => {
                    return Err(Unasked::Tool(format!(
                        "asked `{key}`, and this client cannot be asked anything"
                    )));
                }
            };
            let answer = check_answer(key, kind, request, answer).map_err(Unasked::Answer)?;
            answers.insert(key.clone(), answer);
        }
        Ok(unanswered)
    }

    /// Takes a 2026-07-28 retry's answers to what the call asked before
    /// (`pending`, sealed in its `requestState`), so that the tool runs with
    /// them at once. Each is checked against its request.
    pub(super) fn take_pending(
        &self,
        pending: &InputRequests,
        answers: &mut Map<String, Value>,
        consumed: &mut HashSet<String>,
    ) -> Result<(), String> {
        let Self::Retry { responses, .. } = self else {
            return Ok(());
        };
        for (key, request) in pending {
            let (Some(answer), Some(kind)) = (responses.get(key), request.kind()) else {
                continue;
            };
            let answer = check_answer(key, kind, request, answer.clone())?;
            consumed.insert(key.clone());
            answers.insert(key.clone(), answer);
        }
        Ok(())
    }
}

/// `requests` as rmcp's, for an input-required result.
pub(super) fn to_rmcp_all(
    requests: &InputRequests,
) -> Result<rmcp::model::InputRequests, McpError> {
    requests
        .iter()
        .map(|(key, request)| {
            to_rmcp(key, request)
                .map(|request| (key.clone(), request))
                .map_err(|unasked| match unasked {
                    Unasked::Tool(why) | Unasked::Answer(why) | Unasked::Client(why) => {
                        McpError::internal_error(why, None)
                    }
                })
        })
        .collect()
}

/// The responses of a retry that sent none.
static NO_RESPONSES: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();

/// The most times one request may run a tool that keeps asking.
const MAX_ROUNDS: usize = 8;

/// How a call's rounds of asking ended.
pub(super) enum Round {
    /// The tool answered (or failed, or was refused what it asked).
    Done(plugin_host::ToolResult),
    /// The client's answer does not fit what was asked.
    Invalid(String),
    /// A 2026-07-28 client must answer these first; they, the answers so
    /// far and the arguments go into the `requestState`.
    Ask {
        requests: InputRequests,
        answers: Map<String, Value>,
        arguments: Value,
    },
}

/// Runs a tool, asking its client for what it needs, and runs it again
/// with the answers, until it answers.
pub(super) struct Rounds<'a> {
    pub(super) tool: &'a str,
    pub(super) channel: &'a Channel<'a>,
    /// How long a person has to answer on a session's stream.
    pub(super) timeout: std::time::Duration,
}

impl Rounds<'_> {
    pub(super) async fn run(
        &self,
        call: &AuthorizedCall<'_>,
        arguments: Value,
        mut asking: Asking,
        mut consumed: HashSet<String>,
    ) -> Round {
        // Kept only where the tool can ask, and so may run again.
        let again = (!asking.can_ask.is_empty()).then(|| arguments.clone());
        let mut result = match call.invoke(arguments, &asking).await {
            Ok(result) => result,
            // A busy server is a tool error the caller reads and may retry.
            Err(busy) => return Round::Done(plugin_host::ToolResult::error(busy.to_string())),
        };
        for _ in 1..MAX_ROUNDS {
            let (Some(requests), Some(again)) = (result.input_requests.take(), &again) else {
                return Round::Done(result);
            };
            match self
                .channel
                .put(&requests, &mut asking.inputs, &mut consumed, self.timeout)
                .await
            {
                Ok(unanswered) if unanswered.is_empty() => {}
                Ok(requests) => {
                    return Round::Ask {
                        requests,
                        answers: asking.inputs,
                        arguments: again.clone(),
                    };
                }
                Err(Unasked::Answer(why)) => return Round::Invalid(why),
                Err(Unasked::Tool(why)) => {
                    return Round::Done(plugin_host::ToolResult::error(format!(
                        "`{}` {why}",
                        self.tool
                    )));
                }
                Err(Unasked::Client(why)) => {
                    return Round::Done(plugin_host::ToolResult::error(format!(
                        "`{}` could not be given what it asked for: {why}. Nothing was done.",
                        self.tool
                    )));
                }
            }
            result = match call.invoke(again.clone(), &asking).await {
                Ok(result) => result,
                Err(busy) => return Round::Done(plugin_host::ToolResult::error(busy.to_string())),
            };
        }
        if result.input_requests.is_some() {
            return Round::Done(plugin_host::ToolResult::error(format!(
                "`{}` asked for input {MAX_ROUNDS} times in one request, the most a tool may; nothing more was asked",
                self.tool
            )));
        }
        Round::Done(result)
    }
}

/// The most requests one round of asking may make.
const MAX_REQUESTS: usize = 8;

/// The longest key a tool may ask under.
const MAX_KEY_CHARS: usize = 100;

/// Why a tool's requests were not put to the client.
#[derive(Debug)]
pub(super) enum Unasked {
    /// The tool asked for something it may not: a tool error, saying what.
    Tool(String),
    /// The client's answer does not fit what was asked: invalid params.
    Answer(String),
    /// The client failed to answer on its stream: a tool error.
    Client(String),
}

fn check_requests(requests: &InputRequests) -> Result<(), Unasked> {
    if requests.is_empty() || requests.len() > MAX_REQUESTS {
        return Err(Unasked::Tool(format!(
            "asked for {} inputs at once; a tool may ask for 1 to {MAX_REQUESTS}",
            requests.len()
        )));
    }
    for key in requests.keys() {
        if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
            return Err(Unasked::Tool(format!(
                "asked under a key of {} characters; keys have 1 to {MAX_KEY_CHARS}",
                key.chars().count()
            )));
        }
        if key.starts_with("orchestrator-mcp/") {
            return Err(Unasked::Tool(format!(
                "asked under `{}`; keys starting with `orchestrator-mcp/` are the server's",
                crate::catalogue::shorten(key)
            )));
        }
    }
    Ok(())
}

/// A tool's request as rmcp's, checked to be valid MCP.
fn to_rmcp(key: &str, request: &plugin_host::InputRequest) -> Result<InputRequest, Unasked> {
    serde_json::from_value(json!({"method": request.method, "params": request.params})).map_err(
        |err| {
            Unasked::Tool(format!(
                "asked `{key}` with a `{}` request MCP does not allow: {err}",
                request.method
            ))
        },
    )
}

/// Asks one request on a 2025 session's stream; the client's answer as
/// JSON.
async fn ask_on_stream(
    peer: &Peer<RoleServer>,
    key: &str,
    kind: InputKind,
    request: &plugin_host::InputRequest,
    timeout: std::time::Duration,
) -> Result<Value, Unasked> {
    let invalid = |err: serde_json::Error| {
        Unasked::Tool(format!(
            "asked `{key}` with a `{}` request MCP does not allow: {err}",
            request.method
        ))
    };
    let failed = |err: rmcp::service::ServiceError| {
        Unasked::Client(format!("the client did not answer `{key}`: {err}"))
    };
    let answer = match kind {
        InputKind::Elicitation => {
            let params: ElicitRequestParams =
                serde_json::from_value(request.params.clone()).map_err(invalid)?;
            serde_json::to_value(
                peer.create_elicitation_with_timeout(params, Some(timeout))
                    .await
                    .map_err(failed)?,
            )
        }
        InputKind::Sampling => {
            let params: CreateMessageRequestParams =
                serde_json::from_value(request.params.clone()).map_err(invalid)?;
            // A client or its user may decline to spend the model, or take
            // too long: the tool hears so and answers without it.
            match tokio::time::timeout(timeout, peer.create_message(params)).await {
                Ok(Ok(answer)) => serde_json::to_value(answer),
                Ok(Err(err)) => Ok(json!({ "declined": err.to_string() })),
                Err(_) => Ok(json!({ "declined": "the client did not answer in time" })),
            }
        }
        InputKind::Roots => {
            #[expect(deprecated, reason = "2025-era clients still list roots")]
            let roots = tokio::time::timeout(timeout, peer.list_roots())
                .await
                .map_err(|_| {
                    Unasked::Client(format!(
                        "the client did not list its roots for `{key}` in time"
                    ))
                })?
                .map_err(failed)?;
            serde_json::to_value(roots)
        }
    };
    answer.map_err(|err| Unasked::Client(format!("the answer to `{key}`: {err}")))
}

/// Whether a sampling answer says the client would not sample: the
/// server's own note for a client that refused on a session's stream, or a
/// JSON-RPC error object a 2026-07-28 client sends instead of a result.
fn declined(answer: &Value) -> bool {
    answer.get("declined").is_some_and(Value::is_string)
        || (answer.get("code").is_some_and(Value::is_i64)
            && answer.get("message").is_some_and(Value::is_string)
            && answer.get("content").is_none())
}

/// Checks the client's answer to the request under `key`: the answer a
/// tool may see (a form's fields cut to those it asked for), or what is
/// wrong with it.
fn check_answer(
    key: &str,
    kind: InputKind,
    request: &plugin_host::InputRequest,
    answer: Value,
) -> Result<Value, String> {
    let answer = &answer;
    let checked = match kind {
        InputKind::Elicitation => {
            let schema = request
                .params
                .get("requestedSchema")
                .cloned()
                .unwrap_or_default();
            return match read_form_answer(key, &schema, answer)? {
                FormAnswer::Accepted(fields) => Ok(json!({"action": "accept", "content": fields})),
                FormAnswer::Declined => Ok(json!({"action": "decline"})),
                FormAnswer::Cancelled => Ok(json!({"action": "cancel"})),
            };
        }
        // A declined request is an answer too: the tool goes on without
        // the model.
        InputKind::Sampling if declined(answer) => Ok(()),
        InputKind::Sampling => serde_json::from_value::<CreateMessageResult>(answer.clone())
            .map(drop)
            .map_err(|err| {
                format!(
                    "the response to `{key}` is not a sampling result (role, content, model): {err}"
                )
            }),
        InputKind::Roots => serde_json::from_value::<ListRootsResult>(answer.clone())
            .map(drop)
            .map_err(|err| {
                format!(
                    "the response to `{key}` is not a roots list (`roots`: [{{uri, name}}]): {err}"
                )
            }),
    };
    checked.map(|()| answer.clone())
}

/// What a person answered to a form.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum FormAnswer {
    /// They submitted it, with these fields.
    Accepted(Map<String, Value>),
    /// They said no.
    Declined,
    /// They dismissed it without answering.
    Cancelled,
}

/// Reads a client's answer to the form whose schema is `schema`, asked
/// under `key`: an `ElicitResult` whose content, when accepted, fits the
/// schema. The error names what is wrong, for an invalid-params error.
pub(super) fn read_form_answer(
    key: &str,
    schema: &Value,
    answer: &Value,
) -> Result<FormAnswer, String> {
    let Some(object) = answer.as_object() else {
        return Err(format!(
            "the response to `{key}` is {}, not an elicitation result (an object with `action`: accept, decline or cancel)",
            kind(answer)
        ));
    };
    match object.get("action").and_then(Value::as_str) {
        Some("accept") => {}
        Some("decline") => return Ok(FormAnswer::Declined),
        Some("cancel") => return Ok(FormAnswer::Cancelled),
        Some(other) => {
            return Err(format!(
                "the response to `{key}` has action `{}`; it must be accept, decline or cancel",
                crate::catalogue::shorten(other)
            ));
        }
        None => {
            return Err(format!(
                "the response to `{key}` has no `action`; it must be accept, decline or cancel"
            ));
        }
    }
    let content = match object.get("content") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(content)) => content.clone(),
        Some(other) => {
            return Err(format!(
                "the response to `{key}` has content that is {}, not an object of the form's fields",
                kind(other)
            ));
        }
    };
    check_form(schema, &content).map_err(|why| format!("the response to `{key}`: {why}"))?;
    // Only the fields the form asked for go on: the rest are ignored, and
    // neither reach the tool nor grow the state.
    let declared = schema.get("properties").and_then(Value::as_object);
    let content = content
        .into_iter()
        .filter(|(name, _)| declared.is_some_and(|fields| fields.contains_key(name)))
        .collect();
    Ok(FormAnswer::Accepted(content))
}

/// Checks the fields of a submitted form against the form's schema (MCP's
/// restricted elicitation schema: flat, primitive fields), naming the first
/// field that does not fit.
pub(super) fn check_form(schema: &Value, content: &Map<String, Value>) -> Result<(), String> {
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let required = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect::<Vec<_>>())
        .unwrap_or_default();
    for name in required {
        if !content.contains_key(name) {
            return Err(format!("field `{name}` is required but missing"));
        }
    }
    for (name, value) in content {
        // Fields the form did not ask for are ignored, as MCP asks of
        // servers for information they do not recognise.
        let Some(field) = properties.get(name) else {
            continue;
        };
        check_field(field, value).map_err(|why| format!("field `{name}` {why}"))?;
    }
    Ok(())
}

fn check_field(field: &Value, value: &Value) -> Result<(), String> {
    let declared = field
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("string");
    match (declared, value) {
        ("string", Value::String(text)) => {
            let length = text.chars().count() as u64;
            if let Some(max) = field.get("maxLength").and_then(Value::as_u64)
                && length > max
            {
                return Err(format!(
                    "is {length} characters long; at most {max} are allowed"
                ));
            }
            if let Some(min) = field.get("minLength").and_then(Value::as_u64)
                && length < min
            {
                return Err(format!(
                    "is {length} characters long; at least {min} are needed"
                ));
            }
            check_choice(field, value)
        }
        ("number", Value::Number(_)) | ("integer", Value::Number(_)) => {
            let number = value.as_f64().unwrap_or_default();
            if declared == "integer" && !(value.is_i64() || value.is_u64()) {
                return Err(format!("is {value}, not a whole number"));
            }
            if let Some(min) = field.get("minimum").and_then(Value::as_f64)
                && number < min
            {
                return Err(format!("is {value}, below the minimum {min}"));
            }
            if let Some(max) = field.get("maximum").and_then(Value::as_f64)
                && number > max
            {
                return Err(format!("is {value}, above the maximum {max}"));
            }
            Ok(())
        }
        ("boolean", Value::Bool(_)) => Ok(()),
        ("array", Value::Array(items)) => {
            let Some(item) = field.get("items") else {
                return Ok(());
            };
            for chosen in items {
                check_choice(item, chosen)?;
            }
            Ok(())
        }
        (declared, value) => Err(format!(
            "is {}, but the form asks for {declared}",
            kind(value)
        )),
    }
}

/// Checks a value against the choices a field offers (`enum`, or the
/// `const`s of `oneOf`/`anyOf`), when it offers any.
fn check_choice(field: &Value, value: &Value) -> Result<(), String> {
    let mut choices: Vec<&Value> = Vec::new();
    if let Some(Value::Array(values)) = field.get("enum") {
        choices.extend(values);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(options)) = field.get(key) {
            choices.extend(options.iter().filter_map(|option| option.get("const")));
        }
    }
    if choices.is_empty() || choices.contains(&value) {
        return Ok(());
    }
    let offered: Vec<String> = choices.iter().map(ToString::to_string).collect();
    Err(format!(
        "is {value}, which is not one of {}",
        offered.join(", ")
    ))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The approval form's schema: nothing is required; accepting is the
/// approval, and a comment may go with it into the audit log.
pub(super) fn approval_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "comment": {
                "type": "string",
                "title": "Comment",
                "description": "Optional: a note for the audit log",
                "maxLength": MAX_COMMENT_CHARS,
            }
        },
        "required": [],
    })
}

/// The approval form for `caller` calling `tool` with `arguments`, which
/// `policies` allow only once a person approves.
pub(super) fn approval_form(
    caller: &Caller,
    tool: &str,
    arguments: &Value,
    policies: &[String],
) -> Result<ElicitRequestParams, McpError> {
    let principal = &caller.principal;
    let tenant = principal
        .tenant
        .as_deref()
        .map(|tenant| format!(", tenant {}", Value::String(tenant.to_owned())))
        .unwrap_or_default();
    let summary = summarize(arguments)
        .map_err(|why| McpError::invalid_params(why, Some(json!({ "tool": tool }))))?;
    let message = format!(
        "Approve this call to `{tool}`?\n\n\
         Caller: {} ({}{tenant})\n\
         Arguments:\n{summary}\n\
         Required by policy: {}\n\n\
         Accept runs it once, with exactly these arguments. Decline or cancel refuses it, and nothing runs.",
        Value::String(principal.id.clone()),
        principal.kind.as_str(),
        policies.join(", "),
    );
    serde_json::from_value(json!({
        "mode": "form",
        "message": message,
        "requestedSchema": approval_schema(),
    }))
    .map_err(|err| McpError::internal_error(format!("the approval form: {err}"), None))
}

/// The arguments as a person reads them: one line per argument, sorted by
/// name, names and values as JSON (so no name or value can pass for another
/// line), each value cut past [`MAX_VALUE_CHARS`] saying how much was left
/// out. Refused when there are more arguments than a form can show.
fn summarize(arguments: &Value) -> Result<String, String> {
    let fields = match arguments {
        Value::Object(fields) if !fields.is_empty() => fields,
        Value::Object(_) | Value::Null => return Ok("  (none)".to_owned()),
        other => return Ok(format!("  {}", shown(other))),
    };
    if fields.len() > MAX_SHOWN_ARGUMENTS {
        return Err(format!(
            "the call has {} arguments, and an approval form shows at most {MAX_SHOWN_ARGUMENTS}: a person could not see what they approve",
            fields.len()
        ));
    }
    let mut names: Vec<&String> = fields.keys().collect();
    names.sort_unstable();
    let lines: Vec<String> = names
        .into_iter()
        .filter_map(|name| {
            let value = fields.get(name)?;
            Some(format!(
                "  {}: {}",
                Value::String(name.clone()),
                shown(value)
            ))
        })
        .collect();
    Ok(lines.join("\n"))
}

/// A value as JSON, cut past [`MAX_VALUE_CHARS`] saying how much was left
/// out.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        None => text,
        Some((end, _)) => format!(
            "{}… ({} more characters not shown; the approval holds only for the value as sent)",
            &text[..end],
            text[end..].chars().count()
        ),
    }
}

/// The comment an accepted approval carries, if any.
pub(super) fn comment(fields: &Map<String, Value>) -> Option<String> {
    fields
        .get("comment")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|comment| !comment.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_that_does_not_fit_the_form_is_refused_naming_the_field() {
        let schema = json!({
            "type": "object",
            "properties": {
                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "template": {"type": "string", "enum": ["rust-axum", "python-fastapi"]},
                "verbose": {"type": "boolean"},
            },
            "required": ["port"],
        });
        let read = |answer: Value| read_form_answer("ask", &schema, &answer);
        assert_eq!(
            read(json!({"action": "accept", "content": {"port": 8080}})),
            Ok(FormAnswer::Accepted(
                json!({"port": 8080})
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            ))
        );
        for (answer, named) in [
            (
                json!({"action": "accept", "content": {}}),
                "field `port` is required",
            ),
            (
                json!({"action": "accept", "content": {"port": "80"}}),
                "field `port` is a string",
            ),
            (
                json!({"action": "accept", "content": {"port": 8.5}}),
                "not a whole number",
            ),
            (
                json!({"action": "accept", "content": {"port": 70000}}),
                "above the maximum",
            ),
            (
                json!({"action": "accept", "content": {"port": 1, "template": "go"}}),
                "field `template` is \"go\", which is not one of",
            ),
            (
                json!({"action": "accept", "content": {"port": 1, "verbose": "yes"}}),
                "field `verbose` is a string",
            ),
            (json!(12345), "is a number, not an elicitation result"),
            (json!({"content": {}}), "has no `action`"),
            (json!({"action": "maybe"}), "action `maybe`"),
        ] {
            let refused = read(answer.clone()).expect_err(&answer.to_string());
            assert!(refused.contains(named), "{refused} should say {named}");
            assert!(refused.starts_with("the response to `ask`"), "{refused}");
        }
        assert_eq!(read(json!({"action": "decline"})), Ok(FormAnswer::Declined));
        assert_eq!(read(json!({"action": "cancel"})), Ok(FormAnswer::Cancelled));
    }

    #[test]
    fn a_long_value_cannot_push_another_argument_out_of_the_approval_form() {
        let summary = summarize(&json!({
            "env": {"NOTE": "x".repeat(10_000)},
            "environment": "production",
        }))
        .expect("shown");
        assert!(summary.contains("more characters not shown"), "{summary}");
        assert!(
            summary.contains("\"environment\": \"production\""),
            "{summary}"
        );
        assert!(summary.chars().count() < 2 * MAX_VALUE_CHARS + 200);
        assert_eq!(summarize(&json!({})).as_deref(), Ok("  (none)"));
    }

    #[test]
    fn an_argument_name_cannot_pass_for_another_line_of_the_form() {
        let summary = summarize(&json!({"a\nRequired by policy: none": 1})).expect("shown");
        assert_eq!(summary.lines().count(), 1, "{summary}");
        let many: Map<String, Value> = (0..=MAX_SHOWN_ARGUMENTS)
            .map(|index| (format!("a{index}"), json!(index)))
            .collect();
        let refused = summarize(&Value::Object(many)).expect_err("too many to show");
        assert!(refused.contains("at most 40"), "{refused}");
    }
}
