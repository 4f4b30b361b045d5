//! `mcp_guard`: a `POST /mcp` body through the guard that checks it before
//! the MCP service sees it.
//!
//! The guard exists so that clients get JSON-RPC errors, never the MCP
//! transport's plain-text ones: a body it refuses gets a well-formed
//! JSON-RPC error, and a body it passes must be one the transport (which
//! reads the same bytes again) understands.

use rmcp::model::{ClientJsonRpcMessage, ClientRequest, JsonRpcRequest};
use serde_json::Value;
use server::fuzzing::{self, GuardOutcome};

/// JSON-RPC's parse error and invalid request codes: the only errors the
/// guard answers for a body's shape.
const GUARD_CODES: [i64; 2] = [-32700, -32600];

/// The `mcp_guard` target.
pub fn mcp_guard(data: &[u8]) {
    match fuzzing::mcp_guard(data) {
        GuardOutcome::Refused { status, body } => {
            assert_eq!(status, 400, "a refused body is a bad request: {body}");
            assert_eq!(body["jsonrpc"], "2.0", "{body}");
            assert!(
                body["error"]["code"]
                    .as_i64()
                    .is_some_and(|code| GUARD_CODES.contains(&code)),
                "{body}"
            );
            assert!(body["error"]["message"].is_string(), "{body}");
            let id = &body["id"];
            assert!(
                id.is_null() || id.is_string() || id.is_number(),
                "an error answers with the request's id or null: {body}"
            );
        }
        GuardOutcome::Passed { tool_call } => {
            let message = match serde_json::from_slice::<ClientJsonRpcMessage>(data) {
                Ok(message) => message,
                Err(err) => panic!(
                    "the guard passed a body the MCP transport refuses ({err}): {}",
                    String::from_utf8_lossy(data)
                ),
            };
            // The guard asks the policies about the call the handler will
            // make, not another one.
            let dispatched = match message {
                ClientJsonRpcMessage::Request(JsonRpcRequest {
                    request: ClientRequest::CallToolRequest(call),
                    ..
                }) => Some((
                    call.params.name.into_owned(),
                    call.params.arguments.map_or(Value::Null, Value::Object),
                )),
                _ => None,
            };
            assert_eq!(
                tool_call,
                dispatched,
                "the guard and the MCP service read another tool call from {}",
                String::from_utf8_lossy(data)
            );
        }
    }
}
