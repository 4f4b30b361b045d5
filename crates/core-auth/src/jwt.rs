//! Verification of RS256 JWTs from Descope (or the demo authorization
//! server, which signs the same way).
//!
//! The order matters: cheap checks that need no key come first (size, shape,
//! algorithm, `kid`), then the signature, then the claims. The algorithm is
//! taken from the allow-list, never from the token: a token cannot talk the
//! verifier into `none` or into HMAC with the public key as the secret.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::errors::ErrorKind;
use serde_json::{Map, Value};

use crate::cache::TokenCache;
use crate::claims::principal_from_claims;
use crate::issuer::Issuers;
use crate::jwks::{JwksStatus, KeySet};
use crate::{AuthError, BoxFuture, Principal, TokenRejection, TokenVerifier};

/// Everything the verifier checks against.
#[derive(Clone, Debug)]
pub struct JwtConfig {
    /// The Descope project id: an accepted audience only when
    /// `accept_project_audience` is set.
    pub project_id: String,
    /// Whether tokens naming the project id as their audience are accepted
    /// (`JWT_ACCEPT_PROJECT_AUDIENCE`): such a token may have been issued
    /// for any app of the project, not for this server.
    pub accept_project_audience: bool,
    /// This server's id among the project's MCP servers
    /// (`DESCOPE_MCP_SERVER_ID`); only then is the agentic issuer form
    /// `…/v1/apps/agentic/<project>/<id>` accepted, for this id alone.
    pub mcp_server_id: Option<String>,
    /// Descope's API base URL, for the issuer forms.
    pub base_url: String,
    /// Issuers accepted besides the project's Descope forms.
    pub extra_issuers: Vec<String>,
    /// The audiences accepted: this server's resource URLs (RFC 8707).
    pub audiences: Vec<String>,
    /// Signature algorithms accepted (`JWT_ALGORITHM`); RSA only.
    pub algorithms: Vec<Algorithm>,
    /// Whether `exp` is enforced (`JWT_VERIFY_EXPIRATION`).
    pub verify_expiration: bool,
    /// Claims that must be present (`JWT_REQUIRE_CLAIMS`).
    pub required_claims: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Tokens issued longer ago than this are refused (`MAX_TOKEN_AGE_HOURS`).
    pub max_token_age: Duration,
    /// Longest token accepted, in bytes.
    pub max_token_bytes: usize,
    /// How long a verified token is remembered at most (`TOKEN_CACHE_TTL`).
    pub cache_ttl: Duration,
    /// How many verified tokens are remembered at most.
    pub cache_capacity: usize,
}

/// Verifies JWTs against a key set and a [`JwtConfig`].
pub struct JwtVerifier {
    config: JwtConfig,
    issuers: Issuers,
    keys: Arc<KeySet>,
    /// Shared with `keys`, which purges it when a key is withdrawn.
    cache: Arc<TokenCache>,
    mode: &'static str,
}

/// What a full verification found: the principal, how long its token may be
/// remembered, and the key that verified it.
struct Verified {
    principal: Principal,
    expires_in: Option<Duration>,
    kid: String,
    key: Arc<jsonwebtoken::DecodingKey>,
}

