//! Bounded entries: expiring values held at most so many per origin (a
//! caller's address) and so many in all, for state anyone can make (a
//! registered client, a pending consent, a code). Nobody is refused: an
//! origin at its quota loses its own entry nearest expiry, and a full kind
//! loses the one nearest expiry of all, so one address can only ever push
//! out its own entries.
//!
//! Token families are bounded entries too: a family's newest token may be
//! exchanged for a new one (rotated), and presenting any rotated one again
//! revokes the family, as refresh tokens are rotated (RFC 9700 §4.14.2).

use std::sync::LazyLock;
use std::time::Duration;

use crate::{RedisState, Unavailable};

/// How many entries of a kind one origin, and everyone together, may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    /// Per origin; at least 1.
    pub per_origin: usize,
    /// In all; at least 1.
    pub total: usize,
}

/// A token family to start.
#[derive(Clone, Copy, Debug)]
pub struct FamilyStart<'a> {
    /// The family's id.
    pub family: &'a str,
    /// Who started it, for the quota.
    pub origin: &'a str,
    /// What it holds.
    pub value: &'a str,
    /// How long it lives.
    pub ttl: Duration,
    /// How many families one origin, and everyone, may hold.
    pub bound: Bound,
    /// Its first token's digest.
    pub first_token: &'a str,
}

/// What claiming an entry found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// No such live entry.
    Missing,
    /// The first claim: the entry's value.
    First(String),
    /// Claimed before: that first claim.
    Again(String),
}

/// What presenting a family's token found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FamilyToken {
    /// Never issued, or its family ended or gave way.
    Unknown,
    /// Its family was revoked earlier.
    Revoked,
    /// A rotated token presented again: its family is now revoked.
    Reused,
    /// The family's newest token.
    Current {
        /// The family.
        family: String,
        /// The family's value, as last rotated.
        value: String,
    },
}

fn script(body: &str) -> redis::Script {
    redis::Script::new(&format!(
        "{}\n{body}",
        include_str!("scripts/bounded/lib.lua")
    ))
}

static PUT: LazyLock<redis::Script> =
    LazyLock::new(|| script(include_str!("scripts/bounded/put.lua")));
static TAKE: LazyLock<redis::Script> =
    LazyLock::new(|| script(include_str!("scripts/bounded/take.lua")));
static RENEW: LazyLock<redis::Script> =
    LazyLock::new(|| script(include_str!("scripts/bounded/renew.lua")));
static CLAIM: LazyLock<redis::Script> =
    LazyLock::new(|| script(include_str!("scripts/bounded/claim.lua")));
static FAMILY_START: LazyLock<redis::Script> =
    LazyLock::new(|| script(include_str!("scripts/bounded/family_start.lua")));
static FAMILY_PRESENT: LazyLock<redis::Script> =
    LazyLock::new(|| script(include_str!("scripts/bounded/family_present.lua")));
static FAMILY_ROTATE: LazyLock<redis::Script> =
    LazyLock::new(|| script(include_str!("scripts/bounded/family_rotate.lua")));
static FAMILY_REVOKE: LazyLock<redis::Script> =
    LazyLock::new(|| script(include_str!("scripts/bounded/family_revoke.lua")));

fn millis(ttl: Duration) -> String {
    ttl.as_millis().max(1).to_string()
}

