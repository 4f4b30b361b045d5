//! `POST /oauth/token`: the authorization-code grant (PKCE S256), refresh
//! tokens rotated on every use, and client credentials for demo access keys.
//!
//! Every refresh token descends from one authorization code: together they
//! are a family (a sign-in). A rotated token presented again means two
//! parties hold the family's tokens, and the server cannot tell which is the
//! legitimate one, so the whole family is revoked (RFC 9700 §4.14.2); so is
//! the family of a code presented twice (RFC 6749 §4.1.2). Access tokens
//! already issued stay valid until they expire: they are not looked up.

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use oauth_kit::{
    ClientAddress, NO_STORE, OAuthError, TokenForm, constant_time_eq, pkce_matches, random_token,
    token_digest, unix_time,
};
use serde_json::{Value, json};

use crate::state::{NewFamily, Refused};
use crate::store::{Grant, Origin};
use crate::{DemoOAuth, caller, unreachable_error};

/// `POST /oauth/token`.
pub(crate) async fn token(
    State(server): State<DemoOAuth>,
    address: Option<Extension<ClientAddress>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let base = server.base_url(&headers);
    respond(match form.grant_type.as_deref() {
        Some("authorization_code") => {
            let origin = caller::origin(address, peer);
            authorization_code(&server, &base, &headers, &form, origin).await
        }
        Some("refresh_token") => refresh(&server, &base, &headers, &form).await,
        Some("client_credentials") => client_credentials(&server, &base, &headers, &form),
        Some(other) => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("grant_type `{other}` is not supported"),
        )),
        None => Err(OAuthError::invalid_request("grant_type is required")),
    })
}

/// A token response (`200`, never cached) or the error.
pub(crate) fn respond(outcome: Result<Value, OAuthError>) -> Response {
    match outcome {
        Ok(body) => (StatusCode::OK, NO_STORE, Json(body)).into_response(),
        Err(error) => error.to_response().into_response(),
    }
}

fn invalid_grant(description: &str) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// The answer to a refused code or refresh token.
fn refused(refused: Refused) -> OAuthError {
    match refused {
        Refused::CodeReplayed => invalid_grant(
            "the code was already used: the refresh tokens issued for it are revoked; sign in again",
        ),
        Refused::CodeUnknown => invalid_grant("the code is unknown, expired or already used"),
        Refused::RefreshReused => invalid_grant(
            "the refresh token was reused: it had already been exchanged for a new one, so every refresh token of this sign-in is now revoked; sign in again",
        ),
        Refused::RefreshRevoked => invalid_grant(
            "this sign-in was revoked because one of its refresh tokens was reused; sign in again",
        ),
        Refused::RefreshUnknown => {
            invalid_grant("the refresh token is unknown or expired; sign in again")
        }
        Refused::Check(error) => error,
        Refused::Unreachable => unreachable_error(),
        Refused::Internal => server_error(),
    }
}

/// A confidential client proves itself with its secret; a public client has
/// none to prove.
fn authenticate(expected_digest: Option<&str>, presented: Option<&str>) -> Result<(), OAuthError> {
    let Some(expected) = expected_digest else {
        return Ok(());
    };
    match presented {
        Some(secret) if constant_time_eq(token_digest(secret).as_bytes(), expected.as_bytes()) => {
            Ok(())
        }
        Some(_) => Err(OAuthError::invalid_client(
            "wrong client_secret for this client",
        )),
        None => Err(OAuthError::invalid_client(
            "this client is confidential: send its client_secret (HTTP Basic or the client_secret form field)",
        )),
    }
}

