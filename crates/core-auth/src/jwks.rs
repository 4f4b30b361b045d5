//! Signing keys: a JWKS fetched from the authorization server, cached by
//! `kid`, or a fixed set (the demo authorization server's own key).
//!
//! An unknown `kid` triggers at most one fetch per refetch interval, so a
//! stream of forged `kid`s cannot turn the server into a load generator
//! against the authorization server. When a fetch fails the cached keys keep
//! serving and [`KeySet::status`] reports the set as stale.
//!
//! Whoever answers the JWKS URL decides which tokens are genuine, so the URL
//! must be https (plain http only on loopback, for local servers) and its
//! answer is taken only from that URL: a redirect is an error, never
//! followed, since following it would hand the keys to wherever it points.
//!
//! A fetch that withdraws a key (its `kid` is gone, or now names other key
//! material) purges the verified-token caches registered with the set of
//! every token that key verified, so those tokens are verified again, and
//! refused, instead of being served from the cache until their TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use sha2::{Digest, Sha256};

use crate::cache::TokenCache;
use crate::{AuthError, TokenRejection};

/// RSA keys shorter than this are refused (NIST SP 800-131A).
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// A JWKS larger than this is refused.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// How long one JWKS fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the signing keys come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A JWKS document at this URL.
    Remote {
        /// The JWKS URL.
        url: String,
        /// The shortest time between two fetches caused by unknown `kid`s.
        refetch_interval: Duration,
    },
    /// A fixed JWKS document, never refetched.
    Static {
        /// The JWKS as JSON.
        jwks: String,
    },
}

/// What `/health` reports about the keys.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct JwksStatus {
    /// The JWKS URL, or `static`.
    pub source: String,
    /// How many usable keys are cached.
    pub keys: usize,
    /// True when the last fetch failed and older keys are serving.
    pub stale: bool,
    /// Why the last fetch failed, if it did.
    pub last_error: Option<String>,
    /// When keys were last fetched, as Unix seconds.
    pub fetched_at: Option<u64>,
}

/// One usable key.
struct Key {
    decoding: Arc<DecodingKey>,
    /// A digest of the key material (`n` and `e`), to tell a refetched key
    /// that is the same from one published anew under the same `kid`.
    material: [u8; 32],
}

#[derive(Default)]
struct KeyState {
    keys: HashMap<String, Key>,
    last_attempt: Option<Instant>,
    fetched_at: Option<SystemTime>,
    last_error: Option<String>,
}

/// Why the signing keys could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The JWKS could not be downloaded.
    #[error(transparent)]
    Fetch(#[from] oauth_kit::FetchError),
    /// The document is not a JWKS.
    #[error("the JWKS is not valid: {0}")]
    Invalid(String),
    /// The document holds no key this server can verify with.
    #[error("the JWKS holds no usable RSA signing key")]
    NoUsableKey,
    /// The JWKS URL does not parse.
    #[error("`{url}` is not a URL ({reason}); give the JWKS's full https URL")]
    InvalidUrl {
        /// The URL as configured.
        url: String,
        /// What the parser said.
        reason: String,
    },
    /// The JWKS URL is not https and its host is not loopback.
    #[error(
        "`{url}` is not https: keys fetched without TLS can be swapped on the way, and \
         whoever swaps them can sign any token; use an https URL (plain http is accepted \
         only for loopback hosts: 127.0.0.0/8, ::1 and localhost)"
    )]
    InsecureUrl {
        /// The URL as configured.
        url: String,
    },
}

/// Refuses a JWKS URL that is not https, unless its host is loopback
/// (127.0.0.0/8, `::1`, `localhost`), where a local test or sidecar server
/// may speak plain http without the keys crossing a network.
pub fn check_jwks_url(url: &str) -> Result<(), JwksError> {
    let parsed = reqwest::Url::parse(url).map_err(|err| JwksError::InvalidUrl {
        url: url.to_owned(),
        reason: err.to_string(),
    })?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(JwksError::InsecureUrl {
            url: url.to_owned(),
        }),
    }
}

