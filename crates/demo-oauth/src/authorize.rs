//! `GET /oauth/authorize` checks an authorization request and shows the
//! consent page; `POST /oauth/authorize` takes the user's decision back to
//! the client with a code or an error.

use axum::Extension;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oauth_kit::{ClientAddress, random_token, token_digest};
use serde::Deserialize;
use std::net::SocketAddr;

use crate::state::Unreachable;
use crate::store::{Code, Grant, PendingConsent};
use crate::token::{checked_resource, server_error};
use crate::url::{error_redirect, host_and_port, redirect};
use crate::{DemoOAuth, caller, is_admin_scope};
use crate::{consent, error_page, unreachable_page};
use oauth_kit::with_query;

/// Longest `state` parameter kept.
const MAX_STATE_LENGTH: usize = 1024;

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
/// Until both the client and its redirect URI are known good, every error
/// is shown here, as a `400` page, and never redirected: an open redirector
/// is a phishing tool. After that, errors go back to the client as RFC 6749
/// §4.1.2.1 error redirects.
pub(crate) async fn authorize(
    State(server): State<DemoOAuth>,
    address: Option<Extension<ClientAddress>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    query: Result<Query<AuthorizeQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The authorization request cannot be read (a parameter is repeated or badly encoded). Start again from your client.",
        );
    };
    let Some(client_id) = query.client_id.clone().filter(|id| !id.is_empty()) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The request has no client_id. Start again from your client.",
        );
    };
    let client = match server.state().client(&client_id).await {
        Ok(client) => client,
        Err(Unreachable) => return unreachable_page(),
    };
    let Some(client) = client else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This client is not registered here, or its registration was dropped (unused for an hour, or idle for a day). Register it again (POST /oauth/register).",
        );
    };
    let redirect_uri = match query.redirect_uri.clone() {
        Some(uri) if client.redirect_uris.contains(&uri) => uri,
        Some(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "The redirect_uri is not one this client registered. Use a registered redirect URI exactly as registered.",
            );
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "The request has no redirect_uri, and this client registered several: send the one to return to.",
            );
        }
    };
    // The client and the redirect URI are valid: from here on errors may go
    // back to the client.
    if server.state().client_used(&client_id).await.is_err() {
        return unreachable_page();
    }
    if query
        .state
        .as_ref()
        .is_some_and(|s| s.len() > MAX_STATE_LENGTH)
    {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!("The state parameter is longer than {MAX_STATE_LENGTH} characters."),
        );
    }
    let base = server.base_url(&headers);
    // Anyone can register any redirect URI, so sending a dynamically
    // registered client's malformed request straight back to it would make
    // this server an open redirector (RFC 9700 §4.11.2): such errors stay
    // on a page here. Clients the server knows get the usual redirect.
    let unverified = client.dynamic;
    let fail = |error: &str, description: &str| {
        if unverified {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!(
                    "The authorization request is not valid ({error}): {description}. It came \
                     from an unverified client, so you are not sent back to it; start again \
                     from your client."
                ),
            );
        }
        error_redirect(
            &redirect_uri,
            error,
            description,
            query.state.as_deref(),
            &base,
        )
    };
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
    let scopes_known = server.scopes();
    let known: Vec<String> = scopes_known
        .iter()
        .map(|scope| scope.name.clone())
        .collect();
    let user = &server.settings().user;
    let requested: Vec<String> = match &query.scope {
        Some(scope) if !scope.trim().is_empty() => {
            scope.split_whitespace().map(str::to_owned).collect()
        }
        // No scope asked for: every scope the user holds but the
        // administrative ones, which are granted only when named.
        _ => user
            .scopes
            .iter()
            .filter(|s| known.contains(s) && !is_admin_scope(s))
            .cloned()
            .collect(),
    };
    if let Some(unknown) = requested.iter().find(|s| !known.contains(s)) {
        return fail("invalid_scope", &format!("unknown scope `{unknown}`"));
    }
    // The user can consent only to scopes they hold.
    let scopes: Vec<String> = requested
        .into_iter()
        .filter(|s| user.scopes.contains(s))
        .collect();

    let consent_id = match random_token() {
        Ok(id) => id,
        Err(_) => return server_error().to_response().into_response(),
    };
    let destination = host_and_port(&redirect_uri);
    let pending = PendingConsent {
        client_id,
        client_secret_digest: client.secret_digest.clone(),
        redirect_uri,
        state: query.state.clone(),
        code_challenge,
        scopes: scopes.clone(),
        resource,
    };
    let origin = caller::origin(address, peer);
    if server
        .state()
        .add_consent(&consent_id, pending, origin)
        .await
        .is_err()
    {
        return unreachable_page();
    }
    let descriptions: Vec<(String, String)> = scopes
        .iter()
        .map(|scope| {
            let description = scopes_known
                .iter()
                .find(|info| &info.name == scope)
                .map(|info| info.description.clone())
                .unwrap_or_default();
            (scope.clone(), description)
        })
        .collect();
    consent::consent(&consent::Consent {
        client: client.name.as_deref().unwrap_or("An MCP client"),
        unverified: client.dynamic,
        destination: &destination,
        user: &user.principal_id,
        scopes: &descriptions,
        consent_id: &consent_id,
    })
}

/// The consent form.
#[derive(Debug, Deserialize)]
pub(crate) struct ConsentForm {
    consent: String,
    decision: String,
}

/// `POST /oauth/authorize`: the user's decision, redirected to the client.
pub(crate) async fn decide(
    State(server): State<DemoOAuth>,
    address: Option<Extension<ClientAddress>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The decision cannot be read. Start again from your client.",
        );
    };
    let pending = match server.state().take_consent(&form.consent).await {
        Ok(pending) => pending,
        Err(Unreachable) => return unreachable_page(),
    };
    let Some(pending) = pending else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired or was already used. Start again from your client.",
        );
    };
    let base = server.base_url(&headers);
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
        Err(_) => return server_error().to_response().into_response(),
    };
    let issued = Code {
        grant: Grant {
            client_id: pending.client_id,
            subject: server.settings().user.principal_id.clone(),
            scopes: pending.scopes,
            resource: pending.resource,
        },
        client_secret_digest: pending.client_secret_digest,
        redirect_uri: pending.redirect_uri.clone(),
        code_challenge: pending.code_challenge,
    };
    let origin = caller::origin(address, peer);
    if server
        .state()
        .add_code(&token_digest(&code), issued, origin)
        .await
        .is_err()
    {
        return unreachable_page();
    }
    let mut params = vec![("code", code.as_str()), ("iss", base.as_str())];
    if let Some(state_param) = pending.state.as_deref() {
        params.push(("state", state_param));
    }
    redirect(&with_query(&pending.redirect_uri, &params))
}
