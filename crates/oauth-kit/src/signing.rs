//! RS256 signing keys and token minting, for the demo authorization server.
//!
//! The demo server's tokens are real RS256 JWTs: minted here, published as a
//! JWKS, and verified by the same `core_auth::JwtVerifier` as Descope's.

use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Why a key could not be made, read, written or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Key generation failed.
    #[error("cannot generate an RSA key")]
    Generate,
    /// The key file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The key file.
        path: std::path::PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The key file does not hold a usable key.
    #[error("{}: not a PKCS#8 RSA private key ({reason}); delete it to generate a new one", path.display())]
    Invalid {
        /// The key file.
        path: std::path::PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A stored secret is not one the server wrote.
    #[error("{}: {reason}", path.display())]
    InvalidSecret {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Signing failed.
    #[error("cannot sign the token")]
    Sign,
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// An RSA-2048 key pair that signs RS256 tokens.
pub struct SigningKey {
    pair: KeyPair,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new random key.
    pub fn generate() -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        Ok(Self::from_pair(pair))
    }

    /// The key in `path`, or a new one written there (owner-only) when the
    /// file does not exist yet, so tokens survive restarts.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        match std::fs::read(path) {
            Ok(der) => Self::from_pkcs8(&der, path),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                write_private(path, &key.to_pkcs8()?).map_err(io)?;
                Ok(key)
            }
            Err(err) => Err(io(err)),
        }
    }

    /// The key in PKCS#8 DER (as [`Self::to_pkcs8`] writes it); `source`
    /// names where it came from, for the error.
    pub fn from_pkcs8(der: &[u8], source: &Path) -> Result<Self, KeyError> {
        let pair = KeyPair::from_pkcs8(der).map_err(|err| KeyError::Invalid {
            path: source.to_owned(),
            reason: err.to_string(),
        })?;
        Ok(Self::from_pair(pair))
    }

    fn from_pair(pair: KeyPair) -> Self {
        // The kid is derived from the public key, so it is stable across
        // restarts and changes only when the key does.
        let modulus = public_components(&pair).n;
        let digest = Sha256::digest(&modulus);
        let kid = URL_SAFE_NO_PAD.encode(&digest[..12]);
        Self { pair, kid }
    }

    /// The key as PKCS#8 DER, for storage.
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, KeyError> {
        self.pair
            .as_der()
            .map(|der| der.as_ref().to_vec())
            .map_err(|_| KeyError::Generate)
    }

    /// The key id in token headers and in the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        let components = public_components(&self.pair);
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&components.n),
            "e": URL_SAFE_NO_PAD.encode(&components.e),
        })
    }

    /// The public key as a JWKS document.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk()] })
    }

    /// A signed RS256 JWT carrying `claims`.
    pub fn sign(&self, claims: &Value) -> Result<String, KeyError> {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| KeyError::Sign)?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(&signature)
        ))
    }
}

fn public_components(pair: &KeyPair) -> PublicKeyComponents<Vec<u8>> {
    PublicKeyComponents::from(pair.public_key())
}

#[cfg(unix)]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_key_is_reused_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys/demo-signing-key.der");
        let first = SigningKey::load_or_create(&path).expect("create");
        let second = SigningKey::load_or_create(&path).expect("load");
        assert_eq!(first.kid(), second.kid());
        assert_eq!(first.jwk(), second.jwk());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "the private key must be owner-only");
        }
    }

    #[test]
    fn a_corrupt_key_file_is_named_and_not_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key.der");
        std::fs::write(&path, b"garbage").expect("write");
        let err = SigningKey::load_or_create(&path).expect_err("refused");
        assert!(err.to_string().contains("key.der"), "{err}");
        assert_eq!(std::fs::read(&path).expect("read"), b"garbage");
    }

    #[test]
    fn the_jwk_is_a_2048_bit_rs256_signing_key() {
        let key = SigningKey::generate().expect("generate");
        let jwk = key.jwk();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["kid"], key.kid());
        let n = URL_SAFE_NO_PAD
            .decode(jwk["n"].as_str().expect("n"))
            .expect("base64url");
        assert_eq!(n.len(), 256);
    }
}