impl JwtVerifier {
    /// A verifier; `mode` names it in `/health` (`descope`, `demo`).
    pub fn new(config: JwtConfig, keys: Arc<KeySet>, mode: &'static str) -> Self {
        // Exactly one crypto backend is compiled in; selecting it here keeps
        // a second one, pulled in by some other crate's features, from
        // turning every verification into a panic.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        let issuers = Issuers::new(
            &config.base_url,
            &config.project_id,
            config.mcp_server_id.as_deref(),
            &config.extra_issuers,
        );
        let cache = Arc::new(TokenCache::new(config.cache_capacity, config.cache_ttl));
        keys.register_cache(&cache);
        Self {
            config,
            issuers,
            keys,
            cache,
            mode,
        }
    }

    /// The key set, for `/health` and periodic refreshes.
    pub fn keys(&self) -> &Arc<KeySet> {
        &self.keys
    }

    /// Verifies `token`, from the cache when it was verified before.
    pub async fn verify_token(&self, token: &str) -> Result<Arc<Principal>, AuthError> {
        if token.len() > self.config.max_token_bytes {
            return Err(TokenRejection::TooLarge {
                size: token.len(),
                limit: self.config.max_token_bytes,
            }
            .into());
        }
        let hash = TokenCache::hash(token);
        if let Some(principal) = self.cache.get(&hash) {
            crate::metrics::cache(true);
            return Ok(principal);
        }
        crate::metrics::cache(false);
        let verified = self.verify_uncached(token).await?;
        let principal = Arc::new(verified.principal);
        // Remembered only while the key that verified it is still the one
        // published: a fetch that withdrew it meanwhile must not leave the
        // token cached past its purge.
        self.keys.while_current(&verified.kid, &verified.key, || {
            self.cache.insert(
                hash,
                Arc::clone(&principal),
                verified.expires_in,
                &verified.kid,
            );
        });
        Ok(principal)
    }

    async fn verify_uncached(&self, token: &str) -> Result<Verified, AuthError> {
        let header = read_header(token)?;
        header.check()?;
        let algorithm = self.allowed_algorithm(header.alg.as_deref())?;
        let kid = match header.kid.as_deref() {
            Some(kid) if !kid.is_empty() => kid,
            _ => {
                return Err(TokenRejection::MissingKeyId.into());
            }
        };
        let key = self.keys.key(kid).await?;

        // The signature first: nothing in the payload is looked at before
        // it is known to come from the key's owner.
        let (signing_input, signature) = token
            .rsplit_once('.')
            .ok_or(TokenRejection::Malformed(None))?;
        let signed =
            jsonwebtoken::crypto::verify(signature, signing_input.as_bytes(), &key, algorithm)
                .map_err(|err| describe(err.kind()))?;
        if !signed {
            return Err(TokenRejection::BadSignature.into());
        }
        let claims = read_claims(signing_input)?;
        self.check_time(&claims)?;
        self.check_required(&claims)?;
        self.check_issuer(&claims)?;
        self.check_audience(&claims)?;
        self.check_issued_at(&claims)?;
        let principal = principal_from_claims(&claims)?;
        Ok(Verified {
            principal,
            expires_in: self.cacheable_for(&claims),
            kid: kid.to_owned(),
            key,
        })
    }

    fn allowed_algorithm(&self, alg: Option<&str>) -> Result<Algorithm, AuthError> {
        let Some(name) = alg else {
            return Err(TokenRejection::MissingAlgorithm.into());
        };
        let refused = || {
            let accepted: Vec<String> = self
                .config
                .algorithms
                .iter()
                .map(|a| format!("{a:?}"))
                .collect();
            AuthError::from(TokenRejection::AlgorithmNotAllowed {
                algorithm: name
                    .chars()
                    .filter(char::is_ascii_graphic)
                    .take(16)
                    .collect(),
                accepted: accepted.join(", "),
            })
        };
        let algorithm: Algorithm = name.parse().map_err(|_| refused())?;
        // `none` never parses; HMAC would verify with the public key as the
        // secret, so it is refused whatever the configuration says.
        let is_rsa = matches!(
            algorithm,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        );
        if is_rsa && self.config.algorithms.contains(&algorithm) {
            Ok(algorithm)
        } else {
            Err(refused())
        }
    }

    /// `exp` (unless switched off) and `nbf`, with the configured leeway.
    fn check_time(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        let now = unix_now();
        let leeway = self.config.leeway.as_secs_f64();
        if self.config.verify_expiration {
            match claims.get("exp") {
                Some(exp) => {
                    let exp = exp.as_f64().ok_or_else(|| must_be_a_number("exp"))?;
                    if now > exp + leeway {
                        return Err(TokenRejection::Expired.into());
                    }
                }
                None => {
                    return Err(TokenRejection::MissingClaim("exp".to_owned()).into());
                }
            }
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = nbf.as_f64().ok_or_else(|| must_be_a_number("nbf"))?;
            if now + leeway < nbf {
                return Err(TokenRejection::NotYetValid.into());
            }
        }
        Ok(())
    }

    fn check_required(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        for claim in &self.config.required_claims {
            if claims.get(claim).is_none_or(Value::is_null) {
                return Err(TokenRejection::MissingClaim(claim.clone()).into());
            }
        }
        Ok(())
    }

    fn check_issuer(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        match claims.get("iss") {
            Some(Value::String(iss)) if self.issuers.accepts(iss) => Ok(()),
            Some(Value::String(_)) => Err(TokenRejection::WrongIssuer.into()),
            None => Err(TokenRejection::MissingClaim("iss".to_owned()).into()),
            Some(_) => Err(TokenRejection::InvalidClaim {
                claim: "iss".to_owned(),
                expected: "a string",
            }
            .into()),
        }
    }

    fn check_audience(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            None => return Err(TokenRejection::MissingAudience.into()),
            Some(_) => Vec::new(),
        };
        let for_project = audiences.contains(&self.config.project_id.as_str());
        let for_this_server = audiences.iter().any(|aud| {
            self.config
                .audiences
                .iter()
                .any(|accepted| accepted.trim_end_matches('/') == aud.trim_end_matches('/'))
        });
        if for_this_server || (for_project && self.config.accept_project_audience) {
            Ok(())
        } else {
            Err(TokenRejection::WrongAudience {
                expected: self.config.audiences.clone(),
                project_audience: for_project,
            }
            .into())
        }
    }

    fn check_issued_at(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        let Some(iat) = claims.get("iat") else {
            return Ok(()); // Required or not per `required_claims`.
        };
        let Some(iat) = iat.as_f64() else {
            return Err(must_be_a_number("iat"));
        };
        let now = unix_now();
        let leeway = self.config.leeway.as_secs_f64();
        if iat > now + leeway {
            return Err(TokenRejection::IssuedInFuture.into());
        }
        if now - iat > self.config.max_token_age.as_secs_f64() + leeway {
            return Err(TokenRejection::TooOld {
                max_hours: self.config.max_token_age.as_secs() / 3600,
            }
            .into());
        }
        Ok(())
    }
}

