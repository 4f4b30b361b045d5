//! MCP sessions, for 2025-era clients that need them.
//!
//! MCP 2026-07-28 is stateless. A 2025-era client can only receive
//! notifications outside a request (lists that changed, resources it
//! subscribed to), keep a log level or cancel a call inside a session, so
//! its `initialize` gets one (rmcp's session mode); every other request is
//! served statelessly, exactly as without sessions.
//!
//! A session belongs to the principal that opened it: another principal
//! presenting its id is told it does not exist. Sessions end when idle
//! (rmcp's keep-alive), and a principal holds at most
//! [`SESSIONS_PER_PRINCIPAL`] of them: opening one more closes its oldest.
//! The server holds at most [`MAX_SESSIONS`] in all; while it is full, an
//! `initialize` is answered statelessly, without a session, rather than
//! closing anyone else's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

/// How long a session may go without a request before it ends.
pub(crate) const SESSION_IDLE: Duration = Duration::from_secs(300);

/// How long a session is kept in Redis for another replica to restore.
pub(crate) const SESSION_KEPT: Duration = Duration::from_secs(24 * 3600);

/// The most sessions one principal may hold at once.
pub(crate) const SESSIONS_PER_PRINCIPAL: usize = 8;

/// The most sessions the server holds at once.
pub(crate) const MAX_SESSIONS: usize = 4096;

/// How long closing one pushed-out session may take.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Who owns each session, and when it was last used.
pub(crate) struct SessionRegistry {
    owners: Mutex<HashMap<String, Owner>>,
    manager: Arc<LocalSessionManager>,
    /// Where every replica records whose each session is, with Redis.
    redis: Option<redis_state::RedisState>,
}

struct Owner {
    principal: String,
    opened: Instant,
    seen: Instant,
}

impl SessionRegistry {
    /// A registry over rmcp's session manager, which ends sessions idle for
    /// [`SESSION_IDLE`].
    pub(crate) fn new() -> Self {
        let mut manager = LocalSessionManager::default();
        manager.session_config.keep_alive = Some(SESSION_IDLE);
        Self {
            owners: Mutex::default(),
            manager: Arc::new(manager),
            redis: None,
        }
    }

    /// The same registry, recording owners in `redis` too, so that any
    /// replica can tell a session's owner from anyone else.
    pub(crate) fn shared_in(self, redis: Option<redis_state::RedisState>) -> Self {
        Self { redis, ..self }
    }

    /// Whether `session` belongs to `principal`, on this replica or, with
    /// Redis, on any: one another replica opened is adopted here (rmcp
    /// restores it from the session store).
    pub(crate) async fn owned_anywhere(&self, session: &str, principal: &str) -> bool {
        if self.owned_by(session, principal) {
            return true;
        }
        let Some(redis) = &self.redis else {
            return false;
        };
        let owner = redis
            .get_flow(super::session_store::OWNER_FLOW, session)
            .await
            .ok()
            .flatten();
        if owner.as_deref() != Some(principal) {
            return false;
        }
        self.adopt(session.to_owned(), principal);
        true
    }

