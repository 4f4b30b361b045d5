//! The `Origin` check on the protected doors (MCP's Streamable HTTP
//! transport requires it: a server must refuse an invalid `Origin` with 403).
//!
//! A browser names the page that makes a request in `Origin`; a page on
//! any site may send requests to the server (a form post, a `fetch` in
//! `no-cors` mode) even when CORS keeps it from reading the answer. Only
//! the origins in `CORS_ORIGINS` and the server's own may reach the tools.
//! The check runs before authentication, so a foreign page learns nothing
//! about a token it holds. Requests without `Origin` come from programs,
//! not pages, and pass.

use axum::extract::Request;
use axum::http::header::ORIGIN;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::settings::cors_origin;
use crate::web::ApiError;

/// The refusal of a request whose `Origin` is neither allowed nor the
/// server's own; `None` lets it on.
pub(crate) fn refusal(state: &AppState, request: &Request) -> Option<Response> {
    let origin = request.headers().get(ORIGIN)?;
    let admitted = origin
        .to_str()
        .ok()
        .and_then(cors_origin)
        .is_some_and(|origin| {
            state.cors.admits(&origin)
                || cors_origin(&state.base.for_request(request.headers()))
                    .is_some_and(|own| own == origin)
        });
    if admitted {
        return None;
    }
    let shown = String::from_utf8_lossy(origin.as_bytes());
    Some(
        ApiError::OriginNotAllowed(format!(
            "requests from pages at `{}` are refused; add the origin to CORS_ORIGINS to let its pages call the server",
            shown.chars().take(200).collect::<String>()
        ))
        .into_response(),
    )
}
