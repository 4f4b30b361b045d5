//! Asking the client during a call: a person's approval of the call, and
//! (through the same exchange) the input a tool asks for.
//!
//! Two protocol generations ask differently. A 2026-07-28 client gets an
//! input-required result with the requests and a sealed `requestState`,
//! and retries the call with the answers (`Channel::Retry`). A 2025-era
//! client in a session is sent `elicitation/create`, `sampling/createMessage`
//! or `roots/list` on the call's own stream, and the call waits for the
//! answer (`Channel::Stream`). Anything else cannot be asked.

use rmcp::model::{ClientCapabilities, ElicitRequestParams, ProtocolVersion};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::{Map, Value, json};

use crate::catalogue::Caller;

/// The key under which the server asks for a person's approval, among the
/// input requests of a 2026-07-28 input-required result. Tools' own keys
/// may not start with `orchestrator-mcp/`.
pub(super) const APPROVAL_KEY: &str = "orchestrator-mcp/approval";

/// The longest the comment of an approval may be.
const MAX_COMMENT_CHARS: u64 = 500;

/// How much of the arguments an approval form shows before it says how
/// much it left out.
const MAX_SUMMARY_CHARS: usize = 4000;

/// How the client of a call can be asked something.
pub(super) enum Channel {
    /// MCP 2026-07-28: the answer is an input-required result, and the
    /// client's retry brings the responses.
    Retry {
        offers: Offers,
        /// The responses the request carries, by key.
        responses: Map<String, Value>,
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

impl Channel {
    /// How the client of the request in `context` can be asked; `responses`
    /// are the request's `inputResponses`.
    pub(super) fn of(
        context: &RequestContext<RoleServer>,
        responses: Option<&std::collections::BTreeMap<String, Value>>,
    ) -> Self {
        let stateless = context
            .meta
            .protocol_version()
            .is_some_and(|version| version.as_str() >= ProtocolVersion::V_2026_07_28.as_str());
        if stateless {
            let offers = context
                .meta
                .client_capabilities()
                .map(|capabilities| Offers::of(&capabilities))
                .unwrap_or_default();
            return Self::Retry {
                offers,
                responses: responses
                    .map(|responses| {
                        responses
                            .iter()
                            .map(|(key, value)| (key.clone(), value.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
            };
        }
        // Only a session has a client that answers requests: a stateless
        // 2025-era request has nobody listening for them.
        match context.peer.peer_info() {
            Some(info) => Self::Stream {
                offers: Offers::of(&info.capabilities),
                peer: context.peer.clone(),
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
        .map(|tenant| format!(", tenant {tenant}"))
        .unwrap_or_default();
    let message = format!(
        "Approve this call to `{tool}`?\n\n\
         Caller: {} ({}{tenant})\n\
         Arguments:\n{}\n\
         Required by policy: {}\n\n\
         Accept runs it once, with exactly these arguments. Decline or cancel refuses it, and nothing runs.",
        principal.id,
        principal.kind.as_str(),
        summarize(arguments),
        policies.join(", "),
    );
    serde_json::from_value(json!({
        "mode": "form",
        "message": message,
        "requestedSchema": approval_schema(),
    }))
    .map_err(|err| McpError::internal_error(format!("the approval form: {err}"), None))
}

/// The arguments as a person reads them: one line per argument, values as
/// JSON, cut (saying so) past [`MAX_SUMMARY_CHARS`].
fn summarize(arguments: &Value) -> String {
    let lines: Vec<String> = match arguments {
        Value::Object(fields) if !fields.is_empty() => fields
            .iter()
            .map(|(name, value)| format!("  {name}: {value}"))
            .collect(),
        Value::Object(_) | Value::Null => vec!["  (none)".to_owned()],
        other => vec![format!("  {other}")],
    };
    let text = lines.join("\n");
    match text.char_indices().nth(MAX_SUMMARY_CHARS) {
        None => text,
        Some((end, _)) => format!(
            "{}\n  … ({} more characters not shown; the approval holds only for the arguments as sent)",
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
    fn a_long_argument_summary_says_what_it_left_out() {
        let summary = summarize(&json!({"code": "x".repeat(MAX_SUMMARY_CHARS * 2)}));
        assert!(summary.contains("more characters not shown"), "{summary}");
        assert!(summary.chars().count() < MAX_SUMMARY_CHARS + 200);
        assert_eq!(summarize(&json!({})), "  (none)");
    }
}
