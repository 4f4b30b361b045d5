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
/// counts as idle again before the caller can hear back (and queue its next
/// call, which would otherwise start a thread it does not need).
type Job = Box<dyn FnOnce() -> Deliver + Send>;
type Deliver = Box<dyn FnOnce() + Send>;

/// How long an idle thread looks for work before it parks.
const IDLE_SPIN: Duration = Duration::from_micros(50);
/// How long a caller polls for its answer before it waits to be woken.
const ANSWER_SPIN: Duration = Duration::from_micros(50);
/// How long a parked thread waits for work before it leaves.
const IDLE_EXIT: Duration = Duration::from_secs(60);

/// A growable set of threads for blocking plugin calls.
#[derive(Clone, Default)]
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Job>>,
    work: Condvar,
    /// Jobs in the queue, readable without the lock by spinning threads.
    queued: AtomicUsize,
    /// Threads not running a job (spinning or parked).
    idle: AtomicUsize,
    /// Threads parked on `work`.
    parked: AtomicUsize,
    /// Threads spinning for work: at most one, so that idle threads never
    /// crowd out the ones doing work (or their callers) on a small machine.
    spinning: AtomicUsize,
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
    /// answer dropped: a plugin call cannot be stopped from outside.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        limit: Duration,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Result<T, Lost>, TimedOut> {
        let started = Instant::now();
        let (answer, mut answered) = oneshot::channel();
        self.submit(Box::new(move || {
            let value = job();
            Box::new(move || {
                // A failed send means the caller gave up waiting; nothing to do.
                let _ = answer.send(value);
            })
        }));
        while started.elapsed() < ANSWER_SPIN {
            match answered.try_recv() {
                Ok(value) => return Ok(Ok(value)),
                Err(oneshot::error::TryRecvError::Closed) => return Ok(Err(Lost)),
                Err(oneshot::error::TryRecvError::Empty) => tokio::task::yield_now().await,
            }
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
        let mut queue = lock(&shared.queue);
        queue.push_back(job);
        let queued = shared.queued.fetch_add(1, Ordering::SeqCst) + 1;
        drop(queue);
        // Every idle thread may already be claimed by an earlier job: add a
        // thread whenever the queue is longer than the idle threads.
        if shared.idle.load(Ordering::SeqCst) < queued {
            self.spawn_thread();
        } else if shared.spinning.load(Ordering::SeqCst) == 0
            && shared.parked.load(Ordering::SeqCst) > 0
        {
            // A spinning thread will take the job (or see it when it stops
            // spinning, under the lock, before it parks); waking a parked
            // one as well would cost a system call and a context switch.
            shared.work.notify_one();
        }
    }

    fn spawn_thread(&self) {
        let shared = Arc::clone(&self.shared);
        shared.idle.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("plugin-call".to_owned())
            .spawn(move || shared.work_loop());
        if let Err(err) = spawned {
            // The job stays queued for the threads there are.
            self.shared.idle.fetch_sub(1, Ordering::SeqCst);
            tracing::error!(%err, "could not start a plugin thread; the call waits for a free one");
            self.shared.work.notify_one();
        }
    }
}

impl Shared {
    fn work_loop(&self) {
        while let Some(job) = self.next_job() {
            self.idle.fetch_sub(1, Ordering::SeqCst);
            // The host's jobs catch plugin panics themselves; this keeps the
            // thread alive if the host's own code ever panics.
            let deliver = catch_unwind(AssertUnwindSafe(job));
            self.idle.fetch_add(1, Ordering::SeqCst);
            if let Ok(deliver) = deliver {
                deliver();
            }
        }
    }

    /// The next job: spins briefly, then parks; `None` after [`IDLE_EXIT`]
    /// with nothing to do, when the thread has stopped counting as idle.
    fn next_job(&self) -> Option<Job> {
        if self
            .spinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            let job = self.spin_for_job();
            self.spinning.store(0, Ordering::SeqCst);
            if job.is_some() {
                return job;
            }
        }
        let mut queue = lock(&self.queue);
        let park_until = Instant::now() + IDLE_EXIT;
        loop {
            if let Some(job) = self.pop(&mut queue) {
                return Some(job);
            }
            let now = Instant::now();
            if now >= park_until {
                // Under the lock, so that a job queued after this check sees
                // one idle thread fewer and starts a thread of its own.
                self.idle.fetch_sub(1, Ordering::SeqCst);
                return None;
            }
            self.parked.fetch_add(1, Ordering::SeqCst);
            let (guard, _) = self
                .work
                .wait_timeout(queue, park_until - now)
                .unwrap_or_else(PoisonError::into_inner);
            self.parked.fetch_sub(1, Ordering::SeqCst);
            queue = guard;
        }
    }

    fn spin_for_job(&self) -> Option<Job> {
        let spin_until = Instant::now() + IDLE_SPIN;
        loop {
            // Reading the clock costs more than a look at the queue.
            for _ in 0..64 {
                if self.queued.load(Ordering::SeqCst) > 0
                    && let Some(job) = self.pop(&mut lock(&self.queue))
                {
                    return Some(job);
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= spin_until {
                return None;
            }
        }
    }

    fn pop(&self, queue: &mut MutexGuard<'_, VecDeque<Job>>) -> Option<Job> {
        let job = queue.pop_front()?;
        self.queued.fetch_sub(1, Ordering::SeqCst);
        Some(job)
    }
}

/// The queue holds plain data, so a panic elsewhere cannot leave it broken.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_come_back_and_a_panic_is_lost_not_fatal() {
        let pool = Pool::default();
        let answer = pool.run(Duration::from_secs(5), || 6 * 7).await;
        assert!(matches!(answer, Ok(Ok(42))));
        let lost = pool
            .run(Duration::from_secs(5), || -> u8 { panic!("job panicked") })
            .await;
        assert!(matches!(lost, Ok(Err(Lost))));
        let again = pool.run(Duration::from_secs(5), || "still serving").await;
        assert!(matches!(again, Ok(Ok("still serving"))));
    }

    #[tokio::test]
    async fn a_slow_job_times_out_and_others_still_run() {
        let pool = Pool::default();
        let slow = pool.run(Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(2));
        });
        assert!(matches!(slow.await, Err(TimedOut)));
        let quick = pool.run(Duration::from_secs(5), || 1).await;
        assert!(matches!(quick, Ok(Ok(1))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_that_wait_on_each_other_do_not_deadlock() {
        // Each job blocks until the next one has run: a pool that did not
        // grow past its busy threads would never finish.
        let pool = Pool::default();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let first = pool.run(Duration::from_secs(10), move || rx.recv().is_ok());
        let second = pool.run(Duration::from_secs(10), move || tx.send(()).is_ok());
        let (first, second) = tokio::join!(first, second);
        assert!(matches!(first, Ok(Ok(true))));
        assert!(matches!(second, Ok(Ok(true))));
    }
}
