//! The embedded demo authorization server, driven as an OAuth client would:
//! metadata, registration, authorize with PKCE, consent, token, refresh
//! (and its reuse), client credentials; the tokens it issues calling tools;
//! its per-address quotas and its issuer under `PUBLIC_URL`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use e2e::{Sandbox, Server};
use insta::assert_json_snapshot;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::util::{canonical, get, post_tool};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn register(server: &Server) -> String {
    let response = no_redirects()
        .post(server.url("/oauth/register"))
        .json(&json!({"client_name": "e2e client", "redirect_uris": [REDIRECT]}))
        .send()
        .expect("register");
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().expect("json");
    body["client_id"].as_str().expect("client_id").to_owned()
}

/// The query parameters of a redirect's `Location`.
fn location_params(response: &reqwest::blocking::Response) -> Vec<(String, String)> {
    let location = response.headers()["location"].to_str().expect("location");
    let url = reqwest::Url::parse(location).expect("url");
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The consent id in a consent page's form.
fn consent_id(html: &str) -> &str {
    html.split("name=\"consent\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("consent id in the form")
}

/// Runs authorize + consent and returns the authorization code.
fn authorize(server: &Server, client_id: &str, scope: &str) -> String {
    let page = no_redirects()
        .get(server.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "xyz"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .expect("authorize");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().expect("html");
    for requested in scope.split_whitespace() {
        assert!(
            html.contains(requested),
            "the consent page lists {requested}"
        );
    }
    let consent = consent_id(&html);
    let decision = no_redirects()
        .post(server.url("/oauth/authorize"))
        .form(&[("consent", consent), ("decision", "approve")])
        .send()
        .expect("consent");
    assert_eq!(decision.status().as_u16(), 302);
    let params = location_params(&decision);
    assert_eq!(param(&params, "state"), Some("xyz"));
    assert_eq!(param(&params, "iss"), Some(server.base_url()));
    param(&params, "code").expect("code").to_owned()
}

fn token(server: &Server, form: &[(&str, &str)]) -> (u16, Value) {
    let response = no_redirects()
        .post(server.url("/oauth/token"))
        .form(form)
        .send()
        .expect("token");
    let status = response.status().as_u16();
    (status, response.json().expect("json"))
}

#[test]
fn metadata_issuer_matches_the_protected_resource_metadata() {
    let server = Server::start(&Sandbox::new());
    let resource = get(&server, "/.well-known/oauth-protected-resource/mcp");
    let issuer = resource.body["authorization_servers"][0]
        .as_str()
        .expect("issuer")
        .to_owned();
    let metadata = get(&server, "/.well-known/oauth-authorization-server");
    assert_eq!(metadata.body["issuer"], issuer, "byte for byte");
    assert_json_snapshot!("authorization_server_metadata", canonical(&metadata.body), {
        ".issuer" => "[base]",
        ".authorization_endpoint" => "[base]/oauth/authorize",
        ".token_endpoint" => "[base]/oauth/token",
        ".registration_endpoint" => "[base]/oauth/register",
        ".jwks_uri" => "[base]/oauth/jwks",
    });
}

#[test]
fn authorization_code_with_pkce_gives_a_token_that_calls_ping() {
    let server = Server::start(&Sandbox::new());
    let client_id = register(&server);
    let code = authorize(&server, &client_id, "tools:ping");
    let (status, body) = token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "tools:ping");
    let access = body["access_token"].as_str().expect("access token");
    let reply = post_tool(&server, "ping", Some(access), "{}");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["structuredContent"]["principal_id"], "demo-user");

    // The code is single-use.
    let (status, body) = token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[test]
fn a_wrong_code_verifier_is_refused() {
    let server = Server::start(&Sandbox::new());
    let client_id = register(&server);
    let code = authorize(&server, &client_id, "tools:ping");
    let (status, body) = token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client_id),
            ("code_verifier", &"x".repeat(43)),
        ],
    );
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("code_verifier"))
    );
}

