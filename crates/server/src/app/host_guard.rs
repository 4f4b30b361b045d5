//! DNS-rebinding guard: protected routes answer only to configured hosts.
//!
//! A page on a hostile site can resolve its own name to 127.0.0.1 and then
//! talk to a local server from the victim's browser; the `Host` header still
//! carries the hostile name. Checking it against `ALLOWED_HOSTS` closes that
//! door. This is the one Host check, made by the guards of every group of
//! routes but `/health` (rmcp's own check on `/mcp` is off).

use axum::extract::Request;
use axum::http::header::HOST;
use axum::http::uri::Authority;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::settings::hosts_admit;
use crate::web::ApiError;

/// The refusal of a request whose `Host` is not allowed; `None` lets it
/// on. An empty list allows all.
pub(crate) fn refusal(state: &AppState, request: &Request) -> Option<Response> {
    if state.allowed_hosts.is_empty() {
        return None;
    }
    let authority = request
        .headers()
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<Authority>().ok())
        .or_else(|| request.uri().authority().cloned());
    let Some(authority) = authority else {
        return Some(
            ApiError::HostNotAllowed("the request has no valid Host header".to_owned())
                .into_response(),
        );
    };
    if hosts_admit(&state.allowed_hosts, &authority) {
        None
    } else {
        Some(
            ApiError::HostNotAllowed(format!(
                "host `{authority}` is not in ALLOWED_HOSTS; add it to serve requests addressed to it"
            ))
            .into_response(),
        )
    }
}
