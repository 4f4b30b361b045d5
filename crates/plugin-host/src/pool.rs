//! The threads plugin calls run on.
//!
//! A plugin call is blocking code of unknown length, so it must not run on
//! the async runtime's threads. tokio's blocking pool would do, but handing a
//! call to it and back costs tens of microseconds: its threads park as soon
//! as they are idle, and waking a parked thread is a system call and a trip
//! through the scheduler. This pool keeps an idle thread spinning for a
//! short while before it parks, and [`Pool::run`] polls for the answer
//! (yielding to other tasks in between) before it waits to be woken, so a
//! call made while another has just finished costs about a microsecond of
//! hand-off, while an idle server still parks all its threads.
//!
//! Threads are added when every one is busy (a hung plugin keeps its thread
//! until it returns; calls nest, so a bounded pool could deadlock) and leave
//! after a minute with nothing to do.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Does the work and returns what delivers its answer, so that the thread
/// is ready for the next job before the caller can hear back (and queue its
/// next call, which would otherwise start a thread it does not need).
type Job = Box<dyn FnOnce() -> Deliver + Send>;
type Deliver = Box<dyn FnOnce() + Send>;

/// How long an idle thread looks for work before it parks.
const IDLE_SPIN: Duration = Duration::from_micros(50);
/// How long a caller polls for its answer before it waits to be woken.
const ANSWER_SPIN: Duration = Duration::from_micros(50);
/// How many times a caller looks for its answer between yields to its other
/// tasks: a yield and a clock reading cost far more than a look, and an
/// answer noticed late adds its delay to every call.
const LOOKS_PER_YIELD: u32 = 16;
/// How long a parked thread waits for work before it leaves.
const IDLE_EXIT: Duration = Duration::from_secs(60);

/// A growable set of threads for blocking plugin calls.
#[derive(Clone, Default)]
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    work: Condvar,
    /// The queue's length, readable without the lock by the spinning thread.
    queued: AtomicUsize,
    /// Threads that finished a job and are about to look for the next one.
    /// Raised without the lock before the answer goes out, so that the
    /// caller's next job finds this thread instead of waking or starting
    /// another; lowered under the lock, where the thread then looks at the
    /// queue, so `submit` never counts a thread that has already looked.
    returning: AtomicUsize,
}

/// Who will take the queued jobs. Changed only under the lock, so that
/// `submit` always sees which threads are already on their way to a job.
#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// A thread is spinning for work (at most one, so idle threads never
    /// crowd out busy ones, or their callers, on a small machine).
    spinning: bool,
    /// Threads waiting on the condition variable.
    parked: usize,
    /// Parked threads notified and not yet awake.
    waking: usize,
    /// Threads started and not yet looking for work.
    starting: usize,
}

impl State {
    /// Threads that will take a queued job without further prompting, given
    /// how many are returning from a job.
    fn takers(&self, returning: usize) -> usize {
        usize::from(self.spinning) + self.waking + self.starting + returning
    }
}

/// The job's thread ended without an answer (the job panicked).
#[derive(Debug)]
pub(crate) struct Lost;

/// The answer did not come within the time limit.
#[derive(Debug)]
pub(crate) struct TimedOut;

impl Pool {
    /// Runs `job` on a pool thread and waits, up to `limit`, for its answer.
    ///
    /// Past the limit the job is left to finish on its thread and its
    /// answer dropped: a plugin call cannot be stopped from outside. The job
    /// is given a check that says whether its caller has stopped waiting
    /// (timed out, or was dropped), so that it can stop starting new work.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        limit: Duration,
        job: impl FnOnce(&dyn Fn() -> bool) -> T + Send + 'static,
    ) -> Result<Result<T, Lost>, TimedOut> {
        let started = Instant::now();
        let (answer, mut answered) = oneshot::channel();
        self.submit(Box::new(move || {
            let value = job(&|| answer.is_closed());
            Box::new(move || {
                // A failed send means the caller gave up waiting; nothing to do.
                let _ = answer.send(value);
            })
        }));
        loop {
            for _ in 0..LOOKS_PER_YIELD {
                match answered.try_recv() {
                    Ok(value) => return Ok(Ok(value)),
                    Err(oneshot::error::TryRecvError::Closed) => return Ok(Err(Lost)),
                    Err(oneshot::error::TryRecvError::Empty) => std::hint::spin_loop(),
                }
            }
            if started.elapsed() >= ANSWER_SPIN {
                break;
            }
            tokio::task::yield_now().await;
        }
        let remaining = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(remaining, answered).await {
            Ok(Ok(value)) => Ok(Ok(value)),
            Ok(Err(_)) => Ok(Err(Lost)),
            Err(_) => Err(TimedOut),
        }
    }

    fn submit(&self, job: Job) {
        let shared = &self.shared;
        let mut state = lock(&shared.state);
        state.queue.push_back(job);
        shared.queued.store(state.queue.len(), Ordering::SeqCst);
        if state.queue.len() <= state.takers(shared.returning.load(Ordering::SeqCst)) {
            return;
        }
        // Every thread on its way to work has a job to take already: wake a
        // parked thread, or start one when none is parked.
        if state.parked > state.waking {
            state.waking += 1;
            shared.work.notify_one();
            return;
        }
        state.starting += 1;
        drop(state);
        let worker = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name("plugin-call".to_owned())
            .spawn(move || worker.work_loop());
        if let Err(err) = spawned {
            lock(&shared.state).starting -= 1;
            // The job stays queued for the threads there are.
            tracing::error!(%err, "could not start a plugin thread; the call waits for a free one");
        }
    }
}

