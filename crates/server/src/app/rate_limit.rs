//! Rate limits, answered with 429 and `Retry-After` past the limit:
//! `RATE_LIMIT_PER_MINUTE` per caller on the protected routes, and
//! `RATE_LIMIT_PUBLIC_PER_MINUTE` per client address on the routes that
//! need no token.
//!
//! Protected routes tell callers apart by their principal id, not their
//! address: many callers share an address behind a gateway (Smithery's, a
//! company proxy), and a caller cannot reach these routes without a
//! verified token. Public routes have only the address to go by; an IPv6
//! client is counted per /64, the block one subscriber is usually given,
//! so that walking through its addresses buys nothing.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oauth_kit::ClientAddress;

use super::AppState;
use crate::catalogue::Caller;

pub(crate) use crate::limiter::RateLimiter;

/// Refuses a request past its caller's limit with 429 and `Retry-After`.
/// Runs after authentication, which records the caller.
pub(crate) async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (Some(limiter), Some(caller)) = (&state.rate_limiter, request.extensions().get::<Caller>())
    else {
        return next.run(request).await;
    };
    match crate::web::charge_caller(limiter, &caller.principal.id) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::info!(principal = %caller.principal.id, "rate limit exceeded");
            refusal.into_response()
        }
    }
}

/// Refuses a request to a public route past its client address's limit
/// with 429 and `Retry-After`. A request whose address is unknown (served
/// without connection information, as in process) is not limited.
pub(crate) async fn limit_public(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (Some(limiter), Some(ClientAddress(address))) = (
        &state.public_rate_limiter,
        request.extensions().get::<ClientAddress>().copied(),
    ) else {
        return next.run(request).await;
    };
    match crate::web::charge_address(limiter, address) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::info!(client_address = %address, "public rate limit exceeded");
            refusal.into_response()
        }
    }
}
