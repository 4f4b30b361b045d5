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
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::ClientJsonRpcMessage;
use serde_json::{Value, json};

use super::AppState;
use super::body::read_limited;
use super::error::ApiError;

/// JSON-RPC: the body is not JSON.
const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: the body is JSON but not a valid request.
const INVALID_REQUEST: i64 = -32600;

pub(crate) async fn check_jsonrpc(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
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
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(err) => {
            return jsonrpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                PARSE_ERROR,
                format!("Parse error: the body is not valid JSON: {err}"),
            );
        }
    };
    if let Err(err) = serde_json::from_value::<ClientJsonRpcMessage>(value.clone()) {
        let id = value
            .get("id")
            .filter(|id| id.is_string() || id.is_number())
            .cloned()
            .unwrap_or(Value::Null);
        return jsonrpc_error(
            StatusCode::BAD_REQUEST,
            id,
            INVALID_REQUEST,
            format!(
                "Invalid Request: not a JSON-RPC 2.0 request or notification this server understands: {err}"
            ),
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn jsonrpc_error(status: StatusCode, id: Value, code: i64, message: String) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code, "message": message },
    });
    (status, Json(body)).into_response()
}