#[test]
fn plain_and_missing_pkce_challenges_are_refused() {
    let server = Server::start(&Sandbox::new());
    let client_id = register(&server);
    for extra in [
        vec![
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "plain"),
        ],
        vec![("code_challenge", VERIFIER)],
        vec![],
    ] {
        let mut query = vec![
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("state", "s1"),
        ];
        query.extend(extra);
        let response = no_redirects()
            .get(server.url("/oauth/authorize"))
            .query(&query)
            .send()
            .expect("authorize");
        // The client registered itself, so its redirect URI is anyone's
        // choice: the error stays on a page here instead of redirecting.
        assert_eq!(response.status().as_u16(), 400);
        assert!(response.headers().get("location").is_none());
        let page = response.text().expect("an error page");
        assert!(page.contains("(invalid_request)"), "{page}");
        assert!(page.contains("unverified client"), "{page}");
    }
}

#[test]
fn an_unregistered_redirect_uri_is_never_redirected_to() {
    let server = Server::start(&Sandbox::new());
    let client_id = register(&server);
    let response = no_redirects()
        .get(server.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", "https://evil.example/steal"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .expect("authorize");
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.headers().get("location").is_none());
}

#[test]
fn refresh_tokens_rotate() {
    let server = Server::start(&Sandbox::new());
    let client_id = register(&server);
    let code = authorize(&server, &client_id, "tools:ping");
    let (_, first) = token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
        ],
    );
    let refresh = first["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let (status, second) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client_id),
        ],
    );
    assert_eq!(status, 200, "{second}");
    assert_ne!(
        second["refresh_token"], first["refresh_token"],
        "a new refresh token each time"
    );
    let access = second["access_token"].as_str().expect("access");
    assert_eq!(post_tool(&server, "ping", Some(access), "{}").status, 200);
    // The old refresh token is spent.
    let (status, body) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client_id),
        ],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[test]
