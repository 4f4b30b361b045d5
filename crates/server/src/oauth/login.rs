//! The browser login helper: `GET /auth/login` starts authorization code +
//! PKCE against the configured authorization server (Descope, or the demo
//! one), `GET /auth/callback` finishes it and shows the token with a
//! ready-to-paste MCP client configuration. `GET /auth/login?for=console`
//! signs in to the admin console instead: the callback verifies the token,
//! opens a console session and never shows the token.
//!
//! The helper is an ordinary OAuth client of whichever server issues tokens:
//! it talks to the demo server over HTTP exactly as it talks to Descope.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use demo_oauth::{AUTHORIZE_PATH, DemoOAuth};
use oauth_kit::{ClientAddress, escape, html_page, with_query};
use oauth_kit::{pkce_s256, post_token_request, random_token};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{AuthorizationServer, OAuthState};
use crate::settings::DescopeClient;
use crate::shared::Shared;

/// How long a started login may take to come back.
const LOGIN_TTL: Duration = Duration::from_secs(600);
/// How many logins may be in flight at once; past it the oldest is dropped.
const MAX_PENDING: usize = 1000;
/// How many logins one client address may have in flight; past it its own
/// oldest is dropped, so one address cannot push out everyone else's.
const MAX_PENDING_PER_ADDRESS: usize = 8;
/// How many sign-ins one address may begin within [`LOGIN_TTL`] when
/// they are kept in Redis, where an abandoned one stays until it expires.
const MAX_BEGUN_PER_ADDRESS: u64 = 60;
/// How many base URLs the helper keeps a demo client for (one per allowed
/// host a browser used; `Host` is attacker-chosen when every host is allowed).
const MAX_DEMO_CLIENTS: usize = 32;

struct Pending {
    /// Who started it, for the per-address quota.
    address: Option<IpAddr>,
    purpose: Purpose,
    verifier: String,
    redirect_uri: String,
    client_id: String,
    base: String,
    started: Instant,
}

/// A login as replicas share it in Redis (its age is Redis's expiry).
#[derive(Serialize, Deserialize)]
struct SharedPending {
    purpose: Purpose,
    verifier: String,
    redirect_uri: String,
    client_id: String,
    base: String,
}

impl SharedPending {
    fn of(pending: &Pending) -> Self {
        Self {
            purpose: pending.purpose,
            verifier: pending.verifier.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            client_id: pending.client_id.clone(),
            base: pending.base.clone(),
        }
    }

    fn into_pending(self) -> Pending {
        Pending {
            address: None,
            purpose: self.purpose,
            verifier: self.verifier,
            redirect_uri: self.redirect_uri,
            client_id: self.client_id,
            base: self.base,
            started: Instant::now(),
        }
    }
}

/// The kind logins are kept under in Redis.
const LOGIN_FLOW: &str = "login";

/// What a login is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Purpose {
    /// Showing the person their token.
    Token,
    /// Opening an admin console session.
    Console,
}

/// `GET /auth/login`'s query.
#[derive(Deserialize)]
pub(super) struct LoginQuery {
    #[serde(rename = "for")]
    purpose: Option<String>,
}

/// The cookie that ties a console login to the browser that started it, so
/// a login someone else started cannot sign this browser in (login CSRF).
/// `Lax`: it must come back on the authorization server's redirect.
const CONSOLE_LOGIN_COOKIE: &str = "orchestrator_console_login";
/// Its name over https: `__Host-`, so no sibling domain or plain-http
/// answer can plant one.
const SECURE_CONSOLE_LOGIN_COOKIE: &str = "__Host-orchestrator_console_login";

/// The login cookie's name and path over https (`secure`) or http.
fn login_cookie_name(secure: bool) -> (&'static str, &'static str) {
    if secure {
        (SECURE_CONSOLE_LOGIN_COOKIE, "/; Secure")
    } else {
        (CONSOLE_LOGIN_COOKIE, "/auth/callback")
    }
}

/// Where the helper signs people in.
enum Backend<'a> {
    /// The embedded demo server, reached in process.
    Demo(&'a DemoOAuth),
    /// Descope's inbound app, reached over HTTPS.
    Descope(&'a DescopeClient),
}

/// An error page the user sees.
fn error_page(status: StatusCode, message: &str) -> Response {
    oauth_kit::error_page(status, message).into_response()
}

/// What the login helper answers while no backend is configured.
fn unconfigured() -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The login helper needs an OAuth client: set DESCOPE_CLIENT_ID to your Descope inbound app's client id, and register this server's /auth/callback URL with it.",
    )
}

