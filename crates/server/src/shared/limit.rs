//! A rate limit counted across replicas in Redis, or in this process.

use std::fmt::Display;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Instant;

use redis_state::{Admission, Rate};

use super::limiter::RateLimiter;
use super::{Refusal, Shared};
use crate::settings::RedisFailure;

/// Requests per minute per key (a principal id, a client address), under
/// one name that keeps its counts apart from other limits'.
pub(crate) struct Limit<K = String> {
    rate: Rate,
    /// The count without Redis, or while it is away with
    /// `REDIS_FAILURE=open`.
    local: RateLimiter<K>,
    shared: Arc<Shared>,
}

impl<K: Hash + Eq + Clone + Display> Limit<K> {
    /// At most `per_minute` requests per minute per key, counted under
    /// `name`; `None` for 0, which turns the limit off.
    pub(crate) fn new(name: &str, per_minute: u32, shared: &Arc<Shared>) -> Option<Self> {
        Some(Self {
            rate: Rate {
                limit: name.to_owned(),
                per_minute,
            },
            local: RateLimiter::new(per_minute)?,
            shared: Arc::clone(shared),
        })
    }

    /// The limit, in requests per minute.
    pub(crate) fn per_minute(&self) -> u32 {
        self.rate.per_minute
    }

    /// The limit as Redis counts it.
    pub(crate) fn rate(&self) -> &Rate {
        &self.rate
    }

    /// Charges `key` one request.
    pub(crate) async fn charge<Q>(&self, key: &Q) -> Result<(), Refusal>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + Display + ?Sized,
    {
        if let Some(redis) = self.shared.redis() {
            match redis.charge(&self.rate, &key.to_string()).await {
                Ok(Admission::Admitted) => return Ok(()),
                Ok(Admission::Limited(wait)) => return Err(Refusal::Limited(wait)),
                Ok(Admission::Revoked) => return Err(Refusal::Revoked),
                Err(_) if self.shared.failure == RedisFailure::Closed => {
                    return Err(Refusal::Unavailable);
                }
                Err(_) => {}
            }
        }
        self.charge_locally(key)
    }

    /// Charges `key` one request in this process's count.
    pub(crate) fn charge_locally<Q>(&self, key: &Q) -> Result<(), Refusal>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.local
            .check(key, Instant::now())
            .map_err(Refusal::Limited)
    }
}
