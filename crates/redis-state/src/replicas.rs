//! Replicas' heartbeats: which replicas are running, and the policy set
//! each one runs.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{RedisState, Unavailable};

/// At most this many replicas are listed.
const MAX_LISTED: usize = 256;

/// One replica, as its last heartbeat described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replica {
    /// The replica's id (its host name and process id, unless configured).
    pub id: String,
    /// The hash of the policy set it runs.
    pub policy_hash: String,
    /// The server's version.
    pub version: String,
}

impl RedisState {
    /// Records `replica` as running, for `ttl` unless renewed.
    pub async fn heartbeat(&self, replica: &Replica, ttl: Duration) -> Result<(), Unavailable> {
        let key = self.key(&["replica", &replica.id]);
        let text = serde_json::to_string(replica).map_err(|err| Unavailable {
            reason: format!("the heartbeat could not be written: {err}"),
        })?;
        let ttl_ms = ttl.as_millis().max(1).to_string();
        self.run(|mut connection| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(text)
                .arg("PX")
                .arg(ttl_ms)
                .query_async::<()>(&mut connection)
                .await
        })
        .await
    }

    /// The replicas whose heartbeat has not expired, by id.
    pub async fn replicas(&self) -> Result<Vec<Replica>, Unavailable> {
        let pattern = self.key(&["replica", "*"]);
        let keys: Vec<String> = self
            .run(|mut connection| async move {
                let mut keys = Vec::new();
                let mut cursor = 0_u64;
                loop {
                    let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut connection)
                        .await?;
                    keys.extend(found);
                    cursor = next;
                    if cursor == 0 || keys.len() >= MAX_LISTED {
                        break;
                    }
                }
                keys.truncate(MAX_LISTED);
                Ok(keys)
            })
            .await?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let texts: Vec<Option<String>> = self
            .run(|mut connection| async move {
                redis::cmd("MGET")
                    .arg(keys)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        let mut replicas: Vec<Replica> = texts
            .into_iter()
            .flatten()
            .filter_map(|text| serde_json::from_str(&text).ok())
            .collect();
        replicas.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(replicas)
    }
}
