//! `POST /oauth/token`: the authorization-code grant (PKCE S256), refresh
//! tokens rotated on every use, and client credentials for demo access keys.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use oauth_kit::{
    NO_STORE, OAuthError, TokenForm, constant_time_eq, pkce_matches, random_token, token_digest,
    unix_time,
};
use serde_json::{Value, json};

use crate::DemoOAuth;
use crate::store::Grant;

/// `POST /oauth/token`.
pub(crate) async fn token(
    State(server): State<DemoOAuth>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let base = server.base_url(&headers);
    respond(match form.grant_type.as_deref() {
        Some("authorization_code") => authorization_code(&server, &base, &form),
        Some("refresh_token") => refresh(&server, &base, &form),
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

pub(crate) fn authorization_code(
    server: &DemoOAuth,
    base: &str,
    form: &TokenForm,
) -> Result<Value, OAuthError> {
    let (Some(code), Some(verifier)) = (form.code.as_deref(), form.code_verifier.as_deref()) else {
        return Err(OAuthError::invalid_request(
            "code and code_verifier are required",
        ));
    };
    let Some(grant) = server.store().take_code(&token_digest(code)) else {
        return Err(invalid_grant(
            "the code is unknown, expired or already used",
        ));
    };
    if form.client_id.as_deref() != Some(grant.client_id.as_str()) {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if form.redirect_uri.is_some() && form.redirect_uri != grant.redirect_uri {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    let challenge = grant.code_challenge.as_deref().unwrap_or_default();
    if !pkce_matches(verifier, challenge) {
        return Err(invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    let scopes = grant.scopes.clone();
    issue(server, base, &grant, &scopes, Issue::User)
}

fn refresh(server: &DemoOAuth, base: &str, form: &TokenForm) -> Result<Value, OAuthError> {
    let Some(refresh_token) = form.refresh_token.as_deref() else {
        return Err(OAuthError::invalid_request("refresh_token is required"));
    };
    // Taken out of the store: a refresh token works once (rotation).
    let Some(grant) = server.store().take_refresh(&token_digest(refresh_token)) else {
        return Err(invalid_grant(
            "the refresh token is unknown, expired or already used",
        ));
    };
    if form
        .client_id
        .as_deref()
        .is_some_and(|id| id != grant.client_id)
    {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
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
    issue(server, base, &grant, &scopes, Issue::User)
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
        redirect_uri: None,
        code_challenge: None,
        session_ends: None,
    };
    issue(server, base, &grant, &grant.scopes, Issue::Machine)
}

/// Who a token is issued to: a user's grant gets a rotated refresh token
/// (when refresh is on); a machine's is marked as an access-key token.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Issue {
    User,
    Machine,
}

fn issue(
    server: &DemoOAuth,
    base: &str,
    grant: &Grant,
    scopes: &[String],
    to: Issue,
) -> Result<Value, OAuthError> {
    let settings = server.settings();
    let now = unix_time().as_secs();
    let expires_in = settings.access_ttl.as_secs();
    let mut claims = json!({
        "iss": base,
        "sub": grant.subject,
        "aud": grant.resource,
        "iat": now,
        "exp": now + expires_in,
        "scope": scopes.join(" "),
        "client_id": grant.client_id,
    });
    if to == Issue::Machine {
        claims["amr"] = json!(["accesskey"]);
    }
    let access_token = server.inner.key.sign(&claims).map_err(|_| server_error())?;
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scopes.join(" "),
    });
    if let (Issue::User, Some(ttl)) = (to, settings.refresh_ttl) {
        let refresh_token = random_token().map_err(|_| server_error())?;
        // The sign-in lasts the refresh TTL from its first token; rotation
        // never extends it.
        let now = std::time::Instant::now();
        let session_ends = grant
            .session_ends
            .or_else(|| now.checked_add(ttl))
            .unwrap_or(now);
        let left = session_ends.saturating_duration_since(now);
        let refreshed = Grant {
            scopes: scopes.to_vec(),
            redirect_uri: None,
            code_challenge: None,
            session_ends: Some(session_ends),
            ..grant.clone()
        };
        if left.is_zero()
            || server
                .store()
                .add_refresh(token_digest(&refresh_token), refreshed, left)
                .is_err()
        {
            return Err(OAuthError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many active sessions; try again later",
            ));
        }
        body["refresh_token"] = json!(refresh_token);
    }
    tracing::info!(subject = %grant.subject, client = %grant.client_id, "demo token issued");
    Ok(body)
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
