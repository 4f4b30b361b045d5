//! Rate limiting: a generic cell rate algorithm per caller.
//!
//! Each caller has a theoretical arrival time that every request pushes one
//! interval (a minute divided by the limit) into the future, and a request
//! is refused when that time would run more than a minute ahead of the
//! clock. A caller may so spend the whole minute's allowance at once, and
//! then one request per interval.
//!
//! The doors limit requests with it; the catalogue charges the calls tools
//! make to the same allowance, so nesting buys no extra calls.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The window the limit is counted over.
const WINDOW: Duration = Duration::from_secs(60);

/// Past this many remembered callers, those whose allowance is whole again
/// are forgotten: remembering them changes nothing.
const PRUNE_ABOVE: usize = 4096;

/// At most this many callers are remembered. Reached (callers that walk
/// through many addresses can get there within a minute), those whose
/// allowance is whole are forgotten at once whenever it was last done; if
/// all are still counting, the oldest half of the table is forgotten too,
/// which gives those callers their allowance back early, a lesser harm than
/// memory without end.
const REMEMBER_AT_MOST: usize = 100_000;

/// Requests per minute, per caller (a principal id, or a client address).
pub(crate) struct RateLimiter<K = String> {
    interval: Duration,
    state: Mutex<Callers<K>>,
}

struct Callers<K> {
    /// Each caller's theoretical arrival time.
    arrivals: HashMap<K, Instant>,
    /// When callers were last forgotten: at most once a window, so that
    /// many callers inside their window do not make every request scan.
    pruned: Option<Instant>,
}

impl<K> Default for Callers<K> {
    fn default() -> Self {
        Self {
            arrivals: HashMap::new(),
            pruned: None,
        }
    }
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// At most `per_minute` requests per minute per caller; `None` for 0,
    /// which turns limiting off.
    pub(crate) fn new(per_minute: u32) -> Option<Self> {
        (per_minute > 0).then(|| Self {
            interval: WINDOW / per_minute,
            state: Mutex::default(),
        })
    }

    /// Counts a request from `caller` at `now`; `Err` holds how long until
    /// the caller may make one again.
    pub(crate) fn check<Q>(&self, caller: &Q, now: Instant) -> Result<(), Duration>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let due = state
            .pruned
            .is_none_or(|last| now.saturating_duration_since(last) >= WINDOW);
        let full = state.arrivals.len() >= REMEMBER_AT_MOST;
        if state.arrivals.len() > PRUNE_ABOVE && (due || full) {
            state.arrivals.retain(|_, arrival| *arrival > now);
            if state.arrivals.len() >= REMEMBER_AT_MOST {
                let mut arrivals: Vec<Instant> = state.arrivals.values().copied().collect();
                let middle = arrivals.len() / 2;
                let (_, median, _) = arrivals.select_nth_unstable(middle);
                let median = *median;
                state.arrivals.retain(|_, arrival| *arrival > median);
            }
            state.arrivals.shrink_to(PRUNE_ABOVE);
            state.pruned = Some(now);
        }
        let callers = &mut state.arrivals;
        let arrival = callers
            .get(caller)
            .copied()
            .filter(|at| *at > now)
            .unwrap_or(now);
        let next = arrival + self.interval;
        let ahead = next.saturating_duration_since(now);
        if ahead > WINDOW {
            return Err(ahead - WINDOW);
        }
        match callers.get_mut(caller) {
            Some(slot) => *slot = next,
            None => {
                callers.insert(caller.to_owned(), next);
            }
        }
        Ok(())
    }
}

/// `wait` in whole seconds, rounded up: a client that waits this long is
/// served.
pub(crate) fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_may_spend_the_minute_at_once_then_one_per_interval() {
        let limiter = RateLimiter::<String>::new(60).expect("a limit");
        let start = Instant::now();
        for _ in 0..60 {
            assert_eq!(limiter.check("a", start), Ok(()));
        }
        let wait = limiter.check("a", start).expect_err("the 61st is refused");
        assert_eq!(wait, Duration::from_secs(1));
        // Another caller has an allowance of its own.
        assert_eq!(limiter.check("b", start), Ok(()));
        // One interval later, one more request is allowed, and no second.
        let later = start + Duration::from_secs(1);
        assert_eq!(limiter.check("a", later), Ok(()));
        assert!(limiter.check("a", later).is_err());
        // After a quiet minute the whole allowance is back.
        let quiet = start + Duration::from_secs(121);
        for _ in 0..60 {
            assert_eq!(limiter.check("a", quiet), Ok(()));
        }
    }

    #[test]
    fn the_table_never_grows_past_its_bound() {
        let limiter = RateLimiter::<u32>::new(1).expect("a limit");
        let start = Instant::now();
        for caller in 0..(REMEMBER_AT_MOST as u32 + 10) {
            // Every caller is still counting: none has a whole allowance.
            assert_eq!(limiter.check(&caller, start), Ok(()));
        }
        let remembered = limiter.state.lock().expect("lock").arrivals.len();
        assert!(remembered <= REMEMBER_AT_MOST, "{remembered}");
    }

    #[test]
    fn zero_turns_limiting_off() {
        assert!(RateLimiter::<String>::new(0).is_none());
    }

    #[test]
    fn callers_with_a_whole_allowance_are_forgotten_when_many() {
        let limiter = RateLimiter::<String>::new(10).expect("a limit");
        let start = Instant::now();
        for caller in 0..=PRUNE_ABOVE {
            assert_eq!(limiter.check(&caller.to_string(), start), Ok(()));
        }
        let later = start + WINDOW;
        assert_eq!(limiter.check("new", later), Ok(()));
        let remembered = limiter.state.lock().expect("lock").arrivals.len();
        assert_eq!(remembered, 1);
    }
}
