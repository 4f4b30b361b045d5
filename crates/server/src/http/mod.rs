//! The HTTP surface: routes, and the layers every request passes through.

mod auth;
mod body;
mod error;
mod health;
mod host_guard;
mod mcp_guard;
mod request_id;
mod rest;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use core_auth::TokenVerifier;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

pub(crate) use auth::Authenticated;
pub(crate) use host_guard::AllowedHost;
pub(crate) use request_id::RequestId;

use crate::catalogue::Catalogue;

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) catalogue: Catalogue,
    pub(crate) verifier: Arc<dyn TokenVerifier>,
    pub(crate) max_request_bytes: usize,
    /// `ALLOWED_HOSTS`, parsed; empty allows every host.
    pub(crate) allowed_hosts: Arc<[AllowedHost]>,
}

/// The whole application: public routes, protected routes, and the layers.
pub(crate) fn router(state: AppState, mcp: crate::mcp::McpService) -> Router {
    let mcp_routes = Router::new()
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            mcp_guard::check_jsonrpc,
        ));
    // Authentication runs before any body is read, so an anonymous caller
    // cannot make the server buffer a large body.
    let protected = Router::new()
        .route("/tools/{name}", post(rest::call_tool))
        .merge(mcp_routes)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_principal,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            host_guard::check_host,
        ));
    Router::new()
        .route("/health", get(health::health))
        .merge(protected)
        .fallback(no_route)
        .with_state(state)
        .layer(middleware::from_fn(request_id::assign))
        // Outermost: whatever logs a request from here on sees the header
        // as sensitive and prints it redacted.
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
}

async fn no_route(request: Request) -> Response {
    error::ApiError::NoRoute {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
    }
    .into_response()
}
