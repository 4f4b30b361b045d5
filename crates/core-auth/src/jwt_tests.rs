//! Token verification against fixed keys and against a local JWKS server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;
use oauth_kit::SigningKey;

use crate::{KeySource, PrincipalKind};

const PROJECT: &str = "P2testproject";
const RESOURCE: &str = "http://127.0.0.1:8080/mcp";

/// One key for the whole test binary: RSA generation is slow in debug builds.
fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("generate key"))
}

fn config() -> JwtConfig {
    JwtConfig {
        project_id: PROJECT.to_owned(),
        accept_project_audience: false,
        mcp_server_id: Some("MS2server".to_owned()),
        base_url: "https://api.descope.com".to_owned(),
        extra_issuers: vec![],
        audiences: vec![RESOURCE.to_owned()],
        algorithms: vec![Algorithm::RS256],
        verify_expiration: true,
        required_claims: ["exp", "iat", "sub", "aud"].map(str::to_owned).to_vec(),
        leeway: Duration::from_secs(30),
        max_token_age: Duration::from_secs(24 * 3600),
        max_token_bytes: 16 * 1024,
        cache_ttl: Duration::from_secs(3600),
        cache_capacity: 100,
    }
}

fn verifier() -> JwtVerifier {
    verifier_with(config())
}

fn verifier_with(config: JwtConfig) -> JwtVerifier {
    let keys = KeySet::new(KeySource::Static {
        jwks: key().jwks().to_string(),
    })
    .expect("key set");
    JwtVerifier::new(config, Arc::new(keys), "test")
}

fn now() -> i64 {
    unix_now() as i64
}

fn claims() -> Value {
    json!({
        "iss": format!("https://api.descope.com/{PROJECT}"),
        "sub": "U2user",
        "aud": [RESOURCE],
        "iat": now(),
        "exp": now() + 600,
        "scope": "tools:ping",
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().map(|m| m.remove(key));
    claims
}

fn sign(claims: &Value) -> String {
    key().sign(claims).expect("sign")
}

async fn refused(token: &str) -> String {
    match verifier().verify_token(token).await {
        Ok(principal) => panic!("token accepted as {principal:?}"),
        Err(err) => err.to_string(),
    }
}

#[tokio::test]
async fn a_valid_token_in_every_issuer_form_is_accepted() {
    for iss in [
        PROJECT.to_owned(),
        format!("https://api.descope.com/{PROJECT}"),
        format!("https://api.descope.com/v1/apps/{PROJECT}"),
        format!("https://api.descope.com/v1/apps/agentic/{PROJECT}/MS2server"),
    ] {
        let token = sign(&with(claims(), "iss", json!(iss)));
        let principal = verifier().verify_token(&token).await.expect(&iss);
        assert_eq!(principal.id, "U2user");
        assert!(principal.has_scope("tools:ping"));
        assert_eq!(principal.kind, PrincipalKind::User);
    }
}

#[tokio::test]
async fn the_resource_url_is_an_accepted_audience() {
    let token = sign(&with(claims(), "aud", json!(RESOURCE)));
    verifier()
        .verify_token(&token)
        .await
        .expect("resource audience");
}

#[tokio::test]
async fn alg_none_is_refused() {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"x"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    let message = refused(&format!("{header}.{payload}.")).await;
    assert!(
        message.contains("algorithm `none` is not allowed"),
        "{message}"
    );
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    // The classic confusion attack: HMAC keyed with the RSA public key.
    let public_der = key().jwk()["n"].as_str().expect("n").as_bytes().to_vec();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key().kid().to_owned());
    let token = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(&public_der))
        .expect("encode");
    let message = refused(&token).await;
    assert!(
        message.contains("algorithm `HS256` is not allowed"),
        "{message}"
    );
}

