//! Telling clients what changed: when a new policy set is made active, what
//! each caller may see can change, so subscribers hear that the tool, prompt
//! and resource lists changed, and that the server's policy and scope
//! resources were updated.
//!
//! A 2026-07-28 client listens with `subscriptions/listen` (rmcp sends the
//! acknowledgement and keeps to the filter it accepted); a 2025-era client
//! in a session hears on its session's stream, for the resources it
//! subscribed to with `resources/subscribe`. A principal may hold at most
//! [`LISTENS_PER_PRINCIPAL`] listening streams at once.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::RoleServer;
use rmcp::service::Peer;
use tokio::sync::watch;

/// The most `subscriptions/listen` streams one principal may hold open.
pub(crate) const LISTENS_PER_PRINCIPAL: usize = 8;

/// The most `subscriptions/listen` streams the server holds open.
pub(crate) const MAX_LISTENS: usize = 1024;

/// The server resources a new policy set changes.
pub(crate) const CHANGED_WITH_POLICIES: [&str; 2] =
    ["orchestrator://policies", "orchestrator://scopes"];

/// Counts the open listening streams per principal.
#[derive(Default)]
pub(crate) struct Listeners {
    open: Mutex<HashMap<String, usize>>,
}

/// One open listening stream, counted until dropped.
pub(crate) struct Listening {
    listeners: Arc<Listeners>,
    principal: String,
}

impl Listeners {
    /// Counts a new stream for `principal`, or `None` when it holds
    /// [`LISTENS_PER_PRINCIPAL`] already or the server [`MAX_LISTENS`].
    pub(crate) fn enter(self: &Arc<Self>, principal: &str) -> Option<Listening> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let total: usize = open.values().sum();
        let count = open.entry(principal.to_owned()).or_default();
        if *count >= LISTENS_PER_PRINCIPAL || total >= MAX_LISTENS {
            if *count == 0 {
                open.remove(principal);
            }
            return None;
        }
        *count += 1;
        Some(Listening {
            listeners: Arc::clone(self),
            principal: principal.to_owned(),
        })
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let mut open = self
            .listeners
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.principal) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.principal);
            }
        }
    }
}

/// Which of the resources that change a 2025-era session subscribed to.
///
/// Only the server's policy and scope resources ever change (plugins'
/// resources are fixed for the life of the process), so a subscription to
/// any other resource the caller may read is accepted and needs nothing
/// kept: what a session holds is bounded by [`CHANGED_WITH_POLICIES`].
#[derive(Clone, Default)]
pub(crate) struct ResourceSubscriptions(Arc<Mutex<BTreeSet<&'static str>>>);

impl ResourceSubscriptions {
    /// Subscribes to `uri`.
    pub(crate) fn add(&self, uri: &str) {
        if let Some(changing) = CHANGED_WITH_POLICIES.iter().find(|known| **known == uri) {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(changing);
        }
    }

    pub(crate) fn remove(&self, uri: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(uri);
    }

    fn contains(&self, uri: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(uri)
    }
}

/// Tells a 2025-era session's client of every new policy set until the
/// session ends (`ended` closes) or the client is gone.
pub(crate) async fn notify_session(
    peer: Peer<RoleServer>,
    mut changes: watch::Receiver<u64>,
    subscriptions: ResourceSubscriptions,
    mut ended: watch::Receiver<()>,
) {
    changes.mark_unchanged();
    loop {
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = ended.changed() => return,
        }
        let sent = peer.notify_tool_list_changed().await.is_ok()
            && peer.notify_prompt_list_changed().await.is_ok()
            && peer.notify_resource_list_changed().await.is_ok();
        if !sent {
            return;
        }
        for uri in CHANGED_WITH_POLICIES {
            if subscriptions.contains(uri) {
                let params = rmcp::model::ResourceUpdatedNotificationParam::new(uri);
                if peer.notify_resource_updated(params).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_keeps_only_subscriptions_to_resources_that_change() {
        let subscriptions = ResourceSubscriptions::default();
        for n in 0..1000 {
            subscriptions.add(&format!("code-tools://review-rules/{n}"));
        }
        subscriptions.add("orchestrator://policies");
        subscriptions.add("orchestrator://policies");
        let kept = subscriptions
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        assert_eq!(
            kept.into_iter().collect::<Vec<_>>(),
            ["orchestrator://policies"]
        );
        subscriptions.remove("orchestrator://policies");
        assert!(!subscriptions.contains("orchestrator://policies"));
    }

    #[test]
    fn listening_streams_are_bounded_per_principal_and_in_all() {
        let listeners = Arc::new(Listeners::default());
        let alice: Vec<Listening> = (0..LISTENS_PER_PRINCIPAL)
            .map(|_| listeners.enter("alice").expect("room"))
            .collect();
        assert!(listeners.enter("alice").is_none(), "alice holds her most");
        drop(alice);
        assert!(
            listeners.enter("alice").is_some(),
            "closed streams free room"
        );
        let many: Vec<Listening> = (0..MAX_LISTENS)
            .filter_map(|n| listeners.enter(&format!("principal-{n}")))
            .collect();
        assert_eq!(many.len(), MAX_LISTENS);
        assert!(
            listeners.enter("late").is_none(),
            "the server holds its most"
        );
        assert!(
            !listeners
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains_key("late"),
            "a refused principal leaves no entry"
        );
    }
}
