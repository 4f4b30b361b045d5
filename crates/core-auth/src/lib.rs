//! Bearer-token authentication: a token in, a [`Principal`] out.
//!
//! Every way of accepting a token implements [`TokenVerifier`], so the server
//! holds one `Arc<dyn TokenVerifier>` and never cares which kind it is. The
//! demo verifier ([`DemoVerifier`]) accepts one configured static token; real
//! verification of Descope JWTs implements the same trait.
//!
//! This crate knows nothing of HTTP or MCP: turning an [`AuthError`] into a
//! `WWW-Authenticate` challenge is the server's job.

mod access_key;
mod cache;
mod claims;
mod demo;
mod issuer;
mod jwks;
mod jwt;
mod metrics;
mod principal;
mod rejection;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use access_key::{AccessKeyExchange, ExchangeError, ExchangedToken};
pub use claims::principal_from_claims;
pub use demo::{DemoPrincipalConfig, DemoVerifier};
pub use jsonwebtoken::Algorithm;
pub use jwks::{JwksError, JwksStatus, KeySet, KeySource, check_jwks_url};
pub use jwt::{JwtConfig, JwtVerifier};
pub use metrics::{JWKS_FETCHES_METRIC, TOKEN_CACHE_METRIC, enable_metrics};
pub use principal::{Credential, Principal, PrincipalKind, TenantGrant};
pub use rejection::TokenRejection;

/// A boxed future, so [`TokenVerifier`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Turns a bearer token into the principal it proves.
pub trait TokenVerifier: Send + Sync {
    /// Verifies `token` (the credential after `Bearer `).
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Arc<Principal>, AuthError>>;

    /// A short name for the kind of verification, shown in `/health`
    /// (for example `demo`).
    fn mode(&self) -> &'static str;

    /// The state of the signing keys, for verifiers that use a JWKS.
    fn jwks_status(&self) -> Option<JwksStatus> {
        None
    }
}

/// Why a request could not be authenticated.
///
/// Messages are in the words of the configuration guide, because operators
/// search for them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request carried no credentials at all.
    #[error("Authentication required: send an `Authorization: Bearer <token>` header")]
    MissingToken,
    /// The `Authorization` header is present but is not a usable bearer credential.
    #[error("Malformed Authorization header: {0}")]
    MalformedHeader(String),
    /// The token was presented but is not acceptable, for this reason.
    #[error("{0}")]
    InvalidToken(#[from] TokenRejection),
}

impl AuthError {
    /// The OAuth 2.0 bearer error code (RFC 6750 §3.1) for this error, if any.
    ///
    /// A request without credentials gets no error code, as RFC 6750 asks.
    pub fn oauth_error_code(&self) -> Option<&'static str> {
        match self {
            Self::MissingToken => None,
            Self::MalformedHeader(_) => Some("invalid_request"),
            Self::InvalidToken(_) => Some("invalid_token"),
        }
    }

    /// A short stable name for the error (`missing_token`,
    /// `malformed_header`, or the rejection's [`TokenRejection::code`]),
    /// for metrics and structured logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::MalformedHeader(_) => "malformed_header",
            Self::InvalidToken(rejection) => rejection.code(),
        }
    }
}

/// Extracts the token from an `Authorization` header value.
///
/// `None` means no header was sent. The scheme is matched case-insensitively
/// (RFC 7235 §2.1).
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let Some(value) = header else {
        return Err(AuthError::MissingToken);
    };
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| AuthError::MalformedHeader("expected `Bearer <token>`".to_owned()))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        // The scheme is echoed only when it looks like one: a client that
        // put a credential first must not see it in logs or responses.
        let looks_like_scheme =
            scheme.len() <= 16 && scheme.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-');
        let message = if looks_like_scheme {
            format!("the `{scheme}` scheme is not supported; use `Bearer <token>`")
        } else {
            "expected `Bearer <token>`".to_owned()
        };
        return Err(AuthError::MalformedHeader(message));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::MalformedHeader(
            "the bearer token is empty".to_owned(),
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_is_extracted_case_insensitively() {
        assert_eq!(bearer_token(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(Some("bearer  abc ")), Ok("abc"));
    }

    #[test]
    fn missing_and_malformed_headers_are_told_apart() {
        assert_eq!(bearer_token(None), Err(AuthError::MissingToken));
        assert!(matches!(
            bearer_token(Some("Basic dXNlcjpwYXNz")),
            Err(AuthError::MalformedHeader(m)) if m.contains("Basic")
        ));
        assert!(matches!(
            bearer_token(Some("s3cr3t-t0ken-value-123 x")),
            Err(AuthError::MalformedHeader(m)) if !m.contains("s3cr3t")
        ));
        assert!(matches!(
            bearer_token(Some("Bearer")),
            Err(AuthError::MalformedHeader(_))
        ));
        assert!(matches!(
            bearer_token(Some("Bearer ")),
            Err(AuthError::MalformedHeader(_))
        ));
    }
}
