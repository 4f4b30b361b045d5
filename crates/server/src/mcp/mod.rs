//! The MCP door: streamable HTTP at `/mcp`, with the guard that checks
//! every body before the MCP service sees it and the session settings a
//! client may narrow its tools with.
//!
//! Served statelessly with JSON answers: every POST stands alone, so replicas
//! need nothing shared. Listing and calling go through the same
//! [`Catalogue`] as the REST door, so the policies decide both.

mod denial;
pub mod fuzzing;
mod guard;
mod handler;
mod session;

use std::sync::Arc;

use axum::{Router, middleware};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

pub(crate) use handler::check_tool_descriptors;

use crate::catalogue::Catalogue;
use crate::web::PublicBase;
use handler::McpServer;

/// What the MCP door needs.
#[derive(Clone)]
pub(crate) struct McpState {
    pub(crate) catalogue: Catalogue,
    /// `MAX_REQUEST_SIZE_MB`, in bytes.
    pub(crate) max_request_bytes: usize,
    pub(crate) base: PublicBase,
}

/// `/mcp`. Expects the Host guard and the authentication layer in front of
/// it: the guard reads the [`crate::catalogue::Caller`] they record.
pub(crate) fn router(state: McpState) -> Router {
    // The Host guard in front of every route is the one Host check, so
    // rmcp's own list stays off.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .disable_allowed_hosts()
        .with_max_request_body_bytes(state.max_request_bytes);
    let catalogue = state.catalogue.clone();
    // A handler per session (per request when stateless): what it keeps,
    // such as a log level, is never another client's.
    let service: StreamableHttpService<McpServer, NeverSessionManager> = StreamableHttpService::new(
        move || Ok(McpServer::new(catalogue.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(state, guard::check_jsonrpc))
}