fn client_credentials_with_a_demo_access_key_is_a_machine() {
    let server = Server::start(&Sandbox::new());
    // HTTP Basic, as ordinary OAuth libraries send it.
    let response = no_redirects()
        .post(server.url("/oauth/token"))
        .basic_auth("demo-machine", Some("demo_access_key_12345"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .expect("token");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().expect("json");
    let access = body["access_token"].as_str().expect("access");
    let reply = post_tool(&server, "ping", Some(access), "{}");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        reply.body["structuredContent"]["principal_id"],
        "K2demomachine"
    );

    let (status, body) = token(
        &server,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "demo-machine"),
            ("client_secret", "wrong"),
        ],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

#[test]
fn registration_refuses_unsafe_redirect_uris() {
    let server = Server::start(&Sandbox::new());
    let response = no_redirects()
        .post(server.url("/oauth/register"))
        .json(&json!({"redirect_uris": ["http://evil.example/cb"]}))
        .send()
        .expect("register");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().expect("json");
    assert_eq!(body["error"], "invalid_redirect_uri");
}

/// Follows one redirect by hand, returning the response at `Location`.
fn follow(response: &reqwest::blocking::Response) -> reqwest::blocking::Response {
    assert_eq!(response.status().as_u16(), 302, "expected a redirect");
    let location = response.headers()["location"].to_str().expect("location");
    no_redirects()
        .get(location)
        .send()
        .expect("follow redirect")
}

#[test]
fn the_login_helper_ends_on_a_page_with_a_working_token() {
    let server = Server::start(&Sandbox::new());
    let start = no_redirects()
        .get(server.url("/auth/login"))
        .send()
        .expect("login");
    let consent = follow(&start);
    assert_eq!(consent.status().as_u16(), 200);
    let html = consent.text().expect("consent page");
    assert!(
        html.contains("tools:ping"),
        "the consent page lists the scopes"
    );
    assert!(
        !html.contains("unverified"),
        "the login helper is the server's own client, not a self-registered one"
    );
    let approved = no_redirects()
        .post(server.url("/oauth/authorize"))
        .form(&[("consent", consent_id(&html)), ("decision", "approve")])
        .send()
        .expect("approve");
    let landing = follow(&approved);
    assert_eq!(landing.status().as_u16(), 200);
    let page = landing.text().expect("token page");
    let token = page
        .split("<pre id=\"access-token\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .expect("the page shows the token");
    assert!(
        page.contains("mcpServers"),
        "the page shows an MCP client configuration"
    );
    assert!(page.contains(&format!("{}/mcp", server.base_url())));

    let reply = post_tool(&server, "ping", Some(token), "{}");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["structuredContent"]["principal_id"], "demo-user");
}

#[test]
fn a_callback_with_an_unknown_state_is_refused() {
    let server = Server::start(&Sandbox::new());
    let response = no_redirects()
        .get(server.url("/auth/callback?code=abc&state=forged"))
        .send()
        .expect("callback");
    assert_eq!(response.status().as_u16(), 400);
    assert!(
        response
            .text()
            .expect("page")
            .contains("unknown or has expired")
    );
}

#[test]
fn the_login_helper_needs_a_client_id_in_production() {
    let descope = e2e::FakeDescope::start();
    let server = Server::start_with(&Sandbox::new(), descope.launch());
    let response = no_redirects()
        .get(server.url("/auth/login"))
        .send()
        .expect("login");
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.text().expect("page").contains("DESCOPE_CLIENT_ID"));

    let configured = Server::start_with(
        &Sandbox::new(),
        descope.launch().env("DESCOPE_CLIENT_ID", "app-client-1"),
    );
    let response = no_redirects()
        .get(configured.url("/auth/login"))
        .send()
        .expect("login");
    assert_eq!(response.status().as_u16(), 302);
    let location = response.headers()["location"].to_str().expect("location");
    assert!(
        location.starts_with(&format!("{}/oauth2/v1/apps/authorize?", descope.base_url())),
        "{location}"
    );
    assert!(
        location.contains("code_challenge_method=S256"),
        "{location}"
    );
    assert!(location.contains("client_id=app-client-1"), "{location}");
    let url = reqwest::Url::parse(location).expect("url");
    let redirect = url
        .query_pairs()
        .find(|(key, _)| key == "redirect_uri")
        .map(|(_, value)| value.into_owned());
    assert_eq!(
        redirect,
        Some(format!("{}/auth/callback", configured.base_url()))
    );
}

#[test]
fn client_credentials_mint_tokens_for_this_server_only() {
    let server = Server::start(&Sandbox::new());
    let (status, body) = token(
        &server,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "demo-machine"),
            ("client_secret", "demo_access_key_12345"),
            ("resource", "https://another-server.example/mcp"),
        ],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
}

#[test]
fn registration_takes_small_json_only() {
    let server = Server::start(&Sandbox::new());
    let as_text = no_redirects()
        .post(server.url("/oauth/register"))
        .header("Content-Type", "text/plain")
        .body(json!({"redirect_uris": [REDIRECT]}).to_string())
        .send()
        .expect("register");
    assert_eq!(as_text.status().as_u16(), 400);
    let huge = no_redirects()
        .post(server.url("/oauth/register"))
        .json(&json!({"redirect_uris": [REDIRECT], "client_name": "x".repeat(20_000)}))
        .send()
        .expect("register");
    assert_eq!(huge.status().as_u16(), 400);
}

