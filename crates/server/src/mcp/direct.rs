//! The direct path: a stateless MCP 2026-07-28 `tools/call` answered in
//! plain JSON, served without building an rmcp service for it.
//!
//! rmcp serves each stateless request with a service of its own: a peer,
//! channels, a serve loop in one task and the handler in another, and it
//! writes the message back out as a JSON value to check the SEP-2243
//! headers. For the request agents send most, that was about a quarter of
//! the server's time. This path makes the checks rmcp makes for such a
//! request, with the same answers, and runs the same call (`call.rs`).
//! Anything it is not sure of, it declines, and rmcp serves the request
//! as before: sessions, other methods, older revisions, headers it does not
//! read, a client that wants notices on a stream, and every malformed
//! request (so each error answer stays rmcp's own). The reference test in
//! the application's tests sends a set of requests both ways and compares
//! the answers.

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestMethod, CallToolRequestParams, ErrorCode, InputResponses, JsonObject,
    JsonRpcVersion2_0, RequestId, RequestMetaObject, ServerJsonRpcMessage, ServerResult,
};
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::McpState;
use super::call::{self, CallContext};
use super::declared::Declared;
use super::denial::DenialSlot;
use crate::catalogue::SessionSettings;

/// The revision this path serves: the one whose requests carry their own
/// version, capabilities and client, so no session is needed.
const REVISION: &str = "2026-07-28";

/// Where a request's `_meta` names its revision.
const PROTOCOL_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";

/// A stateless `POST /mcp` as the guard read it.
pub(super) struct Stateless<'a> {
    pub(super) parts: &'a Parts,
    /// What the client narrowed its session to, in the URL.
    pub(super) settings: &'a SessionSettings,
    /// Whether the client reads only JSON.
    pub(super) json_only: bool,
    /// Where a denial is left for the guard's HTTP status.
    pub(super) denial: &'a DenialSlot,
}

/// Answers `bytes`, the body of a stateless `POST /mcp`, if it is a call
/// this path serves; `None` leaves the request to rmcp.
pub(super) async fn serve(
    state: &McpState,
    request: Stateless<'_>,
    bytes: &[u8],
) -> Option<Response> {
    let parts = request.parts;
    if !enabled() || !host_readable(parts) || !headers_allow(&parts.headers) {
        return None;
    }
    let CallMessage { id, params, .. } = read_call(bytes)?;
    let meta = params.meta.unwrap_or_default();
    // What rmcp requires of a 2026-07-28 request's `_meta` (it answers a
    // request that lacks it): the version, and capabilities that read as
    // such (each read once, here, as rmcp would read it).
    let version = meta.0.0.get(PROTOCOL_VERSION_KEY).and_then(Value::as_str);
    if version != Some(REVISION) {
        return None;
    }
    let capabilities = meta.client_capabilities()?;
    // No notices to stream: a client that reads streams and asks for
    // progress or messages gets them from rmcp.
    let streams = !request.json_only;
    let progress_token = meta.get_progress_token();
    let log_level = meta.log_level();
    if (streams && (progress_token.is_some() || log_level.is_some()))
        || !name_header_matches(&parts.headers, &params.name)
        || state.tools.has_header_arguments(&params.name)
    {
        return None;
    }
    let mut call = CallToolRequestParams::new(params.name);
    call.arguments = params.arguments;
    call.input_responses = params.input_responses;
    call.request_state = params.request_state;
    let caller = match call::narrowed(parts.extensions.get(), request.settings.clone()) {
        Ok(caller) => caller,
        Err(error) => return Some(answer(ServerJsonRpcMessage::error(error, Some(id)))),
    };
    // Cancelled when the request is dropped, as it is when the client goes
    // away: the tool hears of it, and the call is audited as cancelled.
    let ct = CancellationToken::new();
    let _cancel_when_dropped = ct.clone().drop_guard();
    let context = CallContext {
        log_level: log_level.map(call::plugin_level),
        meta,
        declared: Declared::InRequest(Some(capabilities)),
        progress_token,
        caller,
        peer: None,
        streams,
        denial: Some(request.denial.clone()),
        ct,
    };
    let called = call::call_tool(&state.catalogue, &state.states, call, context).await;
    let message = match called {
        Ok(response) => {
            let mut result = ServerResult::from(response);
            result.fill_missing_cache_hints();
            ServerJsonRpcMessage::response(result, id)
        }
        Err(mut error) => {
            // As rmcp answers a 2026-07-28 peer.
            if error.code == ErrorCode::RESOURCE_NOT_FOUND {
                error.code = ErrorCode::INVALID_PARAMS;
            }
            ServerJsonRpcMessage::error(error, Some(id))
        }
    };
    #[cfg(test)]
    let _ = ANSWERED_DIRECTLY.try_with(|answered| answered.set(true));
    Some(answer(message))
}

