//! What orchestrator-mcp's replicas share in Redis.
//!
//! One [`RedisState`] per process holds a connection manager (which
//! reconnects by itself) and knows whether Redis answers. Every operation
//! is one round trip under a time limit; when one fails, Redis is taken to
//! be down and later operations fail at once with [`Unavailable`], without
//! waiting on the network, until a background probe finds it answering
//! again. What a request does then is the server's choice
//! (`REDIS_FAILURE`).
//!
//! Keys live under one prefix (`REDIS_KEY_PREFIX`), so deployments can share
//! a Redis:
//!
//! | key | what |
//! |---|---|
//! | `<prefix>:limit:<limit>:<caller>` | a caller's theoretical arrival time, in µs |
//! | `<prefix>:revoked:token:<jti>` | a revoked token |
//! | `<prefix>:revoked:subject:<sub>` | tokens of the subject issued before this second are revoked |
//! | `<prefix>:revoked:all` | every token issued before this second is revoked |
//! | `<prefix>:policy:hash`, `…:policy:bundle` | the active policy set's hash, and its files |
//! | `<prefix>:policy` (channel) | the hash of each newly loaded policy set |
//! | `<prefix>:replica:<id>` | a replica's heartbeat, with its policy hash |
//! | `<prefix>:secret:<name>` | a key every replica must share |
//! | `<prefix>:flow:<kind>:<id>` | a sign-in, session or one-use marker |
//! | `<prefix>:count:<kind>:<id>` | how many of a kind an address began in a window |
//! | `<prefix>:bounded:<kind>:<id>` | an entry held within a quota per origin (a client, a code) |
//! | `<prefix>:quota:<kind>:<origin>`, `…:quota:<kind>:*` | an origin's entries of a kind, and all of them, by expiry |
//! | `<prefix>:family-token:<kind>:<digest>` | the token family a token belongs to |
//! | `<prefix>:family-rotated:<kind>:<family>` | a family's rotated tokens, oldest first |
//!
//! Knows nothing of HTTP, tokens' formats or policies: callers hand it keys,
//! numbers and text.

mod admit;
mod bounded;
mod flows;
mod policy;
mod replicas;
mod revoke;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use admit::{Admission, Rate, TokenFacts};
pub use bounded::{Bound, Claim, FamilyStart, FamilyToken};
pub use policy::PolicyBundle;
pub use replicas::Replica;
pub use revoke::Revocation;

/// Round trips to Redis (`outcome`: `ok`, `error`), for the server's
/// Prometheus metrics.
pub const ROUND_TRIPS_METRIC: &str = "orchestrator_redis_round_trips_total";
/// Round-trip latency, in seconds.
pub const ROUND_TRIP_DURATION_METRIC: &str = "orchestrator_redis_round_trip_duration_seconds";

static METRICS: AtomicBool = AtomicBool::new(false);

/// Starts counting round trips in the metrics (once the server installed a
/// recorder); off, counting costs one relaxed atomic load.
pub fn enable_metrics() {
    METRICS.store(true, Ordering::Release);
}

/// How long one operation may take before Redis is taken to be down.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(1);

/// How often Redis is probed while it is down.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// Why Redis could not be used at start-up, or an operation that must not
/// fall back failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStateError {
    /// `REDIS_URL` is not a Redis URL.
    #[error(
        "REDIS_URL is not a Redis URL ({reason}); write redis://[user:password@]host:port[/db], or rediss:// for TLS"
    )]
    BadUrl {
        /// What the client library said, without the URL (it may hold a password).
        reason: String,
    },
    /// Redis did not answer.
    #[error("Redis at {address} did not answer: {reason}")]
    Unreachable {
        /// Host and port, never the credentials.
        address: String,
        /// What went wrong.
        reason: String,
    },
    /// Redis is down and the operation cannot be done without it.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// Redis could not be asked: it is down, or did not answer in time.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Redis is unreachable: {reason}")]
pub struct Unavailable {
    /// What went wrong, for `/health` and the logs.
    pub reason: String,
}

/// Whether Redis answers, for `/health`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// True while operations go through.
    pub up: bool,
    /// Why it is down.
    pub reason: Option<String>,
    /// Round trips made since start.
    pub round_trips: u64,
    /// Round trips that failed since start.
    pub errors: u64,
}

/// A connection to the Redis every replica shares. Cheap to clone.
#[derive(Clone)]
pub struct RedisState {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    connection: ConnectionManager,
    prefix: String,
    address: String,
    up: AtomicBool,
    reason: Mutex<Option<String>>,
    round_trips: AtomicU64,
    errors: AtomicU64,
}