#[tokio::test]
async fn an_algorithm_outside_the_allow_list_is_refused() {
    let mut config = config();
    config.algorithms = vec![Algorithm::RS512];
    let keys = KeySet::new(KeySource::Static {
        jwks: key().jwks().to_string(),
    })
    .expect("keys");
    let verifier = JwtVerifier::new(config, Arc::new(keys), "test");
    let err = verifier
        .verify_token(&sign(&claims()))
        .await
        .expect_err("refused");
    assert!(
        err.to_string()
            .contains("`RS256` is not allowed; accepted: RS512"),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_kid_is_refused() {
    let token = sign(&claims());
    let (_, rest) = token.split_once('.').expect("segments");
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
    let message = refused(&format!("{header}.{rest}")).await;
    assert!(message.contains("no `kid`"), "{message}");
}

#[tokio::test]
async fn an_unknown_kid_names_the_kid() {
    let token = sign(&claims());
    let (_, rest) = token.split_once('.').expect("segments");
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT","kid":"rotated-away"}"#);
    let message = refused(&format!("{header}.{rest}")).await;
    assert_eq!(message, "Public key not found for kid `rotated-away`");
}

#[tokio::test]
async fn an_expired_token_is_refused_in_the_guides_words() {
    let token = sign(&with(claims(), "exp", json!(now() - 120)));
    assert_eq!(refused(&token).await, "Token has expired");
}

#[tokio::test]
async fn expiry_within_the_leeway_is_accepted() {
    let token = sign(&with(claims(), "exp", json!(now() - 5)));
    verifier()
        .verify_token(&token)
        .await
        .expect("within leeway");
}

#[tokio::test]
async fn a_future_nbf_is_refused() {
    let token = sign(&with(claims(), "nbf", json!(now() + 3600)));
    assert!(refused(&token).await.contains("not valid yet"));
}

#[tokio::test]
async fn an_old_iat_is_refused() {
    let token = sign(&with(claims(), "iat", json!(now() - 25 * 3600)));
    assert!(refused(&token).await.contains("MAX_TOKEN_AGE_HOURS"));
}

#[tokio::test]
async fn a_wrong_issuer_is_refused() {
    for iss in ["P2otherproject", "https://evil.example/P2testproject"] {
        let token = sign(&with(claims(), "iss", json!(iss)));
        assert_eq!(refused(&token).await, "Invalid token issuer");
    }
}

#[tokio::test]
async fn a_wrong_or_missing_audience_is_refused() {
    let token = sign(&with(claims(), "aud", json!(["P2otherproject"])));
    assert_eq!(
        refused(&token).await,
        format!("Invalid token audience: this server accepts tokens issued for {RESOURCE}")
    );
    let token = sign(&without(claims(), "aud"));
    assert!(refused(&token).await.contains("`aud`"));
}

#[tokio::test]
async fn a_token_for_the_whole_project_is_refused_unless_the_setting_accepts_it() {
    let token = sign(&with(claims(), "aud", json!([PROJECT])));
    let refusal = refused(&token).await;
    assert!(
        refusal.starts_with("Invalid token audience: this server accepts tokens issued for"),
        "{refusal}"
    );
    assert!(
        refusal.contains("JWT_ACCEPT_PROJECT_AUDIENCE=true"),
        "{refusal}"
    );
    let widened = verifier_with(JwtConfig {
        accept_project_audience: true,
        ..config()
    });
    widened
        .verify_token(&token)
        .await
        .expect("the project audience, when accepted");
}

#[tokio::test]
async fn another_mcp_servers_agentic_issuer_is_refused() {
    let iss = format!("https://api.descope.com/v1/apps/agentic/{PROJECT}/MS2other");
    let token = sign(&with(claims(), "iss", json!(iss)));
    assert_eq!(refused(&token).await, "Invalid token issuer");
    let unconfigured = verifier_with(JwtConfig {
        mcp_server_id: None,
        ..config()
    });
    let own = format!("https://api.descope.com/v1/apps/agentic/{PROJECT}/MS2server");
    let token = sign(&with(claims(), "iss", json!(own)));
    assert!(unconfigured.verify_token(&token).await.is_err());
}

#[tokio::test]
async fn a_missing_sub_is_refused() {
    let token = sign(&without(claims(), "sub"));
    assert_eq!(
        refused(&token).await,
        "Token is missing the required claim `sub`"
    );
}

#[tokio::test]
async fn a_bad_signature_is_refused() {
    let token = sign(&claims());
    let (signed, signature) = token.rsplit_once('.').expect("segments");
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).expect("signature");
    bytes[10] ^= 0x01;
    let forged = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes));
    assert_eq!(refused(&forged).await, "Invalid token signature");

    // The claims changed after signing: the signature no longer matches.
    let (header, _) = token.split_once('.').expect("segments");
    let payload =
        URL_SAFE_NO_PAD.encode(with(claims(), "scope", json!("admin:config")).to_string());
    assert_eq!(
        refused(&format!("{header}.{payload}.{signature}")).await,
        "Invalid token signature"
    );
}

