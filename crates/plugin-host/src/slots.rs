//! How many plugin calls run at once, and which of them their callers have
//! given up on.
//!
//! A plugin call occupies a thread for as long as the plugin runs, so the
//! number of calls running at once is bounded. A call that waits for its own
//! tool calls (a plugin that orchestrates others) must never wait for a slot
//! its parent holds, or the two would wait for each other: each depth of
//! nesting has its own slots, so a call only ever waits for slots one level
//! deeper than its own, and the deepest level calls nothing.
//!
//! A call whose caller stopped waiting (its time limit passed) cannot be
//! stopped from outside: its slot stays taken until the plugin returns, so
//! a hung plugin uses up slots instead of threads without end, and the
//! number of such abandoned calls is counted for `/health`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Levels of slots: a client's call and the calls tools make, four deep
/// (the server refuses deeper nesting before a slot is asked for).
const LEVELS: usize = 5;

/// Running plugin calls, per depth of nesting.
#[derive(Debug)]
pub(crate) struct Slots {
    per_level: usize,
    levels: Vec<Arc<Semaphore>>,
    abandoned: Arc<AtomicUsize>,
}

/// What the host's calls look like now, for `/health`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CallLoad {
    /// Calls running now, at every depth, abandoned ones included.
    pub running: usize,
    /// Calls still running after their caller stopped waiting.
    pub abandoned: usize,
    /// How many calls may run at once at each depth of nesting.
    pub limit: usize,
}

/// A call's hold on a slot, and its part in the count of abandoned calls.
/// Dropped where the call ends: on the caller's side when it was answered,
/// on the plugin's thread when its caller had gone.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    state: Arc<AtomicU8>,
    abandoned: Arc<AtomicUsize>,
}

const RUNNING: u8 = 0;
const ENDED: u8 = 1;
const ABANDONED: u8 = 2;

impl Slots {
    /// `per_level` calls at once at each depth of nesting.
    pub(crate) fn new(per_level: usize) -> Self {
        Self {
            per_level,
            levels: (0..LEVELS)
                .map(|_| Arc::new(Semaphore::new(per_level)))
                .collect(),
            abandoned: Arc::default(),
        }
    }

    /// A slot for a call made at `depth` (0 for a client's call), waiting
    /// up to `wait` for one to come free; `None` when none did.
    pub(crate) async fn take(&self, depth: usize, wait: Duration) -> Option<Slot> {
        let level = &self.levels[depth.min(LEVELS - 1)];
        let permit = match Arc::clone(level).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => tokio::time::timeout(wait, Arc::clone(level).acquire_owned())
                .await
                .ok()?
                .ok()?,
        };
        Some(Slot {
            _permit: permit,
            state: Arc::new(AtomicU8::new(RUNNING)),
            abandoned: Arc::clone(&self.abandoned),
        })
    }

    /// The calls running now.
    pub(crate) fn load(&self) -> CallLoad {
        CallLoad {
            running: self
                .levels
                .iter()
                .map(|level| self.per_level - level.available_permits())
                .sum(),
            abandoned: self.abandoned.load(Ordering::SeqCst),
            limit: self.per_level,
        }
    }
}

impl Slot {
    /// What the caller keeps to say, if it stops waiting, that the call is
    /// abandoned.
    pub(crate) fn watch(&self) -> Abandon {
        Abandon {
            state: Arc::clone(&self.state),
            abandoned: Arc::clone(&self.abandoned),
            armed: true,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.state.swap(ENDED, Ordering::SeqCst) == ABANDONED {
            self.abandoned.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// The caller's side of a [`Slot`]. Dropped without [`Abandon::answered`]
/// (the caller timed out, or its request was dropped with the client's
/// connection), it counts the call as abandoned unless the call has ended.
pub(crate) struct Abandon {
    state: Arc<AtomicU8>,
    abandoned: Arc<AtomicUsize>,
    armed: bool,
}

impl Abandon {
    /// The caller heard back: nothing to count.
    pub(crate) fn answered(mut self) {
        self.armed = false;
    }

    /// Counts the call as abandoned, unless it has already ended.
    pub(crate) fn abandon(self) {
        drop(self);
    }

    fn count(&self) {
        // Counted first, so that the slot's drop never takes away what was
        // not yet added.
        self.abandoned.fetch_add(1, Ordering::SeqCst);
        if self
            .state
            .compare_exchange(RUNNING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            self.abandoned.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Abandon {
    fn drop(&mut self) {
        if self.armed {
            self.count();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_WAIT: Duration = Duration::from_millis(10);

    #[tokio::test]
    async fn a_full_level_refuses_after_the_wait_and_other_levels_still_serve() {
        let slots = Slots::new(2);
        let first = slots.take(0, NO_WAIT).await.expect("a slot");
        let _second = slots.take(0, NO_WAIT).await.expect("a slot");
        assert!(slots.take(0, NO_WAIT).await.is_none(), "the level is full");
        // The calls the running ones make have slots of their own.
        let nested = slots.take(1, NO_WAIT).await.expect("a nested slot");
        assert_eq!(slots.load().running, 3);
        drop(first);
        assert!(
            slots.take(0, NO_WAIT).await.is_some(),
            "a freed slot serves"
        );
        drop(nested);
        // Nesting deeper than the levels shares the deepest level.
        assert!(slots.take(9, NO_WAIT).await.is_some());
    }

    #[tokio::test]
    async fn an_abandoned_call_keeps_its_slot_and_is_counted_until_it_ends() {
        let slots = Slots::new(1);
        let slot = slots.take(0, NO_WAIT).await.expect("a slot");
        slot.watch().abandon();
        assert_eq!(slots.load().abandoned, 1);
        assert!(slots.take(0, NO_WAIT).await.is_none(), "still running");
        drop(slot);
        assert_eq!(
            slots.load(),
            CallLoad {
                running: 0,
                abandoned: 0,
                limit: 1
            }
        );
    }

    #[tokio::test]
    async fn a_caller_dropped_with_its_request_abandons_the_call() {
        let slots = Slots::new(1);
        let slot = slots.take(0, NO_WAIT).await.expect("a slot");
        drop(slot.watch());
        assert_eq!(slots.load().abandoned, 1);
        let answered = slots.take(1, NO_WAIT).await.expect("a slot");
        answered.watch().answered();
        assert_eq!(slots.load().abandoned, 1, "an answered call is not counted");
    }

    #[tokio::test]
    async fn a_call_that_ended_before_its_caller_gave_up_is_not_counted() {
        let slots = Slots::new(1);
        let slot = slots.take(0, NO_WAIT).await.expect("a slot");
        let watch = slot.watch();
        drop(slot);
        watch.abandon();
        assert_eq!(slots.load().abandoned, 0);
    }
}
