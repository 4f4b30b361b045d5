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

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oauth_kit::ClientAddress;

use super::AppState;
use crate::catalogue::Caller;
use crate::web::ApiError;

pub(crate) use crate::limiter::RateLimiter;

/// Refuses a request past its caller's limit with 429 and `Retry-After`.
/// Runs after authentication, which records the caller.
pub(crate) async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (Some(limiter), Some(caller)) = (&state.rate_limiter, request.extensions().get::<Caller>())
    else {
        return next.run(request).await;
    };
    match limiter.check(&caller.principal.id, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            tracing::info!(
                principal = %caller.principal.id,
                retry_after_secs = wait.as_secs_f64().ceil(),
                "rate limit exceeded"
            );
            ApiError::RateLimited {
                per_minute: limiter.per_minute,
                per: "caller",
                setting: "RATE_LIMIT_PER_MINUTE",
                retry_after_secs: crate::limiter::whole_seconds(wait),
            }
            .into_response()
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
    match limiter.check(&ClientAddress(address).counted_as(), Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            tracing::info!(
                client_address = %address,
                retry_after_secs = wait.as_secs_f64().ceil(),
                "public rate limit exceeded"
            );
            ApiError::RateLimited {
                per_minute: limiter.per_minute,
                per: "client address",
                setting: "RATE_LIMIT_PUBLIC_PER_MINUTE",
                retry_after_secs: crate::limiter::whole_seconds(wait),
            }
            .into_response()
        }
    }
}
