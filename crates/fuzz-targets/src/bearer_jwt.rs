//! `bearer_jwt`: an `Authorization` header and the JWT in it, through
//! `core_auth::bearer_token` and the real `JwtVerifier` over an in-memory
//! key set.
//!
//! The input is read three ways, each reaching further in:
//!
//! 1. As the header's value, as the server reads it (visible ASCII), then
//!    the bearer token in it verified.
//! 2. When it has a line break, as the token's parts, one a line: the
//!    header JSON, the claims JSON and the signature bytes, each
//!    base64url-encoded and joined with dots. Hand-written JSON reaches the
//!    header checks (`alg`, `kid`, `crit`, `typ`) and the signature check.
//! 3. When it is a JSON object, as claims, signed with the verifier's key,
//!    so the claim checks and the mapping to a principal run too.
//!
//! Neither of the first two can carry a signature the key made, so the
//! verifier must refuse every such token.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use core_auth::{
    Algorithm, AuthError, JwtConfig, JwtVerifier, KeySet, KeySource, Principal, bearer_token,
};
use oauth_kit::SigningKey;
use serde_json::{Map, Value};

/// The Descope project the verifier accepts tokens for.
const PROJECT: &str = "P2fuzzproject";

/// A second `kid` the verifier knows the signing key by, so hand-written
/// tokens (the seeds name it) get past the key lookup to the signature.
const SEED_KID: &str = "fuzz-key";

/// Claims holding a number smaller than this (in magnitude) for `exp`,
/// `nbf` or `iat` are taken as seconds from now, so the fuzzer can write
/// tokens that are current.
const RELATIVE_TIME_LIMIT: f64 = 1e7;

struct Fixture {
    key: SigningKey,
    verifier: JwtVerifier,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = SigningKey::generate().expect("an RSA key for the fuzzed verifier");
        let mut seed_jwk = key.jwk();
        seed_jwk["kid"] = Value::from(SEED_KID);
        let jwks = serde_json::json!({ "keys": [key.jwk(), seed_jwk] });
        let keys = KeySet::new(KeySource::Static {
            jwks: jwks.to_string(),
        })
        .expect("a key set from the generated key");
        let config = JwtConfig {
            project_id: PROJECT.to_owned(),
            // Both audience rules and the agentic issuer are reachable.
            accept_project_audience: true,
            mcp_server_id: Some("MS2fuzz".to_owned()),
            base_url: "https://api.descope.com".to_owned(),
            extra_issuers: vec!["http://127.0.0.1:8080".to_owned()],
            audiences: vec!["http://127.0.0.1:8080/mcp".to_owned()],
            algorithms: vec![Algorithm::RS256, Algorithm::PS256],
            verify_expiration: true,
            required_claims: ["exp", "iat", "sub", "aud"].map(str::to_owned).to_vec(),
            leeway: Duration::from_secs(30),
            max_token_age: Duration::from_secs(24 * 3600),
            max_token_bytes: 16 * 1024,
            cache_ttl: Duration::from_secs(3600),
            // Small, so the fuzzer also reaches eviction.
            cache_capacity: 64,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime to verify on");
        Fixture {
            verifier: JwtVerifier::new(config, Arc::new(keys), "fuzz"),
            key,
            runtime,
        }
    })
}

/// The `bearer_jwt` target.
pub fn bearer_jwt(data: &[u8]) {
    let fixture = fixture();
    if let Ok(header) = http::HeaderValue::from_bytes(data)
        && let Ok(text) = header.to_str()
    {
        match bearer_token(Some(text)) {
            Ok(token) => refused(fixture, token),
            Err(err) => never_echoes_a_credential(text, &err),
        }
    }
    if let Some(token) = assembled(data) {
        refused(fixture, &token);
    }
    if let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(data) {
        signed(fixture, claims);
    }
}

fn verify(fixture: &Fixture, token: &str) -> Result<Arc<Principal>, AuthError> {
    fixture
        .runtime
        .block_on(fixture.verifier.verify_token(token))
}

/// A token the key did not sign must be refused.
fn refused(fixture: &Fixture, token: &str) {
    if let Ok(principal) = verify(fixture, token) {
        panic!("a token no key signed was accepted as {principal:?}: {token}");
    }
}

/// A refused header's message may name its scheme, but never a word that
/// could be a credential: any longer than a scheme and its quotes.
fn never_echoes_a_credential(header: &str, err: &AuthError) {
    let message = err.to_string();
    for word in header.split_whitespace().filter(|word| word.len() > 24) {
        assert!(
            !message.contains(word),
            "the refusal of {header:?} echoes {word:?}: {message}"
        );
    }
}

/// Lines 1, 2 and 3 of `data` as a token's header, claims and signature.
fn assembled(data: &[u8]) -> Option<String> {
    let mut lines = data.splitn(3, |byte| *byte == b'\n');
    let header = lines.next()?;
    let claims = lines.next()?;
    let signature = lines.next().unwrap_or_default();
    Some(format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims),
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// `claims` signed with the key: whatever the verifier makes of them, it
/// makes the same again, and an accepted token is its `sub`.
fn signed(fixture: &Fixture, mut claims: Map<String, Value>) {
    let now = oauth_kit::unix_time().as_secs_f64();
    for name in ["exp", "nbf", "iat"] {
        if let Some(offset) = claims.get(name).and_then(Value::as_f64)
            && offset.abs() < RELATIVE_TIME_LIMIT
            && let Some(time) = serde_json::Number::from_f64((now + offset).floor())
        {
            claims.insert(name.to_owned(), Value::Number(time));
        }
    }
    let claims = Value::Object(claims);
    let token = fixture
        .key
        .sign(&claims)
        .expect("signing claims that are JSON");
    let Ok(principal) = verify(fixture, &token) else {
        return;
    };
    assert_eq!(
        Some(principal.id.as_str()),
        claims.get("sub").and_then(Value::as_str),
        "an accepted token's principal is its subject"
    );
    let again = verify(fixture, &token).expect("a token accepted once is accepted again");
    assert_eq!(again, principal, "the cache answers what verifying did");
}