/// The verification keys, by `kid`.
pub struct KeySet {
    source: KeySource,
    client: reqwest::Client,
    state: RwLock<KeyState>,
    /// One fetch at a time: concurrent misses wait for it instead of
    /// fetching again.
    fetching: tokio::sync::Mutex<()>,
    /// The verified-token caches to purge when a key is withdrawn; weak, so
    /// a dropped verifier's cache is not kept alive by its keys.
    caches: Mutex<Vec<Weak<TokenCache>>>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl KeySet {
    /// A key set; a static source is parsed now and must hold a usable key,
    /// and a remote one's URL must pass [`check_jwks_url`].
    pub fn new(source: KeySource) -> Result<Self, JwksError> {
        let mut state = KeyState::default();
        match &source {
            KeySource::Static { jwks } => {
                let keys = parse_jwks(jwks.as_bytes())?;
                if keys.is_empty() {
                    return Err(JwksError::NoUsableKey);
                }
                state.keys = keys;
                state.fetched_at = Some(SystemTime::now());
            }
            KeySource::Remote { url, .. } => check_jwks_url(url)?,
        }
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            // A redirect comes back as an answer, which `get_capped` refuses
            // naming where it pointed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| oauth_kit::FetchError::Client(err.to_string()))?;
        Ok(Self {
            source,
            client,
            state: RwLock::new(state),
            fetching: tokio::sync::Mutex::new(()),
            caches: Mutex::default(),
        })
    }

    /// Purges `cache` of the tokens a key verified whenever a fetch
    /// withdraws that key.
    pub(crate) fn register_cache(&self, cache: &Arc<TokenCache>) {
        let mut caches = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        caches.retain(|cache| cache.strong_count() > 0);
        caches.push(Arc::downgrade(cache));
    }

    /// Runs `remember` only if `key` is still the key published for `kid`,
    /// and holds the set still while it runs: a fetch that withdraws the key
    /// purges the caches after replacing it, under the same lock, so a token
    /// remembered here is either purged by that fetch or not remembered.
    pub(crate) fn while_current(&self, kid: &str, key: &Arc<DecodingKey>, remember: impl FnOnce()) {
        let state = self.read();
        if state
            .keys
            .get(kid)
            .is_some_and(|current| Arc::ptr_eq(&current.decoding, key))
        {
            remember();
        }
    }

    /// The key for `kid`, fetching the JWKS again if the key is unknown and
    /// the refetch interval allows it.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, AuthError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        if let KeySource::Remote {
            refetch_interval, ..
        } = &self.source
        {
            let _guard = self.fetching.lock().await;
            // Another request may have fetched while this one waited.
            if let Some(key) = self.cached(kid) {
                return Ok(key);
            }
            let due = self
                .read()
                .last_attempt
                .is_none_or(|at| at.elapsed() >= *refetch_interval);
            if due {
                // The outcome is recorded in the state; a failure leaves the
                // cached keys serving.
                let _ = self.fetch().await;
                if let Some(key) = self.cached(kid) {
                    return Ok(key);
                }
            }
        }
        Err(TokenRejection::UnknownKey {
            kid: printable(kid),
        }
        .into())
    }

    /// Fetches the JWKS now (at start-up, and periodically), returning how
    /// many keys it holds. A static set just reports its size.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        match self.source {
            KeySource::Static { .. } => Ok(self.read().keys.len()),
            KeySource::Remote { .. } => {
                let _guard = self.fetching.lock().await;
                self.fetch().await
            }
        }
    }

    /// The state of the key set, for `/health`.
    pub fn status(&self) -> JwksStatus {
        let state = self.read();
        JwksStatus {
            source: match &self.source {
                KeySource::Remote { url, .. } => url.clone(),
                KeySource::Static { .. } => "static".to_owned(),
            },
            keys: state.keys.len(),
            stale: state.last_error.is_some(),
            last_error: state.last_error.clone(),
            fetched_at: state
                .fetched_at
                .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs()),
        }
    }

    fn cached(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.read()
            .keys
            .get(kid)
            .map(|key| Arc::clone(&key.decoding))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, KeyState> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, KeyState> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Drops from every registered cache the tokens verified under `kids`.
    fn forget_tokens_of(&self, kids: &[String]) {
        let caches = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        for cache in caches.iter().filter_map(Weak::upgrade) {
            cache.forget_kids(kids);
        }
    }

    /// One fetch; the caller holds `fetching`.
    async fn fetch(&self) -> Result<usize, JwksError> {
        let KeySource::Remote { url, .. } = &self.source else {
            return Ok(self.read().keys.len());
        };
        self.write().last_attempt = Some(Instant::now());
        let outcome = oauth_kit::get_capped(&self.client, url, MAX_JWKS_BYTES)
            .await
            .map_err(JwksError::from)
            .and_then(|bytes| parse_jwks(&bytes));
        crate::metrics::fetched(outcome.as_ref().is_ok_and(|keys| !keys.is_empty()));
        let mut state = self.write();
        match outcome {
            Ok(keys) if keys.is_empty() => {
                let error = JwksError::NoUsableKey;
                tracing::warn!(%url, %error, "JWKS fetch gave no keys; keeping the cached ones");
                state.last_error = Some(error.to_string());
                Err(error)
            }
            Ok(mut keys) => {
                let count = keys.len();
                // Replace, not merge: a key the server no longer publishes
                // has been revoked. A key published again unchanged keeps its
                // `Arc`, so a verification that began before this fetch may
                // still remember its token (`while_current`).
                let mut withdrawn = Vec::new();
                for (kid, old) in state.keys.drain() {
                    match keys.get_mut(&kid) {
                        Some(new) if new.material == old.material => new.decoding = old.decoding,
                        _ => withdrawn.push(kid),
                    }
                }
                state.keys = keys;
                state.fetched_at = Some(SystemTime::now());
                state.last_error = None;
                if !withdrawn.is_empty() {
                    // Still under the write lock: see `while_current`.
                    self.forget_tokens_of(&withdrawn);
                    tracing::info!(%url, kids = ?withdrawn, "signing keys withdrawn; tokens they verified are verified again");
                }
                tracing::info!(%url, keys = count, "JWKS fetched");
                Ok(count)
            }
            Err(error) => {
                tracing::warn!(%url, %error, "JWKS fetch failed; cached keys keep serving");
                state.last_error = Some(error.to_string());
                Err(error)
            }
        }
    }
}

