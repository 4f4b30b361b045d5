//! `mcp_direct`: a `POST /mcp` body as the direct path reads it.
//!
//! The direct path serves a stateless 2026-07-28 `tools/call` without
//! rmcp's service, reading the body with a parser of its own. Whatever it
//! reads, rmcp must read too, as the same call: the same id, tool,
//! arguments, `_meta`, input responses and request state. A body rmcp
//! refuses, or reads as another message, must be left to rmcp.

use rmcp::model::{ClientJsonRpcMessage, ClientRequest, GetMeta as _, JsonRpcRequest};
use serde_json::json;
use server::fuzzing;

/// The `mcp_direct` target.
pub fn mcp_direct(data: &[u8]) {
    let Some(direct) = fuzzing::mcp_direct_call(data) else {
        return;
    };
    let body = String::from_utf8_lossy(data);
    let message = match serde_json::from_slice::<ClientJsonRpcMessage>(data) {
        Ok(message) => message,
        Err(err) => panic!("the direct path reads a body rmcp refuses ({err}): {body}"),
    };
    let ClientJsonRpcMessage::Request(JsonRpcRequest { id, request, .. }) = message else {
        panic!("the direct path reads a call from a body rmcp reads as another message: {body}");
    };
    let meta = request.get_meta().clone();
    let ClientRequest::CallToolRequest(call) = request else {
        panic!("the direct path reads a call from a body rmcp reads as another request: {body}");
    };
    let read_by_rmcp = json!({
        "id": id,
        "name": call.params.name,
        "arguments": call.params.arguments,
        "_meta": meta,
        "inputResponses": call.params.input_responses,
        "requestState": call.params.request_state,
    });
    assert_eq!(
        direct, read_by_rmcp,
        "the direct path (left) and rmcp (right) read another call from {body}"
    );
}