impl Shared {
    fn work_loop(&self) {
        let mut state = lock(&self.state);
        state.starting -= 1;
        loop {
            let job = match self.pop(&mut state) {
                Some(job) => {
                    drop(state);
                    job
                }
                None => match self.wait_for_job(state) {
                    Some(job) => job,
                    None => return,
                },
            };
            // The host's jobs catch plugin panics themselves; this keeps the
            // thread alive if the host's own code ever panics.
            let outcome = catch_unwind(AssertUnwindSafe(job));
            self.returning.fetch_add(1, Ordering::SeqCst);
            if let Ok(deliver) = outcome {
                deliver();
            }
            state = lock(&self.state);
            self.returning.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// The next job once the queue is empty: spins briefly (when no other
    /// thread does), then parks; `None` after [`IDLE_EXIT`] with nothing to
    /// do. Takes the lock held and returns without it.
    fn wait_for_job<'a>(&'a self, mut state: MutexGuard<'a, State>) -> Option<Job> {
        if !state.spinning {
            state.spinning = true;
            drop(state);
            let spin_until = Instant::now() + IDLE_SPIN;
            'spin: loop {
                // Reading the clock costs more than a look at the queue.
                for _ in 0..64 {
                    if self.queued.load(Ordering::SeqCst) > 0 {
                        break 'spin;
                    }
                    std::hint::spin_loop();
                }
                if Instant::now() >= spin_until {
                    break;
                }
            }
            state = lock(&self.state);
            state.spinning = false;
            if let Some(job) = self.pop(&mut state) {
                return Some(job);
            }
        }
        let park_until = Instant::now() + IDLE_EXIT;
        loop {
            state.parked += 1;
            let timeout = park_until.saturating_duration_since(Instant::now());
            let (guard, _) = self
                .work
                .wait_timeout(state, timeout)
                .unwrap_or_else(PoisonError::into_inner);
            state = guard;
            state.parked -= 1;
            // Whichever thread wakes takes the wake-up's place: what matters
            // is that someone awake looks at the queue.
            state.waking = state.waking.saturating_sub(1);
            if let Some(job) = self.pop(&mut state) {
                return Some(job);
            }
            if Instant::now() >= park_until {
                return None;
            }
        }
    }

    fn pop(&self, state: &mut State) -> Option<Job> {
        let job = state.queue.pop_front()?;
        self.queued.store(state.queue.len(), Ordering::SeqCst);
        Some(job)
    }
}

/// The state holds plain data, so a panic elsewhere cannot leave it broken.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_come_back_and_a_panic_is_lost_not_fatal() {
        let pool = Pool::default();
        let answer = pool.run(Duration::from_secs(5), |_| 6 * 7).await;
        assert!(matches!(answer, Ok(Ok(42))));
        let lost = pool
            .run(Duration::from_secs(5), |_| -> u8 { panic!("job panicked") })
            .await;
        assert!(matches!(lost, Ok(Err(Lost))));
        let again = pool.run(Duration::from_secs(5), |_| "still serving").await;
        assert!(matches!(again, Ok(Ok("still serving"))));
    }

    #[tokio::test]
    async fn a_slow_job_times_out_and_others_still_run() {
        let pool = Pool::default();
        let slow = pool.run(Duration::from_millis(50), |_| {
            std::thread::sleep(Duration::from_secs(2));
        });
        assert!(matches!(slow.await, Err(TimedOut)));
        let quick = pool.run(Duration::from_secs(5), |_| 1).await;
        assert!(matches!(quick, Ok(Ok(1))));
    }

    /// Two jobs where the first blocks until the second has run.
    async fn dependent_pair(pool: &Pool) -> bool {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let first = pool.run(Duration::from_secs(5), move |_| rx.recv().is_ok());
        let second = pool.run(Duration::from_secs(5), move |_| tx.send(()).is_ok());
        let (first, second) = tokio::join!(first, second);
        matches!((first, second), (Ok(Ok(true)), Ok(Ok(true))))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_that_wait_on_each_other_do_not_deadlock() {
        // A pool that did not grow past its busy threads would never finish.
        let pool = Pool::default();
        assert!(dependent_pair(&pool).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_reaches_parked_threads_while_one_spins() {
        // Regression: with one thread spinning and another parked, the
        // second job of a burst waited for the first to finish instead of
        // waking the parked thread. Idle gaps of different lengths catch the
        // threads spinning, parking and parked.
        let pool = Pool::default();
        for gap_us in [0, 10, 30, 60, 200, 1000, 5000] {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_micros(gap_us)).await;
                assert!(
                    dependent_pair(&pool).await,
                    "a burst stalled after an idle gap of {gap_us} µs"
                );
            }
        }
    }
}