/// The usable keys of a JWKS document: RSA signing keys with a `kid` and a
/// modulus of at least [`MIN_RSA_BITS`]. Others are skipped with a warning.
fn parse_jwks(bytes: &[u8]) -> Result<HashMap<String, Key>, JwksError> {
    let set: JwkSet =
        serde_json::from_slice(bytes).map_err(|err| JwksError::Invalid(err.to_string()))?;
    let mut keys = HashMap::new();
    for jwk in set.keys {
        let Some(kid) = jwk.common.key_id.clone().filter(|kid| !kid.is_empty()) else {
            tracing::warn!("JWKS key without a kid skipped");
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            continue;
        }
        if matches!(jwk.common.key_algorithm, Some(alg) if !is_rsa(alg)) {
            tracing::warn!(%kid, "JWKS key for a non-RSA algorithm skipped");
            continue;
        }
        let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
            tracing::warn!(%kid, "non-RSA JWKS key skipped");
            continue;
        };
        let bits = modulus_bits(&rsa.n);
        if bits < MIN_RSA_BITS {
            tracing::warn!(%kid, bits, "RSA key shorter than {MIN_RSA_BITS} bits refused");
            continue;
        }
        match DecodingKey::from_jwk(&jwk) {
            Ok(key) => {
                let material = Sha256::new()
                    .chain_update(rsa.n.as_bytes())
                    .chain_update(b".")
                    .chain_update(rsa.e.as_bytes())
                    .finalize()
                    .into();
                keys.insert(
                    kid,
                    Key {
                        decoding: Arc::new(key),
                        material,
                    },
                );
            }
            Err(err) => tracing::warn!(%kid, %err, "unusable JWKS key skipped"),
        }
    }
    Ok(keys)
}