#[tokio::test]
async fn malformed_tokens_are_refused_without_panicking() {
    for token in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.???.###",
        "eyJhbGciOiJSUzI1NiJ9.e30",
    ] {
        let message = refused(token).await;
        assert!(message.starts_with("Malformed token"), "{token}: {message}");
    }
}

#[tokio::test]
async fn a_64_kib_token_is_refused_before_parsing() {
    let token = "a".repeat(64 * 1024);
    assert!(refused(&token).await.contains("too large"));
}

#[tokio::test]
async fn claims_of_the_wrong_type_are_a_clear_error() {
    let token = sign(&with(claims(), "roles", json!(5)));
    assert!(
        refused(&token)
            .await
            .contains("`roles` must be a list of strings")
    );
}

#[tokio::test]
async fn a_verified_token_is_served_from_the_cache() {
    let verifier = verifier();
    let token = sign(&claims());
    let first = verifier.verify_token(&token).await.expect("first");
    let second = verifier.verify_token(&token).await.expect("second");
    assert!(
        Arc::ptr_eq(&first, &second),
        "the second call verified again"
    );
}

#[test]
fn a_key_under_2048_bits_is_not_usable() {
    let short = json!({"keys": [{
        "kty": "RSA", "kid": "short", "alg": "RS256", "use": "sig",
        "n": URL_SAFE_NO_PAD.encode([0xc5u8; 128]),
        "e": "AQAB"
    }]});
    let err = KeySet::new(KeySource::Static {
        jwks: short.to_string(),
    })
    .expect_err("refused");
    assert_eq!(err, crate::JwksError::NoUsableKey);
}

/// Serves `app` on a loopback port for the rest of the test.
async fn serve(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    address
}

/// A JWKS endpoint on loopback that counts its requests, can go down and
/// can publish other keys.
struct JwksServer {
    url: String,
    hits: Arc<AtomicUsize>,
    up: Arc<std::sync::atomic::AtomicBool>,
    jwks: Arc<std::sync::Mutex<Value>>,
}

impl JwksServer {
    /// Answers `jwks` from now on.
    fn publish(&self, jwks: Value) {
        *self.jwks.lock().expect("jwks lock") = jwks;
    }
}

async fn jwks_server(jwks: Value) -> JwksServer {
    use axum::http::StatusCode;
    use axum::routing::get;

    let hits = Arc::new(AtomicUsize::new(0));
    let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let jwks = Arc::new(std::sync::Mutex::new(jwks));
    let app = {
        let hits = Arc::clone(&hits);
        let up = Arc::clone(&up);
        let jwks = Arc::clone(&jwks);
        axum::Router::new().route(
            "/jwks.json",
            get(move || {
                let hits = Arc::clone(&hits);
                let up = Arc::clone(&up);
                let jwks = jwks.lock().expect("jwks lock").clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    if up.load(Ordering::SeqCst) {
                        Ok(axum::Json(jwks))
                    } else {
                        Err(StatusCode::SERVICE_UNAVAILABLE)
                    }
                }
            }),
        )
    };
    let address = serve(app).await;
    JwksServer {
        url: format!("http://{address}/jwks.json"),
        hits,
        up,
        jwks,
    }
}

/// A second key, for rotations.
fn other_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("generate key"))
}

/// A JWKS publishing `keys`' public keys, each under the given `kid`.
fn jwks_of(keys: &[(&SigningKey, &str)]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(key, kid)| with(key.jwk(), "kid", json!(kid)))
        .collect();
    json!({ "keys": keys })
}

