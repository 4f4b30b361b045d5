//! The demo authorization server's memory: registered clients, pending
//! consents, authorization codes and refresh-token families.
//!
//! Everything is bounded and expires; codes and refresh tokens are stored by
//! digest, never as the secret itself. A restart forgets it all, which is
//! what a demo wants (clients re-register, users sign in again). With
//! `REDIS_URL` set, the same rules are kept in Redis instead (see
//! [`crate::state`]).
//!
//! Each store holds at most a few entries per caller address (its quota)
//! and a fixed number in all (its cap). Nobody is refused: an address at
//! its quota loses its own oldest entry, and a store at its cap loses its
//! oldest entry of all. One address can therefore only ever push out its
//! own entries; pushing out anyone else's takes `cap / quota` addresses.
//!
//! Every method takes `now`, so the tests can move the clock.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use oauth_kit::ClientAddress;
use serde::{Deserialize, Serialize};

/// How long a consent page stays valid.
pub(crate) const CONSENT_TTL: Duration = Duration::from_secs(600);
/// How long an authorization code stays valid (RFC 6749 recommends ≤ 10 min).
pub(crate) const CODE_TTL: Duration = Duration::from_secs(120);
/// A registered client no authorization request has named is dropped after
/// this long: registering costs nothing, so unused registrations must not
/// pile up.
pub(crate) const UNUSED_CLIENT_TTL: Duration = Duration::from_secs(3600);
/// A client is kept this long after the last authorization request naming it.
pub(crate) const CLIENT_TTL: Duration = Duration::from_secs(24 * 3600);

/// Registered clients: 20 per address, 10 000 in all.
pub(crate) const CLIENT_QUOTA: Quota = Quota {
    per_origin: 20,
    total: 10_000,
};
/// Consent pages waiting for a decision: 20 per address, 10 000 in all.
pub(crate) const CONSENT_QUOTA: Quota = Quota {
    per_origin: 20,
    total: 10_000,
};
/// Authorization codes (and the spent ones, remembered until they would
/// have expired): 20 per address, 10 000 in all.
pub(crate) const CODE_QUOTA: Quota = Quota {
    per_origin: 20,
    total: 10_000,
};
/// Refresh-token families (sign-ins): 50 per address, 10 000 in all.
pub(crate) const FAMILY_QUOTA: Quota = Quota {
    per_origin: 50,
    total: 10_000,
};
/// How many rotated refresh tokens of one family are remembered, newest
/// first, to recognise their reuse. At the default hourly access token a
/// day-long sign-in rotates about 24 times; a token older than this is
/// still refused, as unknown, but no longer revokes its family.
pub(crate) const MAX_RETIRED_PER_FAMILY: usize = 32;

/// Whose entry it is, for the per-address quotas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Origin {
    /// A caller the server resolved no address for: all such callers share
    /// one quota.
    Unknown,
    /// The server itself: the login helper, calling in process.
    Server,
    /// An IPv4 caller (an IPv4-mapped IPv6 address counts as one).
    V4(Ipv4Addr),
    /// An IPv6 caller, by its /64: a host is usually handed a whole /64, so
    /// a quota per address would be no quota at all.
    V6(u64),
}

impl Origin {
    /// The quota key of a caller at `address`.
    pub(crate) fn of(address: IpAddr) -> Self {
        match ClientAddress(address).counted_as() {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => Self::V6((v6.to_bits() >> 64) as u64),
        }
    }

    /// How the quota sets in Redis name it.
    pub(crate) fn key(self) -> String {
        match self {
            Self::Unknown => "unknown".to_owned(),
            Self::Server => "server".to_owned(),
            Self::V4(address) => format!("v4:{address}"),
            Self::V6(prefix) => format!("v6:{prefix:016x}"),
        }
    }
}

/// How many entries one caller address, and everyone together, may hold.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quota {
    pub(crate) per_origin: usize,
    pub(crate) total: usize,
}

