//! Authentication: `Authorization: Bearer …` to a principal, or 401.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use core_auth::{AuthError, Principal, bearer_token};

use super::AppState;
use super::error::ApiError;

/// The verified caller, in the request's extensions.
#[derive(Clone, Debug)]
pub(crate) struct Authenticated(pub(crate) Arc<Principal>);

/// Verifies the bearer token and records the principal, or answers 401.
pub(crate) async fn require_principal(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let header = match request.headers().get(AUTHORIZATION) {
        None => None,
        Some(value) => match value.to_str() {
            Ok(text) => Some(text),
            Err(_) => {
                return reject(AuthError::MalformedHeader(
                    "the header is not valid ASCII".to_owned(),
                ));
            }
        },
    };
    let outcome = match bearer_token(header) {
        Ok(token) => state.verifier.verify(token).await,
        Err(err) => Err(err),
    };
    match outcome {
        Ok(principal) => {
            tracing::debug!(principal = %principal.id, kind = principal.kind.as_str(), "authenticated");
            request.extensions_mut().insert(Authenticated(principal));
            next.run(request).await
        }
        Err(err) => reject(err),
    }
}

fn reject(err: AuthError) -> Response {
    // The reason is logged, never the credential.
    tracing::info!(reason = %err, "authentication failed");
    ApiError::Unauthorized(err).into_response()
}
