//! Writing the JSON that crosses the boundary on every call: the host's
//! call request and a typed tool's answer.
//!
//! Both are written with their keys as constant text, and with strings that
//! need no escaping copied as they are. The result is byte for byte what
//! serde_json writes for the same value (the tests hold it to that), at a
//! fraction of the cost: serde_json escapes every key of every struct anew,
//! one byte at a time, and on a call that does little else that is most of
//! the work of encoding.

use serde::Serialize;
use serde_json::Value;

use crate::types::{CallContext, PrincipalKind};

/// Appends the JSON of a [`CallRequest`](crate::CallRequest) for `tool`
/// with `arguments` and `context`, borrowing instead of copying them.
///
/// The bytes are those serde_json writes for the equivalent `CallRequest`;
/// a `None` context or tenant is left out, which readers take as absent.
///
/// # Errors
///
/// Only if `arguments` cannot be encoded, which a [`Value`] built by
/// serde_json never is.
pub fn write_call_request(
    out: &mut Vec<u8>,
    tool: &str,
    arguments: &Value,
    context: Option<&CallContext>,
) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"tool\":");
    write_str(out, tool);
    out.extend_from_slice(b",\"arguments\":");
    serde_json::to_writer(&mut *out, arguments)?;
    if let Some(context) = context {
        out.extend_from_slice(b",\"context\":");
        write_context(out, context);
    }
    out.push(b'}');
    Ok(())
}

fn write_context(out: &mut Vec<u8>, context: &CallContext) {
    out.extend_from_slice(b"{\"principal_id\":");
    write_str(out, &context.principal_id);
    out.extend_from_slice(b",\"principal_kind\":");
    out.extend_from_slice(match context.principal_kind {
        PrincipalKind::User => b"\"user\"".as_slice(),
        PrincipalKind::Machine => b"\"machine\"",
        PrincipalKind::Anonymous => b"\"anonymous\"",
    });
    out.extend_from_slice(b",\"scopes\":[");
    for (index, scope) in context.scopes.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_str(out, scope);
    }
    out.push(b']');
    if let Some(tenant) = &context.tenant {
        out.extend_from_slice(b",\"tenant\":");
        write_str(out, tenant);
    }
    out.extend_from_slice(b",\"request_id\":");
    write_str(out, &context.request_id);
    if !context.can_ask.is_empty() {
        out.extend_from_slice(b",\"can_ask\":[");
        for (index, kind) in context.can_ask.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(match kind {
                crate::InputKind::Elicitation => b"\"elicitation\"".as_slice(),
                crate::InputKind::Sampling => b"\"sampling\"",
                crate::InputKind::Roots => b"\"roots\"",
            });
        }
        out.push(b']');
    }
    if !context.inputs.is_empty() {
        out.extend_from_slice(b",\"inputs\":");
        // Answers are rare and small: serde_json writes them.
        let _ = serde_json::to_writer(&mut *out, &context.inputs);
    }
    out.push(b'}');
}

/// Appends a successful tool result in MCP's `CallToolResult` shape: one
/// text block holding `summary`, and `output` as the structured content.
///
/// # Errors
///
/// When `output` cannot be encoded (for example, a map with non-string
/// keys); `out` then holds part of the answer, for the caller to cut off.
pub(crate) fn write_structured_answer<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    summary: &str,
    output: &T,
) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"content\":[{\"type\":\"text\",\"text\":");
    write_str(out, summary);
    out.extend_from_slice(b"}],\"structuredContent\":");
    serde_json::to_writer(&mut *out, output)?;
    out.extend_from_slice(b",\"isError\":false}");
    Ok(())
}

