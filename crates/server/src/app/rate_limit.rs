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

use axum::response::{IntoResponse, Response};
use oauth_kit::ClientAddress;

use super::AppState;

/// Charges a request to a public route to its `client` address; past the
/// limit, the refusal (429 with `Retry-After`). A request whose address is
/// unknown (served without connection information, as in process) is not
/// limited.
pub(crate) async fn refusal(state: &AppState, client: Option<ClientAddress>) -> Option<Response> {
    let (Some(limiter), Some(ClientAddress(address))) = (&state.public_rate_limiter, client) else {
        return None;
    };
    match crate::web::charge_address(limiter, address).await {
        Ok(()) => None,
        Err(refusal) => {
            tracing::info!(client_address = %address, "public rate limit exceeded");
            Some(refusal.into_response())
        }
    }
}