impl OAuthState {
    /// The backend the helper signs in through; `None` in Descope mode
    /// without `DESCOPE_CLIENT_ID`.
    fn login_backend(&self) -> Option<Backend<'_>> {
        match &self.authorization_server {
            AuthorizationServer::Demo(demo) => Some(Backend::Demo(demo)),
            AuthorizationServer::Descope { login_client, .. } => {
                login_client.as_ref().map(Backend::Descope)
            }
        }
    }
}

/// Logins in flight, by `state`: in this process, or, with Redis, where
/// every replica finds them (a login begun on one replica comes back to
/// whichever the load balancer picks).
#[derive(Default)]
pub(crate) struct Logins {
    pending: Mutex<HashMap<String, Pending>>,
    /// The helper's own client id at the demo server, per base URL.
    demo_clients: Mutex<HashMap<String, String>>,
    /// Where replicas share logins.
    shared: Option<Arc<Shared>>,
}

impl Logins {
    /// Logins every replica sharing `shared`'s Redis can finish (in this
    /// process without one).
    pub(crate) fn shared_by(shared: Arc<Shared>) -> Self {
        Self {
            shared: Some(shared),
            ..Self::default()
        }
    }

    /// Keeps `pending` under `key`; `Err` with the page to show when it
    /// cannot be kept.
    async fn put(&self, key: &str, pending: Pending) -> Result<(), Box<Response>> {
        if let Some(redis) = self.shared.as_ref().and_then(|shared| shared.redis()) {
            let text = serde_json::to_string(&SharedPending::of(&pending))
                .map_err(|_| Box::new(could_not_start()))?;
            // Redis forgets a login only when it expires: an address may
            // begin so many within that time, and no more.
            if let Some(address) = pending.address {
                match redis
                    .count_up(LOGIN_FLOW, &address.to_string(), LOGIN_TTL)
                    .await
                {
                    Ok(count) if count > MAX_BEGUN_PER_ADDRESS => {
                        return Err(Box::new(error_page(
                            StatusCode::TOO_MANY_REQUESTS,
                            "Too many sign-ins were begun from this address in the last ten minutes; finish one, or try again later.",
                        )));
                    }
                    Ok(_) => {}
                    Err(_) if !self.fails_open() => return Err(Box::new(redis_away())),
                    Err(_) => {}
                }
            }
            match redis.put_flow(LOGIN_FLOW, key, &text, LOGIN_TTL).await {
                Ok(()) => return Ok(()),
                Err(_) if !self.fails_open() => return Err(Box::new(redis_away())),
                Err(_) => {}
            }
        }
        let mut logins = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        logins.retain(|_, login| login.started.elapsed() < LOGIN_TTL);
        make_room(&mut logins, pending.address);
        logins.insert(key.to_owned(), pending);
        Ok(())
    }

    /// Takes the login under `key`, if it is there and unexpired.
    async fn take(&self, key: &str) -> Result<Option<Pending>, Box<Response>> {
        let local = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key)
            .filter(|login| login.started.elapsed() < LOGIN_TTL);
        if local.is_some() {
            return Ok(local);
        }
        let Some(redis) = self.shared.as_ref().and_then(|shared| shared.redis()) else {
            return Ok(None);
        };
        match redis.take_flow(LOGIN_FLOW, key).await {
            Ok(text) => Ok(text
                .and_then(|text| serde_json::from_str::<SharedPending>(&text).ok())
                .map(SharedPending::into_pending)),
            Err(_) if self.fails_open() => Ok(None),
            Err(_) => Err(Box::new(redis_away())),
        }
    }

    fn fails_open(&self) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|shared| shared.fails_open())
    }
}

fn could_not_start() -> Response {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Could not start the login.",
    )
}

/// The page while Redis, where logins are kept, is unreachable.
fn redis_away() -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-ins are kept in Redis, which is unreachable (REDIS_FAILURE=closed); try again in a moment.",
    )
}