#[tokio::test]
async fn tokens_of_a_withdrawn_key_leave_the_cache_when_the_jwks_is_refreshed() {
    let (first, second) = (key(), other_key());
    let server = jwks_server(jwks_of(&[(first, first.kid()), (second, second.kid())])).await;
    // A long refetch interval: the refusal below must come from the purge,
    // not from a refetch caused by the unknown kid.
    let verifier = remote_verifier(&server, Duration::from_secs(3600));
    let withdrawn = first.sign(&claims()).expect("sign");
    let kept = second.sign(&claims()).expect("sign");
    verifier.verify_token(&withdrawn).await.expect("first key");
    let kept_principal = verifier.verify_token(&kept).await.expect("second key");

    server.publish(jwks_of(&[(second, second.kid())]));
    verifier.keys().refresh().await.expect("refresh");

    let err = verifier
        .verify_token(&withdrawn)
        .await
        .expect_err("a token of a withdrawn key was served from the cache");
    assert_eq!(
        err.to_string(),
        format!("Public key not found for kid `{}`", first.kid())
    );
    let again = verifier.verify_token(&kept).await.expect("kept key");
    assert!(
        Arc::ptr_eq(&kept_principal, &again),
        "a token of a key still published was verified again"
    );
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn tokens_of_a_key_replaced_under_the_same_kid_leave_the_cache() {
    let (first, second) = (key(), other_key());
    let server = jwks_server(jwks_of(&[(first, first.kid())])).await;
    let verifier = remote_verifier(&server, Duration::from_secs(3600));
    let token = first.sign(&claims()).expect("sign");
    let principal = verifier.verify_token(&token).await.expect("verified");

    // Republished unchanged: the cached token stays.
    verifier.keys().refresh().await.expect("refresh");
    let cached = verifier.verify_token(&token).await.expect("still valid");
    assert!(Arc::ptr_eq(&principal, &cached));

    // Other key material under the same kid: the token is checked anew.
    server.publish(jwks_of(&[(second, first.kid())]));
    verifier.keys().refresh().await.expect("refresh");
    let err = verifier
        .verify_token(&token)
        .await
        .expect_err("a token of a replaced key was served from the cache");
    assert!(matches!(
        err,
        AuthError::InvalidToken(TokenRejection::BadSignature)
    ));
}

fn remote_verifier(server: &JwksServer, refetch_interval: Duration) -> JwtVerifier {
    let keys = KeySet::new(KeySource::Remote {
        url: server.url.clone(),
        refetch_interval,
    })
    .expect("keys");
    JwtVerifier::new(config(), Arc::new(keys), "test")
}

fn token_with_kid(kid: &str) -> String {
    let token = sign(&claims());
    let (_, rest) = token.split_once('.').expect("segments");
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{kid}"}}"#));
    format!("{header}.{rest}")
}

#[tokio::test]
async fn keys_are_fetched_on_first_use_and_then_cached() {
    let server = jwks_server(key().jwks()).await;
    let verifier = remote_verifier(&server, Duration::from_secs(60));
    verifier
        .verify_token(&sign(&claims()))
        .await
        .expect("first");
    verifier
        .verify_token(&sign(&with(claims(), "sub", json!("U2other"))))
        .await
        .expect("second");
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unknown_kids_cause_at_most_one_refetch_per_interval() {
    let server = jwks_server(key().jwks()).await;
    let interval = Duration::from_secs(1);
    let verifier = remote_verifier(&server, interval);
    verifier.keys().refresh().await.expect("initial fetch");
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    // Right after a fetch, a miss does not fetch again…
    verifier
        .verify_token(&token_with_kid("too-soon"))
        .await
        .expect_err("unknown kid");
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    // …once the interval has passed, a burst of misses fetches once.
    tokio::time::sleep(interval + Duration::from_millis(50)).await;
    for attempt in 0..5 {
        let err = verifier
            .verify_token(&token_with_kid(&format!("unknown-{attempt}")))
            .await
            .expect_err("unknown kid");
        assert!(
            err.to_string().starts_with("Public key not found for kid"),
            "{err}"
        );
    }
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        2,
        "five unknown kids inside one interval must cause exactly one refetch"
    );
}

#[tokio::test]
async fn cached_keys_keep_serving_while_the_jwks_is_down() {
    let server = jwks_server(key().jwks()).await;
    let verifier = remote_verifier(&server, Duration::ZERO);
    verifier.keys().refresh().await.expect("initial fetch");
    assert!(!verifier.keys().status().stale);

    server.up.store(false, Ordering::SeqCst);
    assert!(verifier.keys().refresh().await.is_err());
    let status = verifier.keys().status();
    assert!(status.stale, "{status:?}");
    assert_eq!(status.keys, 1);
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("503")),
        "{status:?}"
    );

    // A token never seen before still verifies with the cached key.
    verifier
        .verify_token(&sign(&with(claims(), "sub", json!("U2fresh"))))
        .await
        .expect("cached key serves during the outage");

    server.up.store(true, Ordering::SeqCst);
    verifier.keys().refresh().await.expect("recovered");
    assert!(!verifier.keys().status().stale);
}

