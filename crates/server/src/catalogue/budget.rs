//! How many tool calls one client request may make, nested calls included:
//! one request must not fan out without bound through tools that call tools.

use std::sync::atomic::{AtomicU32, Ordering};

/// The calls a request may still make. Shared by every nested level.
#[derive(Debug)]
pub(crate) struct CallBudget {
    left: AtomicU32,
    limit: u32,
}

impl CallBudget {
    /// A budget of `limit` calls.
    pub(crate) fn new(limit: u32) -> Self {
        Self {
            left: AtomicU32::new(limit),
            limit,
        }
    }

    /// Spends one call; `Err` holds the limit when none is left.
    pub(crate) fn take(&self) -> Result<(), u32> {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(1)
            })
            .map(drop)
            .map_err(|_| self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_gives_exactly_its_limit_across_threads() {
        let budget = std::sync::Arc::new(CallBudget::new(32));
        let taken: usize = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    let budget = std::sync::Arc::clone(&budget);
                    scope.spawn(move || (0..20).filter(|_| budget.take().is_ok()).count())
                })
                .collect();
            workers.into_iter().map(|w| w.join().expect("worker")).sum()
        });
        assert_eq!(taken, 32);
        assert_eq!(budget.take(), Err(32));
    }
}