/// Appends `text` as a JSON string. Most strings here (names, ids, scopes)
/// need no escaping and are copied whole; the rest go through serde_json.
fn write_str(out: &mut Vec<u8>, text: &str) {
    // Without an early exit the compiler checks many bytes at a time.
    let needs_escaping = text.bytes().fold(false, |found, byte| {
        found | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
    });
    if needs_escaping {
        // Writing a string to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CallRequest;
    use serde_json::{Map, json};

    /// Strings that need every kind of escape, and some that need none.
    const AWKWARD: [&str; 8] = [
        "",
        "plain-id_42",
        "quote \" and backslash \\",
        "control \u{1} \n \t \u{1f} end",
        "non-ASCII: é 漢字 🦀",
        "slash / and DEL \u{7f}",
        "\"",
        "\\",
    ];

    fn context(text: &str, kind: PrincipalKind, tenant: Option<&str>) -> CallContext {
        CallContext {
            principal_id: text.to_owned(),
            principal_kind: kind,
            scopes: vec![text.to_owned(), "tools:ping".to_owned()],
            tenant: tenant.map(str::to_owned),
            request_id: format!("{text}-request"),
            can_ask: Vec::new(),
            inputs: Map::new(),
        }
    }

    #[test]
    fn call_requests_are_written_as_serde_json_writes_them() {
        let arguments =
            json!({"code": "fn main() {}\n", "n": [1, 2.5, null], "nested": {"a": "\""}});
        for text in AWKWARD {
            for kind in [
                PrincipalKind::User,
                PrincipalKind::Machine,
                PrincipalKind::Anonymous,
            ] {
                for tenant in [None, Some(text)] {
                    let context = context(text, kind, tenant);
                    let mut written = Vec::new();
                    write_call_request(&mut written, text, &arguments, Some(&context))
                        .expect("encodes");
                    let expected = serde_json::to_vec(&CallRequest {
                        tool: text.to_owned(),
                        arguments: arguments.as_object().cloned().unwrap_or_default(),
                        context: Some(context),
                    })
                    .expect("encodes");
                    assert_eq!(
                        String::from_utf8_lossy(&written),
                        String::from_utf8_lossy(&expected)
                    );
                }
            }
        }
    }

    #[test]
    fn what_a_tool_may_ask_and_its_answers_are_written_as_serde_json_writes_them() {
        let mut context = context("U1", PrincipalKind::User, None);
        context.can_ask = vec![
            crate::InputKind::Elicitation,
            crate::InputKind::Sampling,
            crate::InputKind::Roots,
        ];
        context.inputs = json!({"port": {"action": "accept", "content": {"port": 8080}}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut written = Vec::new();
        write_call_request(&mut written, "deploy_plan", &json!({}), Some(&context))
            .expect("encodes");
        let expected = serde_json::to_vec(&CallRequest {
            tool: "deploy_plan".to_owned(),
            arguments: Map::new(),
            context: Some(context),
        })
        .expect("encodes");
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&expected)
        );
    }

    #[test]
    fn a_call_request_without_context_leaves_it_out() {
        let mut written = Vec::new();
        write_call_request(&mut written, "ping", &json!({}), None).expect("encodes");
        assert_eq!(written, br#"{"tool":"ping","arguments":{}}"#);
        let read: CallRequest = serde_json::from_slice(&written).expect("decodes");
        assert_eq!(read.context, None);
    }

    /// A `CallToolResult` with one text block, as serde derives it.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct DerivedAnswer<'a> {
        content: [DerivedTextBlock<'a>; 1],
        structured_content: &'a Value,
        is_error: bool,
    }

    #[derive(Serialize)]
    struct DerivedTextBlock<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        text: &'a str,
    }

    #[test]
    fn structured_answers_are_written_as_serde_json_writes_them() {
        let output = json!({"pong": true, "message": "a \"quoted\" line\n", "n": 1});
        for summary in AWKWARD {
            let mut written = Vec::new();
            write_structured_answer(&mut written, summary, &output).expect("encodes");
            let expected = serde_json::to_vec(&DerivedAnswer {
                content: [DerivedTextBlock {
                    kind: "text",
                    text: summary,
                }],
                structured_content: &output,
                is_error: false,
            })
            .expect("encodes");
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
        }
    }

    #[test]
    fn an_output_that_cannot_be_encoded_is_an_error() {
        let output: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let mut written = Vec::new();
        assert!(write_structured_answer(&mut written, "sum", &output).is_err());
    }
}