    /// Records a session another replica opened for `principal`.
    fn adopt(&self, session: String, principal: &str) {
        let now = Instant::now();
        self.owners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                session,
                Owner {
                    principal: principal.to_owned(),
                    opened: now,
                    seen: now,
                },
            );
    }

    /// rmcp's session manager.
    pub(crate) fn manager(&self) -> Arc<LocalSessionManager> {
        Arc::clone(&self.manager)
    }

    /// Whether a new session fits: the server holds fewer than
    /// [`MAX_SESSIONS`] (sessions idle past [`SESSION_IDLE`] not counted).
    pub(crate) fn has_room(&self) -> bool {
        let owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
        owners.len() < MAX_SESSIONS
            || owners
                .values()
                .any(|owner| owner.seen.elapsed() > SESSION_IDLE)
    }

    /// Whether `session` is open and belongs to `principal`; marks it used.
    pub(crate) fn owned_by(&self, session: &str, principal: &str) -> bool {
        let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
        match owners.get_mut(session) {
            Some(owner) if owner.principal == principal => {
                owner.seen = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// Records a session `principal` just opened, and closes what that
    /// pushes out: its own oldest past [`SESSIONS_PER_PRINCIPAL`], and any
    /// idle past [`SESSION_IDLE`] (which rmcp has ended already). Should the
    /// server be full all the same (sessions opened at once), the one idle
    /// longest makes room.
    pub(crate) fn opened(&self, session: String, principal: &str) {
        if let Some(redis) = self.redis.clone() {
            let (id, owner) = (session.clone(), principal.to_owned());
            tokio::spawn(async move {
                let _ = redis
                    .put_flow(super::session_store::OWNER_FLOW, &id, &owner, SESSION_KEPT)
                    .await;
            });
        }
        let closing = {
            let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let mut closing: Vec<String> = owners
                .iter()
                .filter(|(_, owner)| now.duration_since(owner.seen) > SESSION_IDLE)
                .map(|(id, _)| id.clone())
                .collect();
            for id in &closing {
                owners.remove(id);
            }
            let mut own: Vec<(&String, Instant)> = owners
                .iter()
                .filter(|(_, owner)| owner.principal == principal)
                .map(|(id, owner)| (id, owner.opened))
                .collect();
            own.sort_by_key(|(_, opened)| *opened);
            let excess = (own.len() + 1).saturating_sub(SESSIONS_PER_PRINCIPAL);
            let oldest: Vec<String> = own
                .iter()
                .take(excess)
                .map(|(id, _)| (*id).clone())
                .collect();
            for id in oldest {
                owners.remove(&id);
                closing.push(id);
            }
            while owners.len() >= MAX_SESSIONS {
                let Some(idlest) = owners
                    .iter()
                    .min_by_key(|(_, owner)| owner.seen)
                    .map(|(id, _)| id.clone())
                else {
                    break;
                };
                owners.remove(&idlest);
                closing.push(idlest);
            }
            owners.insert(
                session,
                Owner {
                    principal: principal.to_owned(),
                    opened: now,
                    seen: now,
                },
            );
            closing
        };
        if closing.is_empty() {
            return;
        }
        // Closed apart from the request that opened the new session: a
        // session whose client stopped reading may take a while to close.
        let manager = Arc::clone(&self.manager);
        tokio::spawn(async move {
            for id in closing {
                // Closing a session that already ended is harmless.
                let _ = tokio::time::timeout(CLOSE_WAIT, manager.close_session(&id.into())).await;
            }
        });
    }

    /// Forgets a session its client closed.
    pub(crate) fn closed(&self, session: &str) {
        self.owners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(session);
    }

    /// How many sessions are open (as far as the registry knows).
    #[cfg(test)]
    fn count(&self) -> usize {
        self.owners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_principal_keeps_its_newest_sessions_and_only_its_own() {
        let registry = SessionRegistry::new();
        for n in 0..SESSIONS_PER_PRINCIPAL + 2 {
            registry.opened(format!("alice-{n}"), "alice");
        }
        registry.opened("bob-0".to_owned(), "bob");
        assert!(registry.has_room());
        assert_eq!(registry.count(), SESSIONS_PER_PRINCIPAL + 1);
        assert!(
            !registry.owned_by("alice-0", "alice"),
            "the oldest was closed"
        );
        assert!(!registry.owned_by("alice-1", "alice"));
        assert!(registry.owned_by("alice-2", "alice"));
        assert!(!registry.owned_by("alice-2", "bob"), "never another's");
        assert!(registry.owned_by("bob-0", "bob"));
        registry.closed("bob-0");
        assert!(!registry.owned_by("bob-0", "bob"));
    }
}