impl std::fmt::Debug for RedisState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisState")
            .field("address", &self.inner.address)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisState {
    /// Connects to the Redis at `url`, keeping keys under `prefix`, and
    /// checks that it answers. Must be called inside a Tokio runtime: the
    /// probe that notices Redis coming back runs on it.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, RedisStateError> {
        let client = redis::Client::open(url).map_err(|err| RedisStateError::BadUrl {
            reason: err.to_string().replace(url, "<REDIS_URL>"),
        })?;
        let address = client.get_connection_info().addr().to_string();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OPERATION_TIMEOUT))
            .set_response_timeout(Some(OPERATION_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(OPERATION_TIMEOUT);
        let unreachable = |err: &dyn std::fmt::Display| RedisStateError::Unreachable {
            address: address.clone(),
            reason: err.to_string(),
        };
        let connection = tokio::time::timeout(
            OPERATION_TIMEOUT * 3,
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        .map_err(|elapsed| unreachable(&elapsed))?
        .map_err(|err| unreachable(&err))?;
        let state = Self {
            inner: Arc::new(Inner {
                client,
                connection,
                prefix: prefix.to_owned(),
                address: address.clone(),
                up: AtomicBool::new(true),
                reason: Mutex::new(None),
                round_trips: AtomicU64::new(0),
                errors: AtomicU64::new(0),
            }),
        };
        state.ping().await.map_err(|err| unreachable(&err))?;
        tokio::spawn(probe(Arc::downgrade(&state.inner)));
        Ok(state)
    }

    /// Whether Redis answers, and the round trips so far.
    pub fn status(&self) -> Status {
        let up = self.inner.up.load(Ordering::Acquire);
        Status {
            up,
            reason: if up {
                None
            } else {
                self.inner
                    .reason
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            },
            round_trips: self.inner.round_trips.load(Ordering::Relaxed),
            errors: self.inner.errors.load(Ordering::Relaxed),
        }
    }

    /// Host and port of the Redis, never its credentials.
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    /// `PING`.
    pub async fn ping(&self) -> Result<(), Unavailable> {
        self.run(|mut connection| async move {
            redis::cmd("PING").query_async::<()>(&mut connection).await
        })
        .await
    }

    /// The full name of `key` under the prefix.
    fn key(&self, parts: &[&str]) -> String {
        let mut key = self.inner.prefix.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    /// Runs one round trip, unless Redis is known to be down; a failure or
    /// a time-out marks it down.
    async fn run<T, F, Fut>(&self, operation: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.inner.up.load(Ordering::Acquire) {
            return Err(Unavailable {
                reason: self
                    .inner
                    .reason
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
                    .unwrap_or_else(|| "down".to_owned()),
            });
        }
        self.attempt(operation).await
    }

    /// One round trip whatever the last one did (the probe's way back).
    async fn attempt<T, F, Fut>(&self, operation: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        self.inner.round_trips.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let span = tracing::debug_span!("redis", otel.kind = "client", db.system = "redis");
        let outcome = tokio::time::timeout(
            OPERATION_TIMEOUT,
            tracing::Instrument::instrument(operation(self.inner.connection.clone()), span),
        )
        .await;
        if METRICS.load(Ordering::Relaxed) {
            let result = if matches!(outcome, Ok(Ok(_))) {
                "ok"
            } else {
                "error"
            };
            metrics::counter!(ROUND_TRIPS_METRIC, "outcome" => result).increment(1);
            metrics::histogram!(ROUND_TRIP_DURATION_METRIC).record(started.elapsed().as_secs_f64());
        }
        let reason = match outcome {
            Ok(Ok(value)) => return Ok(value),
            // An error Redis answered with (a script's, a wrong type) says
            // nothing of whether it is reachable.
            Ok(Err(err))
                if matches!(
                    err.kind(),
                    redis::ErrorKind::Server(_)
                        | redis::ErrorKind::UnexpectedReturnType
                        | redis::ErrorKind::Parse
                ) =>
            {
                self.inner.errors.fetch_add(1, Ordering::Relaxed);
                return Err(Unavailable {
                    reason: format!("Redis refused the command: {err}"),
                });
            }
            Ok(Err(err)) => format!("{} ({err})", self.inner.address),
            Err(_) => format!(
                "{} did not answer within {} ms",
                self.inner.address,
                OPERATION_TIMEOUT.as_millis()
            ),
        };
        self.inner.errors.fetch_add(1, Ordering::Relaxed);
        self.mark_down(&reason);
        Err(Unavailable { reason })
    }

    fn mark_down(&self, reason: &str) {
        *self
            .inner
            .reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(reason.to_owned());
        if self.inner.up.swap(false, Ordering::AcqRel) {
            tracing::warn!(target: "orchestrator::redis", %reason, "Redis is unreachable");
        }
    }
}

/// While Redis is down, asks it every [`PROBE_INTERVAL`] whether it is
/// back; ends when the state is dropped.
async fn probe(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(PROBE_INTERVAL).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if inner.up.load(Ordering::Acquire) {
            continue;
        }
        let state = RedisState { inner };
        let ping = state
            .attempt(|mut connection| async move {
                redis::cmd("PING").query_async::<()>(&mut connection).await
            })
            .await;
        if ping.is_ok() {
            state.inner.up.store(true, Ordering::Release);
            tracing::info!(target: "orchestrator::redis", address = %state.inner.address, "Redis answers again");
        }
    }
}

#[cfg(any(test, feature = "test-server"))]
pub mod test_server;
#[cfg(test)]
mod testing;