/// Signs a fresh client in: its id and the first token response.
fn signed_in(server: &Server) -> (String, Value) {
    let client_id = register(server);
    let code = authorize(server, &client_id, "tools:ping");
    let (status, body) = token(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(status, 200, "{body}");
    (client_id, body)
}

#[test]
fn a_reused_refresh_token_revokes_its_whole_sign_in() {
    let server = Server::start(&Sandbox::new());
    let (client_id, first) = signed_in(&server);
    let first = first["refresh_token"].as_str().expect("refresh token");

    // The client id is required, and must be the one the token was issued to.
    let (status, body) = token(
        &server,
        &[("grant_type", "refresh_token"), ("refresh_token", first)],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("client_id is required")),
        "{body}"
    );

    let (status, second) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first),
            ("client_id", &client_id),
        ],
    );
    assert_eq!(status, 200, "{second}");
    let second = second["refresh_token"].as_str().expect("rotated");

    // The rotated token comes back: someone else holds this sign-in's tokens.
    let (status, body) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first),
            ("client_id", &client_id),
        ],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let said = body["error_description"].as_str().unwrap_or_default();
    assert!(
        said.contains("reused") && said.contains("revoked") && said.contains("sign in again"),
        "{said}"
    );
    // And the newest token of the sign-in stops working too.
    let (status, body) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second),
            ("client_id", &client_id),
        ],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("revoked")),
        "{body}"
    );
}

#[test]
fn the_consent_page_shows_where_the_answer_goes_and_grants_no_admin_scope_unasked() {
    let server = Server::start(&Sandbox::new());
    let client_id = register(&server);
    let page = no_redirects()
        .get(server.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .expect("authorize");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().expect("html");
    assert!(
        html.contains("<code id=\"redirect-host\">127.0.0.1:9</code>"),
        "{html}"
    );
    assert!(html.contains("(unverified)"), "{html}");
    assert!(html.contains("tools:ping"), "{html}");
    assert!(
        !html.contains("admin:"),
        "no scope asked for: no admin scope, {html}"
    );
}

#[test]
fn errors_before_the_client_and_redirect_uri_are_known_good_stay_on_the_server() {
    let server = Server::start(&Sandbox::new());
    let response = no_redirects()
        .get(server.url("/oauth/authorize"))
        .query(&[
            ("client_id", "never-registered"),
            ("redirect_uri", "https://evil.example/steal"),
            ("response_type", "token"),
            ("state", "s"),
        ])
        .send()
        .expect("authorize");
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(
        response
            .text()
            .expect("page")
            .contains("not registered here")
    );
}

#[test]
fn one_address_registering_past_its_quota_pushes_out_only_its_own_oldest_client() {
    // Every request comes from 127.0.0.1: the server keys its quota by the
    // connection's peer.
    let server = Server::start(&Sandbox::new());
    let clients: Vec<String> = (0..21).map(|_| register(&server)).collect();
    let starts = |client_id: &str| {
        no_redirects()
            .get(server.url("/oauth/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", REDIRECT),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .expect("authorize")
            .status()
            .as_u16()
    };
    assert_eq!(
        starts(&clients[0]),
        400,
        "the oldest registration was dropped"
    );
    assert_eq!(starts(&clients[1]), 200);
    assert_eq!(starts(&clients[20]), 200);
}

#[test]
fn with_a_public_url_a_forged_host_does_not_change_the_issuer() {
    let public = "https://mcp.example.com";
    let server = Server::start_with(
        &Sandbox::new(),
        e2e::Launch::default().env("PUBLIC_URL", public),
    );
    // `localhost` passes the Host guard with any port: the port is forged.
    let metadata: Value = no_redirects()
        .get(server.url("/.well-known/oauth-authorization-server"))
        .header("Host", "localhost:6666")
        .send()
        .expect("metadata")
        .json()
        .expect("json");
    assert_eq!(metadata["issuer"], public);
    assert_eq!(metadata["jwks_uri"], format!("{public}/oauth/jwks"));

    let minted: Value = no_redirects()
        .post(server.url("/oauth/token"))
        .header("Host", "localhost:6666")
        .basic_auth("demo-machine", Some("demo_access_key_12345"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .expect("token")
        .json()
        .expect("json");
    let access = minted["access_token"].as_str().expect("access token");
    let payload = access.split('.').nth(1).expect("payload");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
            .expect("claims");
    assert_eq!(claims["iss"], public);
    assert_eq!(claims["aud"], format!("{public}/mcp"));
    // And the server, which accepts its configured issuer only, takes it.
    assert_eq!(post_tool(&server, "ping", Some(access), "{}").status, 200);
}
