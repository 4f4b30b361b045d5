//! `POST /auth/token`: OAuth client credentials for machines holding a
//! Descope access key.
//!
//! Ordinary OAuth libraries speak client credentials, not Descope's exchange
//! API; this endpoint translates. The access key is the client secret (form
//! field or HTTP Basic password); Descope turns it into a session JWT, which
//! is checked by this server's own verifier before it is handed out, so a
//! token that would be refused here is never issued. In demo mode the demo
//! access keys from the configuration are accepted instead.

use axum::Json;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use core_auth::ExchangeError;
use oauth_kit::{NO_STORE, OAuthError, TokenForm, unix_time};
use serde_json::{Value, json};

use super::{AuthorizationServer, OAuthState};

pub(super) async fn token(
    State(state): State<OAuthState>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return refuse(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!(
                    "`{other}`: this endpoint takes grant_type=client_credentials with an access key"
                ),
            ));
        }
        None => return refuse(OAuthError::invalid_request("grant_type is required")),
    }
    let exchange = match &state.authorization_server {
        AuthorizationServer::Demo(demo) => return demo.client_credentials(&headers, &form),
        AuthorizationServer::Descope { access_keys, .. } => access_keys,
    };
    let Some(access_key) = form.presented_secret(&headers).filter(|k| !k.is_empty()) else {
        return refuse(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "send the access key as client_secret (form field or HTTP Basic password)",
        ));
    };
    let exchanged = match exchange.exchange(&access_key).await {
        Ok(exchanged) => exchanged,
        Err(ExchangeError::Rejected(reason)) => {
            tracing::info!(%reason, "access key refused by Descope");
            return refuse(OAuthError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                format!("the access key was refused: {reason}"),
            ));
        }
        Err(err) => {
            tracing::warn!(error = %err, "access-key exchange failed");
            return refuse(OAuthError::new(
                StatusCode::BAD_GATEWAY,
                "temporarily_unavailable",
                err.to_string(),
            ));
        }
    };
    if let Err(err) = state.verifier.verify(&exchanged.session_jwt).await {
        tracing::warn!(reason = %err, "Descope issued a token this server refuses");
        return refuse(OAuthError::new(
            StatusCode::BAD_GATEWAY,
            "server_error",
            format!(
                "Descope issued a token this server cannot accept ({err}); check DESCOPE_PROJECT_ID and the issuer settings"
            ),
        ));
    }
    let now = unix_time().as_secs();
    let expires_at = exchanged
        .expiration
        .or_else(|| jwt_expiry(&exchanged.session_jwt));
    let expires_in = expires_at.map_or(0, |at| at.saturating_sub(now));
    (
        StatusCode::OK,
        NO_STORE,
        Json(json!({
            "access_token": exchanged.session_jwt,
            "token_type": "Bearer",
            "expires_in": expires_in,
        })),
    )
        .into_response()
}

fn refuse(error: OAuthError) -> Response {
    error.to_response().into_response()
}

/// `exp` of a token this server has just verified.
fn jwt_expiry(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("exp")?.as_u64()
}
