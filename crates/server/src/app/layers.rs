//! The layers the routes are served behind: one that every request
//! meets, and one guard for each group of routes.
//!
//! Each is one `from_fn` layer that makes its checks in turn, not a layer
//! per check: a layer copies and boxes the service inside it for every
//! request, so each level costs every request an allocation or two and
//! a copy of its future.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::{AppState, auth, client_address, host_guard, origin_guard, rate_limit, request_id};
use crate::telemetry::metrics;

/// What every request gets: its client's address, its id, a span and a
/// log line, and its count and time in the metrics (by route, method and
/// status).
pub(crate) async fn every_request(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = metrics::route_label(request.uri().path());
    let method = request.method().clone();
    client_address::resolve(&state, &mut request);
    let response = request_id::assign(request, route, started, next).await;
    metrics::http_request(
        route,
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The guard of the routes that need a caller: an allowed host, then an
/// allowed origin (before the token, so a foreign page learns nothing of
/// one), then authentication, which runs before any body is read, so an
/// anonymous caller cannot make the server buffer a large body.
pub(crate) async fn protected(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refused) = host_guard::refusal(&state, &request) {
        return refused;
    }
    if let Some(refused) = origin_guard::refusal(&state, &request) {
        return refused;
    }
    match auth::authenticate(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(refused) => refused,
    }
}

/// The guard of the public discovery routes: an allowed host (they name
/// URLs built from the Host header), then the public rate limit, as
/// nothing but the address tells anonymous callers apart.
pub(crate) async fn discovery(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refused) = host_guard::refusal(&state, &request) {
        return refused;
    }
    let client = request.extensions().get().copied();
    if let Some(refused) = rate_limit::refusal(&state, client).await {
        return refused;
    }
    next.run(request).await
}

/// The guard of the console's routes: an allowed host (the console signs
/// its own people in and limits them itself).
pub(crate) async fn console(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match host_guard::refusal(&state, &request) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}
