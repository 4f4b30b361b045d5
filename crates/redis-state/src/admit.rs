//! Admitting a request: the token's revocation and the caller's rate limit
//! in one script, one round trip.

use std::sync::LazyLock;
use std::time::Duration;

use crate::{RedisState, Unavailable};

/// The window every limit is counted over.
const WINDOW: Duration = Duration::from_secs(60);

static ADMIT: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("scripts/admit.lua")));

/// A rate limit: requests per minute, and the name of the limit its keys
/// are kept under (`caller`, `public`, `tool:<name>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Which limit: part of the key, so two limits never share a count.
    pub limit: String,
    /// Requests per minute; at least 1.
    pub per_minute: u32,
}

impl Rate {
    fn interval_micros(&self) -> u128 {
        (WINDOW / self.per_minute.max(1)).as_micros()
    }
}

/// What revocation is checked against: the verified token's `jti`, `sub`
/// and `iat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenFacts<'a> {
    /// `jti`, if the token has one.
    pub id: Option<&'a str>,
    /// `sub`.
    pub subject: &'a str,
    /// `iat` in seconds since the epoch, if the token has one. A token
    /// without one is revoked by any cutoff that applies to it.
    pub issued_at: Option<u64>,
}

/// What Redis said of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Charged and admitted.
    Admitted,
    /// Over the limit; may try again after this long.
    Limited(Duration),
    /// The token is revoked.
    Revoked,
}

impl RedisState {
    /// Refuses a revoked token, then charges `caller` to `rate` (when there
    /// is a limit): one round trip.
    pub async fn admit(
        &self,
        token: TokenFacts<'_>,
        caller: &str,
        rate: Option<&Rate>,
    ) -> Result<Admission, Unavailable> {
        let mut invocation = ADMIT.prepare_invoke();
        invocation
            .key(self.key(&["limit", rate.map_or("caller", |r| r.limit.as_str()), caller]))
            .key(self.key(&["revoked", "token", token.id.unwrap_or("")]))
            .key(self.key(&["revoked", "subject", token.subject]))
            .key(self.key(&["revoked", "all"]))
            .arg(rate.map_or(0, Rate::interval_micros).to_string())
            .arg(WINDOW.as_micros().to_string())
            .arg(
                token
                    .issued_at
                    .map_or(-1, |at| i64::try_from(at).unwrap_or(i64::MAX)),
            );
        let (verdict, wait): (i64, i64) = self
            .run(|mut connection| async move { invocation.invoke_async(&mut connection).await })
            .await?;
        Ok(admission(verdict, wait))
    }

    /// Charges `caller` one request to `rate`: one round trip.
    pub async fn charge(&self, rate: &Rate, caller: &str) -> Result<Admission, Unavailable> {
        let mut invocation = ADMIT.prepare_invoke();
        invocation
            .key(self.key(&["limit", &rate.limit, caller]))
            .arg(rate.interval_micros().to_string())
            .arg(WINDOW.as_micros().to_string())
            .arg(-1);
        let (verdict, wait): (i64, i64) = self
            .run(|mut connection| async move { invocation.invoke_async(&mut connection).await })
            .await?;
        Ok(admission(verdict, wait))
    }
}

