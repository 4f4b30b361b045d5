//! The policy set every replica should run: its hash, announced on a
//! channel when a replica loads a new one, and (with `POLICY_SOURCE=redis`)
//! its files.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::{RedisState, Unavailable};

static STORE_IF_ABSENT: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("scripts/store_if_absent.lua")));

/// How long the policy watcher waits before subscribing again after it
/// lost its connection.
const RESUBSCRIBE_AFTER: Duration = Duration::from_millis(500);

/// A policy set's files, as one replica loaded them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyBundle {
    /// The set's hash, as `/health` shows it.
    pub hash: String,
    /// Each file's name (in the policy directory) and text.
    pub files: BTreeMap<String, String>,
}

impl RedisState {
    /// Announces a newly loaded set: stores its hash (and its files, when
    /// given) and tells every replica, in one transaction.
    pub async fn publish_policy(
        &self,
        hash: &str,
        bundle: Option<&PolicyBundle>,
    ) -> Result<(), Unavailable> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.set(self.key(&["policy", "hash"]), hash).ignore();
        if let Some(bundle) = bundle {
            let text = serde_json::to_string(bundle).map_err(|err| Unavailable {
                reason: format!("the policy bundle could not be written: {err}"),
            })?;
            pipe.set(self.key(&["policy", "bundle"]), text).ignore();
        }
        pipe.publish(self.key(&["policy"]), hash).ignore();
        self.run(|mut connection| async move { pipe.query_async::<()>(&mut connection).await })
            .await
    }

    /// The stored bundle, if a replica stored one.
    pub async fn policy_bundle(&self) -> Result<Option<PolicyBundle>, Unavailable> {
        let key = self.key(&["policy", "bundle"]);
        let text: Option<String> = self
            .run(|mut connection| async move {
                redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        text.map(|text| {
            serde_json::from_str(&text).map_err(|err| Unavailable {
                reason: format!("the stored policy bundle is not one this server wrote: {err}"),
            })
        })
        .transpose()
    }

    /// Stores `bundle` unless one is stored already; true when it was.
    pub async fn store_policy_bundle_if_absent(
        &self,
        bundle: &PolicyBundle,
    ) -> Result<bool, Unavailable> {
        let text = serde_json::to_string(bundle).map_err(|err| Unavailable {
            reason: format!("the policy bundle could not be written: {err}"),
        })?;
        let mut invocation = STORE_IF_ABSENT.prepare_invoke();
        invocation
            .key(self.key(&["policy", "bundle"]))
            .key(self.key(&["policy", "hash"]))
            .arg(text)
            .arg(&bundle.hash);
        let stored: i64 = self
            .run(|mut connection| async move { invocation.invoke_async(&mut connection).await })
            .await?;
        Ok(stored == 1)
    }

    /// The hash of the set replicas should run, kept current: announced
    /// hashes as they come, and the stored one each time the subscription
    /// is made again (so an announcement missed while Redis was away is
    /// not lost). Starts with the stored hash, if any.
    pub fn watch_policy(&self) -> watch::Receiver<Option<String>> {
        let (sender, receiver) = watch::channel(None);
        tokio::spawn(follow_policy(self.clone(), sender));
        receiver
    }
}

/// Subscribes to the policy channel, again whenever the subscription is
/// lost, until nobody watches.
async fn follow_policy(state: RedisState, sender: watch::Sender<Option<String>>) {
    let channel = state.key(&["policy"]);
    let hash_key = state.key(&["policy", "hash"]);
    loop {
        if sender.is_closed() {
            return;
        }
        let subscribed = async {
            let mut pubsub = state.inner.client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            redis::RedisResult::Ok(pubsub)
        };
        match tokio::time::timeout(crate::OPERATION_TIMEOUT, subscribed).await {
            Ok(Ok(mut pubsub)) => {
                // Subscribed first, read second: an announcement made in
                // between arrives on the channel as well.
                let key = hash_key.clone();
                if let Ok(stored) = state
                    .attempt(|mut connection| async move {
                        redis::cmd("GET")
                            .arg(key)
                            .query_async::<Option<String>>(&mut connection)
                            .await
                    })
                    .await
                {
                    announce(&sender, stored);
                }
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    if let Ok(hash) = message.get_payload::<String>() {
                        announce(&sender, Some(hash));
                    }
                }
                tracing::debug!(target: "orchestrator::redis", "the policy subscription ended");
            }
            Ok(Err(err)) => {
                tracing::debug!(target: "orchestrator::redis", %err, "could not subscribe to policy changes");
            }
            Err(_) => {}
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}

fn announce(sender: &watch::Sender<Option<String>>, hash: Option<String>) {
    if hash.is_some() {
        sender.send_if_modified(|current| {
            let changed = *current != hash;
            if changed {
                current.clone_from(&hash);
            }
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestRedis;

    fn bundle(hash: &str) -> PolicyBundle {
        PolicyBundle {
            hash: hash.to_owned(),
            files: BTreeMap::from([("a.cedar".to_owned(), format!("// {hash}"))]),
        }
    }

    #[tokio::test]
    #[ignore = "needs redis-server: cargo xtask install-tools"]
    async fn an_announced_set_reaches_every_watcher_and_the_first_bundle_stays() {
        let redis = TestRedis::start();
        let (first, second) = (redis.connect().await, redis.connect().await);
        assert!(
            first
                .store_policy_bundle_if_absent(&bundle("h1"))
                .await
                .expect("stored")
        );
        assert!(
            !second
                .store_policy_bundle_if_absent(&bundle("h2"))
                .await
                .expect("asked")
        );
        assert_eq!(
            second.policy_bundle().await.expect("read"),
            Some(bundle("h1"))
        );
        let mut watching = second.watch_policy();
        tokio::time::timeout(
            Duration::from_secs(5),
            watching.wait_for(|h| h.as_deref() == Some("h1")),
        )
        .await
        .expect("the stored hash, at once")
        .expect("watching");
        first
            .publish_policy("h3", Some(&bundle("h3")))
            .await
            .expect("published");
        tokio::time::timeout(
            Duration::from_secs(5),
            watching.wait_for(|h| h.as_deref() == Some("h3")),
        )
        .await
        .expect("the announced hash")
        .expect("watching");
        assert_eq!(
            second.policy_bundle().await.expect("read"),
            Some(bundle("h3"))
        );
    }

    #[tokio::test]
    #[ignore = "needs redis-server: cargo xtask install-tools"]
    async fn an_announcement_made_while_a_watcher_was_cut_off_is_not_lost() {
        let mut redis = TestRedis::start();
        let (first, second) = (redis.connect().await, redis.connect().await);
        let mut watching = second.watch_policy();
        first.publish_policy("h1", None).await.expect("published");
        tokio::time::timeout(
            Duration::from_secs(5),
            watching.wait_for(|h| h.as_deref() == Some("h1")),
        )
        .await
        .expect("h1")
        .expect("watching");
        redis.stop();
        redis.restart();
        // Announced before the watcher has subscribed again.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if first.publish_policy("h2", None).await.is_ok() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "Redis is back");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::timeout(
            Duration::from_secs(5),
            watching.wait_for(|h| h.as_deref() == Some("h2")),
        )
        .await
        .expect("h2, read when subscribing again")
        .expect("watching");
    }
}