struct Slot<T> {
    value: T,
    origin: Origin,
    expires_at: Instant,
    /// Its place in the age order (insertion, or last renewal).
    age: u64,
}

/// A map whose entries expire, holding at most `quota.per_origin` entries
/// per origin and `quota.total` in all, the oldest giving way to the new.
pub(crate) struct Bounded<K, T> {
    quota: Quota,
    entries: HashMap<K, Slot<T>>,
    /// Every key, oldest first.
    by_age: BTreeMap<u64, K>,
    /// Each origin's keys, oldest first.
    by_origin: HashMap<Origin, BTreeMap<u64, K>>,
    next_age: u64,
}

impl<K: Hash + Eq + Clone, T> Bounded<K, T> {
    pub(crate) fn new(quota: Quota) -> Self {
        Self {
            quota: Quota {
                per_origin: quota.per_origin.max(1),
                total: quota.total.max(1),
            },
            entries: HashMap::new(),
            by_age: BTreeMap::new(),
            by_origin: HashMap::new(),
            next_age: 0,
        }
    }

    /// Inserts `value`, first making room: expired entries go, then the
    /// origin's oldest while it is at its quota, then the oldest of all
    /// while the map is at its cap. Returns every entry removed.
    pub(crate) fn insert(
        &mut self,
        key: K,
        value: T,
        origin: Origin,
        expires_at: Instant,
        now: Instant,
    ) -> Vec<(K, T)> {
        let mut removed: Vec<(K, T)> = self
            .remove(&key)
            .map(|v| (key.clone(), v))
            .into_iter()
            .collect();
        if self.origin_len(origin) >= self.quota.per_origin {
            let expired: Vec<K> = self
                .by_origin
                .get(&origin)
                .into_iter()
                .flat_map(|keys| keys.values())
                .filter(|k| self.entries.get(*k).is_some_and(|s| s.expires_at <= now))
                .cloned()
                .collect();
            removed.extend(self.remove_all(expired));
            while self.origin_len(origin) >= self.quota.per_origin {
                let Some(oldest) = self
                    .by_origin
                    .get(&origin)
                    .and_then(|keys| keys.values().next().cloned())
                else {
                    break;
                };
                removed.extend(self.remove_all([oldest]));
            }
        }
        if self.entries.len() >= self.quota.total {
            let expired: Vec<K> = self
                .entries
                .iter()
                .filter(|(_, slot)| slot.expires_at <= now)
                .map(|(k, _)| k.clone())
                .collect();
            removed.extend(self.remove_all(expired));
            while self.entries.len() >= self.quota.total {
                let Some(oldest) = self.by_age.values().next().cloned() else {
                    break;
                };
                removed.extend(self.remove_all([oldest]));
            }
        }
        let age = self.next_age();
        self.by_age.insert(age, key.clone());
        self.by_origin
            .entry(origin)
            .or_default()
            .insert(age, key.clone());
        self.entries.insert(
            key,
            Slot {
                value,
                origin,
                expires_at,
                age,
            },
        );
        removed
    }

    /// The entry, if it has not expired.
    pub(crate) fn get(&self, key: &K, now: Instant) -> Option<&T> {
        self.entries
            .get(key)
            .filter(|slot| slot.expires_at > now)
            .map(|slot| &slot.value)
    }

    /// The entry, if it has not expired, to change in place.
    pub(crate) fn get_mut(&mut self, key: &K, now: Instant) -> Option<&mut T> {
        self.entries
            .get_mut(key)
            .filter(|slot| slot.expires_at > now)
            .map(|slot| &mut slot.value)
    }

    /// Removes the entry and returns it if it has not expired.
    pub(crate) fn take(&mut self, key: &K, now: Instant) -> Option<T> {
        let live = self.entries.get(key)?.expires_at > now;
        let value = self.remove(key)?;
        live.then_some(value)
    }

