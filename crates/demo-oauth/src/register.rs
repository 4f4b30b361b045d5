//! `POST /oauth/register`: dynamic client registration (RFC 7591) of
//! public clients, bounded in size and in number (per caller address and in
//! all; see the store).

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use oauth_kit::{
    ClientAddress, NO_STORE, OAuthError, is_json_content_type, random_token, unix_time,
};
use serde::Deserialize;
use serde_json::json;

use crate::caller;
use crate::store::{Client, Origin};
use crate::token::server_error;
use crate::{DemoOAuth, unreachable_error};

/// Registration requests larger than this are refused.
const MAX_REGISTRATION_BYTES: usize = 8 * 1024;
/// At most this many redirect URIs per client, each at most this long.
const MAX_REDIRECT_URIS: usize = 10;
const MAX_URI_LENGTH: usize = 2048;
/// Longest client name kept.
const MAX_NAME_LENGTH: usize = 200;

/// An RFC 7591 registration request; unknown fields are ignored as the RFC asks.
#[derive(Debug, Deserialize)]
struct Registration {
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
}

/// `POST /oauth/register`: registers a public client (no secret). A client
/// no authorization request names within an hour is dropped.
pub(crate) async fn register(
    State(server): State<DemoOAuth>,
    address: Option<Extension<ClientAddress>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let origin = caller::origin(address, peer);
    match registered(&server, &headers, &body, origin).await {
        Ok(body) => (StatusCode::CREATED, NO_STORE, Json(body)).into_response(),
        Err(error) => error.to_response().into_response(),
    }
}

async fn registered(
    server: &DemoOAuth,
    headers: &HeaderMap,
    body: &[u8],
    origin: Origin,
) -> Result<serde_json::Value, OAuthError> {
    let invalid = |error: &'static str, description: String| {
        OAuthError::new(StatusCode::BAD_REQUEST, error, description)
    };
    // JSON only: a cross-site page cannot send it without a CORS preflight.
    if !is_json_content_type(headers) {
        return Err(invalid(
            "invalid_client_metadata",
            "send the registration as application/json".to_owned(),
        ));
    }
    if body.len() > MAX_REGISTRATION_BYTES {
        return Err(invalid(
            "invalid_client_metadata",
            format!("the registration is larger than {MAX_REGISTRATION_BYTES} bytes"),
        ));
    }
    let registration: Registration = serde_json::from_slice(body).map_err(|err| {
        invalid(
            "invalid_client_metadata",
            format!("the body is not a registration request: {err}"),
        )
    })?;
    if registration.redirect_uris.is_empty() {
        return Err(invalid(
            "invalid_redirect_uri",
            "redirect_uris must list at least one URI".to_owned(),
        ));
    }
    if registration.redirect_uris.len() > MAX_REDIRECT_URIS
        || registration
            .redirect_uris
            .iter()
            .any(|uri| uri.len() > MAX_URI_LENGTH)
        || registration
            .client_name
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NAME_LENGTH)
    {
        return Err(invalid(
            "invalid_client_metadata",
            format!(
                "at most {MAX_REDIRECT_URIS} redirect URIs of {MAX_URI_LENGTH} characters, and a client_name of {MAX_NAME_LENGTH}"
            ),
        ));
    }
    if let Some(bad) = registration
        .redirect_uris
        .iter()
        .find(|uri| !acceptable_redirect(uri))
    {
        return Err(invalid(
            "invalid_redirect_uri",
            format!(
                "`{bad}` is not allowed: use https, or http on localhost / 127.0.0.1 / [::1], without a fragment"
            ),
        ));
    }
    if let Some(method) = registration.token_endpoint_auth_method.as_deref()
        && method != "none"
    {
        return Err(invalid(
            "invalid_client_metadata",
            "this server registers public clients only: token_endpoint_auth_method must be `none`"
                .to_owned(),
        ));
    }
    if let Some(grants) = &registration.grant_types
        && let Some(bad) = grants
            .iter()
            .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return Err(invalid(
            "invalid_client_metadata",
            format!("grant type `{bad}` cannot be registered"),
        ));
    }
    let client_id = random_token().map_err(|_| server_error())?;
    let client = Client {
        name: registration.client_name.clone(),
        redirect_uris: registration.redirect_uris.clone(),
        dynamic: true,
        secret_digest: None,
    };
    server
        .state()
        .register(&client_id, client, origin)
        .await
        .map_err(|_| unreachable_error())?;
    tracing::info!(client_name = ?registration.client_name, "demo client registered");
    Ok(json!({
        "client_id": client_id,
        "client_id_issued_at": unix_time().as_secs(),
        "client_name": registration.client_name,
        "redirect_uris": registration.redirect_uris,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    }))
}

/// Registers a client from inside the server (the login helper).
pub(crate) async fn register_in_process(
    server: &DemoOAuth,
    name: &str,
    redirect_uri: &str,
) -> Option<String> {
    let client_id = random_token().ok()?;
    let client = Client {
        name: Some(name.to_owned()),
        redirect_uris: vec![redirect_uri.to_owned()],
        dynamic: false,
        secret_digest: None,
    };
    server
        .state()
        .register(&client_id, client, Origin::Server)
        .await
        .ok()?;
    Some(client_id)
}

/// OAuth 2.1 redirect URIs: https, or http on a loopback host; no fragment.
fn acceptable_redirect(uri: &str) -> bool {
    let Ok(parsed) = uri.parse::<axum::http::Uri>() else {
        return false;
    };
    if uri.contains('#') || parsed.authority().is_none() {
        return false;
    }
    match parsed.scheme_str() {
        Some("https") => true,
        Some("http") => matches!(parsed.host(), Some("localhost" | "127.0.0.1" | "[::1]")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_follow_oauth_2_1() {
        assert!(acceptable_redirect("https://client.example/cb"));
        assert!(acceptable_redirect("http://localhost:3000/callback"));
        assert!(acceptable_redirect("http://127.0.0.1:49152/cb"));
        assert!(!acceptable_redirect("http://client.example/cb"));
        assert!(!acceptable_redirect("https://client.example/cb#frag"));
        assert!(!acceptable_redirect("javascript:alert(1)"));
        assert!(!acceptable_redirect("/relative"));
    }
}
