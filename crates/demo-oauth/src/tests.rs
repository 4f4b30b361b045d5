//! The demo authorization server's router, called in process through
//! `tower::ServiceExt::oneshot`: no socket, no binary. The caller's address
//! is the `ClientAddress` extension the server's layer would insert, or the
//! connection's `ConnectInfo`, or neither.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, LOCATION};
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use core_auth::DemoPrincipalConfig;
use oauth_kit::{ClientAddress, SigningKey, pkce_s256, token_digest};
use serde_json::Value;
use tower::ServiceExt as _;

use redis_state::RedisState;
use redis_state::test_server::TestRedis;

use crate::store::{Client, Origin};
use crate::{AccessKey, DemoOAuth, Resource, Scope, Settings};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
/// The Host every request carries unless a test forges another.
const HOST_NAME: &str = "localhost:8080";

/// A resource that, like the server without `PUBLIC_URL`, takes its base
/// URL from the `Host` header.
struct FollowsHost;

impl Resource for FollowsHost {
    fn request_base_url(&self, headers: &HeaderMap) -> String {
        let host = headers
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    }

    fn scopes(&self) -> Vec<Scope> {
        ["admin:logs", "tools:ping", "tools:review"]
            .into_iter()
            .map(|name| Scope {
                name: name.to_owned(),
                description: format!("what {name} grants"),
            })
            .collect()
    }
}

fn key() -> Arc<SigningKey> {
    static KEY: OnceLock<Arc<SigningKey>> = OnceLock::new();
    Arc::clone(KEY.get_or_init(|| Arc::new(SigningKey::generate().expect("key"))))
}

fn demo(public_url: Option<&str>) -> DemoOAuth {
    demo_sharing(public_url, None)
}

/// A replica of the demo server keeping its state in `redis`.
async fn replica(redis: &TestRedis) -> DemoOAuth {
    let state = RedisState::connect(&redis.url(), "demo")
        .await
        .expect("the test Redis answers");
    demo_sharing(None, Some(state))
}

fn demo_sharing(public_url: Option<&str>, redis: Option<RedisState>) -> DemoOAuth {
    let user = DemoPrincipalConfig {
        token: "demo_token_12345".to_owned(),
        principal_id: "demo-user".to_owned(),
        scopes: ["admin:logs", "tools:ping", "tools:review"]
            .into_iter()
            .map(str::to_owned)
            .collect(),
        roles: Default::default(),
        tenant: None,
    };
    DemoOAuth::new(
        key(),
        Settings {
            user,
            access_keys: vec![AccessKey {
                client_id: "machine".to_owned(),
                client_secret: "machine-secret".to_owned(),
                principal_id: "K2machine".to_owned(),
                scopes: vec!["tools:ping".to_owned()],
            }],
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Some(Duration::from_secs(86_400)),
            public_url: public_url.map(str::to_owned),
        },
        Arc::new(FollowsHost),
        redis,
    )
}

/// Runs each named check (`async fn check(one: &Router, two: &Router)`)
/// twice: on one server keeping its state in memory (`one` and `two` are
/// the same), and on two replicas sharing a Redis, so every step may land
/// on either.
macro_rules! on_both_stores {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            #[tokio::test]
            async fn in_memory() {
                let router = super::demo(None).router();
                super::$check(&router, &router).await;
            }

            #[tokio::test]
            #[ignore = "needs redis-server: cargo xtask install-tools"]
            async fn across_replicas_in_redis() {
                let redis = super::TestRedis::start();
                let one = super::replica(&redis).await.router();
                let two = super::replica(&redis).await.router();
                super::$check(&one, &two).await;
            }
        }
    )*};
}