    /// Removes the entry, expired or not.
    pub(crate) fn remove(&mut self, key: &K) -> Option<T> {
        let slot = self.entries.remove(key)?;
        self.by_age.remove(&slot.age);
        if let Some(keys) = self.by_origin.get_mut(&slot.origin) {
            keys.remove(&slot.age);
            if keys.is_empty() {
                self.by_origin.remove(&slot.origin);
            }
        }
        Some(slot.value)
    }

    /// A live entry gets a new expiry and becomes the newest of all, so it
    /// is the last to be pushed out.
    pub(crate) fn renew(&mut self, key: &K, expires_at: Instant, now: Instant) {
        let age = self.next_age();
        let Some(slot) = self.entries.get_mut(key).filter(|s| s.expires_at > now) else {
            return;
        };
        let old = std::mem::replace(&mut slot.age, age);
        slot.expires_at = expires_at;
        let origin = slot.origin;
        self.by_age.remove(&old);
        self.by_age.insert(age, key.clone());
        if let Some(keys) = self.by_origin.get_mut(&origin) {
            keys.remove(&old);
            keys.insert(age, key.clone());
        }
    }

    /// How many entries the map holds, expired ones not yet removed included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn origin_len(&self, origin: Origin) -> usize {
        self.by_origin.get(&origin).map_or(0, BTreeMap::len)
    }

    fn remove_all(&mut self, keys: impl IntoIterator<Item = K>) -> Vec<(K, T)> {
        keys.into_iter()
            .filter_map(|key| self.remove(&key).map(|value| (key, value)))
            .collect()
    }

    fn next_age(&mut self) -> u64 {
        self.next_age += 1;
        self.next_age
    }
}

/// A client registered through dynamic client registration (RFC 7591), or
/// by the server itself (the login helper).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Client {
    pub(crate) name: Option<String>,
    pub(crate) redirect_uris: Vec<String>,
    /// Registered through `POST /oauth/register`: anyone may do that, so its
    /// name proves nothing and the consent page marks it unverified.
    pub(crate) dynamic: bool,
    /// A confidential client's secret, by digest; `None` for a public client.
    pub(crate) secret_digest: Option<String>,
}

/// A validated authorization request waiting for the user's decision.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct PendingConsent {
    pub(crate) client_id: String,
    pub(crate) client_secret_digest: Option<String>,
    pub(crate) redirect_uri: String,
    pub(crate) state: Option<String>,
    pub(crate) code_challenge: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) resource: String,
}

/// What a token stands for: who, for which client, scopes and audience.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) subject: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) resource: String,
}

/// An authorization code: the grant, and what redeeming it must show.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Code {
    pub(crate) grant: Grant,
    pub(crate) client_secret_digest: Option<String>,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
}

/// A code is redeemed once; a spent one is remembered until it would have
/// expired, with the family it started, so its replay revokes that family
/// (RFC 6749 §4.1.2).
enum CodeState {
    Issued(Code),
    Spent(Option<FamilyId>),
}

/// What presenting a code found.
pub(crate) enum Redemption {
    /// A live code, now spent.
    Fresh(Code),
    /// A spent code. `revoked`: the family it started is now revoked (a
    /// code refused before it started one revokes nothing).
    Replayed { revoked: bool },
    /// Unknown or expired.
    Unknown,
}

/// A sign-in: every refresh token descending from one authorization code.
pub(crate) type FamilyId = u64;

struct Family {
    client_secret_digest: Option<String>,
    /// The newest refresh token, by digest, and its grant; `None` once the
    /// family is revoked.
    current: Option<(String, Grant)>,
    /// Rotated tokens, by digest, oldest first.
    retired: VecDeque<String>,
}

impl Family {
    fn digests(&self) -> impl Iterator<Item = &String> {
        self.current
            .iter()
            .map(|(digest, _)| digest)
            .chain(&self.retired)
    }
}