fn admission(verdict: i64, wait_micros: i64) -> Admission {
    match verdict {
        1 => Admission::Admitted,
        2 => Admission::Revoked,
        _ => Admission::Limited(Duration::from_micros(
            u64::try_from(wait_micros).unwrap_or(0),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestRedis;

    fn rate(per_minute: u32) -> Rate {
        Rate {
            limit: "caller".to_owned(),
            per_minute,
        }
    }

    const TOKEN: TokenFacts<'static> = TokenFacts {
        id: Some("t1"),
        subject: "alice",
        issued_at: Some(1_000),
    };

    #[tokio::test]
    #[ignore = "needs redis-server: cargo xtask install-tools"]
    async fn two_connections_share_one_allowance_exactly() {
        let redis = TestRedis::start();
        let (first, second) = (redis.connect().await, redis.connect().await);
        let mut admitted = 0;
        for round in 0..20 {
            let state = if round % 2 == 0 { &first } else { &second };
            if state.admit(TOKEN, "alice", Some(&rate(10))).await == Ok(Admission::Admitted) {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 10);
        let Ok(Admission::Limited(wait)) = first.admit(TOKEN, "alice", Some(&rate(10))).await
        else {
            panic!("the 21st is refused");
        };
        assert!(wait <= Duration::from_secs(6), "{wait:?}");
        // Another caller, and another limit, count apart.
        assert_eq!(
            second.admit(TOKEN, "bob", Some(&rate(10))).await,
            Ok(Admission::Admitted)
        );
        let public = Rate {
            limit: "public".to_owned(),
            per_minute: 1,
        };
        assert_eq!(
            second.charge(&public, "alice").await,
            Ok(Admission::Admitted)
        );
        assert!(matches!(
            first.charge(&public, "alice").await,
            Ok(Admission::Limited(_))
        ));
    }

    #[tokio::test]
    #[ignore = "needs redis-server: cargo xtask install-tools"]
    async fn a_revoked_token_is_refused_before_it_is_charged() {
        let redis = TestRedis::start();
        let state = redis.connect().await;
        let keep = Duration::from_secs(60);
        state
            .revoke(&crate::Revocation::Token("t1".to_owned()), keep)
            .await
            .expect("revoked");
        assert_eq!(
            state.admit(TOKEN, "alice", None).await,
            Ok(Admission::Revoked)
        );
        let other = TokenFacts {
            id: Some("t2"),
            ..TOKEN
        };
        assert_eq!(
            state.admit(other, "alice", None).await,
            Ok(Admission::Admitted)
        );
        // Tokens of a subject issued before the cutoff, and none after.
        state
            .revoke(
                &crate::Revocation::Subject {
                    subject: "alice".to_owned(),
                    issued_before: 1_001,
                },
                keep,
            )
            .await
            .expect("revoked");
        assert_eq!(
            state.admit(other, "alice", None).await,
            Ok(Admission::Revoked)
        );
        let newer = TokenFacts {
            issued_at: Some(1_001),
            ..other
        };
        assert_eq!(
            state.admit(newer, "alice", None).await,
            Ok(Admission::Admitted)
        );
        let without_iat = TokenFacts {
            issued_at: None,
            ..other
        };
        assert_eq!(
            state.admit(without_iat, "alice", None).await,
            Ok(Admission::Revoked)
        );
        let bob = TokenFacts {
            subject: "bob",
            ..other
        };
        assert_eq!(state.admit(bob, "bob", None).await, Ok(Admission::Admitted));
        // Everything before a time; a lower cutoff later does not lower it.
        state
            .revoke(&crate::Revocation::IssuedBefore(2_000), keep)
            .await
            .expect("revoked");
        state
            .revoke(&crate::Revocation::IssuedBefore(1_500), keep)
            .await
            .expect("revoked");
        let bob_later = TokenFacts {
            issued_at: Some(1_999),
            ..bob
        };
        assert_eq!(
            state.admit(bob_later, "bob", None).await,
            Ok(Admission::Revoked)
        );
        // The limit is not charged for a refused token.
        let limited = rate(1);
        assert_eq!(
            state.admit(bob_later, "bob", Some(&limited)).await,
            Ok(Admission::Revoked)
        );
        let fresh = TokenFacts {
            issued_at: Some(2_000),
            ..bob
        };
        assert_eq!(
            state.admit(fresh, "bob", Some(&limited)).await,
            Ok(Admission::Admitted)
        );
    }

    #[tokio::test]
    #[ignore = "needs redis-server: cargo xtask install-tools"]
    async fn a_stopped_redis_is_unavailable_at_once_and_found_again() {
        let mut redis = TestRedis::start();
        let state = redis.connect().await;
        assert!(state.ping().await.is_ok());
        redis.stop();
        let failed = state.admit(TOKEN, "alice", Some(&rate(10))).await;
        assert!(failed.is_err(), "{failed:?}");
        assert!(!state.status().up);
        // Known to be down: the next one fails without waiting.
        let started = std::time::Instant::now();
        assert!(state.admit(TOKEN, "alice", Some(&rate(10))).await.is_err());
        assert!(started.elapsed() < Duration::from_millis(50));
        redis.restart();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !state.status().up {
            assert!(std::time::Instant::now() < deadline, "{:?}", state.status());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            state.admit(TOKEN, "alice", Some(&rate(10))).await,
            Ok(Admission::Admitted)
        );
    }
}