fn is_rsa(alg: KeyAlgorithm) -> bool {
    matches!(
        alg,
        KeyAlgorithm::RS256
            | KeyAlgorithm::RS384
            | KeyAlgorithm::RS512
            | KeyAlgorithm::PS256
            | KeyAlgorithm::PS384
            | KeyAlgorithm::PS512
    )
}

/// The bit length of a base64url-encoded big-endian modulus.
fn modulus_bits(n: &str) -> usize {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(n.trim_end_matches('=')) else {
        return 0;
    };
    let Some(first) = bytes.iter().position(|b| *b != 0) else {
        return 0;
    };
    (bytes.len() - first) * 8 - bytes[first].leading_zeros() as usize
}

/// A `kid` as it may appear in a message: short and printable.
fn printable(kid: &str) -> String {
    let cleaned: String = kid
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect();
    if cleaned.len() < kid.len() {
        format!("{cleaned}…")
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_bits_ignores_leading_zero_bytes() {
        let n = URL_SAFE_NO_PAD.encode([0u8, 0x80, 0, 0]);
        assert_eq!(modulus_bits(&n), 24);
        let n = URL_SAFE_NO_PAD.encode([0x01, 0xff]);
        assert_eq!(modulus_bits(&n), 9);
        assert_eq!(modulus_bits("***"), 0);
    }

    #[test]
    fn kids_are_shortened_for_messages() {
        assert_eq!(printable("abc"), "abc");
        assert_eq!(printable(&"k".repeat(100)).chars().count(), 65);
        assert_eq!(printable("a\nb"), "ab…");
    }

    #[test]
    fn a_jwks_url_must_be_https_unless_its_host_is_loopback() {
        for url in [
            "https://api.descope.com/P2abc/.well-known/jwks.json",
            "http://127.0.0.1:8080/jwks.json",
            "http://127.9.8.7/jwks.json",
            "http://[::1]:8080/jwks.json",
            "http://localhost:8080/jwks.json",
            "http://LocalHost/jwks.json",
        ] {
            assert_eq!(check_jwks_url(url), Ok(()), "{url}");
        }
        for url in [
            "http://api.descope.com/P2abc/.well-known/jwks.json",
            "http://10.0.0.1/jwks.json",
            "http://localhost.example.com/jwks.json",
            "http://127.0.0.1.example.com/jwks.json",
            "http://[::ffff:10.0.0.1]/jwks.json",
            "ftp://127.0.0.1/jwks.json",
            "file:///etc/jwks.json",
        ] {
            let err = check_jwks_url(url).expect_err(url);
            assert_eq!(
                err,
                JwksError::InsecureUrl {
                    url: url.to_owned()
                }
            );
            let message = err.to_string();
            assert!(message.contains(url), "{message}");
            assert!(message.contains("use an https URL"), "{message}");
        }
        let err = check_jwks_url("api.descope.com/jwks.json").expect_err("no scheme");
        assert!(matches!(err, JwksError::InvalidUrl { .. }), "{err}");
    }

    #[test]
    fn a_remote_key_set_over_plain_http_is_refused() {
        let err = KeySet::new(KeySource::Remote {
            url: "http://keys.example.com/jwks.json".to_owned(),
            refetch_interval: Duration::ZERO,
        })
        .expect_err("refused");
        assert!(matches!(err, JwksError::InsecureUrl { .. }), "{err}");
    }

    #[test]
    fn a_jwks_that_is_not_json_is_refused() {
        assert!(parse_jwks(b"not json").is_err());
        assert!(
            parse_jwks(br#"{"keys": []}"#)
                .expect("empty set")
                .is_empty()
        );
    }
}