/// What presenting a refresh token found.
pub(crate) enum Presented {
    /// A token this server does not know, or whose sign-in has ended.
    Unknown,
    /// A token of a sign-in revoked earlier.
    Revoked,
    /// A rotated token presented again: its family is now revoked.
    Reused,
    /// The family's newest token: it may be rotated.
    Current {
        family: FamilyId,
        grant: Grant,
        client_secret_digest: Option<String>,
    },
}

/// The demo server's state.
pub(crate) struct Store {
    clients: Bounded<String, Client>,
    consents: Bounded<String, PendingConsent>,
    codes: Bounded<String, CodeState>,
    families: Bounded<FamilyId, Family>,
    /// Every remembered refresh token (current or rotated), by digest.
    refresh_tokens: HashMap<String, FamilyId>,
    next_family: FamilyId,
}

impl Default for Store {
    fn default() -> Self {
        Self::with_quotas(CLIENT_QUOTA, CONSENT_QUOTA, CODE_QUOTA, FAMILY_QUOTA)
    }
}

impl Store {
    pub(crate) fn with_quotas(
        clients: Quota,
        consents: Quota,
        codes: Quota,
        families: Quota,
    ) -> Self {
        Self {
            clients: Bounded::new(clients),
            consents: Bounded::new(consents),
            codes: Bounded::new(codes),
            families: Bounded::new(families),
            refresh_tokens: HashMap::new(),
            next_family: 0,
        }
    }

    /// Registers a client; never used, it is dropped after an hour.
    pub(crate) fn register(
        &mut self,
        client_id: String,
        client: Client,
        origin: Origin,
        now: Instant,
    ) {
        let removed = self
            .clients
            .insert(client_id, client, origin, now + UNUSED_CLIENT_TTL, now);
        log_evictions("clients", removed.len());
    }

    pub(crate) fn client(&self, client_id: &str, now: Instant) -> Option<&Client> {
        self.clients.get(&client_id.to_owned(), now)
    }

    /// An authorization request named this client: it is kept for a day
    /// from now, and becomes the last to be pushed out.
    pub(crate) fn client_used(&mut self, client_id: &str, now: Instant) {
        self.clients
            .renew(&client_id.to_owned(), now + CLIENT_TTL, now);
    }

    pub(crate) fn add_consent(
        &mut self,
        id: String,
        consent: PendingConsent,
        origin: Origin,
        now: Instant,
    ) {
        let removed = self
            .consents
            .insert(id, consent, origin, now + CONSENT_TTL, now);
        log_evictions("consents", removed.len());
    }

    pub(crate) fn take_consent(&mut self, id: &str, now: Instant) -> Option<PendingConsent> {
        self.consents.take(&id.to_owned(), now)
    }

    pub(crate) fn add_code(&mut self, digest: String, code: Code, origin: Origin, now: Instant) {
        let removed =
            self.codes
                .insert(digest, CodeState::Issued(code), origin, now + CODE_TTL, now);
        log_evictions("codes", removed.len());
    }

    /// Redeems a code: a live one is spent (and remembered as such); a spent
    /// one revokes the family it started.
    pub(crate) fn redeem_code(&mut self, digest: &str, now: Instant) -> Redemption {
        let Some(state) = self.codes.get_mut(&digest.to_owned(), now) else {
            return Redemption::Unknown;
        };
        match std::mem::replace(state, CodeState::Spent(None)) {
            CodeState::Issued(code) => Redemption::Fresh(code),
            CodeState::Spent(family) => {
                *state = CodeState::Spent(family);
                if let Some(family) = family {
                    self.revoke(family, now);
                }
                Redemption::Replayed {
                    revoked: family.is_some(),
                }
            }
        }
    }

    /// The spent code `digest` started `family`.
    pub(crate) fn code_started(&mut self, digest: &str, family: FamilyId, now: Instant) {
        if let Some(state) = self.codes.get_mut(&digest.to_owned(), now) {
            *state = CodeState::Spent(Some(family));
        }
    }

