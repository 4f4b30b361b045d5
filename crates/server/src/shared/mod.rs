//! What replicas share: in Redis when `REDIS_URL` is set, else in this
//! process's memory, as one replica needs.
//!
//! A request is admitted here after its token is verified: a revoked token
//! is refused and the caller's allowance charged, in one Redis round trip
//! (or none, in memory). While Redis is unreachable `REDIS_FAILURE` decides:
//! `closed` refuses with [`Refusal::Unavailable`] (503), `open` falls back
//! to this replica's own limits and checks no revocation.

mod limit;
pub(crate) mod limiter;
mod revocations;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use core_auth::Principal;
use redis_state::{Admission, RedisState, TokenFacts};

pub(crate) use limit::Limit;
pub(crate) use redis_state::Revocation;
use revocations::Revocations;

use crate::settings::{RedisFailure, Settings};

/// Why a request was not admitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The token was revoked.
    Revoked,
    /// Over a limit; may try again after this long.
    Limited(Duration),
    /// Redis is unreachable and `REDIS_FAILURE=closed`.
    Unavailable,
}

/// The state replicas share, or this process's stand-in for it.
pub(crate) struct Shared {
    redis: Option<RedisState>,
    failure: RedisFailure,
    /// Revocations made on this replica: all there is without Redis.
    local: Revocations,
    /// How long a revocation must be kept: the longest a token it revokes
    /// could still be accepted.
    keep_revocations: Duration,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("redis", &self.redis)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

/// Redis's state, for `/health`.
pub(crate) struct SharedHealth {
    /// `memory` or `redis`.
    pub(crate) backend: &'static str,
    /// The Redis state's own view, when there is a Redis.
    pub(crate) redis: Option<redis_state::Status>,
    /// `REDIS_FAILURE`.
    pub(crate) failure: RedisFailure,
}

impl Shared {
    /// This process's memory only.
    pub(crate) fn in_memory(keep_revocations: Duration) -> Arc<Self> {
        Arc::new(Self {
            redis: None,
            failure: RedisFailure::Closed,
            local: Revocations::default(),
            keep_revocations,
        })
    }

    /// The Redis `REDIS_URL` names, which must answer now; or memory
    /// without one.
    pub(crate) async fn connect(settings: &Settings) -> anyhow::Result<Arc<Self>> {
        // A token is refused past its expiry or MAX_TOKEN_AGE_HOURS,
        // whichever comes first; a revocation is kept as long as either
        // could let one through, leeway included.
        let keep_revocations =
            settings.tokens.max_token_age.max(settings.tokens.cache_ttl) + settings.tokens.leeway;
        let Some(redis) = &settings.redis else {
            return Ok(Self::in_memory(keep_revocations));
        };
        let state = RedisState::connect(&redis.url, &redis.key_prefix)
            .await
            .context(
                "REDIS_URL is set, but Redis cannot be used; start it, fix REDIS_URL, or unset it to keep state in this process",
            )?;
        tracing::info!(address = state.address(), prefix = %redis.key_prefix, failure = ?redis.failure, "sharing state in Redis");
        Ok(Arc::new(Self {
            redis: Some(state),
            failure: redis.failure,
            local: Revocations::default(),
            keep_revocations,
        }))
    }

    /// The Redis, if state is shared in one.
    pub(crate) fn redis(&self) -> Option<&RedisState> {
        self.redis.as_ref()
    }

    /// Whether requests are served without Redis while it is away
    /// (`REDIS_FAILURE=open`).
    pub(crate) fn fails_open(&self) -> bool {
        self.failure == RedisFailure::Open
    }

    /// How long a revocation is kept.
    pub(crate) fn revocations_kept_for(&self) -> Duration {
        self.keep_revocations
    }

    /// Where state is kept, and whether Redis answers.
    pub(crate) fn health(&self) -> SharedHealth {
        SharedHealth {
            backend: if self.redis.is_some() {
                "redis"
            } else {
                "memory"
            },
            redis: self.redis.as_ref().map(RedisState::status),
            failure: self.failure,
        }
    }

    /// Refuses `principal`'s token if it was revoked, then charges its
    /// caller one request to `limit` (if any).
    pub(crate) async fn admit(
        &self,
        principal: &Principal,
        limit: Option<&Limit>,
    ) -> Result<(), Refusal> {
        let facts = TokenFacts {
            id: principal.credential.id.as_deref(),
            subject: &principal.id,
            issued_at: principal.credential.issued_at,
        };
        if let Some(redis) = &self.redis {
            match redis
                .admit(facts, &principal.id, limit.map(Limit::rate))
                .await
            {
                Ok(Admission::Admitted) => return Ok(()),
                Ok(Admission::Revoked) => return Err(Refusal::Revoked),
                Ok(Admission::Limited(wait)) => return Err(Refusal::Limited(wait)),
                Err(unavailable) => {
                    if self.failure == RedisFailure::Closed {
                        tracing::debug!(reason = %unavailable, "refused: Redis is unreachable (REDIS_FAILURE=closed)");
                        return Err(Refusal::Unavailable);
                    }
                }
            }
            // Open: this replica's own limits, and no revocation check
            // but this replica's own.
        }
        if self.local.revokes(&facts) {
            return Err(Refusal::Revoked);
        }
        match limit {
            Some(limit) => limit.charge_locally(principal.id.as_str()),
            None => Ok(()),
        }
    }

    /// Marks `id` (of `kind`) used for `keep` on every replica: `false`
    /// when one already had. Without Redis, or with Redis away and
    /// `REDIS_FAILURE=open`, `true`: this replica's own memory is then all
    /// there is, and the caller keeps that.
    pub(crate) async fn use_once(
        &self,
        kind: &str,
        id: &str,
        keep: Duration,
    ) -> Result<bool, Refusal> {
        let Some(redis) = &self.redis else {
            return Ok(true);
        };
        match redis.mark_once(kind, id, keep).await {
            Ok(first) => Ok(first),
            Err(_) if self.failure == RedisFailure::Open => Ok(true),
            Err(_) => Err(Refusal::Unavailable),
        }
    }

    /// Revokes tokens on every replica (in Redis), or on this one.
    pub(crate) async fn revoke(&self, revocation: &Revocation) -> Result<(), String> {
        if let Some(redis) = &self.redis {
            redis
                .revoke(revocation, self.keep_revocations)
                .await
                .map_err(|unavailable| {
                    format!("{unavailable}; nothing was revoked: try again once Redis answers")
                })?;
        }
        self.local.add(revocation, self.keep_revocations)
    }
}
