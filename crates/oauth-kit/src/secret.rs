//! Small OAuth building blocks: unguessable tokens and PKCE (RFC 7636).

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::KeyError;

/// A random token of 32 bytes (256 bits), base64url without padding.
pub fn random_token() -> Result<String, KeyError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| KeyError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The secret kept in `path`: read when the file exists, else 32 random
/// bytes written there (readable by the owner only) for every later start.
/// The file holds the bytes as base64url text.
pub fn load_or_create_secret(path: &std::path::Path) -> Result<Vec<u8>, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()
            .filter(|secret| secret.len() >= 32)
            .ok_or_else(|| KeyError::InvalidSecret {
                path: path.to_owned(),
                reason: "not a base64url secret of at least 32 bytes; delete the file to have a new one generated".to_owned(),
            }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = vec![0u8; 32];
            SystemRandom::new()
                .fill(&mut secret)
                .map_err(|_| KeyError::Random)?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            crate::signing::write_private(path, URL_SAFE_NO_PAD.encode(&secret).as_bytes())
                .map_err(io)?;
            Ok(secret)
        }
        Err(err) => Err(io(err)),
    }
}

/// The S256 code challenge for `verifier`: base64url(SHA-256(verifier)).
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// True when `verifier` is a valid RFC 7636 verifier whose S256 challenge
/// is `challenge`. Compared without an early exit.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed && constant_time_eq(pkce_s256(verifier).as_bytes(), challenge.as_bytes())
}

/// Compares secrets without an early exit, so response timing does not
/// reveal how much of a guess was right. (Lengths may differ in time.)
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A stable, non-reversible key for storing a secret token (a refresh
/// token, an authorization code) without keeping the secret itself.
pub fn token_digest(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_is_kept_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/approval.key");
        let first = load_or_create_secret(&path).expect("create");
        assert_eq!(first.len(), 32);
        assert_eq!(load_or_create_secret(&path).expect("read"), first);
        std::fs::write(&path, "short").expect("write");
        let refused = load_or_create_secret(&path).expect_err("too short");
        assert!(refused.to_string().contains("approval.key"), "{refused}");
    }

    #[test]
    fn the_rfc_7636_example_matches() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            pkce_s256(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
    }

    #[test]
    fn short_or_odd_verifiers_are_refused() {
        let short = "abc";
        assert!(!pkce_matches(short, &pkce_s256(short)));
        let odd = format!("{}!", "a".repeat(50));
        assert!(!pkce_matches(&odd, &pkce_s256(&odd)));
    }

    #[test]
    fn random_tokens_differ_and_are_long() {
        let a = random_token().expect("random");
        let b = random_token().expect("random");
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }
}
