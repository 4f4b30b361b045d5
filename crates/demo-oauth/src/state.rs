//! Where the demo server's state lives: this process's memory, or the
//! Redis every replica shares (`REDIS_URL`), so a client registered, a
//! consent shown or a code issued on one replica is good on every other.
//!
//! Both keep the same rules (the [`store`](crate::store) module's quotas,
//! time limits and one-use codes and refresh tokens); the handlers ask
//! this module and never know which one answers. In memory one lock spans
//! a redemption and what it starts; in Redis each step is one atomic
//! script, and a step that finds the state changed by another replica in
//! between (a code replayed, a token rotated twice) revokes the sign-in as
//! the lock would have.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis_state::{Bound, Claim, FamilyStart, FamilyToken, RedisState};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::store::{
    CLIENT_QUOTA, CLIENT_TTL, CODE_QUOTA, CODE_TTL, CONSENT_QUOTA, CONSENT_TTL, Client, Code,
    FAMILY_QUOTA, Grant, MAX_RETIRED_PER_FAMILY, Origin, PendingConsent, Presented, Quota,
    Redemption, Store, UNUSED_CLIENT_TTL,
};

const CLIENTS: &str = "oauth-client";
const CONSENTS: &str = "oauth-consent";
const CODES: &str = "oauth-code";
const FAMILIES: &str = "oauth-family";

/// The shared state could not be reached (Redis is down): nothing was
/// changed, and the caller may try again.
#[derive(Debug)]
pub(crate) struct Unreachable;

/// Why a code or a refresh token was refused.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The code was used before: the sign-in it started is revoked.
    CodeReplayed,
    /// Unknown, expired, or used before it started a sign-in.
    CodeUnknown,
    /// A rotated refresh token presented again: its sign-in is revoked.
    RefreshReused,
    /// A token of a sign-in revoked earlier.
    RefreshRevoked,
    /// Unknown, or its sign-in ended.
    RefreshUnknown,
    /// A check of the caller's own failed (client, PKCE, scopes).
    Check(oauth_kit::OAuthError),
    /// The shared state could not be reached.
    Unreachable,
    /// The random source failed.
    Internal,
}

impl From<Unreachable> for Refused {
    fn from(_: Unreachable) -> Self {
        Self::Unreachable
    }
}

/// The sign-in a code starts when its grant comes with refresh tokens.
pub(crate) struct NewFamily {
    /// The first refresh token, by digest.
    pub(crate) token_digest: String,
    /// How long the sign-in may be refreshed for.
    pub(crate) lasts: Duration,
    pub(crate) origin: Origin,
}

/// What a family holds in Redis: the grant its newest token stands for.
#[derive(Serialize, Deserialize)]
struct FamilyValue {
    grant: Grant,
    client_secret_digest: Option<String>,
}

/// The demo server's state, in memory or in Redis.
pub(crate) enum StateStore {
    Memory(Box<Mutex<Store>>),
    Redis(RedisState),
}

impl StateStore {
    pub(crate) fn new(redis: Option<RedisState>) -> Self {
        match redis {
            Some(redis) => Self::Redis(redis),
            None => Self::Memory(Box::new(Mutex::new(Store::default()))),
        }
    }

