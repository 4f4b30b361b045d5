//! Revoking tokens: by `jti`, by subject, or all issued before a time.

use std::sync::LazyLock;
use std::time::Duration;

use crate::{RedisState, Unavailable};

static RAISE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("scripts/raise.lua")));

/// Which tokens to revoke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// The token with this `jti`.
    Token(String),
    /// The subject's tokens issued before this second (seconds since the
    /// epoch), and its tokens without an `iat`.
    Subject {
        /// `sub`.
        subject: String,
        /// The cutoff.
        issued_before: u64,
    },
    /// Every token issued before this second, and every token without an
    /// `iat`.
    IssuedBefore(u64),
}

impl RedisState {
    /// Records `revocation` for `keep` (the longest a token it revokes can
    /// still be accepted). A cutoff is only ever raised.
    pub async fn revoke(&self, revocation: &Revocation, keep: Duration) -> Result<(), Unavailable> {
        let keep_ms = keep.as_millis().max(1).to_string();
        match revocation {
            Revocation::Token(id) => {
                let key = self.key(&["revoked", "token", id]);
                self.run(|mut connection| async move {
                    redis::cmd("SET")
                        .arg(key)
                        .arg(1)
                        .arg("PX")
                        .arg(keep_ms)
                        .query_async::<()>(&mut connection)
                        .await
                })
                .await
            }
            Revocation::Subject {
                subject,
                issued_before,
            } => {
                self.raise(
                    self.key(&["revoked", "subject", subject]),
                    *issued_before,
                    keep_ms,
                )
                .await
            }
            Revocation::IssuedBefore(cutoff) => {
                self.raise(self.key(&["revoked", "all"]), *cutoff, keep_ms)
                    .await
            }
        }
    }

    async fn raise(&self, key: String, cutoff: u64, keep_ms: String) -> Result<(), Unavailable> {
        let mut invocation = RAISE.prepare_invoke();
        invocation.key(key).arg(cutoff.to_string()).arg(keep_ms);
        self.run(
            |mut connection| async move { invocation.invoke_async::<()>(&mut connection).await },
        )
        .await
    }
}
