//! Why a presented token was refused, one variant per reason, so tests,
//! metrics and logs can match on the reason while people read the same
//! words as ever (the configuration guide's, which operators search for).

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRejection {
    /// Longer than `max_token_bytes`.
    #[error("Token is too large: {size} bytes, the limit is {limit}")]
    TooLarge {
        /// The token's length in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Not a JWT: the segments, their encoding or their JSON, as said.
    #[error("Malformed token{}", .0.map(|why| format!(": {why}")).unwrap_or_default())]
    Malformed(Option<&'static str>),
    /// The header names no signing key.
    #[error("Token header has no `kid`: the signing key cannot be chosen")]
    MissingKeyId,
    /// The header marks extensions as critical, which this verifier does
    /// not understand (RFC 7515 §4.1.11).
    #[error(
        "Token header marks extensions as critical (`crit`) that this server does not understand"
    )]
    CriticalExtension,
    /// The header's `typ` says it is not a JWT access token.
    #[error("Token type `{typ}` is not an access token; expected `JWT` or `at+jwt`")]
    NotAnAccessToken {
        /// The `typ`, trimmed to printable text.
        typ: String,
    },
    /// The header names no algorithm.
    #[error("Token header has no `alg`")]
    MissingAlgorithm,
    /// The header's algorithm is not on the allow-list.
    #[error("Token algorithm `{algorithm}` is not allowed; accepted: {accepted}")]
    AlgorithmNotAllowed {
        /// The algorithm as the header names it, trimmed to printable text.
        algorithm: String,
        /// The accepted algorithms, comma-separated.
        accepted: String,
    },
    /// No key in the key set has the header's `kid`, even after a refetch.
    #[error("Public key not found for kid `{kid}`")]
    UnknownKey {
        /// The `kid`, trimmed to printable text.
        kid: String,
    },
    /// The signature does not verify.
    #[error("Invalid token signature")]
    BadSignature,
    /// The algorithm does not fit the key.
    #[error("Token algorithm does not match its key")]
    AlgorithmKeyMismatch,
    /// The key cannot verify this kind of token.
    #[error("The signing key cannot verify this token")]
    KeyCannotVerify,
    /// The signature step failed for another reason.
    #[error("Invalid token")]
    Unverifiable,
    /// `exp` has passed (leeway included).
    #[error("Token has expired")]
    Expired,
    /// `nbf` is still ahead.
    #[error("Token is not valid yet (`nbf` is in the future)")]
    NotYetValid,
    /// A claim the configuration requires is absent.
    #[error("Token is missing the required claim `{0}`")]
    MissingClaim(String),
    /// A claim has the wrong type.
    #[error("Invalid token claims: `{claim}` must be {expected}")]
    InvalidClaim {
        /// The claim's name (or path, for tenant grants).
        claim: String,
        /// What it must be.
        expected: &'static str,
    },
    /// `iss` is not one of this project's issuers.
    #[error("Invalid token issuer")]
    WrongIssuer,
    /// `aud` names no audience this server accepts.
    #[error(
        "Invalid token audience: this server accepts tokens issued for {}{}",
        .expected.join(" or "),
        if *.project_audience {
            "; the token is for the whole Descope project, which the server accepts only \
             with JWT_ACCEPT_PROJECT_AUDIENCE=true"
        } else {
            ""
        }
    )]
    WrongAudience {
        /// The audiences this server accepts (its resource URLs).
        expected: Vec<String>,
        /// Whether the token names the project id, which a setting would
        /// let the server accept.
        project_audience: bool,
    },
    /// The token has no `aud`.
    #[error("Invalid token audience: the token has no `aud`")]
    MissingAudience,
    /// `iat` is in the future.
    #[error("Token was issued in the future (`iat`)")]
    IssuedInFuture,
    /// `iat` is older than `MAX_TOKEN_AGE_HOURS`.
    #[error("Token is too old: issued more than {max_hours} hours ago (MAX_TOKEN_AGE_HOURS)")]
    TooOld {
        /// The configured maximum age, in hours.
        max_hours: u64,
    },
    /// In demo mode without the demo authorization server, only the demo
    /// token is accepted.
    #[error("Token is not valid: in demo mode the server accepts only the configured demo token")]
    NotTheDemoToken,
    /// An admin revoked the token (the `revoke_tokens` tool): by its `jti`,
    /// its subject, or everything issued before a time.
    #[error("Token has been revoked: sign in again for a new one")]
    Revoked,
}

impl TokenRejection {
    /// A short stable name for the reason (`expired`, `wrong_audience`, …),
    /// for metrics and structured logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Malformed(_) => "malformed",
            Self::MissingKeyId => "missing_kid",
            Self::MissingAlgorithm => "missing_alg",
            Self::CriticalExtension => "critical_extension",
            Self::NotAnAccessToken { .. } => "not_an_access_token",
            Self::AlgorithmNotAllowed { .. } => "algorithm_not_allowed",
            Self::UnknownKey { .. } => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::AlgorithmKeyMismatch => "algorithm_key_mismatch",
            Self::KeyCannotVerify => "key_cannot_verify",
            Self::Unverifiable => "unverifiable",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim { .. } => "invalid_claim",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience { .. } => "wrong_audience",
            Self::MissingAudience => "missing_audience",
            Self::IssuedInFuture => "issued_in_future",
            Self::TooOld { .. } => "too_old",
            Self::NotTheDemoToken => "not_the_demo_token",
            Self::Revoked => "revoked",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_the_guide_s_words() {
        assert_eq!(TokenRejection::Expired.to_string(), "Token has expired");
        assert_eq!(
            TokenRejection::WrongAudience {
                expected: vec!["https://mcp.example.com/mcp".to_owned()],
                project_audience: true,
            }
            .to_string(),
            "Invalid token audience: this server accepts tokens issued for \
             https://mcp.example.com/mcp; the token is for the whole Descope project, \
             which the server accepts only with JWT_ACCEPT_PROJECT_AUDIENCE=true"
        );
        assert_eq!(
            TokenRejection::UnknownKey { kid: "k1".into() }.to_string(),
            "Public key not found for kid `k1`"
        );
        assert_eq!(
            TokenRejection::Malformed(None).to_string(),
            "Malformed token"
        );
        assert_eq!(
            TokenRejection::Malformed(Some("a JWT has three dot-separated segments")).to_string(),
            "Malformed token: a JWT has three dot-separated segments"
        );
        assert_eq!(TokenRejection::Expired.code(), "expired");
    }
}