    /// The memory store, for tests that set it up by hand.
    #[cfg(test)]
    pub(crate) fn memory(&self) -> Option<MutexGuard<'_, Store>> {
        match self {
            Self::Memory(store) => Some(lock(store)),
            Self::Redis(_) => None,
        }
    }

    /// Registers a client; never used, it is dropped after an hour.
    pub(crate) async fn register(
        &self,
        client_id: &str,
        client: Client,
        origin: Origin,
    ) -> Result<(), Unreachable> {
        match self {
            Self::Memory(store) => {
                lock(store).register(client_id.to_owned(), client, origin, Instant::now());
                Ok(())
            }
            Self::Redis(redis) => {
                put(
                    redis,
                    CLIENTS,
                    client_id,
                    origin,
                    &client,
                    UNUSED_CLIENT_TTL,
                    CLIENT_QUOTA,
                )
                .await
            }
        }
    }

    pub(crate) async fn client(&self, client_id: &str) -> Result<Option<Client>, Unreachable> {
        match self {
            Self::Memory(store) => Ok(lock(store).client(client_id, Instant::now()).cloned()),
            Self::Redis(redis) => get(redis, CLIENTS, client_id).await,
        }
    }

    /// An authorization request named this client: it is kept for a day
    /// from now, and becomes the last of its address's to be pushed out.
    pub(crate) async fn client_used(&self, client_id: &str) -> Result<(), Unreachable> {
        match self {
            Self::Memory(store) => {
                lock(store).client_used(client_id, Instant::now());
                Ok(())
            }
            Self::Redis(redis) => redis
                .bounded_renew(CLIENTS, client_id, CLIENT_TTL)
                .await
                .map(drop)
                .map_err(unreachable),
        }
    }

    pub(crate) async fn add_consent(
        &self,
        id: &str,
        consent: PendingConsent,
        origin: Origin,
    ) -> Result<(), Unreachable> {
        match self {
            Self::Memory(store) => {
                lock(store).add_consent(id.to_owned(), consent, origin, Instant::now());
                Ok(())
            }
            Self::Redis(redis) => {
                put(
                    redis,
                    CONSENTS,
                    id,
                    origin,
                    &consent,
                    CONSENT_TTL,
                    CONSENT_QUOTA,
                )
                .await
            }
        }
    }

    /// The pending consent, taken away: a decision is made once.
    pub(crate) async fn take_consent(
        &self,
        id: &str,
    ) -> Result<Option<PendingConsent>, Unreachable> {
        match self {
            Self::Memory(store) => Ok(lock(store).take_consent(id, Instant::now())),
            Self::Redis(redis) => {
                let text = redis
                    .bounded_take(CONSENTS, id)
                    .await
                    .map_err(unreachable)?;
                Ok(text.and_then(|text| decode(CONSENTS, &text)))
            }
        }
    }

    pub(crate) async fn add_code(
        &self,
        digest: &str,
        code: Code,
        origin: Origin,
    ) -> Result<(), Unreachable> {
        match self {
            Self::Memory(store) => {
                lock(store).add_code(digest.to_owned(), code, origin, Instant::now());
                Ok(())
            }
            Self::Redis(redis) => {
                put(redis, CODES, digest, origin, &code, CODE_TTL, CODE_QUOTA).await
            }
        }
    }

    /// Redeems the code with this digest: spends it, runs `check` on it
    /// and, when it passes and the grant comes with refresh tokens, starts
    /// the sign-in `family`. A code presented again revokes the sign-in it
    /// started (RFC 6749 §4.1.2). A code that fails `check` is spent all
    /// the same.
    pub(crate) async fn redeem_code(
        &self,
        digest: &str,
        family: Option<NewFamily>,
        check: impl FnOnce(&Code) -> Result<(), oauth_kit::OAuthError>,
    ) -> Result<Code, Refused> {
        match self {
            Self::Memory(store) => {
                let now = Instant::now();
                // Held from the redemption to the family's start: a replay
                // of the code in between finds the family to revoke.
                let mut store = lock(store);
                let code = match store.redeem_code(digest, now) {
                    Redemption::Fresh(code) => code,
                    Redemption::Replayed { revoked: true } => return Err(Refused::CodeReplayed),
                    Redemption::Replayed { revoked: false } | Redemption::Unknown => {
                        return Err(Refused::CodeUnknown);
                    }
                };
                check(&code).map_err(Refused::Check)?;
                if let Some(family) = family {
                    let ends = now
                        .checked_add(family.lasts)
                        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
                        .ok_or(Refused::Internal)?;
                    let id = store.start_family(
                        family.token_digest,
                        code.grant.clone(),
                        code.client_secret_digest.clone(),
                        ends,
                        family.origin,
                        now,
                    );
                    store.code_started(digest, id, now);
                }
                Ok(code)
            }
            Self::Redis(redis) => {
                // The family's id is chosen when the code is spent, so a
                // replay racing this redemption can revoke the family
                // before it starts, and then it never does.
                let family_id = match &family {
                    Some(_) => oauth_kit::random_token().map_err(|_| Refused::Internal)?,
                    None => String::new(),
                };
                let code: Code = match redis
                    .bounded_claim(CODES, digest, &family_id)
                    .await
                    .map_err(unreachable)?
                {
                    Claim::First(text) => decode(CODES, &text).ok_or(Refused::CodeUnknown)?,
                    Claim::Again(started) if !started.is_empty() => {
                        redis
                            .family_revoke(FAMILIES, &started, CODE_TTL)
                            .await
                            .map_err(unreachable)?;
                        warn_revoked();
                        return Err(Refused::CodeReplayed);
                    }
                    Claim::Again(_) | Claim::Missing => return Err(Refused::CodeUnknown),
                };
                check(&code).map_err(Refused::Check)?;
                if let Some(family) = family {
                    let value = encode(&FamilyValue {
                        grant: code.grant.clone(),
                        client_secret_digest: code.client_secret_digest.clone(),
                    });
                    let started = redis
                        .family_start(
                            FAMILIES,
                            &FamilyStart {
                                family: &family_id,
                                origin: &family.origin.key(),
                                value: &value,
                                ttl: family.lasts,
                                bound: bound(FAMILY_QUOTA),
                                first_token: &family.token_digest,
                            },
                        )
                        .await
                        .map_err(unreachable)?;
                    if !started {
                        return Err(Refused::CodeReplayed);
                    }
                }
                Ok(code)
            }
        }
    }

    /// Exchanges the refresh token with this digest for `new_digest`:
    /// `narrow` checks the caller against the sign-in's grant and returns
    /// the grant the new token stands for. A rotated token presented again
    /// revokes its sign-in (RFC 9700 §4.14.2); nothing is consumed when
    /// `narrow` fails.
    pub(crate) async fn rotate_refresh(
        &self,
        digest: &str,
        new_digest: String,
        narrow: impl FnOnce(Grant, Option<&str>) -> Result<Grant, oauth_kit::OAuthError>,
    ) -> Result<Grant, Refused> {
        match self {
            Self::Memory(store) => {
                let now = Instant::now();
                // Held from the lookup to the rotation: two requests with
                // one token cannot both rotate it.
                let mut store = lock(store);
                let (family, grant, secret) = match store.present_refresh(digest, now) {
                    Presented::Current {
                        family,
                        grant,
                        client_secret_digest,
                    } => (family, grant, client_secret_digest),
                    Presented::Reused => return Err(Refused::RefreshReused),
                    Presented::Revoked => return Err(Refused::RefreshRevoked),
                    Presented::Unknown => return Err(Refused::RefreshUnknown),
                };
                let refreshed = narrow(grant, secret.as_deref()).map_err(Refused::Check)?;
                store.rotate(family, new_digest, refreshed.clone(), now);
                Ok(refreshed)
            }
            Self::Redis(redis) => {
                let (family, value) = match redis
                    .family_present(FAMILIES, digest)
                    .await
                    .map_err(unreachable)?
                {
                    FamilyToken::Current { family, value } => (family, value),
                    FamilyToken::Reused => {
                        warn_revoked();
                        return Err(Refused::RefreshReused);
                    }
                    FamilyToken::Revoked => return Err(Refused::RefreshRevoked),
                    FamilyToken::Unknown => return Err(Refused::RefreshUnknown),
                };
                let value: FamilyValue = decode(FAMILIES, &value).ok_or(Refused::RefreshUnknown)?;
                let secret = value.client_secret_digest;
                let refreshed = narrow(value.grant, secret.as_deref()).map_err(Refused::Check)?;
                let new_value = encode(&FamilyValue {
                    grant: refreshed.clone(),
                    client_secret_digest: secret,
                });
                let rotated = redis
                    .family_rotate(
                        FAMILIES,
                        &family,
                        digest,
                        &new_digest,
                        &new_value,
                        MAX_RETIRED_PER_FAMILY,
                    )
                    .await
                    .map_err(unreachable)?;
                if !rotated {
                    // Another request rotated the token first (or revoked
                    // the sign-in): this is a reuse, and the family is
                    // revoked now.
                    warn_revoked();
                    return Err(Refused::RefreshReused);
                }
                Ok(refreshed)
            }
        }
    }
}

fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

fn bound(quota: Quota) -> Bound {
    Bound {
        per_origin: quota.per_origin,
        total: quota.total,
    }
}

async fn put<T: Serialize>(
    redis: &RedisState,
    kind: &str,
    id: &str,
    origin: Origin,
    value: &T,
    ttl: Duration,
    quota: Quota,
) -> Result<(), Unreachable> {
    redis
        .bounded_put(kind, id, &origin.key(), &encode(value), ttl, bound(quota))
        .await
        .map_err(unreachable)
}

async fn get<T: DeserializeOwned>(
    redis: &RedisState,
    kind: &str,
    id: &str,
) -> Result<Option<T>, Unreachable> {
    let text = redis.bounded_get(kind, id).await.map_err(unreachable)?;
    Ok(text.and_then(|text| decode(kind, &text)))
}

fn encode<T: Serialize>(value: &T) -> String {
    // Plain structs of strings: serializing them cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// An entry another replica (perhaps of another version) wrote; one that
/// does not read is treated as missing.
fn decode<T: DeserializeOwned>(kind: &str, text: &str) -> Option<T> {
    match serde_json::from_str(text) {
        Ok(value) => Some(value),
        Err(err) => {
            tracing::warn!(kind, %err, "an entry in Redis does not read; it is ignored");
            None
        }
    }
}

fn unreachable(err: redis_state::Unavailable) -> Unreachable {
    tracing::warn!(reason = %err.reason, "the demo server's shared state is unreachable");
    Unreachable
}

fn warn_revoked() {
    tracing::warn!("a refresh token was reused or a code replayed: its sign-in is revoked");
}
