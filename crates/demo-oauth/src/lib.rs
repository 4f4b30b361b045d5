//! The embedded demo authorization server, on only in demo mode.
//!
//! A small but real OAuth 2.1 authorization server, so the whole MCP
//! authorization flow runs offline: metadata (RFC 8414), dynamic client
//! registration (RFC 7591), authorization code with PKCE S256 only, refresh
//! tokens rotated on every use, client credentials for demo access keys, and
//! a JWKS. Its access tokens are RS256 JWTs verified by the same verifier as
//! Descope's. The signed-in user is always the configured demo principal: the
//! consent page is the only interaction.

pub(crate) mod page;
mod store;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use core_auth::DemoPrincipalConfig;
use oauth_kit::{SigningKey, constant_time_eq, pkce_matches, random_token, token_digest};
use serde::Deserialize;
use serde_json::json;

use crate::config::DemoAccessKey;
use crate::http::AppState;
use store::{Client, Grant, PendingConsent, Store};

/// Paths of the demo server's endpoints.
pub(crate) const AUTHORIZE_PATH: &str = "/oauth/authorize";
pub(crate) const TOKEN_PATH: &str = "/oauth/token";
pub(crate) const REGISTER_PATH: &str = "/oauth/register";
pub(crate) const JWKS_PATH: &str = "/oauth/jwks";

/// The demo authorization server.
pub(crate) struct DemoAuthServer {
    key: Arc<SigningKey>,
    user: DemoPrincipalConfig,
    access_keys: Vec<DemoAccessKey>,
    access_ttl: Duration,
    refresh_ttl: Option<Duration>,
    store: Mutex<Store>,
}

impl DemoAuthServer {
    pub(crate) fn new(
        key: Arc<SigningKey>,
        user: DemoPrincipalConfig,
        access_keys: Vec<DemoAccessKey>,
        access_ttl: Duration,
        refresh_ttl: Option<Duration>,
    ) -> Self {
        Self {
            key,
            user,
            access_keys,
            access_ttl,
            refresh_ttl,
            store: Mutex::new(Store::default()),
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The answer of every demo endpoint outside demo mode.
fn not_in_demo_mode() -> Response {
    oauth_error(
        StatusCode::NOT_FOUND,
        "invalid_request",
        "the demo authorization server runs only in demo mode (DESCOPE_DEMO_MODE=true)",
    )
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414). The issuer is
/// this server's base URL as the client reached it, so it equals the
/// protected-resource metadata's `authorization_servers` entry byte for byte.
pub(crate) async fn metadata(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.demo_auth.is_none() {
        return not_in_demo_mode();
    }
    let base = state.request_base(&headers);
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "registration_endpoint": format!("{base}{REGISTER_PATH}"),
        "jwks_uri": format!("{base}{JWKS_PATH}"),
        "scopes_supported": state.scope_names(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": true,
    }))
    .into_response()
}

/// `GET /oauth/jwks`: the key the demo server signs with.
pub(crate) async fn jwks(State(state): State<AppState>) -> Response {
    match state.demo_auth.as_deref() {
        Some(server) => Json(server.key.jwks()).into_response(),
        None => not_in_demo_mode(),
    }
}

/// An RFC 7591 registration request; unknown fields are ignored as the RFC asks.
#[derive(Debug, Deserialize)]
pub(crate) struct Registration {
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
}

/// `POST /oauth/register`: registers a public client (no secret).
/// Registration requests larger than this are refused.
const MAX_REGISTRATION_BYTES: usize = 8 * 1024;
/// At most this many redirect URIs per client, each at most this long.
const MAX_REDIRECT_URIS: usize = 10;
const MAX_URI_LENGTH: usize = 2048;
/// Longest client name and `state` parameter kept.
const MAX_NAME_LENGTH: usize = 200;
const MAX_STATE_LENGTH: usize = 1024;

pub(crate) async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(server) = state.demo_auth.as_deref() else {
        return not_in_demo_mode();
    };
    // JSON only: a cross-site page cannot send it without a CORS preflight.
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return registration_error(
            "invalid_client_metadata",
            "send the registration as application/json",
        );
    }
    if body.len() > MAX_REGISTRATION_BYTES {
        return registration_error(
            "invalid_client_metadata",
            &format!("the registration is larger than {MAX_REGISTRATION_BYTES} bytes"),
        );
    }
    let registration: Registration = match serde_json::from_slice(&body) {
        Ok(registration) => registration,
        Err(err) => {
            return registration_error(
                "invalid_client_metadata",
                &format!("the body is not a registration request: {err}"),
            );
        }
    };
    if registration.redirect_uris.is_empty() {
        return registration_error(
            "invalid_redirect_uri",
            "redirect_uris must list at least one URI",
        );
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
        return registration_error(
            "invalid_client_metadata",
            &format!(
                "at most {MAX_REDIRECT_URIS} redirect URIs of {MAX_URI_LENGTH} characters, and a client_name of {MAX_NAME_LENGTH}"
            ),
        );
    }
    if let Some(bad) = registration
        .redirect_uris
        .iter()
        .find(|uri| !acceptable_redirect(uri))
    {
        return registration_error(
            "invalid_redirect_uri",
            &format!(
                "`{bad}` is not allowed: use https, or http on localhost / 127.0.0.1 / [::1], without a fragment"
            ),
        );
    }
    if let Some(method) = registration.token_endpoint_auth_method.as_deref()
        && method != "none"
    {
        return registration_error(
            "invalid_client_metadata",
            "this server registers public clients only: token_endpoint_auth_method must be `none`",
        );
    }
    if let Some(grants) = &registration.grant_types
        && let Some(bad) = grants
            .iter()
            .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return registration_error(
            "invalid_client_metadata",
            &format!("grant type `{bad}` cannot be registered"),
        );
    }
    let client_id = match random_token() {
        Ok(token) => token,
        Err(_) => return server_error(),
    };
    let client = Client {
        name: registration.client_name.clone(),
        redirect_uris: registration.redirect_uris.clone(),
    };
    if server.store().register(client_id.clone(), client).is_err() {
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many registered clients; try again later",
        );
    }
    tracing::info!(client_name = ?registration.client_name, "demo client registered");
    let body = json!({
        "client_id": client_id,
        "client_id_issued_at": unix_now(),
        "client_name": registration.client_name,
        "redirect_uris": registration.redirect_uris,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    });
    (StatusCode::CREATED, no_store(), Json(body)).into_response()
}

