//! Short-lived state any replica may need: flows in progress (a sign-in
//! begun on one replica and finished on another), one-use markers, and
//! keys every replica must share.

use std::sync::LazyLock;
use std::time::Duration;

use crate::{RedisState, Unavailable};

static COUNT_UP: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("scripts/count_up.lua")));

impl RedisState {
    /// Keeps `value` as the flow `kind`/`id` for `ttl`.
    pub async fn put_flow(
        &self,
        kind: &str,
        id: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), Unavailable> {
        let key = self.key(&["flow", kind, id]);
        let value = value.to_owned();
        let ttl_ms = ttl.as_millis().max(1).to_string();
        self.run(|mut connection| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ttl_ms)
                .query_async::<()>(&mut connection)
                .await
        })
        .await
    }

    /// The flow `kind`/`id`, if it is there and unexpired.
    pub async fn get_flow(&self, kind: &str, id: &str) -> Result<Option<String>, Unavailable> {
        let key = self.key(&["flow", kind, id]);
        self.run(|mut connection| async move {
            redis::cmd("GET")
                .arg(key)
                .query_async(&mut connection)
                .await
        })
        .await
    }

    /// Takes the flow `kind`/`id` away: of two replicas taking it at once,
    /// one gets it.
    pub async fn take_flow(&self, kind: &str, id: &str) -> Result<Option<String>, Unavailable> {
        let key = self.key(&["flow", kind, id]);
        self.run(|mut connection| async move {
            redis::cmd("GETDEL")
                .arg(key)
                .query_async(&mut connection)
                .await
        })
        .await
    }

    /// Counts one more `kind`/`id` (a sign-in begun from an address, say)
    /// in a window of `window` that starts with the first; the count so far.
    pub async fn count_up(
        &self,
        kind: &str,
        id: &str,
        window: Duration,
    ) -> Result<u64, Unavailable> {
        let mut invocation = COUNT_UP.prepare_invoke();
        invocation
            .key(self.key(&["count", kind, id]))
            .arg(window.as_millis().max(1).to_string());
        self.run(|mut connection| async move { invocation.invoke_async(&mut connection).await })
            .await
    }

    /// Marks `kind`/`id` as used, for `ttl`; false when it already was.
    pub async fn mark_once(
        &self,
        kind: &str,
        id: &str,
        ttl: Duration,
    ) -> Result<bool, Unavailable> {
        let key = self.key(&["flow", kind, id]);
        let ttl_ms = ttl.as_millis().max(1).to_string();
        let set: Option<String> = self
            .run(|mut connection| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        Ok(set.is_some())
    }

    /// The secret every replica shares under `name`: the one stored, or
    /// `candidate` when none is (the first replica's wins).
    pub async fn shared_secret(&self, name: &str, candidate: &str) -> Result<String, Unavailable> {
        let key = self.key(&["secret", name]);
        let candidate = candidate.to_owned();
        let (stored,): (String,) = self
            .run(|mut connection| async move {
                redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(&key)
                    .arg(candidate)
                    .arg("NX")
                    .ignore()
                    .cmd("GET")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestRedis;

    #[tokio::test]
    #[ignore = "needs redis-server: cargo xtask install-tools"]
    async fn a_flow_is_taken_once_and_a_marker_set_once() {
        let redis = TestRedis::start();
        let (first, second) = (redis.connect().await, redis.connect().await);
        first
            .put_flow("login", "abc", "{\"v\":1}", Duration::from_secs(60))
            .await
            .expect("put");
        assert_eq!(
            second
                .get_flow("login", "abc")
                .await
                .expect("get")
                .as_deref(),
            Some("{\"v\":1}")
        );
        assert!(
            second
                .take_flow("login", "abc")
                .await
                .expect("take")
                .is_some()
        );
        assert!(
            first
                .take_flow("login", "abc")
                .await
                .expect("take")
                .is_none()
        );
        assert!(
            first
                .mark_once("approval", "s1", Duration::from_secs(60))
                .await
                .expect("mark")
        );
        assert!(
            !second
                .mark_once("approval", "s1", Duration::from_secs(60))
                .await
                .expect("mark")
        );
        let short = Duration::from_millis(50);
        first
            .put_flow("login", "gone", "x", short)
            .await
            .expect("put");
        tokio::time::sleep(short * 3).await;
        assert!(
            second
                .get_flow("login", "gone")
                .await
                .expect("get")
                .is_none()
        );
    }

    #[tokio::test]
    #[ignore = "needs redis-server: cargo xtask install-tools"]
    async fn the_first_replicas_secret_is_everyones() {
        let redis = TestRedis::start();
        let (first, second) = (redis.connect().await, redis.connect().await);
        assert_eq!(
            first.shared_secret("k", "one").await.expect("secret"),
            "one"
        );
        assert_eq!(
            second.shared_secret("k", "two").await.expect("secret"),
            "one"
        );
    }
}