/// `GET /auth/login`.
pub(super) async fn login(
    State(state): State<OAuthState>,
    address: Option<Extension<ClientAddress>>,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    let purpose = match query.purpose.as_deref() {
        None => Purpose::Token,
        Some("console") => Purpose::Console,
        Some(other) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!(
                    "`for={}` is not something to sign in for: leave it out to get a token, or use `for=console` for the admin console.",
                    crate::catalogue::shorten(other)
                ),
            );
        }
    };
    // Counted as the rate limit counts it: an IPv6 client by its /64.
    let address = address.map(|Extension(address)| address.counted_as());
    let base = state.base.for_request(&headers);
    let redirect_uri = format!("{base}/auth/callback");
    let helper = &state.logins;
    let Some(backend) = state.login_backend() else {
        return unconfigured();
    };
    let (client_id, authorize_url) = match backend {
        Backend::Demo(demo) => {
            // The demo server drops a client no login used for a day (or
            // pushes it out when full): register again then.
            let cached = helper
                .demo_clients
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&base)
                .cloned();
            let client_id = match cached {
                Some(id) if demo.has_client(&id).await => id,
                _ => {
                    let Some(id) = demo
                        .register_client("orchestrator-mcp login helper", &redirect_uri)
                        .await
                    else {
                        return error_page(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "The demo server could not register the login helper; try again.",
                        );
                    };
                    let mut clients = helper
                        .demo_clients
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    if clients.len() >= MAX_DEMO_CLIENTS {
                        clients.clear();
                    }
                    clients.insert(base.clone(), id.clone());
                    id
                }
            };
            // The code is exchanged in-process (see `callback`), never by a
            // request to a URL built from the Host header.
            (client_id, format!("{base}{AUTHORIZE_PATH}"))
        }
        Backend::Descope(descope) => (descope.client_id.clone(), descope.authorize_url.clone()),
    };
    let (Ok(verifier), Ok(login_state)) = (random_token(), random_token()) else {
        return could_not_start();
    };
    let kept = helper
        .put(
            &login_state,
            Pending {
                address,
                purpose,
                verifier: verifier.clone(),
                redirect_uri: redirect_uri.clone(),
                client_id: client_id.clone(),
                base: base.clone(),
                started: Instant::now(),
            },
        )
        .await;
    if let Err(page) = kept {
        return *page;
    }
    // A console sign-in asks for what the console needs, not for tools.
    let scopes = match purpose {
        Purpose::Console => state.catalogue.console_scopes(),
        Purpose::Token => Vec::new(),
    };
    let scopes = if scopes.is_empty() {
        state.catalogue.challenge_scopes()
    } else {
        scopes
    }
    .join(" ");
    let resource = format!("{base}/mcp");
    let challenge = pkce_s256(&verifier);
    let location = with_query(
        &authorize_url,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", &redirect_uri),
            ("scope", &scopes),
            ("state", &login_state),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("resource", &resource),
        ],
    );
    let Ok(location) = HeaderValue::from_str(&location) else {
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not build the authorization URL.",
        );
    };
    let mut response = (StatusCode::FOUND, [(LOCATION, location)]).into_response();
    if purpose == Purpose::Console {
        let (name, path) = login_cookie_name(base.starts_with("https://"));
        let cookie = format!(
            "{name}={login_state}; Path={path}; Max-Age={}; HttpOnly; SameSite=Lax",
            LOGIN_TTL.as_secs()
        );
        if let Ok(cookie) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
    }
    response
}

/// Drops the oldest logins until one more from `address` fits both the
/// address's quota and the global cap.
fn make_room(pending: &mut HashMap<String, Pending>, address: Option<IpAddr>) {
    let oldest = |pending: &HashMap<String, Pending>, same_address: bool| {
        pending
            .iter()
            .filter(|(_, login)| !same_address || login.address == address)
            .min_by_key(|(_, login)| login.started)
            .map(|(key, _)| key.clone())
    };
    let from_address = pending
        .values()
        .filter(|login| login.address == address)
        .count();
    if address.is_some()
        && from_address >= MAX_PENDING_PER_ADDRESS
        && let Some(key) = oldest(pending, true)
    {
        pending.remove(&key);
    }
    while pending.len() >= MAX_PENDING {
        let Some(key) = oldest(pending, false) else {
            break;
        };
        pending.remove(&key);
    }
}

