//! Where log lines go: stderr, written by a thread of its own.
//!
//! Every request logs a line or two, and writing each to stderr as it is
//! made is a system call on the thread serving the request. Here a line is
//! appended to a buffer under a lock and a writer thread writes whatever
//! has gathered in one call. Waking the writer is a system call too, so it
//! is woken only by the first line after it went idle; it then lets lines
//! gather for [`GATHER`] before each write, and goes idle only once a write
//! finds nothing new. Under load one write carries hundreds of lines and
//! nobody is woken; on a quiet server a line is out within [`GATHER`].
//!
//! Nothing is dropped. Past [`CAP`] bytes waiting (stderr not read), a line
//! waits for room, as a direct write would. Warnings and errors are written
//! at once, after the lines before them, so that the last words before a
//! failure are out; the panic hook and [`Flushing`]'s drop write out the
//! rest.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use tracing_subscriber::fmt::MakeWriter;

/// How many bytes may wait for the writer before a new line waits too.
const CAP: usize = 4 << 20;
/// How long the writer lets lines gather before it writes them.
const GATHER: std::time::Duration = std::time::Duration::from_millis(2);

/// The buffer and the writer thread's state.
#[derive(Default)]
struct Queue {
    lines: Vec<u8>,
    /// The writer is asleep, waiting for lines.
    idle: bool,
    /// No more lines will come; the writer writes what is left and ends.
    closed: bool,
    /// The writer is writing a batch taken from `lines`.
    writing: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Lines are waiting (the writer's wake-up).
    lines: Condvar,
    /// The buffer has room again (a full buffer's waiting writers).
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, bytes: &[u8]) {
        let mut queue = self.lock();
        while queue.lines.len() >= CAP && !queue.closed {
            queue = self
                .room
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if queue.closed {
            drop(queue);
            write_stderr(bytes);
            return;
        }
        queue.lines.extend_from_slice(bytes);
        if queue.idle {
            queue.idle = false;
            self.lines.notify_one();
        }
    }

    /// Writes everything waiting, on this thread, under the lock (so that
    /// nothing written after it can overtake it).
    fn flush_then(&self, bytes: &[u8]) {
        let mut queue = self.lock();
        // The writer's batch came before what is waiting.
        while queue.writing {
            queue = self
                .room
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let mut out = std::io::stderr().lock();
        let _ = out.write_all(&queue.lines);
        let _ = out.write_all(bytes);
        let _ = out.flush();
        queue.lines.clear();
        self.room.notify_all();
    }

    /// The writer thread: takes what has gathered and writes it in one go.
    fn run(&self) {
        let mut batch = Vec::new();
        loop {
            {
                let mut queue = self.lock();
                while queue.lines.is_empty() {
                    if queue.closed {
                        return;
                    }
                    queue.idle = true;
                    queue = self
                        .lines
                        .wait(queue)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
            // Lines that come meanwhile join this write, and wake no one.
            if !self.lock().closed {
                std::thread::sleep(GATHER);
            }
            {
                let mut queue = self.lock();
                std::mem::swap(&mut batch, &mut queue.lines);
                queue.writing = true;
            }
            write_stderr(&batch);
            self.lock().writing = false;
            self.room.notify_all();
            batch.clear();
            // A burst's buffer is not kept for ever.
            batch.shrink_to(64 << 10);
        }
    }
}

fn write_stderr(bytes: &[u8]) {
    let mut out = std::io::stderr().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

/// The `tracing` writer over the queue.
#[derive(Clone)]
pub(crate) struct BatchedStderr {
    shared: Arc<Shared>,
}

/// Ends the writer thread when dropped, once it has written every line.
pub(crate) struct Flushing {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Flushing {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.lines.notify_one();
        self.shared.room.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer and its thread; also writes out the waiting lines before a
/// panic's message.
pub(crate) fn batched_stderr() -> std::io::Result<(BatchedStderr, Flushing)> {
    let shared = Arc::new(Shared::default());
    let thread = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("log-writer".to_owned())
            .spawn(move || shared.run())?
    };
    let previous = std::panic::take_hook();
    let on_panic = Arc::clone(&shared);
    std::panic::set_hook(Box::new(move |info| {
        on_panic.flush_then(&[]);
        previous(info);
    }));
    Ok((
        BatchedStderr {
            shared: Arc::clone(&shared),
        },
        Flushing {
            shared,
            thread: Some(thread),
        },
    ))
}

/// One line on its way: appended when written, or, for a warning or an
/// error, written at once after everything before it.
pub(crate) struct Line<'a> {
    shared: &'a Shared,
    urgent: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.urgent {
            self.shared.flush_then(bytes);
        } else {
            self.shared.append(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedStderr {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            shared: &self.shared,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Line<'a> {
        Line {
            shared: &self.shared,
            urgent: *meta.level() <= tracing::Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wait_past_the_cap_rather_than_grow_the_buffer() {
        let shared = Shared::default();
        shared.lock().lines = vec![b'x'; CAP];
        let waiting = std::thread::scope(|scope| {
            let appending = scope.spawn(|| shared.append(b"line\n"));
            std::thread::sleep(std::time::Duration::from_millis(50));
            let waiting = !appending.is_finished();
            // The writer takes the buffer: room again.
            std::mem::take(&mut shared.lock().lines);
            shared.room.notify_all();
            waiting
        });
        assert!(waiting, "a line past the cap must wait for room");
        assert_eq!(shared.lock().lines, b"line\n");
    }

    #[test]
    fn the_writer_ends_only_after_writing_what_was_waiting() {
        let shared = Arc::new(Shared::default());
        shared.append(b"");
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || shared.run())
        };
        shared.append(b"last words\n");
        drop(Flushing {
            shared: Arc::clone(&shared),
            thread: Some(thread),
        });
        assert!(shared.lock().lines.is_empty());
    }
}
