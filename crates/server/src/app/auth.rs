//! Authentication: `Authorization: Bearer …` to a principal, or 401.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use core_auth::{AuthError, TokenRejection, bearer_token};
use oauth_kit::ClientAddress;
use tracing::Instrument as _;

use super::AppState;
use super::request_id::RequestId;
use crate::catalogue::{CallBudget, Caller, ClientLink};
use crate::shared::Refusal;
use crate::telemetry::metrics;
use crate::web::{ApiError, discard_small_body, refused};

/// Verifies the bearer token, admits it (refusing a revoked token with 401,
/// and charging `RATE_LIMIT_PER_MINUTE`: 429 past it, 503 with Redis away
/// and `REDIS_FAILURE=closed`), and records the [`Caller`] (principal,
/// request id, client address and the policy set the request is decided
/// under); or the answer refusing it.
pub(crate) async fn authenticate(
    state: &AppState,
    mut request: Request,
) -> Result<Request, Response> {
    let header = match request.headers().get(AUTHORIZATION) {
        None => None,
        Some(value) => match value.to_str() {
            Ok(text) => Some(text),
            Err(_) => {
                return Err(reject(
                    state,
                    request,
                    AuthError::MalformedHeader("the header is not valid ASCII".to_owned()),
                )
                .await);
            }
        },
    };
    let outcome = match bearer_token(header) {
        Ok(token) => {
            state
                .verifier
                .verify(token)
                .instrument(tracing::debug_span!("verify_token"))
                .await
        }
        Err(err) => Err(err),
    };
    metrics::token_verification(match &outcome {
        Ok(_) => "ok",
        Err(err) => err.code(),
    });
    match outcome {
        Ok(principal) => {
            tracing::debug!(principal = %principal.id, kind = principal.kind.as_str(), "authenticated");
            // Revoked tokens are refused and the caller's allowance charged
            // in one step: one Redis round trip, when there is one.
            match state
                .shared
                .admit(&principal, state.rate_limiter.as_deref())
                .instrument(tracing::debug_span!("admit"))
                .await
            {
                Ok(()) => {}
                Err(Refusal::Revoked) => {
                    return Err(reject(
                        state,
                        request,
                        AuthError::InvalidToken(TokenRejection::Revoked),
                    )
                    .await);
                }
                Err(refusal) => {
                    tracing::info!(principal = %principal.id, ?refusal, "request refused");
                    let per_minute = state
                        .rate_limiter
                        .as_ref()
                        .map_or(0, |limit| limit.per_minute());
                    return Err(
                        refused(refusal, per_minute, "caller", "RATE_LIMIT_PER_MINUTE")
                            .into_response(),
                    );
                }
            }
            let ids = request.extensions().get::<RequestId>();
            let request_id = ids.map_or_else(|| Arc::from(""), |ids| Arc::clone(&ids.id));
            let client_request_id = ids.and_then(|ids| ids.client.clone());
            let client_address = request
                .extensions()
                .get::<ClientAddress>()
                .map(|ClientAddress(address)| *address);
            request.extensions_mut().insert(Caller {
                principal,
                request_id,
                client_request_id,
                client_address,
                policies: state.catalogue.policies(),
                nesting: 0,
                session: Arc::default(),
                budget: Arc::new(CallBudget::new(state.max_tool_calls_per_request)),
                client: ClientLink::default(),
            });
            Ok(request)
        }
        Err(err) => Err(reject(state, request, err).await),
    }
}

/// 401 with a challenge that points the client at the protected-resource
/// metadata (RFC 9728), from which it discovers the authorization server.
///
/// A small unread body is discarded first, so the connection stays usable for
/// the client's next request (the OAuth discovery that follows a 401).
async fn reject(state: &AppState, request: Request, err: AuthError) -> Response {
    // The reason is logged, never the credential.
    tracing::info!(reason = %err, "authentication failed");
    let base = state.base.for_request(request.headers());
    let scope = Some(state.catalogue.challenge_scopes().join(" ")).filter(|s| !s.is_empty());
    let response = ApiError::Unauthorized(err)
        .pointing_at(&base, scope)
        .into_response();
    discard_small_body(request.into_body()).await;
    response
}
