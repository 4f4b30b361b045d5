//! The public routes' rate limit: `RATE_LIMIT_PUBLIC_PER_MINUTE` per
//! client address, answered with 429 and `Retry-After` past it. (The
//! protected routes' limit, per principal, is charged when the request is
//! admitted after authentication, with the revocation check.)
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
    match crate::web::charge_address(limiter, address).await {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::info!(client_address = %address, "public rate limit exceeded");
            refusal.into_response()
        }
    }
}