/// Where a request comes from.
#[derive(Clone, Copy)]
enum Caller {
    /// The address the server resolved (`ClientAddress`).
    Resolved(&'static str),
    /// Only the connection's peer (`ConnectInfo`).
    Peer(&'static str),
    /// Neither.
    Nowhere,
}

const HERE: Caller = Caller::Resolved("192.0.2.1");

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

fn request(method: &str, uri: &str, from: Caller) -> axum::http::request::Builder {
    let builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(HOST, HOST_NAME);
    match from {
        Caller::Resolved(address) => builder.extension(ClientAddress(ip(address))),
        Caller::Peer(address) => {
            builder.extension(ConnectInfo(SocketAddr::new(ip(address), 40_000)))
        }
        Caller::Nowhere => builder,
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|err| panic!("{err}: {}", self.text))
    }

    fn error(&self) -> (StatusCode, String) {
        (
            self.status,
            self.json()["error"].as_str().unwrap_or_default().to_owned(),
        )
    }

    fn description(&self) -> String {
        self.json()["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The query parameters of the redirect's `Location`.
    fn location(&self) -> Vec<(String, String)> {
        let location = self.headers[LOCATION].to_str().expect("location");
        let query = location.split_once('?').map_or("", |(_, q)| q);
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), percent_decode(v)))
            .collect()
    }