impl RedisState {
    /// One of the bounded-entry scripts, for `kind`, with `args` after the
    /// two key prefixes every one of them takes.
    async fn bounded<T: redis::FromRedisValue + Send + 'static>(
        &self,
        script: &redis::Script,
        kind: &str,
        args: &[&str],
    ) -> Result<T, Unavailable> {
        self.invoke(script, &["bounded", "quota"], kind, args).await
    }

    /// One of the token-family scripts: a bounded-entry script that also
    /// takes the prefixes of the token index and of the rotated lists.
    async fn family<T: redis::FromRedisValue + Send + 'static>(
        &self,
        script: &redis::Script,
        kind: &str,
        args: &[&str],
    ) -> Result<T, Unavailable> {
        let prefixes = ["bounded", "quota", "family-token", "family-rotated"];
        self.invoke(script, &prefixes, kind, args).await
    }

    /// Runs `script` with the key prefixes `<prefix>:<name>:<kind>:` of
    /// `prefixes`, then `args`.
    async fn invoke<T: redis::FromRedisValue + Send + 'static>(
        &self,
        script: &redis::Script,
        prefixes: &[&str],
        kind: &str,
        args: &[&str],
    ) -> Result<T, Unavailable> {
        let mut invocation = script.prepare_invoke();
        for name in prefixes {
            invocation.arg(self.key(&[name, kind, ""]));
        }
        for arg in args {
            invocation.arg(*arg);
        }
        self.run(|mut connection| async move { invocation.invoke_async(&mut connection).await })
            .await
    }

    /// Keeps `value` as `kind`/`id` for `ttl`, from `origin`, within `bound`.
    pub async fn bounded_put(
        &self,
        kind: &str,
        id: &str,
        origin: &str,
        value: &str,
        ttl: Duration,
        bound: Bound,
    ) -> Result<(), Unavailable> {
        let (per_origin, total) = counts(bound);
        self.bounded::<()>(
            &PUT,
            kind,
            &[id, origin, value, &millis(ttl), &per_origin, &total],
        )
        .await
    }

    /// The value of `kind`/`id`, if it is live.
    pub async fn bounded_get(&self, kind: &str, id: &str) -> Result<Option<String>, Unavailable> {
        let key = self.key(&["bounded", kind, id]);
        self.run(|mut connection| async move {
            redis::cmd("HGET")
                .arg(key)
                .arg("v")
                .query_async(&mut connection)
                .await
        })
        .await
    }

    /// Takes `kind`/`id` away: of two replicas taking it at once, one gets it.
    pub async fn bounded_take(&self, kind: &str, id: &str) -> Result<Option<String>, Unavailable> {
        self.bounded(&TAKE, kind, &[id]).await
    }

    /// A live `kind`/`id` now expires `ttl` from now; false if it was not live.
    pub async fn bounded_renew(
        &self,
        kind: &str,
        id: &str,
        ttl: Duration,
    ) -> Result<bool, Unavailable> {
        let renewed: u8 = self.bounded(&RENEW, kind, &[id, &millis(ttl)]).await?;
        Ok(renewed == 1)
    }

    /// Claims `kind`/`id` with `claim`: the first claim gets the value, and
    /// every later one the first claim. The entry stays until it expires.
    pub async fn bounded_claim(
        &self,
        kind: &str,
        id: &str,
        claim: &str,
    ) -> Result<Claim, Unavailable> {
        let (found, text): (u8, Option<String>) = self
            .bounded::<Vec<redis::Value>>(&CLAIM, kind, &[id, claim])
            .await
            .and_then(|reply| status_and_text(&reply))?;
        Ok(match (found, text) {
            (1, Some(value)) => Claim::First(value),
            (2, Some(first)) => Claim::Again(first),
            _ => Claim::Missing,
        })
    }

    /// Starts a token family; rotation never extends its time to live.
    /// False, starting nothing, when the family was revoked before it
    /// started.
    pub async fn family_start(
        &self,
        kind: &str,
        start: &FamilyStart<'_>,
    ) -> Result<bool, Unavailable> {
        let (per_origin, total) = counts(start.bound);
        let started: u8 = self
            .family(
                &FAMILY_START,
                kind,
                &[
                    start.family,
                    start.origin,
                    start.value,
                    &millis(start.ttl),
                    &per_origin,
                    &total,
                    start.first_token,
                ],
            )
            .await?;
        Ok(started == 1)
    }

    /// What the token with this digest is; a rotated one revokes its family.
    pub async fn family_present(
        &self,
        kind: &str,
        token: &str,
    ) -> Result<FamilyToken, Unavailable> {
        let reply: Vec<redis::Value> = self.family(&FAMILY_PRESENT, kind, &[token]).await?;
        let Some(found) = reply.first().and_then(integer) else {
            return Err(unexpected());
        };
        Ok(match found {
            1 => FamilyToken::Revoked,
            2 => FamilyToken::Reused,
            3 => match (reply.get(1).and_then(text), reply.get(2).and_then(text)) {
                (Some(family), Some(value)) => FamilyToken::Current { family, value },
                _ => return Err(unexpected()),
            },
            _ => FamilyToken::Unknown,
        })
    }

    /// Replaces the family's newest token `presented` by `new_token`, with
    /// `value`; at most `keep_rotated` rotated tokens are remembered. False
    /// when the family is gone or revoked, or when `presented` was rotated
    /// meanwhile (a reuse: the family is now revoked).
    pub async fn family_rotate(
        &self,
        kind: &str,
        family: &str,
        presented: &str,
        new_token: &str,
        value: &str,
        keep_rotated: usize,
    ) -> Result<bool, Unavailable> {
        let rotated: u8 = self
            .family(
                &FAMILY_ROTATE,
                kind,
                &[
                    family,
                    presented,
                    new_token,
                    value,
                    &keep_rotated.to_string(),
                ],
            )
            .await?;
        Ok(rotated == 1)
    }

    /// No token of `family` works any more. A family not started yet is
    /// kept from starting for `not_started_for`. True if it had started.
    pub async fn family_revoke(
        &self,
        kind: &str,
        family: &str,
        not_started_for: Duration,
    ) -> Result<bool, Unavailable> {
        let started: u8 = self
            .family(&FAMILY_REVOKE, kind, &[family, &millis(not_started_for)])
            .await?;
        Ok(started == 1)
    }
}

