//! Token verification cost: raw RSA-2048 signature verification, a cold
//! verification (cache miss: parse, signature, claims, principal) and a warm
//! one (cache hit), on the same token in one run.
//!
//! `cargo xtask bench` runs this and prints the figures with their ratios.

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rsa::PublicKeyComponents;
use aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use core_auth::{Algorithm, JwtConfig, JwtVerifier, KeySet, KeySource};
use criterion::{Criterion, criterion_group, criterion_main};
use oauth_kit::SigningKey;
use serde_json::json;

fn verifier(key: &SigningKey, cache_capacity: usize) -> JwtVerifier {
    let keys = KeySet::new(KeySource::Static {
        jwks: key.jwks().to_string(),
    })
    .expect("key set");
    let config = JwtConfig {
        project_id: "P2bench".to_owned(),
        accept_project_audience: true,
        mcp_server_id: None,
        base_url: "https://api.descope.com".to_owned(),
        extra_issuers: vec![],
        audiences: vec![],
        algorithms: vec![Algorithm::RS256],
        verify_expiration: true,
        required_claims: ["exp", "iat", "sub", "aud"].map(str::to_owned).to_vec(),
        leeway: Duration::from_secs(30),
        max_token_age: Duration::from_secs(24 * 3600),
        max_token_bytes: 16 * 1024,
        cache_ttl: Duration::from_secs(3600),
        cache_capacity,
    };
    JwtVerifier::new(config, Arc::new(keys), "bench")
}

/// Runs a future that never waits (keys are static, so verification never
/// awaits): one poll, without a runtime's overhead in the figures.
fn run_now<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("verification waited: the benchmark needs static keys"),
    }
}

fn verification(c: &mut Criterion) {
    let key = SigningKey::generate().expect("key");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let token = key
        .sign(&json!({
            "iss": "https://api.descope.com/P2bench",
            "sub": "U2benchuser",
            "aud": ["P2bench"],
            "iat": now,
            "exp": now + 3600,
            "scope": "tools:ping tools:review",
            "roles": ["reviewer"],
        }))
        .expect("sign");

    // The raw operation the verifier cannot avoid: RSA-2048 PKCS#1 v1.5
    // SHA-256 over the same signing input and signature.
    let (signing_input, signature) = token.rsplit_once('.').expect("segments");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("signature");
    let jwk = key.jwk();
    let component = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().expect("component"))
            .expect("base64url")
    };
    let public = PublicKeyComponents {
        n: component("n"),
        e: component("e"),
    };

    let cold = verifier(&key, 0);
    let warm = verifier(&key, 1024);
    run_now(warm.verify_token(&token)).expect("valid token");

    let mut group = c.benchmark_group("token_verification");
    group.bench_function("raw_rsa2048_verify", |b| {
        b.iter(|| {
            public
                .verify(
                    &RSA_PKCS1_2048_8192_SHA256,
                    black_box(signing_input.as_bytes()),
                    black_box(&signature),
                )
                .expect("signature verifies")
        })
    });
    group.bench_function("cold_verify", |b| {
        b.iter(|| run_now(cold.verify_token(black_box(&token))).expect("valid token"))
    });
    group.bench_function("warm_verify", |b| {
        b.iter(|| run_now(warm.verify_token(black_box(&token))).expect("valid token"))
    });
    group.finish();
}

criterion_group!(benches, verification);
criterion_main!(benches);
