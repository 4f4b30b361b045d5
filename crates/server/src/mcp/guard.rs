//! Checks on `POST /mcp` bodies before the MCP service sees them.
//!
//! The streamable HTTP transport answers an unparsable body with a plain-text
//! error. Clients expect JSON-RPC: `-32700` for a body that is not JSON,
//! `-32600` for JSON that is not a JSON-RPC message, with HTTP 400 as the
//! transport specification asks. Reading the body here also applies
//! `MAX_REQUEST_SIZE_MB` with a JSON-RPC error body.

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, JsonRpcRequest, RequestId};
use serde_json::{Value, json};

use super::McpState;
use super::handler::FORBIDDEN;
use super::session::SessionSettings;
use crate::catalogue::{CallRefusal, Caller};
use crate::web::{ApiError, Challenge, bearer_challenge, read_limited};

/// JSON-RPC: the body is not JSON.
const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: the body is JSON but not a valid request.
const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC: the parameters (here, the session's settings) are invalid.
const INVALID_PARAMS: i64 = -32602;

pub(super) async fn check_jsonrpc(
    State(state): State<McpState>,
    mut request: Request,
    next: Next,
) -> Response {
    match SessionSettings::from_uri(request.uri()) {
        Ok(settings) => {
            request.extensions_mut().insert(settings);
        }
        Err(message) => {
            return jsonrpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                INVALID_PARAMS,
                message,
            );
        }
    }
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match read_limited(&parts.headers, body, state.max_request_bytes).await {
        Ok(bytes) => bytes,
        Err(err @ ApiError::PayloadTooLarge { .. }) => {
            return jsonrpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                Value::Null,
                INVALID_REQUEST,
                err.to_string(),
            );
        }
        Err(err) => {
            return jsonrpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                INVALID_REQUEST,
                err.to_string(),
            );
        }
    };
    let message = match read_message(&bytes) {
        Ok(message) => message,
        Err(refusal) => return refusal.into_response(),
    };
    if let Some(response) = refuse_denied_call(&state, &parts, &message) {
        return response;
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A body the guard answers itself, with a JSON-RPC error.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) status: StatusCode,
    /// The request's id, when it has one a response may carry.
    id: Value,
    code: i64,
    message: String,
}

impl Refusal {
    /// The JSON-RPC error object answered.
    pub(super) fn body(&self) -> Value {
        error_body(&self.id, self.code, &self.message)
    }

    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// Reads a whole `POST /mcp` body: the JSON-RPC message, or the error to
/// answer instead.
///
/// The message is read exactly as the MCP transport reads it again (typed,
/// from the bytes), so a body passed here is never one the transport
/// refuses with plain text: read as a JSON value first, a body with a
/// repeated key (`"id"` twice, say) passed here, the last one winning, and
/// the transport then refused it.
pub(super) fn read_message(bytes: &[u8]) -> Result<ClientJsonRpcMessage, Refusal> {
    serde_json::from_slice::<ClientJsonRpcMessage>(bytes).map_err(|err| {
        // Only a refused body is read again, to tell text that is not JSON
        // from JSON that is not a message, and to find an id to answer with.
        match serde_json::from_slice::<Value>(bytes) {
            Err(parse) => Refusal {
                status: StatusCode::BAD_REQUEST,
                id: Value::Null,
                code: PARSE_ERROR,
                message: format!("Parse error: the body is not valid JSON: {parse}"),
            },
            Ok(value) => Refusal {
                status: StatusCode::BAD_REQUEST,
                id: value
                    .get("id")
                    .filter(|id| id.is_string() || id.is_number())
                    .cloned()
                    .unwrap_or(Value::Null),
                code: INVALID_REQUEST,
                message: format!(
                    "Invalid Request: not a JSON-RPC 2.0 request or notification this server understands: {err}"
                ),
            },
        }
    })
}

/// A `tools/call` request: its id, the tool it names and its arguments
/// (`null` when it sends none), as the MCP service will dispatch it.
pub(super) fn tool_call(message: &ClientJsonRpcMessage) -> Option<(&RequestId, &str, Value)> {
    let ClientJsonRpcMessage::Request(JsonRpcRequest {
        id,
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
    Some((id, &call.params.name, arguments))
}

/// A `tools/call` the policies deny is answered here with HTTP 403 and an
/// `insufficient_scope` challenge naming the scopes that would be accepted,
/// so MCP clients can ask the user for more (step-up authorization). The
/// body is the JSON-RPC error the call would have got.
fn refuse_denied_call(
    state: &McpState,
    parts: &axum::http::request::Parts,
    message: &ClientJsonRpcMessage,
) -> Option<Response> {
    let (id, tool, arguments) = tool_call(message)?;
    let caller = parts.extensions.get::<Caller>()?;
    let refusal = state.catalogue.denial(caller, tool, &arguments)?;
    let CallRefusal::Denied {
        accepted_scopes, ..
    } = &refusal
    else {
        return None;
    };
    let base = state.base.for_request(&parts.headers);
    let challenge = bearer_challenge(&Challenge {
        error: Some("insufficient_scope"),
        description: Some(refusal.to_string()),
        resource_metadata: Some(format!("{base}/.well-known/oauth-protected-resource/mcp")),
        scope: Some(accepted_scopes.join(" ")).filter(|s| !s.is_empty()),
    });
    let body = json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": FORBIDDEN.0,
            "message": refusal.to_string(),
            "data": { "tool": tool, "required_scopes": accepted_scopes },
        },
    });
    let mut response = (StatusCode::FORBIDDEN, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    Some(response)
}

fn jsonrpc_error(status: StatusCode, id: Value, code: i64, message: String) -> Response {
    Refusal {
        status,
        id,
        code,
        message,
    }
    .into_response()
}

fn error_body(id: &Value, code: i64, message: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code, "message": message },
    })
}
