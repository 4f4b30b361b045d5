//! Checks on `POST /mcp` bodies before the MCP service sees them.
//!
//! The streamable HTTP transport answers an unparsable body with a plain-text
//! error. Clients expect JSON-RPC: `-32700` for a body that is not JSON,
//! `-32600` for JSON that is not a JSON-RPC message, with HTTP 400 as the
//! transport specification asks. Reading the body here also applies
//! `MAX_REQUEST_SIZE_MB` with a JSON-RPC error body.

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rmcp::model::ClientJsonRpcMessage;
use serde_json::{Value, json};

use super::McpState;
use super::call::JsonOnly;
use super::denial::DenialSlot;
use super::session_settings::SessionSettings;
use crate::web::{ApiError, read_limited};

/// JSON-RPC: the body is not JSON.
const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: the body is JSON but not a valid request.
const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC: the parameters (here, the session's settings) are invalid.
const INVALID_PARAMS: i64 = -32602;

/// Checks `request` and serves it: with `next`, unless the direct path
/// answers it.
pub(super) async fn serve<Served>(
    state: &McpState,
    mut request: Request,
    next: impl FnOnce(Request) -> Served,
) -> Response
where
    Served: Future<Output = Response>,
{
    let settings = match SessionSettings::from_uri(request.uri()) {
        Ok(settings) => settings,
        Err(message) => {
            return jsonrpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                INVALID_PARAMS,
                message,
            );
        }
    };
    let session = request
        .headers()
        .get(MCP_SESSION_ID)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if let Some(session) = &session {
        // A session is only ever its own principal's.
        if !state
            .sessions
            .owned_anywhere(session, &principal_of(request.extensions()))
            .await
        {
            return session_not_found();
        }
    }
    if request.method() != Method::POST {
        let extensions = request.extensions_mut();
        extensions.insert(settings);
        extensions.insert(match session {
            Some(_) => Route::Session,
            None => Route::Stateless,
        });
        return next(request).await;
    }
    let (mut parts, body) = request.into_parts();
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
    let json_only = !accepts_event_stream(&parts.headers);
    if json_only {
        // The transport insists on both types; a client that reads only
        // JSON is answered in JSON, and is sent nothing before its answer.
        parts.headers.insert(
            axum::http::header::ACCEPT,
            axum::http::HeaderValue::from_static("application/json, text/event-stream"),
        );
    }
    let route = if session.is_some() {
        Route::Session
    } else if !json_only && opens_session(&parts.headers, &bytes) && state.sessions.has_room() {
        // A session answers in streams: none for a client that cannot read
        // them. A full server answers initialize statelessly rather than
        // close anyone else's session.
        Route::OpenSession(principal_of(&parts.extensions))
    } else {
        Route::Stateless
    };
    let denial = DenialSlot::default();
    // The direct path is told what the service would read from the
    // request's extensions, which it then does not need.
    if route == Route::Stateless {
        let request = super::direct::Stateless {
            parts: &parts,
            settings: &settings,
            json_only,
            denial: &denial,
        };
        if let Some(mut response) = super::direct::serve(state, request, &bytes).await {
            denial.apply(&mut response, || state.base.for_request(&parts.headers));
            return response;
        }
    }
    let extensions = &mut parts.extensions;
    extensions.insert(settings);
    extensions.insert(route);
    extensions.insert(denial.clone());
    if json_only {
        extensions.insert(JsonOnly);
    }
    let base = state.base.for_request(&parts.headers);
    // The MCP service parses the body; only a body it refuses is read here
    // again, to answer JSON-RPC instead of its plain text.
    let mut response = next(Request::from_parts(parts, Body::from(bytes.clone()))).await;
    denial.apply(&mut response, || base);
    if refused_in_plain_text(&response)
        && let Err(refusal) = read_message(&bytes)
    {
        return refusal.into_response();
    }
    response
}

/// The id of the principal the authentication layer recorded.
fn principal_of(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<crate::catalogue::Caller>()
        .map(|caller| caller.principal.id.clone())
        .unwrap_or_default()
}

/// Whether the request's `Accept` names `text/event-stream`.
fn accepts_event_stream(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|accept| accept.contains("text/event-stream"))
}

/// The `Mcp-Session-Id` header.
pub(super) const MCP_SESSION_ID: &str = "mcp-session-id";

/// Which MCP service serves a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Route {
    /// Statelessly: every request without a session.
    Stateless,
    /// In the session its `Mcp-Session-Id` names (checked to be the
    /// caller's).
    Session,
    /// A 2025-era `initialize`, which opens a session for this principal.
    OpenSession(String),
}

/// Whether a request with no session is a 2025-era `initialize`, which
/// gets a session. Only the method name is looked for: the MCP service
/// parses the message itself.
fn opens_session(headers: &axum::http::HeaderMap, bytes: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Method<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    let stateless_revision = headers
        .get("mcp-protocol-version")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|version| version >= "2026-07-28");
    !stateless_revision
        && serde_json::from_slice::<Method<'_>>(bytes)
            .is_ok_and(|skim| skim.method.as_deref() == Some("initialize"))
}

/// A session id that is unknown, ended, or another principal's: 404, as
/// MCP asks, so the client starts over with `initialize`.
fn session_not_found() -> Response {
    jsonrpc_error(
        StatusCode::NOT_FOUND,
        Value::Null,
        INVALID_REQUEST,
        "Session not found: it ended or was never opened; send initialize again to open a new one"
            .to_owned(),
    )
}

/// Whether the MCP service refused the request with a plain-text client
/// error, as it does (415) for a body it cannot read as a JSON-RPC message.
fn refused_in_plain_text(response: &Response) -> bool {
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| !value.contains("json"));
    let refused = matches!(
        response.status(),
        StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    refused && plain
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