/// A `tools/call` request as this path reads it: these fields and no
/// other, each of rmcp's own type, so that a body read here is one rmcp
/// reads the same (the `mcp_direct` fuzz target checks it). rmcp reads
/// every message through a buffer, to tell requests from responses and
/// one method from another; for this one shape that is not needed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallMessage {
    #[serde(rename = "jsonrpc")]
    _version: JsonRpcVersion2_0,
    pub(crate) id: RequestId,
    #[serde(rename = "method")]
    _method: CallToolRequestMethod,
    pub(crate) params: CallParams,
}

/// The parameters of a [`CallMessage`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CallParams {
    pub(crate) name: String,
    pub(crate) arguments: Option<JsonObject>,
    #[serde(rename = "_meta")]
    pub(crate) meta: Option<RequestMetaObject>,
    pub(crate) input_responses: Option<InputResponses>,
    pub(crate) request_state: Option<String>,
}

/// The body as a `tools/call` request of exactly the shape this path
/// reads, or `None` for anything else.
pub(crate) fn read_call(bytes: &[u8]) -> Option<CallMessage> {
    serde_json::from_slice(bytes).ok()
}

/// Whether the request names its host as rmcp requires even with its own
/// list of hosts off: a `Host` header that reads as an authority, or none
/// and an authority in the URI. (The server's Host guard, in front,
/// accepts a bad header beside a good URI, and everything when
/// `ALLOWED_HOSTS` is empty.)
fn host_readable(parts: &Parts) -> bool {
    match parts.headers.get(header::HOST) {
        Some(host) => host
            .to_str()
            .is_ok_and(|host| host.parse::<axum::http::uri::Authority>().is_ok()),
        None => parts.uri.authority().is_some(),
    }
}

/// Whether the headers are those of a 2026-07-28 `tools/call` that rmcp
/// would take: JSON in, JSON and event streams accepted, the version, and
/// the `Mcp-Method` header rmcp requires. The `Mcp-Name` header is checked
/// against the body later.
fn headers_allow(headers: &HeaderMap) -> bool {
    let content_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            let essence = value.split_once(';').map_or(value, |(essence, _)| essence);
            essence.trim().eq_ignore_ascii_case(JSON)
        });
    content_json
        && accepts_both(headers)
        && headers
            .get(&MCP_PROTOCOL_VERSION)
            .is_some_and(|version| version == REVISION)
        && single(headers, &MCP_METHOD).is_some_and(|method| method == "tools/call")
}

// Named once: a header looked up by a string is parsed as a name first.
const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");

const JSON: &str = "application/json";
const EVENT_STREAM: &str = "text/event-stream";

/// Whether `Accept` plainly names both JSON and event streams. A media
/// range with parameters (a weight of 0 excludes it) or a quoted string
/// (inside which rmcp does not split) is left to rmcp.
fn accepts_both(headers: &HeaderMap) -> bool {
    let mut json = false;
    let mut events = false;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        if value.contains('"') {
            return false;
        }
        for range in value.split(',') {
            let range = range.trim();
            if range.contains(';') {
                return false;
            }
            json |= range.eq_ignore_ascii_case(JSON);
            events |= range.eq_ignore_ascii_case(EVENT_STREAM);
        }
    }
    json && events
}

/// The header's one value, as text; `None` if it is missing, repeated or
/// not text.
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    value.to_str().ok()
}

/// Whether `Mcp-Name` is the tool's name as it is, not Base64-encoded
/// (`=?base64?…?=`, which rmcp decodes).
fn name_header_matches(headers: &HeaderMap, name: &str) -> bool {
    single(headers, &MCP_NAME).is_some_and(|value| {
        value == name && !(value.starts_with("=?base64?") && value.ends_with("?="))
    })
}

/// The JSON answer rmcp gives a 2026-07-28 request: 200, or the status its
/// error code maps to.
fn answer(message: ServerJsonRpcMessage) -> Response {
    let status = match &message {
        ServerJsonRpcMessage::Error(error) => match error.error.code {
            ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
            | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
            | ErrorCode::HEADER_MISMATCH => StatusCode::BAD_REQUEST,
            ErrorCode::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
            _ => StatusCode::OK,
        },
        _ => StatusCode::OK,
    };
    match serde_json::to_vec(&message) {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(JSON))],
            Body::from(body),
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "an MCP answer could not be written as JSON");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
tokio::task_local! {
    /// Set around a request that must take rmcp's path: the reference the
    /// direct path is compared with.
    pub(crate) static THROUGH_RMCP: ();
    /// Set to true when the direct path answers a request made within it.
    pub(crate) static ANSWERED_DIRECTLY: std::cell::Cell<bool>;
}

/// Whether the direct path serves at all (always, outside the reference
/// test).
fn enabled() -> bool {
    #[cfg(test)]
    if THROUGH_RMCP.try_with(|()| ()).is_ok() {
        return false;
    }
    true
}