#[tokio::test]
async fn a_jwks_redirect_is_refused_naming_where_it_points() {
    use axum::http::{StatusCode, header};
    use axum::routing::get;

    let followed = Arc::new(AtomicUsize::new(0));
    let app = {
        let followed = Arc::clone(&followed);
        let jwks = key().jwks();
        axum::Router::new()
            .route(
                "/jwks.json",
                get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/moved/jwks.json")]) }),
            )
            .route(
                "/moved/jwks.json",
                get(move || {
                    followed.fetch_add(1, Ordering::SeqCst);
                    let jwks = jwks.clone();
                    async move { axum::Json(jwks) }
                }),
            )
    };
    let address = serve(app).await;
    let keys = KeySet::new(KeySource::Remote {
        url: format!("http://{address}/jwks.json"),
        refetch_interval: Duration::ZERO,
    })
    .expect("keys");

    let message = keys
        .refresh()
        .await
        .expect_err("redirect refused")
        .to_string();
    assert_eq!(
        message,
        format!(
            "http://{address}/jwks.json redirects to http://{address}/moved/jwks.json; \
             redirects are not followed, so configure the final URL"
        )
    );
    assert_eq!(
        followed.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
    let status = keys.status();
    assert_eq!(status.keys, 0);
    assert_eq!(status.last_error.as_deref(), Some(message.as_str()));
}

#[tokio::test]
async fn an_unreachable_jwks_is_reported_not_panicked_on() {
    let keys = KeySet::new(KeySource::Remote {
        url: "http://127.0.0.1:9/jwks.json".to_owned(),
        refetch_interval: Duration::ZERO,
    })
    .expect("keys");
    let verifier = JwtVerifier::new(config(), Arc::new(keys), "test");
    let err = verifier
        .verify_token(&sign(&claims()))
        .await
        .expect_err("no keys");
    assert!(err.to_string().starts_with("Public key not found"), "{err}");
    let status = verifier.keys().status();
    assert!(status.stale && status.keys == 0, "{status:?}");
}

#[tokio::test]
async fn a_header_with_critical_extensions_or_another_type_is_refused() {
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    let token = |header: &str| format!("{}.{payload}.c2ln", URL_SAFE_NO_PAD.encode(header));
    let kid = key().kid().to_owned();
    let message = refused(&token(&format!(
        r#"{{"alg":"RS256","kid":"{kid}","crit":["exp"],"exp":1}}"#
    )))
    .await;
    assert_eq!(
        message,
        "Token header marks extensions as critical (`crit`) that this server does not understand"
    );
    for typ in [r#""JWE""#, r#""dpop+jwt""#, "7"] {
        let message = refused(&token(&format!(
            r#"{{"alg":"RS256","kid":"{kid}","typ":{typ}}}"#
        )))
        .await;
        assert!(message.starts_with("Token type `"), "{typ}: {message}");
        assert!(message.ends_with("is not an access token; expected `JWT` or `at+jwt`"));
    }
    // `JWT`, as every token signed here carries, passes.
    verifier()
        .verify_token(&sign(&claims()))
        .await
        .expect("typ JWT");
}
