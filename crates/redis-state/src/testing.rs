//! The crate's tests' Redis.

use crate::RedisState;
pub(crate) use crate::test_server::TestRedis;

impl TestRedis {
    /// A new connection to it, as another replica would have.
    pub(crate) async fn connect(&self) -> RedisState {
        RedisState::connect(&self.url(), "test")
            .await
            .expect("the test Redis answers")
    }
}