/// The callback's query. No `Debug`: it carries the code.
#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/callback`: exchanges the code and shows the token.
pub(super) async fn callback(
    State(state): State<OAuthState>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let taken = match query.state.as_deref() {
        Some(key) => state.logins.take(key).await,
        None => Ok(None),
    };
    let pending = match taken {
        Ok(pending) => pending,
        Err(page) => return *page,
    };
    let Some(pending) = pending else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This login is unknown or has expired. Start again at /auth/login.",
        );
    };
    if let Some(error) = &query.error {
        let description = query.error_description.as_deref().unwrap_or("");
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!("The authorization server refused: {error} {description}"),
        );
    }
    let Some(code) = query.code.as_deref() else {
        return error_page(StatusCode::BAD_REQUEST, "The callback carries no code.");
    };
    let (login_cookie, _) = login_cookie_name(pending.base.starts_with("https://"));
    if pending.purpose == Purpose::Console
        && crate::web::console_session::cookie(&headers, login_cookie) != query.state.as_deref()
    {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This console sign-in was started in another browser. Start again at /admin.",
        );
    }
    let (token, expires_in) = match exchange(&state, &pending, code).await {
        Ok(issued) => issued,
        Err(page) => return *page,
    };
    match pending.purpose {
        Purpose::Token => token_page(&pending.base, &token, expires_in),
        Purpose::Console => {
            console_session(&state, &headers, &pending.base, &token, expires_in).await
        }
    }
}

/// Verifies a console sign-in's token, opens its session (closing the
/// one this browser had) and sends the browser on to the console. The
/// token itself is never shown.
async fn console_session(
    state: &OAuthState,
    headers: &HeaderMap,
    base: &str,
    token: &str,
    expires_in: Option<u64>,
) -> Response {
    use crate::web::console_session;
    let principal = match state.verifier.verify(token).await {
        Ok(principal) => principal,
        Err(err) => {
            return error_page(
                StatusCode::BAD_GATEWAY,
                &format!("The token the sign-in returned does not verify: {err}"),
            );
        }
    };
    let secure = base.starts_with("https://");
    // Decided now only to bound how long a refused session lasts: every
    // console request is decided again.
    let admitted = state.catalogue.console_decision(&principal, None).allowed;
    tracing::info!(
        target: "orchestrator::console",
        principal = %principal.id,
        admitted,
        "console sign-in"
    );
    // A token that expires at once still shows the person where they are.
    let lifetime = Duration::from_secs(expires_in.unwrap_or(3600).max(60));
    state.console_sessions.close(headers, secure);
    let Some((id, lifetime)) = state.console_sessions.open(principal, admitted, lifetime) else {
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not open a console session.",
        );
    };
    let Some(cookie) = console_session::session_cookie(&id, secure, lifetime) else {
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not open a console session.",
        );
    };
    // A page, not a redirect: the browser arrived here from the
    // authorization server, and a redirect would carry that cross-site
    // origin on to /admin, where a SameSite=Strict cookie is not sent.
    // The page's own navigation is same-site.
    let body = "<h1>Signed in</h1>\
        <p><a id=\"continue\" href=\"/admin\">Continue to the console</a></p>";
    let mut response = oauth_kit::html_page(StatusCode::OK, "Signed in", body).into_response();
    let headers = response.headers_mut();
    headers.append(SET_COOKIE, cookie);
    let (name, path) = login_cookie_name(secure);
    if let Ok(forget) = HeaderValue::from_str(&format!(
        "{name}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Lax"
    )) {
        headers.append(SET_COOKIE, forget);
    }
    headers.insert(
        axum::http::header::REFRESH,
        HeaderValue::from_static("0; url=/admin"),
    );
    response
}

/// Exchanges the code for a token: in process with the demo server, over
/// HTTPS with Descope. The token and its lifetime, or the error page.
async fn exchange(
    state: &OAuthState,
    pending: &Pending,
    code: &str,
) -> Result<(String, Option<u64>), Box<Response>> {
    let descope = match state.login_backend() {
        None => return Err(Box::new(unconfigured())),
        Some(Backend::Demo(demo)) => {
            return exchanged_in_process(
                demo.exchange_code(
                    &pending.base,
                    code,
                    &pending.verifier,
                    &pending.redirect_uri,
                    &pending.client_id,
                )
                .await,
            );
        }
        Some(Backend::Descope(descope)) => descope,
    };
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", pending.redirect_uri.as_str()),
        ("client_id", pending.client_id.as_str()),
        ("code_verifier", pending.verifier.as_str()),
    ];
    let secret = descope
        .client_secret
        .as_deref()
        .map(|secret| (descope.client_id.as_str(), secret));
    let reply = match post_token_request(&descope.token_url, &form, secret).await {
        Ok(reply) => reply,
        Err(err) => {
            return Err(Box::new(error_page(
                StatusCode::BAD_GATEWAY,
                &format!("The token request failed: {err}"),
            )));
        }
    };
    let Some(token) = reply.body.get("access_token").and_then(|t| t.as_str()) else {
        let error = reply
            .body
            .get("error_description")
            .or_else(|| reply.body.get("error"));
        return Err(Box::new(error_page(
            StatusCode::BAD_GATEWAY,
            &format!(
                "The token endpoint answered {} without a token: {}",
                reply.status,
                error.map(ToString::to_string).unwrap_or_default()
            ),
        )));
    };
    Ok((
        token.to_owned(),
        reply.body.get("expires_in").and_then(|e| e.as_u64()),
    ))
}

