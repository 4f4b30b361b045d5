//! `CORS_ORIGINS`: which browser pages may call the server.
//!
//! Credentials travel in the `Authorization` header, never in cookies, so
//! allowing an origin lets its pages send a token they already hold; it
//! never lets them use one they do not.

use std::time::Duration;

use axum::http::Method;
use axum::http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, RETRY_AFTER, WWW_AUTHENTICATE,
};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::settings::CorsPolicy;

/// The headers MCP's Streamable HTTP transport sends and reads.
const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The CORS layer for `policy`; `None` when no origin is allowed, so no
/// CORS header is ever sent.
pub(crate) fn layer(policy: &CorsPolicy) -> Option<CorsLayer> {
    let allow = match policy {
        CorsPolicy::NoOrigin => return None,
        CorsPolicy::AnyOrigin => AllowOrigin::any(),
        CorsPolicy::Origins(origins) => AllowOrigin::list(origins.iter().cloned()),
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
            .allow_headers([
                AUTHORIZATION,
                CONTENT_TYPE,
                ACCEPT,
                MCP_PROTOCOL_VERSION,
                MCP_SESSION_ID,
                LAST_EVENT_ID,
            ])
            .expose_headers([
                WWW_AUTHENTICATE,
                RETRY_AFTER,
                MCP_PROTOCOL_VERSION,
                MCP_SESSION_ID,
                REQUEST_ID,
            ])
            .max_age(Duration::from_secs(600)),
    )
}
