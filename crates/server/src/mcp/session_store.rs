//! 2025-era sessions any replica can serve, as far as rmcp allows: what a
//! session is (the client's `initialize`) and whose it is are kept in
//! Redis, so a replica that does not hold a session (its own replica
//! stopped, or a load balancer without stickiness sent the request
//! elsewhere) restores it for its owner instead of answering 404.
//!
//! What lives in the replica that opened a session stays there: an
//! in-flight call's stream, the log level set, subscriptions. A restored
//! session starts those afresh, which is why the generated load balancer
//! keeps a session's requests on its replica while it lives.

use redis_state::RedisState;
use rmcp::transport::streamable_http_server::session::{
    SessionState, SessionStore, SessionStoreError,
};

use super::sessions::SESSION_KEPT;

/// The kind sessions are kept under in Redis.
const SESSION_FLOW: &str = "mcp-session";
/// The kind sessions' owners are kept under.
pub(super) const OWNER_FLOW: &str = "mcp-session-owner";

/// rmcp's session store, in Redis.
pub(super) struct RedisSessions {
    pub(super) redis: RedisState,
}

#[async_trait::async_trait]
impl SessionStore for RedisSessions {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let Some(text) = self.redis.get_flow(SESSION_FLOW, session_id).await? else {
            return Ok(None);
        };
        Ok(Some(serde_json::from_str(&text)?))
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let text = serde_json::to_string(state)?;
        self.redis
            .put_flow(SESSION_FLOW, session_id, &text, SESSION_KEPT)
            .await?;
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        self.redis.take_flow(SESSION_FLOW, session_id).await?;
        self.redis.take_flow(OWNER_FLOW, session_id).await?;
        Ok(())
    }
}
