//! `CORS_ORIGINS`: which browser pages may call the server.
//!
//! Credentials travel in the `Authorization` header, never in cookies, so
//! allowing an origin lets its pages send a token they already hold; it
//! never lets them use one they do not.

use std::time::Duration;

use axum::http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::{HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The headers MCP's Streamable HTTP transport sends and reads.
const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The CORS layer for `origins` (`None`: any origin); `None` when no
/// origin is allowed, so no CORS header is ever sent.
pub(crate) fn layer(origins: Option<&[String]>) -> Option<CorsLayer> {
    let allow = match origins {
        None => AllowOrigin::any(),
        Some([]) => return None,
        Some(origins) => AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        ),
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