impl DemoAuthServer {
    /// Exchanges an authorization code from inside the server (the login
    /// helper), through the same checks as `POST /oauth/token`. In-process,
    /// so the helper never sends a request to a URL built from a header.
    pub(crate) async fn exchange_code(
        &self,
        base: &str,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
        client_id: &str,
    ) -> Result<serde_json::Value, String> {
        let form = TokenForm {
            grant_type: Some("authorization_code".to_owned()),
            code: Some(code.to_owned()),
            redirect_uri: Some(redirect_uri.to_owned()),
            client_id: Some(client_id.to_owned()),
            code_verifier: Some(verifier.to_owned()),
            ..TokenForm::default()
        };
        let response = authorization_code(self, base, &form);
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .map_err(|err| err.to_string())?;
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|err| err.to_string())?;
        if status.is_success() {
            Ok(value)
        } else {
            Err(value
                .get("error_description")
                .and_then(|d| d.as_str())
                .unwrap_or("the code was refused")
                .to_owned())
        }
    }

    /// Registers a client from inside the server (the login helper).
    pub(crate) fn register_client(&self, name: &str, redirect_uri: &str) -> Option<String> {
        let client_id = random_token().ok()?;
        let client = Client {
            name: Some(name.to_owned()),
            redirect_uris: vec![redirect_uri.to_owned()],
        };
        self.store().register(client_id.clone(), client).ok()?;
        Some(client_id)
    }
}

/// The token audience for an RFC 8707 `resource` parameter: this server's
/// MCP URL (or base URL), and nothing else: the demo server mints tokens for
/// this server only.
fn checked_resource(resource: Option<&str>, base: &str) -> Option<String> {
    match resource {
        None => Some(format!("{base}/mcp")),
        Some(resource) => {
            let trimmed = resource.trim_end_matches('/');
            (trimmed == format!("{base}/mcp") || trimmed == base).then(|| resource.to_owned())
        }
    }
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

/// The query of `GET /oauth/authorize`.
#[derive(Debug, Deserialize)]
pub(crate) struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    resource: Option<String>,
}