/// The token from a code the demo server exchanged in-process.
fn exchanged_in_process(
    outcome: Result<serde_json::Value, oauth_kit::OAuthError>,
) -> Result<(String, Option<u64>), Box<Response>> {
    match outcome {
        Ok(body) => match body.get("access_token").and_then(|t| t.as_str()) {
            Some(token) => Ok((
                token.to_owned(),
                body.get("expires_in").and_then(|e| e.as_u64()),
            )),
            None => Err(Box::new(error_page(
                StatusCode::BAD_GATEWAY,
                "The demo server issued no token.",
            ))),
        },
        Err(refusal) => Err(Box::new(error_page(
            StatusCode::BAD_REQUEST,
            &format!("The code was refused: {}", refusal.description),
        ))),
    }
}

fn token_page(base: &str, token: &str, expires_in: Option<u64>) -> Response {
    let config = json!({
        "mcpServers": {
            "orchestrator": {
                "url": format!("{base}/mcp"),
                "headers": { "Authorization": format!("Bearer {token}") }
            }
        }
    });
    let config = serde_json::to_string_pretty(&config).unwrap_or_default();
    let curl = format!(
        "curl -X POST {base}/tools/ping \\\n  -H \"Authorization: Bearer {token}\" \\\n  -H \"Content-Type: application/json\" \\\n  -d '{{\"message\": \"test\"}}'"
    );
    let lifetime = expires_in.map_or(String::new(), |secs| {
        format!(" It expires in {} minutes.", secs / 60)
    });
    let body = format!(
        "<h1>Signed in</h1><p>Your access token.{}</p><pre id=\"access-token\">{}</pre>\
         <h2>MCP client configuration</h2><pre id=\"mcp-config\">{}</pre>\
         <h2>Try it</h2><pre id=\"curl\">{}</pre>\
         <p class=\"note\">Treat the token like a password: anyone holding it can call tools as you.</p>",
        escape(&lifetime),
        escape(token),
        escape(&config),
        escape(&curl),
    );
    html_page(StatusCode::OK, "Signed in", &body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(address: &str, started: Instant) -> Pending {
        Pending {
            address: Some(address.parse().expect("an address")),
            purpose: Purpose::Token,
            verifier: String::new(),
            redirect_uri: String::new(),
            client_id: String::new(),
            base: String::new(),
            started,
        }
    }

    #[test]
    fn one_address_past_its_quota_drops_only_its_own_oldest_login() {
        let start = Instant::now();
        let mut pending = HashMap::new();
        pending.insert("other".to_owned(), login("192.0.2.1", start));
        for n in 0..MAX_PENDING_PER_ADDRESS {
            let at = start + Duration::from_secs(n as u64 + 1);
            pending.insert(format!("mine-{n}"), login("203.0.113.9", at));
        }
        make_room(
            &mut pending,
            Some("203.0.113.9".parse().expect("an address")),
        );
        assert!(!pending.contains_key("mine-0"), "its oldest is dropped");
        assert!(pending.contains_key("mine-1"));
        assert!(
            pending.contains_key("other"),
            "another address keeps its login"
        );
    }

    #[test]
    fn a_full_table_drops_the_oldest_login_instead_of_refusing() {
        let start = Instant::now();
        let mut pending = HashMap::new();
        for n in 0..MAX_PENDING {
            let at = start + Duration::from_millis(n as u64);
            pending.insert(
                format!("login-{n}"),
                login(&format!("10.0.{}.{}", n / 250, n % 250), at),
            );
        }
        make_room(
            &mut pending,
            Some("203.0.113.9".parse().expect("an address")),
        );
        assert_eq!(pending.len(), MAX_PENDING - 1);
        assert!(!pending.contains_key("login-0"));
    }
}