    /// Starts a family with its first refresh token; it ends at `ends`, and
    /// rotation never moves that.
    pub(crate) fn start_family(
        &mut self,
        digest: String,
        grant: Grant,
        client_secret_digest: Option<String>,
        ends: Instant,
        origin: Origin,
        now: Instant,
    ) -> FamilyId {
        self.next_family += 1;
        let id = self.next_family;
        let family = Family {
            client_secret_digest,
            current: Some((digest.clone(), grant)),
            retired: VecDeque::new(),
        };
        let removed = self.families.insert(id, family, origin, ends, now);
        log_evictions("refresh-token families", removed.len());
        for (_, family) in removed {
            self.forget(&family);
        }
        self.refresh_tokens.insert(digest, id);
        id
    }

    /// What the refresh token with this digest is. A rotated token revokes
    /// its family, so that token's newest descendant stops working too
    /// (RFC 9700 §4.14.2).
    pub(crate) fn present_refresh(&mut self, digest: &str, now: Instant) -> Presented {
        let Some(&id) = self.refresh_tokens.get(digest) else {
            return Presented::Unknown;
        };
        let Some(family) = self.families.get(&id, now) else {
            // Its sign-in ended: forget the whole family.
            if let Some(family) = self.families.remove(&id) {
                self.forget(&family);
            }
            self.refresh_tokens.remove(digest);
            return Presented::Unknown;
        };
        match &family.current {
            None => Presented::Revoked,
            Some((current, grant)) if current == digest => Presented::Current {
                family: id,
                grant: grant.clone(),
                client_secret_digest: family.client_secret_digest.clone(),
            },
            Some(_) => {
                self.revoke(id, now);
                Presented::Reused
            }
        }
    }

    /// Replaces the family's current token by a new one with `grant`; the
    /// old one is remembered as rotated.
    pub(crate) fn rotate(&mut self, id: FamilyId, digest: String, grant: Grant, now: Instant) {
        let Some(family) = self.families.get_mut(&id, now) else {
            return;
        };
        if let Some((old, _)) = family.current.take() {
            family.retired.push_back(old);
        }
        while family.retired.len() > MAX_RETIRED_PER_FAMILY {
            if let Some(oldest) = family.retired.pop_front() {
                self.refresh_tokens.remove(&oldest);
            }
        }
        family.current = Some((digest.clone(), grant));
        self.refresh_tokens.insert(digest, id);
    }

    /// No token of the family works any more; the family is remembered
    /// until it would have ended, so its tokens are told apart from unknown
    /// ones.
    fn revoke(&mut self, id: FamilyId, now: Instant) {
        if let Some(family) = self.families.get_mut(&id, now)
            && let Some((current, _)) = family.current.take()
        {
            family.retired.push_back(current);
            tracing::warn!(
                family = id,
                "a refresh token was reused or a code replayed: its sign-in is revoked"
            );
        }
    }

    /// Drops the digests of a family that is gone.
    fn forget(&mut self, family: &Family) {
        for digest in family.digests() {
            self.refresh_tokens.remove(digest);
        }
    }

    /// How many refresh-token digests are remembered in all.
    #[cfg(test)]
    pub(crate) fn remembered_refresh_tokens(&self) -> usize {
        self.refresh_tokens.len()
    }
}