/// `GET /oauth/authorize`: checks the request, then shows the consent page.
///
/// Until the client and its redirect URI are known good, errors are shown
/// here and never redirected (an open redirector is a phishing tool). After
/// that, errors go back to the client as RFC 6749 error redirects.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<AuthorizeQuery>,
) -> Response {
    let Some(server) = state.demo_auth.as_deref() else {
        return not_in_demo_mode();
    };
    let Some(client_id) = query.client_id.clone() else {
        return page::error(StatusCode::BAD_REQUEST, "The request has no client_id.");
    };
    let Some(client) = server.store().client(&client_id).cloned() else {
        return page::error(
            StatusCode::BAD_REQUEST,
            "This client is not registered here. Register it first (POST /oauth/register).",
        );
    };
    let redirect_uri = match query.redirect_uri.clone() {
        Some(uri) if client.redirect_uris.contains(&uri) => uri,
        Some(_) => {
            return page::error(
                StatusCode::BAD_REQUEST,
                "The redirect_uri is not one this client registered.",
            );
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return page::error(StatusCode::BAD_REQUEST, "The request has no redirect_uri."),
    };
    let base = state.request_base(&headers);
    let fail = |error: &str, description: &str| {
        error_redirect(
            &redirect_uri,
            error,
            description,
            query.state.as_deref(),
            &base,
        )
    };

    if query
        .state
        .as_ref()
        .is_some_and(|s| s.len() > MAX_STATE_LENGTH)
    {
        return page::error(StatusCode::BAD_REQUEST, "The state parameter is too long.");
    }
    if query.response_type.as_deref() != Some("code") {
        return fail("unsupported_response_type", "response_type must be `code`");
    }
    let Some(code_challenge) = query.code_challenge.clone().filter(|c| !c.is_empty()) else {
        return fail(
            "invalid_request",
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        );
    };
    if query.code_challenge_method.as_deref() != Some("S256") {
        return fail(
            "invalid_request",
            "code_challenge_method must be S256; `plain` is not accepted",
        );
    }
    if code_challenge.len() != 43 {
        return fail(
            "invalid_request",
            "code_challenge must be a base64url SHA-256 (43 characters)",
        );
    }
    let Some(resource) = checked_resource(query.resource.as_deref(), &base) else {
        return fail("invalid_target", "resource must be this server's MCP URL");
    };
    let known = state.scope_names();
    let requested: Vec<String> = match &query.scope {
        Some(scope) if !scope.trim().is_empty() => {
            scope.split_whitespace().map(str::to_owned).collect()
        }
        // No scope asked for: everything the user holds.
        _ => server
            .user
            .scopes
            .iter()
            .filter(|s| known.contains(s))
            .cloned()
            .collect(),
    };
    if let Some(unknown) = requested.iter().find(|s| !known.contains(s)) {
        return fail("invalid_scope", &format!("unknown scope `{unknown}`"));
    }
    // The user can consent only to scopes they hold.
    let scopes: Vec<String> = requested
        .into_iter()
        .filter(|s| server.user.scopes.contains(s))
        .collect();

    let consent_id = match random_token() {
        Ok(id) => id,
        Err(_) => return server_error(),
    };
    let pending = PendingConsent {
        client_id,
        redirect_uri,
        state: query.state.clone(),
        code_challenge,
        scopes: scopes.clone(),
        resource,
    };
    if server
        .store()
        .add_consent(consent_id.clone(), pending)
        .is_err()
    {
        return page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many sign-ins in progress; try again later.",
        );
    }
    let descriptions: Vec<(String, String)> = scopes
        .iter()
        .map(|scope| {
            let description = state
                .catalogue
                .policies()
                .scopes()
                .iter()
                .find(|info| &info.name == scope)
                .map(|info| info.description.clone())
                .unwrap_or_default();
            (scope.clone(), description)
        })
        .collect();
    page::consent(
        client.name.as_deref().unwrap_or("An MCP client"),
        &server.user.principal_id,
        &descriptions,
        &consent_id,
    )
}

/// The consent form.
#[derive(Debug, Deserialize)]
pub(crate) struct ConsentForm {
    consent: String,
    decision: String,
}