fn counts(bound: Bound) -> (String, String) {
    (
        bound.per_origin.max(1).to_string(),
        bound.total.max(1).to_string(),
    )
}

fn integer(value: &redis::Value) -> Option<i64> {
    match value {
        redis::Value::Int(n) => Some(*n),
        _ => None,
    }
}

fn text(value: &redis::Value) -> Option<String> {
    match value {
        redis::Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        redis::Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

fn status_and_text(reply: &[redis::Value]) -> Result<(u8, Option<String>), Unavailable> {
    let status = reply.first().and_then(integer).ok_or_else(unexpected)?;
    Ok((
        u8::try_from(status).map_err(|_| unexpected())?,
        reply.get(1).and_then(text),
    ))
}

fn unexpected() -> Unavailable {
    Unavailable {
        reason: "Redis answered a bounded-entry script with an unexpected reply".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestRedis;

    const HOUR: Duration = Duration::from_secs(3600);

    #[tokio::test]
    #[ignore = "needs redis-server: cargo xtask install-tools"]
    async fn an_origin_at_its_quota_pushes_out_only_its_own_entries() {
        let redis = TestRedis::start();
        let state = redis.connect().await;
        let bound = Bound {
            per_origin: 3,
            total: 100,
        };
        state
            .bounded_put("k", "other", "b", "x", HOUR, bound)
            .await
            .expect("put");
        for n in 0..5 {
            let ttl = HOUR + Duration::from_secs(n);
            state
                .bounded_put("k", &format!("mine{n}"), "a", "x", ttl, bound)
                .await
                .expect("put");
        }
        let live = |id: &'static str| {
            let state = state.clone();
            async move { state.bounded_get("k", id).await.expect("get").is_some() }
        };
        assert!(live("other").await, "another origin keeps its entry");
        assert!(!live("mine0").await && !live("mine1").await);
        assert!(live("mine2").await && live("mine3").await && live("mine4").await);
    }

    #[tokio::test]
    #[ignore = "needs redis-server: cargo xtask install-tools"]
    async fn a_full_kind_pushes_out_the_entry_nearest_expiry_and_renewal_saves_one() {
        let redis = TestRedis::start();
        let state = redis.connect().await;
        let bound = Bound {
            per_origin: 10,
            total: 2,
        };
        state
            .bounded_put("k", "first", "a", "x", HOUR, bound)
            .await
            .expect("put");
        state
            .bounded_put("k", "second", "b", "x", HOUR, bound)
            .await
            .expect("put");
        assert!(
            state
                .bounded_renew("k", "first", HOUR * 2)
                .await
                .expect("renew")
        );
        state
            .bounded_put("k", "third", "c", "x", HOUR, bound)
            .await
            .expect("put");
        assert!(
            state
                .bounded_get("k", "first")
                .await
                .expect("get")
                .is_some()
        );
        assert!(
            state
                .bounded_get("k", "second")
                .await
                .expect("get")
                .is_none()
        );
        assert!(
            !state
                .bounded_renew("k", "second", HOUR)
                .await
                .expect("renew")
        );
        assert_eq!(
            state
                .bounded_take("k", "third")
                .await
                .expect("take")
                .as_deref(),
            Some("x")
        );
        assert_eq!(state.bounded_take("k", "third").await.expect("take"), None);
    }

    #[tokio::test]
    #[ignore = "needs redis-server: cargo xtask install-tools"]
    async fn an_entry_is_claimed_once_and_its_first_claim_remembered() {
        let redis = TestRedis::start();
        let (one, two) = (redis.connect().await, redis.connect().await);
        let bound = Bound {
            per_origin: 5,
            total: 5,
        };
        one.bounded_put("code", "c1", "a", "grant", HOUR, bound)
            .await
            .expect("put");
        assert_eq!(
            two.bounded_claim("code", "c1", "family-1")
                .await
                .expect("claim"),
            Claim::First("grant".into())
        );
        assert_eq!(
            one.bounded_claim("code", "c1", "family-2")
                .await
                .expect("claim"),
            Claim::Again("family-1".into())
        );
        assert_eq!(
            one.bounded_claim("code", "nope", "x").await.expect("claim"),
            Claim::Missing
        );
    }

    fn start<'a>(family: &'a str, first_token: &'a str) -> FamilyStart<'a> {
        FamilyStart {
            family,
            origin: "a",
            value: "v0",
            ttl: HOUR,
            bound: Bound {
                per_origin: 5,
                total: 5,
            },
            first_token,
        }
    }

    #[tokio::test]
    #[ignore = "needs redis-server: cargo xtask install-tools"]
    async fn a_rotated_token_presented_again_revokes_its_family_on_any_replica() {
        let redis = TestRedis::start();
        let (one, two) = (redis.connect().await, redis.connect().await);
        assert!(
            one.family_start("fam", &start("f1", "t0"))
                .await
                .expect("start")
        );
        assert_eq!(
            two.family_present("fam", "t0").await.expect("present"),
            FamilyToken::Current {
                family: "f1".into(),
                value: "v0".into()
            }
        );
        assert!(
            two.family_rotate("fam", "f1", "t0", "t1", "v1", 32)
                .await
                .expect("rotate")
        );
        // A second rotation of the same token, racing the first, loses and
        // revokes the family.
        assert!(
            !one.family_rotate("fam", "f1", "t0", "t2", "v2", 32)
                .await
                .expect("rotate")
        );
        assert_eq!(
            one.family_present("fam", "t1").await.expect("present"),
            FamilyToken::Revoked
        );
        assert!(
            one.family_start("fam", &start("f2", "u0"))
                .await
                .expect("start")
        );
        two.family_rotate("fam", "f2", "u0", "u1", "v", 32)
            .await
            .expect("rotate");
        assert_eq!(
            one.family_present("fam", "u0").await.expect("present"),
            FamilyToken::Reused
        );
        assert_eq!(
            two.family_present("fam", "u1").await.expect("present"),
            FamilyToken::Revoked
        );
        assert_eq!(
            two.family_present("fam", "never").await.expect("present"),
            FamilyToken::Unknown
        );
    }

    #[tokio::test]
    #[ignore = "needs redis-server: cargo xtask install-tools"]
    async fn a_family_revoked_before_it_started_never_starts() {
        let redis = TestRedis::start();
        let state = redis.connect().await;
        assert!(
            !state
                .family_revoke("fam", "f1", Duration::from_secs(60))
                .await
                .expect("revoke")
        );
        assert!(
            !state
                .family_start("fam", &start("f1", "t0"))
                .await
                .expect("start")
        );
        assert_eq!(
            state.family_present("fam", "t0").await.expect("present"),
            FamilyToken::Unknown
        );
    }

    #[tokio::test]
    #[ignore = "needs redis-server: cargo xtask install-tools"]
    async fn only_the_newest_rotated_tokens_are_remembered() {
        let redis = TestRedis::start();
        let state = redis.connect().await;
        state
            .family_start("fam", &start("f", "t0"))
            .await
            .expect("start");
        for n in 1..=5 {
            let (old, new) = (format!("t{}", n - 1), format!("t{n}"));
            assert!(
                state
                    .family_rotate("fam", "f", &old, &new, "v", 2)
                    .await
                    .expect("rotate")
            );
        }
        // Too old to be remembered: unknown, and revokes nothing.
        assert_eq!(
            state.family_present("fam", "t1").await.expect("present"),
            FamilyToken::Unknown
        );
        assert!(matches!(
            state.family_present("fam", "t5").await.expect("present"),
            FamilyToken::Current { .. }
        ));
        assert_eq!(
            state.family_present("fam", "t4").await.expect("present"),
            FamilyToken::Reused
        );
    }
}
