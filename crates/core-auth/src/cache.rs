//! Verified tokens, remembered so a token is verified once, not per call.
//!
//! Keyed by a SHA-256 of the token, so the cache never holds a credential.
//! Bounded in entries; an entry lives until the token expires or the cache
//! TTL passes, whichever is first, or until the key that verified it is
//! withdrawn from the JWKS (each entry records its `kid`, and the key set
//! purges them when a fetch drops that `kid`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::Principal;

type TokenHash = [u8; 32];

struct Entry {
    principal: Arc<Principal>,
    expires_at: Instant,
    /// The `kid` of the key that verified the token.
    kid: Box<str>,
}

/// A bounded map from token hash to verified principal.
pub(crate) struct TokenCache {
    entries: RwLock<HashMap<TokenHash, Entry>>,
    capacity: usize,
    ttl: Duration,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: RwLock::new(HashMap::with_capacity(capacity.min(4096))),
            capacity,
            ttl,
        }
    }

    pub(crate) fn hash(token: &str) -> TokenHash {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The cached principal for a token hash, if still fresh.
    pub(crate) fn get(&self, hash: &TokenHash) -> Option<Arc<Principal>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(hash)?;
        (entry.expires_at > Instant::now()).then(|| Arc::clone(&entry.principal))
    }

    /// Remembers a principal verified with the key `kid` until
    /// `min(token_expiry, now + ttl)`, or until [`forget_kids`] names `kid`.
    ///
    /// [`forget_kids`]: Self::forget_kids
    pub(crate) fn insert(
        &self,
        hash: TokenHash,
        principal: Arc<Principal>,
        token_expires_in: Option<Duration>,
        kid: &str,
    ) {
        if self.capacity == 0 || self.ttl.is_zero() {
            return;
        }
        let lifetime = token_expires_in.map_or(self.ttl, |left| left.min(self.ttl));
        if lifetime.is_zero() {
            return;
        }
        let now = Instant::now();
        // An absurd configured TTL must not overflow the clock.
        let Some(expires_at) = now.checked_add(lifetime) else {
            return;
        };
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&hash) {
            entries.retain(|_, entry| entry.expires_at > now);
            if entries.len() >= self.capacity {
                // Still full of live entries: drop the one that expires first.
                if let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, entry)| entry.expires_at)
                    .map(|(key, _)| *key)
                {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(
            hash,
            Entry {
                principal,
                expires_at,
                kid: kid.into(),
            },
        );
    }

    /// Drops every token verified with one of `kids`: their keys are no
    /// longer published, so the tokens must be verified again (and fail).
    pub(crate) fn forget_kids(&self, kids: &[String]) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, entry| !kids.iter().any(|kid| **kid == *entry.kid));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrincipalKind;

    fn principal(id: &str) -> Arc<Principal> {
        Arc::new(Principal {
            id: id.to_owned(),
            kind: PrincipalKind::User,
            scopes: Default::default(),
            roles: Default::default(),
            tenant: None,
            tenants: Default::default(),
            credential: Default::default(),
        })
    }

    #[test]
    fn entries_expire_with_the_token() {
        let cache = TokenCache::new(10, Duration::from_secs(3600));
        let hash = TokenCache::hash("t");
        cache.insert(hash, principal("a"), Some(Duration::from_millis(30)), "k");
        assert!(cache.get(&hash).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(
            cache.get(&hash).is_none(),
            "an expired token was served from the cache"
        );
    }

    #[test]
    fn entries_expire_with_the_ttl() {
        let cache = TokenCache::new(10, Duration::from_millis(30));
        let hash = TokenCache::hash("t");
        cache.insert(hash, principal("a"), Some(Duration::from_secs(3600)), "k");
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get(&hash).is_none());
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = TokenCache::new(3, Duration::from_secs(60));
        for i in 0..10 {
            cache.insert(TokenCache::hash(&i.to_string()), principal("a"), None, "k");
        }
        assert_eq!(cache.len(), 3);
        assert!(
            cache.get(&TokenCache::hash("9")).is_some(),
            "the newest entry is kept"
        );
    }

    #[test]
    fn forgetting_a_kid_drops_only_the_tokens_it_verified() {
        let cache = TokenCache::new(10, Duration::from_secs(60));
        let (old, new) = (TokenCache::hash("old"), TokenCache::hash("new"));
        cache.insert(old, principal("a"), None, "withdrawn");
        cache.insert(new, principal("b"), None, "kept");
        cache.forget_kids(&["withdrawn".to_owned()]);
        assert!(
            cache.get(&old).is_none(),
            "a token of a withdrawn key was kept"
        );
        assert!(cache.get(&new).is_some());
    }

    #[test]
    fn different_tokens_do_not_collide() {
        let cache = TokenCache::new(10, Duration::from_secs(60));
        cache.insert(TokenCache::hash("one"), principal("one"), None, "k");
        assert!(cache.get(&TokenCache::hash("two")).is_none());
    }
}
