//! The demo authorization server's memory: registered clients, pending
//! consents, authorization codes and refresh tokens.
//!
//! Everything is bounded and expires; codes and refresh tokens are stored by
//! digest, never as the secret itself. A restart forgets it all, which is
//! what a demo wants (clients re-register, users sign in again).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How many entries of each kind are kept at most.
const MAX_ENTRIES: usize = 10_000;
/// How long a consent page stays valid.
pub(crate) const CONSENT_TTL: Duration = Duration::from_secs(600);
/// How long an authorization code stays valid (RFC 6749 recommends ≤ 10 min).
pub(crate) const CODE_TTL: Duration = Duration::from_secs(120);

/// A client registered through dynamic client registration (RFC 7591).
#[derive(Clone, Debug)]
pub(crate) struct Client {
    pub(crate) name: Option<String>,
    pub(crate) redirect_uris: Vec<String>,
}

/// A validated authorization request waiting for the user's decision.
#[derive(Clone, Debug)]
pub(crate) struct PendingConsent {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) state: Option<String>,
    pub(crate) code_challenge: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) resource: String,
}

/// What an authorization code or a refresh token stands for.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) subject: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) resource: String,
    /// For codes: the redirect URI and PKCE challenge they were issued for.
    pub(crate) redirect_uri: Option<String>,
    pub(crate) code_challenge: Option<String>,
    /// For refresh tokens: when the sign-in itself ends. Rotation hands out
    /// new tokens but never extends this.
    pub(crate) session_ends: Option<Instant>,
}

struct Expiring<T> {
    value: T,
    expires_at: Instant,
}

/// A bounded map whose entries expire.
struct ExpiringMap<T> {
    entries: HashMap<String, Expiring<T>>,
}

impl<T> Default for ExpiringMap<T> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }
}

impl<T> ExpiringMap<T> {
    fn insert(&mut self, key: String, value: T, ttl: Duration) -> bool {
        let now = Instant::now();
        let Some(expires_at) = now.checked_add(ttl) else {
            return false;
        };
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.retain(|_, entry| entry.expires_at > now);
            if self.entries.len() >= MAX_ENTRIES {
                return false;
            }
        }
        self.entries.insert(key, Expiring { value, expires_at });
        true
    }

    /// Removes and returns the entry if it has not expired: every secret
    /// here is single-use.
    fn take(&mut self, key: &str) -> Option<T> {
        let entry = self.entries.remove(key)?;
        (entry.expires_at > Instant::now()).then_some(entry.value)
    }

    fn get(&self, key: &str) -> Option<&T> {
        self.entries
            .get(key)
            .filter(|entry| entry.expires_at > Instant::now())
            .map(|entry| &entry.value)
    }
}

/// The demo server's state.
#[derive(Default)]
pub(crate) struct Store {
    clients: ExpiringMap<Client>,
    consents: ExpiringMap<PendingConsent>,
    codes: ExpiringMap<Grant>,
    refresh_tokens: ExpiringMap<Grant>,
}

/// The store is full; the caller answers "try again later".
#[derive(Debug)]
pub(crate) struct Full;

/// Registered clients are kept for a day.
const CLIENT_TTL: Duration = Duration::from_secs(24 * 3600);

impl Store {
    pub(crate) fn register(&mut self, client_id: String, client: Client) -> Result<(), Full> {
        self.clients
            .insert(client_id, client, CLIENT_TTL)
            .then_some(())
            .ok_or(Full)
    }

    pub(crate) fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.get(client_id)
    }

    pub(crate) fn add_consent(&mut self, id: String, consent: PendingConsent) -> Result<(), Full> {
        self.consents
            .insert(id, consent, CONSENT_TTL)
            .then_some(())
            .ok_or(Full)
    }

    pub(crate) fn take_consent(&mut self, id: &str) -> Option<PendingConsent> {
        self.consents.take(id)
    }

    pub(crate) fn add_code(&mut self, digest: String, grant: Grant) -> Result<(), Full> {
        self.codes
            .insert(digest, grant, CODE_TTL)
            .then_some(())
            .ok_or(Full)
    }

    pub(crate) fn take_code(&mut self, digest: &str) -> Option<Grant> {
        self.codes.take(digest)
    }

    pub(crate) fn add_refresh(
        &mut self,
        digest: String,
        grant: Grant,
        ttl: Duration,
    ) -> Result<(), Full> {
        self.refresh_tokens
            .insert(digest, grant, ttl)
            .then_some(())
            .ok_or(Full)
    }

    pub(crate) fn take_refresh(&mut self, digest: &str) -> Option<Grant> {
        self.refresh_tokens.take(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            client_id: "c".into(),
            subject: "s".into(),
            scopes: vec![],
            resource: "r".into(),
            redirect_uri: None,
            code_challenge: None,
            session_ends: None,
        }
    }

    #[test]
    fn codes_are_single_use() {
        let mut store = Store::default();
        store.add_code("d".into(), grant()).expect("room");
        assert!(store.take_code("d").is_some());
        assert!(store.take_code("d").is_none());
    }

    #[test]
    fn expired_entries_are_not_served() {
        let mut store = Store::default();
        store
            .add_refresh("d".into(), grant(), Duration::from_millis(10))
            .expect("room");
        std::thread::sleep(Duration::from_millis(20));
        assert!(store.take_refresh("d").is_none());
    }
}
