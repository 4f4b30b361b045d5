//! Entry points for the fuzz targets (`fuzz/` at the workspace root): thin
//! wrappers over what the MCP door does with a request before the MCP
//! service sees it, so the fuzzer meets exactly the code a request meets.
//! Not a stable interface.

use std::collections::BTreeSet;

use serde_json::Value;

use rmcp::model::{ClientJsonRpcMessage, ClientRequest, JsonRpcRequest};

use super::guard;
use super::session_settings::SessionSettings;

/// What the `/mcp` guard makes of a request body.
#[derive(Debug)]
pub enum GuardOutcome {
    /// Answered by the guard: the HTTP status and the JSON-RPC error body.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The JSON-RPC error object.
        body: Value,
    },
    /// Passed on to the MCP service.
    Passed {
        /// For a `tools/call`, the tool and the arguments the handler
        /// decides, as read from the message.
        tool_call: Option<(String, Value)>,
    },
}

/// Reads a `POST /mcp` body as the guard does when the MCP service refused
/// it (JSON, then JSON-RPC), and the `tools/call` a readable one names.
pub fn mcp_guard(body: &[u8]) -> GuardOutcome {
    match guard::read_message(body) {
        Ok(message) => GuardOutcome::Passed {
            tool_call: tool_call(&message),
        },
        Err(refusal) => GuardOutcome::Refused {
            status: refusal.status.as_u16(),
            body: refusal.body(),
        },
    }
}

/// What the direct path reads from a `POST /mcp` body it would serve
/// itself: the `tools/call`'s `id`, `name`, `arguments`, `_meta`,
/// `inputResponses` and `requestState`, as one JSON object (`_meta` `{}`
/// when absent, as the call sees it); `None` for a body it leaves to rmcp.
pub fn mcp_direct_call(body: &[u8]) -> Option<Value> {
    let call = super::direct::read_call(body)?;
    Some(serde_json::json!({
        "id": call.id,
        "name": call.params.name,
        "arguments": call.params.arguments,
        "_meta": call.params.meta.unwrap_or_default(),
        "inputResponses": call.params.input_responses,
        "requestState": call.params.request_state,
    }))
}

/// What a session's settings narrow its tools to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrowing {
    /// `readOnly`: only read-only tools.
    pub read_only: bool,
    /// `tools`: only these tools; `None` narrows nothing.
    pub tools: Option<BTreeSet<String>>,
}

/// Reads the session settings from a `/mcp` URL's query as the guard does;
/// `Err` is the message a client gets for malformed settings.
pub fn session_settings(uri: &http::Uri) -> Result<Narrowing, String> {
    SessionSettings::from_uri(uri).map(|settings| Narrowing {
        read_only: settings.read_only,
        tools: settings.tools,
    })
}

/// A `tools/call` request's tool and arguments (`null` when it sends none).
fn tool_call(message: &ClientJsonRpcMessage) -> Option<(String, Value)> {
    let ClientJsonRpcMessage::Request(JsonRpcRequest {
        request: ClientRequest::CallToolRequest(call),
        ..
    }) = message
    else {
        return None;
    };
    let arguments = call
        .params
        .arguments
        .clone()
        .map_or(Value::Null, Value::Object);
    Some((call.params.name.to_string(), arguments))
}