impl TokenVerifier for JwtVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Arc<Principal>, AuthError>> {
        Box::pin(self.verify_token(token))
    }

    fn mode(&self) -> &'static str {
        self.mode
    }

    fn jwks_status(&self) -> Option<JwksStatus> {
        Some(self.keys.status())
    }
}

/// The header fields the verifier reads; the rest is ignored.
#[derive(serde::Deserialize)]
struct JwtHeader {
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    /// Extensions the issuer marks as critical (RFC 7515 §4.1.11).
    #[serde(default)]
    crit: Option<Value>,
    #[serde(default)]
    typ: Option<Value>,
}

impl JwtHeader {
    /// Refuses a header that names critical extensions (this verifier
    /// understands none, so it must not accept the token) or a type that
    /// is not a JWT access token (`JWT`, `at+jwt`, RFC 9068's
    /// `application/at+jwt`, or none).
    fn check(&self) -> Result<(), AuthError> {
        if self.crit.is_some() {
            return Err(TokenRejection::CriticalExtension.into());
        }
        match &self.typ {
            None => Ok(()),
            Some(Value::String(typ))
                if ["JWT", "at+jwt", "application/at+jwt"]
                    .iter()
                    .any(|accepted| typ.eq_ignore_ascii_case(accepted)) =>
            {
                Ok(())
            }
            Some(other) => Err(TokenRejection::NotAnAccessToken {
                typ: other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_owned)
                    .chars()
                    .filter(char::is_ascii_graphic)
                    .take(32)
                    .collect(),
            }
            .into()),
        }
    }
}

/// The decoded header, without trusting anything in it yet.
fn read_header(token: &str) -> Result<JwtHeader, AuthError> {
    let malformed = |why: &'static str| AuthError::from(TokenRejection::Malformed(Some(why)));
    let mut segments = token.split('.');
    let (Some(header), Some(_payload), Some(_signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(malformed("a JWT has three dot-separated segments"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| malformed("the header is not base64url"))?;
    // A header with `alg` or `kid` of another type is as malformed as one
    // that is not JSON at all.
    serde_json::from_slice(&bytes)
        .map_err(|_| malformed("the header is not a JSON object with string `alg` and `kid`"))
}

/// The payload of a token whose signature has been verified.
fn read_claims(signing_input: &str) -> Result<Map<String, Value>, AuthError> {
    let payload = signing_input
        .split_once('.')
        .map(|(_, payload)| payload)
        .ok_or(TokenRejection::Malformed(None))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenRejection::Malformed(Some("the claims are not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ => Err(TokenRejection::Malformed(Some("the claims are not a JSON object")).into()),
    }
}

/// Why the signature step failed. Claims are checked by this module, so
/// only key, algorithm and encoding errors can come from jsonwebtoken here.
fn describe(kind: &ErrorKind) -> TokenRejection {
    match kind {
        ErrorKind::InvalidSignature => TokenRejection::BadSignature,
        ErrorKind::InvalidAlgorithm => TokenRejection::AlgorithmKeyMismatch,
        ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
            TokenRejection::KeyCannotVerify
        }
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
            TokenRejection::Malformed(None)
        }
        _ => TokenRejection::Unverifiable,
    }
}

/// `Invalid token claims: `{claim}` must be a number`.
fn must_be_a_number(claim: &str) -> AuthError {
    TokenRejection::InvalidClaim {
        claim: claim.to_owned(),
        expected: "a number",
    }
    .into()
}

fn unix_now() -> f64 {
    oauth_kit::unix_time().as_secs_f64()
}

impl JwtVerifier {
    /// How long a verified token may be served from the cache: until `exp`,
    /// and never past the point where `iat` makes it too old.
    fn cacheable_for(&self, claims: &Map<String, Value>) -> Option<Duration> {
        let now = unix_now();
        let until_exp = claims
            .get("exp")
            .and_then(Value::as_f64)
            .map(|exp| exp - now);
        let until_too_old = claims
            .get("iat")
            .and_then(Value::as_f64)
            .map(|iat| iat + self.config.max_token_age.as_secs_f64() - now);
        let left = match (until_exp, until_too_old) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return None,
        };
        // `try_`: a signed but absurd `exp` must not panic the server.
        Some(Duration::try_from_secs_f64(left.max(0.0)).unwrap_or(Duration::MAX))
    }
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
