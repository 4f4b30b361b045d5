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
    /// [`LISTENS_PER_PRINCIPAL`] already.
    pub(crate) fn enter(self: &Arc<Self>, principal: &str) -> Option<Listening> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(principal.to_owned()).or_default();
        if *count >= LISTENS_PER_PRINCIPAL {
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

/// The resources a 2025-era session subscribed to.
#[derive(Clone, Default)]
pub(crate) struct ResourceSubscriptions(Arc<Mutex<BTreeSet<String>>>);

/// The most resources one session may subscribe to.
pub(crate) const SUBSCRIPTIONS_PER_SESSION: usize = 64;

impl ResourceSubscriptions {
    /// Adds `uri`; `false` when the session holds its most already.
    pub(crate) fn add(&self, uri: &str) -> bool {
        let mut uris = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if uris.len() >= SUBSCRIPTIONS_PER_SESSION && !uris.contains(uri) {
            return false;
        }
        uris.insert(uri.to_owned());
        true
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