/// `POST /oauth/authorize`: the user's decision, redirected to the client.
pub(crate) async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Response {
    let Some(server) = state.demo_auth.as_deref() else {
        return not_in_demo_mode();
    };
    let Some(pending) = server.store().take_consent(&form.consent) else {
        return page::error(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired or was already used. Start again from your client.",
        );
    };
    let base = state.request_base(&headers);
    if form.decision != "approve" {
        return error_redirect(
            &pending.redirect_uri,
            "access_denied",
            "the user denied the request",
            pending.state.as_deref(),
            &base,
        );
    }
    let code = match random_token() {
        Ok(code) => code,
        Err(_) => return server_error(),
    };
    let grant = Grant {
        client_id: pending.client_id,
        subject: server.user.principal_id.clone(),
        scopes: pending.scopes,
        resource: pending.resource,
        redirect_uri: Some(pending.redirect_uri.clone()),
        code_challenge: Some(pending.code_challenge),
        session_ends: None,
    };
    if server.store().add_code(token_digest(&code), grant).is_err() {
        return page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many sign-ins in progress; try again later.",
        );
    }
    let mut params = vec![("code", code.as_str()), ("iss", base.as_str())];
    if let Some(state_param) = pending.state.as_deref() {
        params.push(("state", state_param));
    }
    redirect(&with_query(&pending.redirect_uri, &params))
}

/// A token request (form-encoded, RFC 6749 §4.1.3, §6, §4.4).
#[derive(Default, Deserialize)]
pub(crate) struct TokenForm {
    pub(crate) grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
}

// Secrets stay out of debug output.
impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenForm")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// `POST /oauth/token`.
pub(crate) async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let Some(server) = state.demo_auth.as_deref() else {
        return not_in_demo_mode();
    };
    let base = state.request_base(&headers);
    match form.grant_type.as_deref() {
        Some("authorization_code") => authorization_code(server, &base, &form),
        Some("refresh_token") => refresh(server, &base, &form),
        Some("client_credentials") => client_credentials(server, &state, &base, &headers, &form),
        Some(other) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type `{other}` is not supported"),
        ),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        ),
    }
}

fn authorization_code(server: &DemoAuthServer, base: &str, form: &TokenForm) -> Response {
    let (Some(code), Some(verifier)) = (form.code.as_deref(), form.code_verifier.as_deref()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code and code_verifier are required",
        );
    };
    let Some(grant) = server.store().take_code(&token_digest(code)) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the code is unknown, expired or already used",
        );
    };
    if form.client_id.as_deref() != Some(grant.client_id.as_str()) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the code was issued to another client",
        );
    }
    if form.redirect_uri.is_some() && form.redirect_uri != grant.redirect_uri {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        );
    }
    let challenge = grant.code_challenge.as_deref().unwrap_or_default();
    if !pkce_matches(verifier, challenge) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        );
    }
    issue(server, base, grant, None)
}

fn refresh(server: &DemoAuthServer, base: &str, form: &TokenForm) -> Response {
    let Some(refresh_token) = form.refresh_token.as_deref() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is required",
        );
    };
    // Taken out of the store: a refresh token works once (rotation).
    let Some(grant) = server.store().take_refresh(&token_digest(refresh_token)) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the refresh token is unknown, expired or already used",
        );
    };
    if form
        .client_id
        .as_deref()
        .is_some_and(|id| id != grant.client_id)
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the refresh token was issued to another client",
        );
    }
    // A refresh may narrow the scopes, never widen them.
    let narrowed = match form.scope.as_deref() {
        Some(scope) if !scope.trim().is_empty() => {
            let asked: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
            if let Some(extra) = asked.iter().find(|s| !grant.scopes.contains(s)) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!("scope `{extra}` was not granted"),
                );
            }
            Some(asked)
        }
        _ => None,
    };
    issue(server, base, grant, narrowed)
}

fn client_credentials(
    server: &DemoAuthServer,
    state: &AppState,
    base: &str,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Response {
    let Some((client_id, secret)) = client_secret(headers, form) else {
        return invalid_client("send client_id and client_secret (form fields or HTTP Basic)");
    };
    let Some(key) = server.access_keys.iter().find(|key| {
        constant_time_eq(key.client_id.as_bytes(), client_id.as_bytes())
            & constant_time_eq(key.client_secret.as_bytes(), secret.as_bytes())
    }) else {
        return invalid_client("unknown client or wrong secret");
    };
    let Some(resource) = checked_resource(form.resource.as_deref(), base) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "resource must be this server's MCP URL",
        );
    };
    let known = state.scope_names();
    let scopes: Vec<String> = match form.scope.as_deref() {
        Some(scope) if !scope.trim().is_empty() => {
            let asked: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
            if let Some(extra) = asked
                .iter()
                .find(|s| !key.scopes.contains(s) || !known.contains(s))
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!("scope `{extra}` is not granted to this key"),
                );
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
    issue_access_token(server, base, &grant, &grant.scopes, true, false)
}