    fn param(&self, name: &str) -> Option<String> {
        self.location()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("utf-8")
}

/// `params` as a query string or form body, encoded as the server's own
/// pages encode them.
fn encode(params: &[(&str, &str)]) -> String {
    oauth_kit::with_query("", params)
        .trim_start_matches('?')
        .to_owned()
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("the router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1024 * 1024)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn register(router: &Router, from: Caller, redirect_uris: &[&str], name: &str) -> String {
    let body = serde_json::json!({"client_name": name, "redirect_uris": redirect_uris});
    let answer = send(
        router,
        request("POST", "/oauth/register", from)
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.json()["client_id"]
        .as_str()
        .expect("client_id")
        .to_owned()
}

async fn authorize(router: &Router, from: Caller, params: &[(&str, &str)]) -> Answer {
    let uri = format!("/oauth/authorize?{}", encode(params));
    send(
        router,
        request("GET", &uri, from)
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

/// A complete authorization request for `client_id`, with `scope` if given.
fn authorization(client_id: &str, scope: Option<&str>) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("response_type", "code".to_owned()),
        ("client_id", client_id.to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("state", "xyz".to_owned()),
        ("code_challenge", pkce_s256(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
    ];
    if let Some(scope) = scope {
        params.push(("scope", scope.to_owned()));
    }
    params
}

fn borrowed<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    params.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The consent id in a consent page's form.
fn consent_id(html: &str) -> String {
    html.split("name=\"consent\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("consent id in the form")
        .to_owned()
}

async fn decide(router: &Router, from: Caller, consent: &str, decision: &str) -> Answer {
    send(
        router,
        request("POST", "/oauth/authorize", from)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(encode(&[
                ("consent", consent),
                ("decision", decision),
            ])))
            .expect("request"),
    )
    .await
}

/// Authorize, approve: the code.
async fn code_for(router: &Router, client_id: &str, scope: Option<&str>) -> String {
    code_on(router, router, client_id, scope).await
}

/// Authorize on `shown`, approve on `decided`: the code.
async fn code_on(shown: &Router, decided: &Router, client_id: &str, scope: Option<&str>) -> String {
    let page = authorize(shown, HERE, &borrowed(&authorization(client_id, scope))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let approved = decide(decided, HERE, &consent_id(&page.text), "approve").await;
    assert_eq!(approved.status, StatusCode::FOUND);
    approved.param("code").expect("code")
}

async fn token(router: &Router, params: &[(&str, &str)], basic: Option<(&str, &str)>) -> Answer {
    let mut builder = request("POST", "/oauth/token", HERE)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        builder = builder.header(
            AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    send(
        router,
        builder.body(Body::from(encode(params))).expect("request"),
    )
    .await
}

async fn exchange(router: &Router, code: &str, client_id: &str) -> Answer {
    token(
        router,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", client_id),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await
}

async fn refresh(router: &Router, refresh_token: &str, client_id: Option<&str>) -> Answer {
    let mut params = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    if let Some(client_id) = client_id {
        params.push(("client_id", client_id));
    }
    token(router, &params, None).await
}

fn refresh_token_of(answer: &Answer) -> String {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned()
}

/// A signed-in client: its id and its first refresh token. Registered on
/// `one`, consented on `two`, exchanged on `one`.
async fn signed_in(one: &Router, two: &Router) -> (String, String) {
    let client_id = register(one, HERE, &[REDIRECT], "app").await;
    let code = code_on(two, one, &client_id, Some("tools:ping")).await;
    let first = exchange(one, &code, &client_id).await;
    (client_id, refresh_token_of(&first))
}

fn claims(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

// --- Refresh-token families -------------------------------------------------

on_both_stores!(
    a_reused_refresh_token_revokes_the_newest_one_too,
    another_sign_in_survives_a_reuse,
    the_refresh_grant_needs_the_client_id_the_token_was_issued_to,
    a_refused_scope_does_not_spend_the_refresh_token,
    a_replayed_code_revokes_the_refresh_tokens_it_gave,
    a_decision_is_taken_once,
);

async fn a_reused_refresh_token_revokes_the_newest_one_too(one: &Router, two: &Router) {
    let (client_id, first) = signed_in(one, two).await;
    let second = refresh_token_of(&refresh(two, &first, Some(&client_id)).await);

    let replay = refresh(one, &first, Some(&client_id)).await;
    assert_eq!(
        replay.error(),
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    let said = replay.description();
    assert!(said.contains("reused"), "{said}");
    assert!(said.contains("revoked"), "{said}");
    assert!(said.contains("sign in again"), "{said}");

    let newest = refresh(two, &second, Some(&client_id)).await;
    assert_eq!(
        newest.error(),
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    assert!(newest.description().contains("revoked"), "{}", newest.text);
}

async fn another_sign_in_survives_a_reuse(one: &Router, two: &Router) {
    let (client_id, first) = signed_in(one, two).await;
    let (other_client, other) = signed_in(two, one).await;
    refresh_token_of(&refresh(one, &first, Some(&client_id)).await);
    refresh(two, &first, Some(&client_id)).await;
    refresh_token_of(&refresh(one, &other, Some(&other_client)).await);
}

async fn the_refresh_grant_needs_the_client_id_the_token_was_issued_to(one: &Router, two: &Router) {
    let (client_id, first) = signed_in(one, two).await;

    let anonymous = refresh(one, &first, None).await;
    assert_eq!(
        anonymous.error(),
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    assert!(anonymous.description().contains("client_id is required"));

    let other = refresh(two, &first, Some("someone-else")).await;
    assert_eq!(
        other.error(),
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    assert!(other.description().contains("another client"));

    // Neither spent the token; HTTP Basic carries the client id too.
    let basic = token(
        one,
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
        Some((&client_id, "")),
    )
    .await;
    refresh_token_of(&basic);
}

async fn a_refused_scope_does_not_spend_the_refresh_token(one: &Router, two: &Router) {
    let (client_id, first) = signed_in(one, two).await;
    let wider = token(
        two,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first),
            ("client_id", &client_id),
            ("scope", "tools:ping tools:review"),
        ],
        None,
    )
    .await;
    assert_eq!(
        wider.error(),
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );
    refresh_token_of(&refresh(one, &first, Some(&client_id)).await);
}

#[tokio::test]
async fn a_confidential_client_proves_itself_with_its_secret() {
    let server = demo(None);
    let router = server.router();
    server.state().memory().expect("in memory").register(
        "confidential".to_owned(),
        Client {
            name: Some("backend".to_owned()),
            redirect_uris: vec![REDIRECT.to_owned()],
            dynamic: false,
            secret_digest: Some(token_digest("s3cret")),
        },
        Origin::Server,
        std::time::Instant::now(),
    );
    let code = code_for(&router, "confidential", Some("tools:ping")).await;
    let exchange_params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
    ];
    let first = token(&router, &exchange_params, Some(("confidential", "s3cret"))).await;
    let first = refresh_token_of(&first);

    let no_secret = refresh(&router, &first, Some("confidential")).await;
    assert_eq!(
        no_secret.error(),
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    assert!(no_secret.description().contains("client_secret"));
    let wrong = token(
        &router,
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
        Some(("confidential", "guess")),
    )
    .await;
    assert_eq!(
        wrong.error(),
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let right = token(
        &router,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first),
            ("client_id", "confidential"),
            ("client_secret", "s3cret"),
        ],
        None,
    )
    .await;
    refresh_token_of(&right);

    // A code for a confidential client is refused without the secret.
    let code = code_for(&router, "confidential", Some("tools:ping")).await;
    let without = exchange(&router, &code, "confidential").await;
    assert_eq!(
        without.error(),
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
}

async fn a_replayed_code_revokes_the_refresh_tokens_it_gave(one: &Router, two: &Router) {
    let client_id = register(one, HERE, &[REDIRECT], "app").await;
    let code = code_on(two, one, &client_id, None).await;
    let first = refresh_token_of(&exchange(two, &code, &client_id).await);
    let replay = exchange(one, &code, &client_id).await;
    assert_eq!(
        replay.error(),
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    assert!(
        replay.description().contains("already used"),
        "{}",
        replay.text
    );
    let after = refresh(two, &first, Some(&client_id)).await;
    assert!(after.description().contains("revoked"), "{}", after.text);
}

async fn a_decision_is_taken_once(one: &Router, two: &Router) {
    let client_id = register(one, HERE, &[REDIRECT], "app").await;
    let page = authorize(
        two,
        HERE,
        &borrowed(&authorization(&client_id, Some("tools:ping"))),
    )
    .await;
    let consent = consent_id(&page.text);
    let approved = decide(one, HERE, &consent, "approve").await;
    assert_eq!(approved.status, StatusCode::FOUND);
    let again = decide(two, HERE, &consent, "approve").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.text.contains("already used"), "{}", again.text);
}

// --- The consent page and authorize errors ---------------------------------

#[tokio::test]
async fn the_consent_page_names_where_the_answer_goes_and_flags_self_registered_clients() {
    let server = demo(None);
    let router = server.router();
    let redirect = "https://x'&y.Example:8443/cb";
    let client_id = register(&router, HERE, &[redirect], "<b>Your Bank</b>").await;
    let mut params = authorization(&client_id, None);
    params.retain(|(k, _)| *k != "redirect_uri");
    let page = authorize(&router, HERE, &borrowed(&params)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text
            .contains("<code id=\"redirect-host\">x&#39;&amp;y.example:8443</code>"),
        "{}",
        page.text
    );
    assert!(page.text.contains("&lt;b&gt;Your Bank&lt;/b&gt;"));
    assert!(!page.text.contains("<b>Your Bank</b>"));
    assert!(page.text.contains("id=\"unverified\""), "{}", page.text);

    // The server's own client (the login helper) is not flagged.
    let helper = server
        .register_client("orchestrator-mcp login helper", REDIRECT)
        .await
        .expect("registered");
    let page = authorize(&router, HERE, &borrowed(&authorization(&helper, None))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("127.0.0.1:9"));
    assert!(!page.text.contains("unverified"), "{}", page.text);
}

#[tokio::test]
async fn authorize_errors_stay_on_this_server_until_client_and_redirect_are_valid() {
    let server = demo(None);
    let router = server.router();
    let client_id = server
        .register_client("the server's own", REDIRECT)
        .await
        .expect("an in-process client");
    let two = register(&router, HERE, &[REDIRECT, "http://localhost:7/cb"], "two").await;
    let evil = "https://evil.example/steal";
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no client_id", vec![("redirect_uri", evil), ("state", "s")]),
        (
            "an unknown client",
            vec![("client_id", "nobody"), ("redirect_uri", evil)],
        ),
        (
            "an unregistered redirect_uri",
            vec![
                ("client_id", &client_id),
                ("redirect_uri", evil),
                ("response_type", "token"),
            ],
        ),
        (
            "no redirect_uri while several are registered",
            vec![("client_id", &two), ("response_type", "token")],
        ),
        (
            "a repeated parameter",
            vec![
                ("client_id", &client_id),
                ("client_id", "nobody"),
                ("redirect_uri", REDIRECT),
            ],
        ),
    ];
    for (what, params) in cases {
        let answer = authorize(&router, HERE, &params).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{what}");
        assert!(answer.headers.get(LOCATION).is_none(), "{what}");
        assert!(
            answer.text.contains("id=\"error\""),
            "{what}: {}",
            answer.text
        );
    }
    // A dynamically registered client's redirect URI is anyone's choice:
    // its errors stay here too, or the server would be an open redirector.
    let dynamic = register(&router, HERE, &[REDIRECT], "app").await;
    let mut params = authorization(&dynamic, None);
    params.retain(|(k, _)| *k != "response_type");
    let answer = authorize(&router, HERE, &borrowed(&params)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    assert!(answer.headers.get(LOCATION).is_none());
    assert!(answer.text.contains("unverified client"), "{}", answer.text);
    // Both valid for a client the server knows: the error goes back to it
    // (RFC 6749 §4.1.2.1).
    let mut params = authorization(&client_id, None);
    params.retain(|(k, _)| *k != "response_type");
    let answer = authorize(&router, HERE, &borrowed(&params)).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert!(
        answer.headers[LOCATION]
            .to_str()
            .expect("location")
            .starts_with(REDIRECT)
    );
    assert_eq!(
        answer.param("error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(answer.param("state").as_deref(), Some("xyz"));
    assert_eq!(
        answer.param("iss").as_deref(),
        Some("http://localhost:8080")
    );
}

#[tokio::test]
async fn admin_scopes_are_granted_only_when_named() {
    let router = demo(None).router();
    let client_id = register(&router, HERE, &[REDIRECT], "app").await;

    let page = authorize(&router, HERE, &borrowed(&authorization(&client_id, None))).await;
    assert!(page.text.contains("tools:ping") && page.text.contains("tools:review"));
    assert!(!page.text.contains("admin:logs"), "{}", page.text);
    let code = code_for(&router, &client_id, None).await;
    let body = exchange(&router, &code, &client_id).await.json();
    assert_eq!(body["scope"], "tools:ping tools:review");

    let named = authorization(&client_id, Some("tools:ping admin:logs"));
    let page = authorize(&router, HERE, &borrowed(&named)).await;
    assert!(
        page.text.contains("<code>admin:logs</code>"),
        "{}",
        page.text
    );
    assert!(page.text.contains("administrative"));
    let code = code_for(&router, &client_id, Some("tools:ping admin:logs")).await;
    let body = exchange(&router, &code, &client_id).await.json();
    assert_eq!(body["scope"], "tools:ping admin:logs");
}

// --- Per-address quotas ---------------------------------------------------------

/// Whether `client_id` can still start an authorization.
async fn still_registered(router: &Router, client_id: &str) -> bool {
    let answer = authorize(router, HERE, &borrowed(&authorization(client_id, None))).await;
    answer.status == StatusCode::OK
}

on_both_stores!(
    registrations_past_an_address_quota_push_out_its_own_oldest,
    without_a_resolved_address_the_peer_and_then_one_shared_quota_count,
    consent_pages_past_an_address_quota_push_out_its_own_oldest,
);

async fn registrations_past_an_address_quota_push_out_its_own_oldest(one: &Router, two: &Router) {
    let neighbour = register(one, Caller::Resolved("192.0.2.2"), &[REDIRECT], "n").await;
    let busy = Caller::Resolved("198.51.100.7");
    let mut ids = Vec::new();
    for n in 0..=crate::store::CLIENT_QUOTA.per_origin {
        let replica = if n % 2 == 0 { one } else { two };
        ids.push(register(replica, busy, &[REDIRECT], &format!("c{n}")).await);
    }
    assert!(!still_registered(two, &ids[0]).await, "the oldest is gone");
    assert!(still_registered(one, &ids[1]).await);
    assert!(still_registered(two, ids.last().expect("last")).await);
    assert!(
        still_registered(one, &neighbour).await,
        "other addresses are untouched"
    );
}

async fn without_a_resolved_address_the_peer_and_then_one_shared_quota_count(
    router: &Router,
    two: &Router,
) {
    let quota = crate::store::CLIENT_QUOTA.per_origin;
    // The resolved address wins over the peer: these all count for 192.0.2.9…
    let first = register(router, Caller::Resolved("192.0.2.9"), &[REDIRECT], "r").await;
    let peer_only = register(router, Caller::Peer("192.0.2.9"), &[REDIRECT], "p").await;
    for _ in 0..quota {
        register(router, Caller::Peer("203.0.113.5"), &[REDIRECT], "x").await;
    }
    // …while the 203.0.113.5 peer filled only its own quota.
    assert!(still_registered(router, &first).await);
    assert!(still_registered(router, &peer_only).await);
    let unknown = register(two, Caller::Nowhere, &[REDIRECT], "u").await;
    for _ in 0..quota {
        register(two, Caller::Nowhere, &[REDIRECT], "u").await;
    }
    assert!(
        !still_registered(router, &unknown).await,
        "one quota for all unknowns"
    );
    assert!(still_registered(router, &first).await);
}

async fn consent_pages_past_an_address_quota_push_out_its_own_oldest(
    router: &Router,
    two: &Router,
) {
    let client_id = register(two, HERE, &[REDIRECT], "app").await;
    let params = authorization(&client_id, None);
    let mut consents = Vec::new();
    for _ in 0..=crate::store::CONSENT_QUOTA.per_origin {
        let page = authorize(router, HERE, &borrowed(&params)).await;
        consents.push(consent_id(&page.text));
    }
    let elsewhere = authorize(router, Caller::Resolved("192.0.2.50"), &borrowed(&params)).await;
    let oldest = decide(two, HERE, &consents[0], "approve").await;
    assert_eq!(oldest.status, StatusCode::BAD_REQUEST);
    assert!(oldest.text.contains("expired or was already used"));
    let newest = decide(router, HERE, consents.last().expect("last"), "approve").await;
    assert_eq!(newest.status, StatusCode::FOUND);
    let other = decide(router, HERE, &consent_id(&elsewhere.text), "approve").await;
    assert_eq!(other.status, StatusCode::FOUND);
}

// --- The issuer ---------------------------------------------------------------

#[tokio::test]
async fn a_configured_public_url_is_the_issuer_whatever_the_host_says() {
    let public = "https://mcp.example.com";
    let server = demo(Some(public));
    let router = server.router();
    let forged = |method: &str, uri: &str| {
        let mut builder = request(method, uri, HERE);
        builder
            .headers_mut()
            .expect("headers")
            .insert(HOST, "evil.example:666".parse().expect("host"));
        builder
    };
    let metadata = send(
        &router,
        forged("GET", "/.well-known/oauth-authorization-server")
            .body(Body::empty())
            .expect("request"),
    )
    .await
    .json();
    assert_eq!(metadata["issuer"], public);
    for (field, path) in [
        ("authorization_endpoint", "/oauth/authorize"),
        ("token_endpoint", "/oauth/token"),
        ("registration_endpoint", "/oauth/register"),
        ("jwks_uri", "/oauth/jwks"),
    ] {
        assert_eq!(metadata[field], format!("{public}{path}"), "{field}");
    }

    let minted = send(
        &router,
        forged("POST", "/oauth/token")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(
                "grant_type=client_credentials&client_id=machine&client_secret=machine-secret",
            ))
            .expect("request"),
    )
    .await;
    assert_eq!(minted.status, StatusCode::OK, "{}", minted.text);
    let claims = claims(minted.json()["access_token"].as_str().expect("token"));
    assert_eq!(claims["iss"], public);
    assert_eq!(claims["aud"], format!("{public}/mcp"));

    // A resource named after the forged host is refused, and the error
    // redirect names the configured issuer.
    let client_id = server
        .register_client("the server's own", REDIRECT)
        .await
        .expect("an in-process client");
    let mut params = authorization(&client_id, None);
    params.push(("resource", "http://evil.example:666/mcp".to_owned()));
    let uri = format!("/oauth/authorize?{}", encode(&borrowed(&params)));
    let answer = send(
        &router,
        forged("GET", &uri).body(Body::empty()).expect("request"),
    )
    .await;
    assert_eq!(answer.param("error").as_deref(), Some("invalid_target"));
    assert_eq!(answer.param("iss").as_deref(), Some(public));
}

#[tokio::test]
async fn without_a_public_url_a_local_demo_follows_the_host() {
    let router = demo(None).router();
    let metadata = send(
        &router,
        request("GET", "/.well-known/oauth-authorization-server", HERE)
            .body(Body::empty())
            .expect("request"),
    )
    .await
    .json();
    assert_eq!(metadata["issuer"], format!("http://{HOST_NAME}"));
}