fn log_evictions(store: &str, count: usize) {
    if count > 0 {
        tracing::debug!(store, count, "made room: expired or oldest entries removed");
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
        }
    }

    fn code() -> Code {
        Code {
            grant: grant(),
            client_secret_digest: None,
            redirect_uri: "https://client.example/cb".into(),
            code_challenge: "x".into(),
        }
    }

    fn client() -> Client {
        Client {
            name: None,
            redirect_uris: vec!["https://client.example/cb".into()],
            dynamic: true,
            secret_digest: None,
        }
    }

    fn at(octet: u8) -> Origin {
        Origin::V4(Ipv4Addr::new(192, 0, 2, octet))
    }

    #[test]
    fn codes_are_single_use() {
        let now = Instant::now();
        let mut store = Store::default();
        store.add_code("d".into(), code(), Origin::Unknown, now);
        assert!(matches!(store.redeem_code("d", now), Redemption::Fresh(_)));
        assert!(matches!(
            store.redeem_code("d", now),
            Redemption::Replayed { .. }
        ));
        let later = now + CODE_TTL;
        assert!(matches!(store.redeem_code("d", later), Redemption::Unknown));
    }

    #[test]
    fn a_replayed_code_revokes_the_family_it_started() {
        let now = Instant::now();
        let mut store = Store::default();
        store.add_code("code".into(), code(), Origin::Unknown, now);
        assert!(matches!(
            store.redeem_code("code", now),
            Redemption::Fresh(_)
        ));
        let family = store.start_family(
            "rt".into(),
            grant(),
            None,
            now + CLIENT_TTL,
            Origin::Unknown,
            now,
        );
        store.code_started("code", family, now);
        assert!(matches!(
            store.present_refresh("rt", now),
            Presented::Current { .. }
        ));
        assert!(matches!(
            store.redeem_code("code", now),
            Redemption::Replayed { .. }
        ));
        assert!(matches!(
            store.present_refresh("rt", now),
            Presented::Revoked
        ));
    }

    #[test]
    fn a_rotated_token_presented_again_revokes_the_newest() {
        let now = Instant::now();
        let mut store = Store::default();
        let family = store.start_family(
            "one".into(),
            grant(),
            None,
            now + CLIENT_TTL,
            Origin::Unknown,
            now,
        );
        store.rotate(family, "two".into(), grant(), now);
        assert!(matches!(
            store.present_refresh("two", now),
            Presented::Current { .. }
        ));
        assert!(matches!(
            store.present_refresh("one", now),
            Presented::Reused
        ));
        assert!(matches!(
            store.present_refresh("two", now),
            Presented::Revoked
        ));
        assert!(matches!(
            store.present_refresh("one", now),
            Presented::Revoked
        ));
        assert!(matches!(
            store.present_refresh("never", now),
            Presented::Unknown
        ));
    }

    #[test]
    fn family_bookkeeping_is_bounded_and_ends_with_the_family() {
        let now = Instant::now();
        let ends = now + Duration::from_secs(60);
        let mut store = Store::default();
        let family = store.start_family("t0".into(), grant(), None, ends, Origin::Unknown, now);
        for n in 1..=100 {
            store.rotate(family, format!("t{n}"), grant(), now);
        }
        assert_eq!(
            store.remembered_refresh_tokens(),
            MAX_RETIRED_PER_FAMILY + 1,
            "the newest token and the last rotated ones"
        );
        // Too old to be remembered: refused as unknown, and revokes nothing.
        assert!(matches!(
            store.present_refresh("t0", now),
            Presented::Unknown
        ));
        assert!(matches!(
            store.present_refresh("t100", now),
            Presented::Current { .. }
        ));
        // Once the sign-in ends, every digest of the family goes with it.
        assert!(matches!(
            store.present_refresh("t99", ends),
            Presented::Unknown
        ));
        assert_eq!(store.remembered_refresh_tokens(), 0);
    }

    #[test]
    fn an_evicted_family_takes_its_digests_along() {
        let now = Instant::now();
        let quota = Quota {
            per_origin: 2,
            total: 10,
        };
        let mut store = Store::with_quotas(quota, quota, quota, quota);
        let ends = now + CLIENT_TTL;
        let first = store.start_family("a0".into(), grant(), None, ends, at(1), now);
        store.rotate(first, "a1".into(), grant(), now);
        store.start_family("b0".into(), grant(), None, ends, at(1), now);
        store.start_family("c0".into(), grant(), None, ends, at(1), now);
        assert!(matches!(
            store.present_refresh("a1", now),
            Presented::Unknown
        ));
        assert!(matches!(
            store.present_refresh("a0", now),
            Presented::Unknown
        ));
        assert!(matches!(
            store.present_refresh("c0", now),
            Presented::Current { .. }
        ));
        assert_eq!(store.remembered_refresh_tokens(), 2);
    }

    #[test]
    fn an_address_at_its_quota_pushes_out_only_its_own_oldest() {
        let now = Instant::now();
        let later = now + Duration::from_secs(3600 * 24 * 365);
        let mut map: Bounded<String, u32> = Bounded::new(Quota {
            per_origin: 3,
            total: 100,
        });
        map.insert("other".into(), 0, at(2), later, now);
        for n in 0..5 {
            map.insert(format!("mine{n}"), n, at(1), later, now);
        }
        assert!(
            map.get(&"other".into(), now).is_some(),
            "another address keeps its entry"
        );
        assert!(map.get(&"mine0".into(), now).is_none());
        assert!(map.get(&"mine1".into(), now).is_none());
        for kept in ["mine2", "mine3", "mine4"] {
            assert!(map.get(&kept.into(), now).is_some(), "{kept}");
        }
    }

    #[test]
    fn a_full_store_pushes_out_the_oldest_instead_of_refusing() {
        let now = Instant::now();
        let later = now + Duration::from_secs(3600);
        let mut map: Bounded<String, u32> = Bounded::new(Quota {
            per_origin: 10,
            total: 3,
        });
        for n in 0..5u8 {
            map.insert(format!("k{n}"), n.into(), at(n), later, now);
        }
        assert_eq!(map.len(), 3);
        assert!(map.get(&"k0".into(), now).is_none());
        assert!(map.get(&"k1".into(), now).is_none());
        assert!(map.get(&"k4".into(), now).is_some());
    }

    #[test]
    fn expired_entries_make_room_before_live_ones() {
        let now = Instant::now();
        let mut map: Bounded<String, u32> = Bounded::new(Quota {
            per_origin: 10,
            total: 2,
        });
        map.insert("live".into(), 0, at(1), now + Duration::from_secs(60), now);
        map.insert("short".into(), 1, at(2), now + Duration::from_secs(1), now);
        let later = now + Duration::from_secs(2);
        let removed = map.insert(
            "new".into(),
            2,
            at(3),
            later + Duration::from_secs(60),
            later,
        );
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].0, "short");
        assert!(map.get(&"live".into(), later).is_some());
    }

    #[test]
    fn unused_clients_go_after_an_hour_and_used_ones_stay_a_day() {
        let now = Instant::now();
        let mut store = Store::default();
        store.register("unused".into(), client(), at(1), now);
        store.register("used".into(), client(), at(1), now);
        let soon = now + Duration::from_secs(1800);
        store.client_used("used", soon);
        let past_the_hour = now + UNUSED_CLIENT_TTL;
        assert!(store.client("unused", past_the_hour).is_none());
        assert!(store.client("used", past_the_hour).is_some());
        assert!(store.client("used", soon + CLIENT_TTL).is_none());
    }

    #[test]
    fn a_used_client_is_the_last_to_be_pushed_out() {
        let now = Instant::now();
        let quota = Quota {
            per_origin: 2,
            total: 100,
        };
        let mut store = Store::with_quotas(quota, quota, quota, quota);
        store.register("first".into(), client(), at(1), now);
        store.register("second".into(), client(), at(1), now);
        store.client_used("first", now);
        store.register("third".into(), client(), at(1), now);
        assert!(store.client("first", now).is_some());
        assert!(store.client("second", now).is_none());
    }

    #[test]
    fn ipv6_callers_share_a_quota_per_64_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(Origin::of(a), Origin::of(b));
        assert_ne!(Origin::of(a), Origin::of(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(Origin::of(mapped), at(7));
    }
}