/// The client secret alone, from HTTP Basic or the form: an access key
/// identifies its machine by itself, so no client_id is needed.
pub(crate) fn presented_secret(headers: &HeaderMap, form: &TokenForm) -> Option<String> {
    if headers.contains_key(AUTHORIZATION) {
        return client_secret(headers, form).map(|(_, secret)| secret);
    }
    form.client_secret.clone()
}

/// `client_id` and `client_secret` from HTTP Basic or the form.
pub(crate) fn client_secret(headers: &HeaderMap, form: &TokenForm) -> Option<(String, String)> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, encoded) = value.trim().split_once(' ')?;
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let (id, secret) = text.split_once(':')?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded.
            return Some((form_decode(id), form_decode(secret)));
        }
    }
    Some((form.client_id.clone()?, form.client_secret.clone()?))
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'+' {
            out.push(b' ');
            i += 1;
            continue;
        }
        if byte == b'%' && i + 2 < bytes.len() {
            let high = (bytes[i + 1] as char).to_digit(16);
            let low = (bytes[i + 2] as char).to_digit(16);
            if let (Some(high), Some(low)) = (high, low) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(byte);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Issues an access token (and, for user grants, a rotated refresh token).
fn issue(
    server: &DemoAuthServer,
    base: &str,
    grant: Grant,
    scopes: Option<Vec<String>>,
) -> Response {
    let scopes = scopes.unwrap_or_else(|| grant.scopes.clone());
    let with_refresh = server.refresh_ttl.is_some();
    issue_access_token(server, base, &grant, &scopes, false, with_refresh)
}

fn issue_access_token(
    server: &DemoAuthServer,
    base: &str,
    grant: &Grant,
    scopes: &[String],
    machine: bool,
    with_refresh: bool,
) -> Response {
    let now = unix_now();
    let expires_in = server.access_ttl.as_secs();
    let mut claims = json!({
        "iss": base,
        "sub": grant.subject,
        "aud": grant.resource,
        "iat": now,
        "exp": now + expires_in,
        "scope": scopes.join(" "),
        "client_id": grant.client_id,
    });
    if machine {
        claims["amr"] = json!(["accesskey"]);
    }
    let Ok(access_token) = server.key.sign(&claims) else {
        return server_error();
    };
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scopes.join(" "),
    });
    if with_refresh {
        let (Ok(refresh_token), Some(ttl)) = (random_token(), server.refresh_ttl) else {
            return server_error();
        };
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
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many active sessions; try again later",
            );
        }
        body["refresh_token"] = json!(refresh_token);
    }
    tracing::info!(subject = %grant.subject, client = %grant.client_id, "demo token issued");
    (StatusCode::OK, no_store(), Json(body)).into_response()
}

/// An RFC 6749 §5.2 error response.
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        no_store(),
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn invalid_client(description: &str) -> Response {
    let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    response.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"orchestrator-mcp\""),
    );
    response
}

fn registration_error(error: &str, description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

fn server_error() -> Response {
    oauth_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the server could not complete the request",
    )
}

fn no_store() -> [(axum::http::HeaderName, HeaderValue); 1] {
    [(CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

fn error_redirect(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> Response {
    let mut params = vec![
        ("error", error),
        ("error_description", description),
        ("iss", issuer),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    redirect(&with_query(redirect_uri, &params))
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(LOCATION, value)]).into_response(),
        Err(_) => page::error(StatusCode::BAD_REQUEST, "The redirect URI cannot be used."),
    }
}

/// `uri` with `params` appended to its query, form-encoded.
pub(crate) fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let encoded: Vec<String> = params
        .iter()
        .map(|(key, value)| format!("{}={}", percent_encode(key), percent_encode(value)))
        .collect();
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{}", encoded.join("&"))
}

/// RFC 3986 unreserved characters stay; everything else is %-encoded.
pub(crate) fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%3Ab+c%2"), "a:b c%2");
        assert_eq!(form_decode("plain"), "plain");
        assert_eq!(form_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn query_parameters_are_encoded() {
        assert_eq!(
            with_query(
                "http://localhost/cb",
                &[("code", "a b&c"), ("state", "x=y")]
            ),
            "http://localhost/cb?code=a%20b%26c&state=x%3Dy"
        );
        assert_eq!(
            with_query("http://localhost/cb?keep=1", &[("code", "z")]),
            "http://localhost/cb?keep=1&code=z"
        );
    }
}
