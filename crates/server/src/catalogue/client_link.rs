//! What a running call may send back to the client that made it, and
//! whether that client has cancelled it.
//!
//! The MCP door makes a [`ClientLink`] per `tools/call`: progress when the
//! request carried a progress token, messages at or above the log level the
//! client asked for, and its cancellation. The REST door has none. A call's
//! plugin reaches it through its [`CallHooks`](plugin_host::CallHooks);
//! nested calls share it, but only the client's own call reports progress,
//! since one progress token stands for one call.

use std::sync::Arc;

use plugin_host::{LogLevel, Progress};
use tokio::sync::mpsc;

/// Something sent to the client while its call runs.
#[derive(Debug)]
pub(crate) enum Notice {
    Progress(Progress),
    Log(LogLevel, String),
}

/// How many notices may wait to be sent; more are dropped, so a plugin
/// that reports faster than the client reads cannot grow memory.
const QUEUE: usize = 64;

/// The way back to the client for one call; empty (nothing sent, never
/// cancelled) by default.
#[derive(Clone, Default)]
pub(crate) struct ClientLink {
    notices: Option<mpsc::Sender<Notice>>,
    /// The client asked for progress.
    progress: bool,
    /// The least severe message the client wants, when it wants any.
    log_level: Option<LogLevel>,
    cancelled: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
}

impl ClientLink {
    /// A link that sends progress (when `progress`) and messages at
    /// `log_level` or above into a queue, and asks `cancelled`; the receiver
    /// is for the door to forward from. When the client wants neither,
    /// there is no queue (and no receiver): the call only learns of its
    /// cancellation.
    pub(crate) fn new(
        progress: bool,
        log_level: Option<LogLevel>,
        cancelled: Arc<dyn Fn() -> bool + Send + Sync>,
    ) -> (Self, Option<mpsc::Receiver<Notice>>) {
        if !progress && log_level.is_none() {
            let link = Self {
                cancelled: Some(cancelled),
                ..Self::default()
            };
            return (link, None);
        }
        let (sender, receiver) = mpsc::channel(QUEUE);
        (
            Self {
                notices: Some(sender),
                progress,
                log_level,
                cancelled: Some(cancelled),
            },
            Some(receiver),
        )
    }

    /// Whether the client has cancelled the call or gone away.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.as_ref().is_some_and(|cancelled| cancelled())
    }

    /// Queues a progress report if the client asked for progress.
    pub(crate) fn progress(&self, progress: Progress) {
        if self.progress {
            self.send(Notice::Progress(progress));
        }
    }

    /// Queues a message if the client wants messages at `level`.
    pub(crate) fn log(&self, level: LogLevel, message: String) {
        if self
            .log_level
            .is_some_and(|least| severity(level) >= severity(least))
        {
            self.send(Notice::Log(level, message));
        }
    }

    fn send(&self, notice: Notice) {
        if let Some(notices) = &self.notices {
            // Full means the client reads slower than the plugin reports:
            // dropping a report loses nothing a later one does not restate.
            let _ = notices.try_send(notice);
        }
    }
}

/// Higher is more severe.
fn severity(level: LogLevel) -> u32 {
    match level {
        LogLevel::ERROR => 4,
        LogLevel::WARN => 3,
        LogLevel::INFO => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_client_asked_for_is_queued() {
        let (link, queued) = ClientLink::new(false, Some(LogLevel::WARN), Arc::new(|| false));
        let mut queued = queued.expect("a queue for the messages");
        link.progress(Progress {
            done: 1.0,
            total: None,
            message: None,
        });
        link.log(LogLevel::INFO, "detail".to_owned());
        link.log(LogLevel::ERROR, "failed".to_owned());
        drop(link);
        let mut received = Vec::new();
        while let Ok(notice) = queued.try_recv() {
            received.push(format!("{notice:?}"));
        }
        assert_eq!(received, [r#"Log(LogLevel(1), "failed")"#]);
        assert!(!ClientLink::default().is_cancelled());
        let (quiet, none) = ClientLink::new(false, None, Arc::new(|| true));
        assert!(none.is_none(), "no queue when the client wants nothing");
        assert!(quiet.is_cancelled());
    }

    #[test]
    fn a_client_that_reads_slowly_loses_reports_not_memory() {
        let (link, queued) = ClientLink::new(true, None, Arc::new(|| true));
        let mut queued = queued.expect("a queue for the reports");
        for step in 0..1000_u32 {
            link.progress(Progress {
                done: f64::from(step),
                total: None,
                message: None,
            });
        }
        assert!(link.is_cancelled());
        drop(link);
        let mut count = 0;
        while queued.try_recv().is_ok() {
            count += 1;
        }
        assert_eq!(count, QUEUE);
    }
}