pub(crate) async fn authorization_code(
    server: &DemoOAuth,
    base: &str,
    headers: &HeaderMap,
    form: &TokenForm,
    origin: Origin,
) -> Result<Value, OAuthError> {
    let (Some(code), Some(verifier)) = (form.code.as_deref(), form.code_verifier.as_deref()) else {
        return Err(OAuthError::invalid_request(
            "code and code_verifier are required",
        ));
    };
    let Some((client_id, secret)) = form.client_identity(headers) else {
        return Err(OAuthError::invalid_request(
            "client_id is required: send the client_id the code was issued to (form field or HTTP Basic)",
        ));
    };
    let refresh_token = match server.settings().refresh_ttl {
        Some(ttl) => Some((ttl, random_token().map_err(|_| server_error())?)),
        None => None,
    };
    let family = refresh_token.as_ref().map(|(ttl, token)| NewFamily {
        token_digest: token_digest(token),
        // The sign-in lasts the refresh TTL from its first token; rotation
        // never extends it.
        lasts: *ttl,
        origin,
    });
    let check = |issued: &crate::store::Code| {
        if client_id != issued.grant.client_id {
            return Err(invalid_grant("the code was issued to another client"));
        }
        authenticate(issued.client_secret_digest.as_deref(), secret.as_deref())?;
        if form
            .redirect_uri
            .as_ref()
            .is_some_and(|uri| *uri != issued.redirect_uri)
        {
            return Err(invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        if !pkce_matches(verifier, &issued.code_challenge) {
            return Err(invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        Ok(())
    };
    let grant = server
        .state()
        .redeem_code(&token_digest(code), family, check)
        .await
        .map_err(refused)?
        .grant;
    let mut body = issue(server, base, &grant, Issue::User)?;
    if let Some((_, refresh_token)) = refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    Ok(body)
}

async fn refresh(
    server: &DemoOAuth,
    base: &str,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<Value, OAuthError> {
    let Some(refresh_token) = form.refresh_token.as_deref() else {
        return Err(OAuthError::invalid_request("refresh_token is required"));
    };
    let Some((client_id, secret)) = form.client_identity(headers) else {
        return Err(OAuthError::invalid_request(
            "client_id is required: send the client_id the refresh token was issued to (form field or HTTP Basic)",
        ));
    };
    let new_token = random_token().map_err(|_| server_error())?;
    // Nothing consumes the token when a check fails.
    let narrow = |grant: Grant, client_secret_digest: Option<&str>| {
        if client_id != grant.client_id {
            return Err(invalid_grant(
                "the refresh token was issued to another client; send that client's client_id",
            ));
        }
        authenticate(client_secret_digest, secret.as_deref())?;
        // A refresh may narrow the scopes, never widen them.
        let scopes = match form.scope.as_deref() {
            Some(scope) if !scope.trim().is_empty() => {
                let asked: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
                if let Some(extra) = asked.iter().find(|s| !grant.scopes.contains(s)) {
                    return Err(OAuthError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        format!("scope `{extra}` was not granted"),
                    ));
                }
                asked
            }
            _ => grant.scopes.clone(),
        };
        Ok(Grant { scopes, ..grant })
    };
    let refreshed = server
        .state()
        .rotate_refresh(
            &token_digest(refresh_token),
            token_digest(&new_token),
            narrow,
        )
        .await
        .map_err(refused)?;
    let mut body = issue(server, base, &refreshed, Issue::User)?;
    body["refresh_token"] = json!(new_token);
    Ok(body)
}

pub(crate) fn client_credentials(
    server: &DemoOAuth,
    base: &str,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<Value, OAuthError> {
    let Some((client_id, secret)) = form.client_credentials(headers) else {
        return Err(OAuthError::invalid_client(
            "send client_id and client_secret (form fields or HTTP Basic)",
        ));
    };
    let Some(key) = server.settings().access_keys.iter().find(|key| {
        constant_time_eq(key.client_id.as_bytes(), client_id.as_bytes())
            & constant_time_eq(key.client_secret.as_bytes(), secret.as_bytes())
    }) else {
        return Err(OAuthError::invalid_client("unknown client or wrong secret"));
    };
    let Some(resource) = checked_resource(form.resource.as_deref(), base) else {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "resource must be this server's MCP URL",
        ));
    };
    let known = server.scope_names();
    let scopes: Vec<String> = match form.scope.as_deref() {
        Some(scope) if !scope.trim().is_empty() => {
            let asked: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
            if let Some(extra) = asked
                .iter()
                .find(|s| !key.scopes.contains(s) || !known.contains(s))
            {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    format!("scope `{extra}` is not granted to this key"),
                ));
            }
            asked
        }
        _ => key.scopes.clone(),
    };
    let grant = Grant {
        client_id: key.client_id.clone(),
        subject: key.principal_id.clone(),
        scopes,
        resource,
    };
    issue(server, base, &grant, Issue::Machine)
}

/// Who an access token is issued to: a user (whose grant may come with a
/// refresh token, added by the grant), or a machine (marked as an
/// access-key token).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Issue {
    User,
    Machine,
}

/// The token response for `grant`: a signed access token, issued by `base`.
fn issue(server: &DemoOAuth, base: &str, grant: &Grant, to: Issue) -> Result<Value, OAuthError> {
    let settings = server.settings();
    let now = unix_time().as_secs();
    let expires_in = settings.access_ttl.as_secs();
    let scope = grant.scopes.join(" ");
    // A token id, so an admin can revoke this one token.
    let jti = oauth_kit::random_token().map_err(|_| server_error())?;
    let mut claims = json!({
        "jti": jti,
        "iss": base,
        "sub": grant.subject,
        "aud": grant.resource,
        "iat": now,
        "exp": now + expires_in,
        "scope": scope,
        "client_id": grant.client_id,
    });
    if to == Issue::Machine {
        claims["amr"] = json!(["accesskey"]);
    }
    let access_token = server.inner.key.sign(&claims).map_err(|_| server_error())?;
    tracing::info!(subject = %grant.subject, client = %grant.client_id, "demo token issued");
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope,
    }))
}

/// The token audience for an RFC 8707 `resource` parameter: this server's
/// MCP URL (or base URL), and nothing else: the demo server mints tokens for
/// this server only.
pub(crate) fn checked_resource(resource: Option<&str>, base: &str) -> Option<String> {
    match resource {
        None => Some(format!("{base}/mcp")),
        Some(resource) => {
            let trimmed = resource.trim_end_matches('/');
            (trimmed == format!("{base}/mcp") || trimmed == base).then(|| resource.to_owned())
        }
    }
}

/// `500 server_error`: a key or the random source failed.
pub(crate) fn server_error() -> OAuthError {
    OAuthError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the server could not complete the request",
    )
}
