//! The host's side of the callbacks a plugin may use during a call.

#![expect(
    unsafe_code,
    reason = "the callbacks are `extern \"C\"` functions the plugin calls across the C ABI"
)]

use std::ffi::c_void;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;

use std::sync::Mutex;

use plugin_api::host::{NestedCall, NestedOutcome, RefusalReason};
use plugin_api::{HostApi, LogLevel, OutputSink, Progress, Status};

/// What a plugin reaches of its caller's side during a call: the tool calls
/// it asks for, its progress reports and messages for the client's log, and
/// whether the client has cancelled. The server implements it per call: it
/// authorises each nested call with the policies for the original caller, so
/// a plugin can never do more than its caller may, and it sends progress
/// and messages only where the client asked for them.
///
/// Called from the plugin's thread, never from the async runtime.
pub trait CallHooks: Send + Sync {
    /// Calls `tool` with `arguments` for the original caller, with the
    /// answers (`inputs`) to what it asked in an earlier round.
    fn call_tool(
        &self,
        tool: String,
        arguments: serde_json::Value,
        inputs: serde_json::Map<String, serde_json::Value>,
    ) -> Pin<Box<dyn Future<Output = NestedOutcome> + Send + 'static>>;

    /// Passes on a progress report. The host has already checked it: its
    /// numbers are finite, `done` grew since the last report passed on, and
    /// the call has made no more than [`MAX_PROGRESS_REPORTS`].
    fn progress(&self, progress: Progress) {
        let _ = progress;
    }

    /// Passes on a message for the client's log (cut to 16 KiB).
    fn notify(&self, level: LogLevel, message: String) {
        let _ = (level, message);
    }

    /// True once the client has cancelled the call or gone away.
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// The longest log message a plugin may write; longer ones are cut.
const MAX_LOG_BYTES: usize = 16 * 1024;

/// The most progress reports and client log messages one call passes on;
/// later ones are dropped, so a plugin cannot make the server send without
/// end.
pub const MAX_PROGRESS_REPORTS: u32 = 1024;

/// What the host remembers of a call's progress reports.
#[derive(Default)]
pub(crate) struct ProgressState {
    /// Reports and messages passed on so far.
    sent: u32,
    /// The `done` of the last report passed on.
    last: Option<f64>,
}

/// What the callbacks of one call need. Lives on the stack of the thread
/// running the call, for as long as the call.
pub(crate) struct CallScope<'a> {
    pub(crate) plugin: &'a str,
    pub(crate) tool: &'a str,
    pub(crate) request_id: &'a str,
    /// Makes the plugin's own tool calls, on the runtime that goes with it,
    /// and takes its progress, client messages and cancellation.
    pub(crate) hooks: Option<(&'a dyn CallHooks, &'a tokio::runtime::Handle)>,
    /// Whether the plugin may call tools: not when the call runs on the
    /// thread serving the request (a quick tool's), which a nested call
    /// would block on itself.
    pub(crate) may_call_tools: bool,
    /// Whether the caller of this call has stopped waiting for it.
    pub(crate) abandoned: &'a dyn Fn() -> bool,
    pub(crate) progress: Mutex<ProgressState>,
}

impl CallScope<'_> {
    /// The callbacks for this call, pointing back at `self`.
    pub(crate) fn api(&self) -> HostApi {
        HostApi {
            ctx: (self as *const Self).cast::<c_void>(),
            log: log_callback,
            call_tool: call_tool_callback,
            progress: progress_callback,
            is_cancelled: is_cancelled_callback,
            notify: notify_callback,
        }
    }

    /// Whether the plugin should stop: its caller stopped waiting, or the
    /// client cancelled.
    pub(crate) fn is_cancelled(&self) -> bool {
        (self.abandoned)() || self.hooks.is_some_and(|(hooks, _)| hooks.is_cancelled())
    }

    /// Passes a progress report on if it is sound and new, within the
    /// call's allowance.
    fn progress(&self, done: f64, total: f64, message: String) {
        let Some((hooks, _)) = self.hooks else {
            return;
        };
        let total = (!total.is_nan()).then_some(total);
        if !done.is_finite() || done < 0.0 || total.is_some_and(|t| !t.is_finite() || t < 0.0) {
            return;
        }
        {
            let mut state = self
                .progress
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if state.sent >= MAX_PROGRESS_REPORTS || state.last.is_some_and(|last| done <= last) {
                return;
            }
            state.sent += 1;
            state.last = Some(done);
        }
        hooks.progress(Progress {
            done,
            total,
            message: Some(message).filter(|message| !message.is_empty()),
        });
    }

    /// Passes a message for the client's log on, within the call's
    /// allowance.
    fn notify(&self, level: LogLevel, message: String) {
        let Some((hooks, _)) = self.hooks else {
            return;
        };
        {
            let mut state = self
                .progress
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if state.sent >= MAX_PROGRESS_REPORTS {
                return;
            }
            state.sent += 1;
        }
        hooks.notify(level, message);
    }

    fn log(&self, level: LogLevel, message: &str) {
        let (plugin, tool, request_id) = (self.plugin, self.tool, self.request_id);
        match level {
            LogLevel::ERROR => {
                tracing::error!(target: "plugin", plugin, tool, request_id, "{message}")
            }
            LogLevel::WARN => {
                tracing::warn!(target: "plugin", plugin, tool, request_id, "{message}")
            }
            LogLevel::INFO => {
                tracing::info!(target: "plugin", plugin, tool, request_id, "{message}")
            }
            _ => tracing::debug!(target: "plugin", plugin, tool, request_id, "{message}"),
        }
    }

    /// The answer to a plugin's request for a nested call: a
    /// [`NestedOutcome`] as JSON, or `None` when the host failed to make one
    /// (a panic here, which must not unwind into the plugin).
    pub(crate) fn answer_call(&self, request: &[u8]) -> Option<Vec<u8>> {
        let answer = catch_unwind(AssertUnwindSafe(|| {
            serde_json::to_vec(&self.call_tool(request)).unwrap_or_default()
        }));
        match answer {
            Ok(bytes) if !bytes.is_empty() => Some(bytes),
            Ok(_) => None,
            Err(payload) => {
                // Dropping a payload runs arbitrary code that may itself
                // panic: leak it instead.
                std::mem::forget(payload);
                None
            }
        }
    }

    fn call_tool(&self, request: &[u8]) -> NestedOutcome {
        let refused = |reason, message: String| NestedOutcome::Refused { reason, message };
        let call: NestedCall = match serde_json::from_slice(request) {
            Ok(call) => call,
            Err(err) => {
                return refused(
                    RefusalReason::Invalid,
                    format!("the nested call is not valid JSON for this ABI: {err}"),
                );
            }
        };
        if (self.abandoned)() {
            return refused(
                RefusalReason::Invalid,
                format!(
                    "`{}` was not called: the call that asked for it is no longer waited for (it ran past its time limit)",
                    call.tool
                ),
            );
        }
        if !self.may_call_tools {
            return refused(
                RefusalReason::Unavailable,
                format!(
                    "`{}` is declared quick, so it runs on the thread serving the request and cannot call other tools (`{}` here); declare it not quick to call tools",
                    self.tool, call.tool
                ),
            );
        }
        let Some((hooks, runtime)) = self.hooks else {
            return refused(
                RefusalReason::Unavailable,
                format!("`{}` cannot call other tools here", self.tool),
            );
        };
        tracing::debug!(
            plugin = self.plugin,
            tool = self.tool,
            request_id = self.request_id,
            nested = %call.tool,
            "plugin calls a tool"
        );
        // This thread belongs to the plugin pool, not to the runtime, so it
        // may block on the nested call.
        runtime.block_on(hooks.call_tool(call.tool, call.arguments, call.inputs))
    }
}

/// Turns bytes from a plugin into text, cut to `max` bytes on a character
/// boundary.
fn text_from(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]);
    if bytes.len() > max {
        format!("{} [cut at {max} bytes]", text.trim_end_matches('\u{FFFD}'))
    } else {
        text.into_owned()
    }
}

unsafe extern "C" fn log_callback(
    ctx: *const c_void,
    level: LogLevel,
    data: *const u8,
    len: usize,
) {
    if ctx.is_null() || data.is_null() {
        return;
    }
    // SAFETY: `ctx` is the `CallScope` whose `api()` the plugin was given,
    // alive for the call; the plugin passes `len` readable bytes. Only the
    // first `MAX_LOG_BYTES` are read.
    let (scope, bytes) = unsafe {
        (
            &*ctx.cast::<CallScope<'_>>(),
            std::slice::from_raw_parts(data, len.min(MAX_LOG_BYTES + 1)),
        )
    };
    // Unwinding out of an `extern "C"` function aborts the process; so
    // would a panic while dropping a panic's payload, which is leaked.
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| {
        scope.log(level, &text_from(bytes, MAX_LOG_BYTES));
    })) {
        std::mem::forget(payload);
    }
}

unsafe extern "C" fn call_tool_callback(
    ctx: *const c_void,
    data: *const u8,
    len: usize,
    out: OutputSink,
) -> Status {
    if ctx.is_null() || (data.is_null() && len > 0) {
        return Status::ERROR;
    }
    // SAFETY: as in `log_callback`.
    let (scope, request) = unsafe {
        (
            &*ctx.cast::<CallScope<'_>>(),
            if len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(data, len)
            },
        )
    };
    match scope.answer_call(request) {
        Some(bytes) => {
            // SAFETY: the sink the plugin passed to this callback.
            unsafe { out.write(&bytes) };
            Status::OK
        }
        None => {
            tracing::error!(
                plugin = scope.plugin,
                tool = scope.tool,
                "a nested tool call failed inside the host"
            );
            Status::ERROR
        }
    }
}

/// Reads `len` bytes of text from a plugin, cut to [`MAX_LOG_BYTES`].
///
/// # Safety
///
/// `data` must be null or point to `len` readable bytes.
unsafe fn read_text(data: *const u8, len: usize) -> String {
    if data.is_null() || len == 0 {
        return String::new();
    }
    // SAFETY: guaranteed by the caller; only the first `MAX_LOG_BYTES + 1`
    // bytes are read.
    let bytes = unsafe { std::slice::from_raw_parts(data, len.min(MAX_LOG_BYTES + 1)) };
    text_from(bytes, MAX_LOG_BYTES)
}

unsafe extern "C" fn progress_callback(
    ctx: *const c_void,
    done: f64,
    total: f64,
    data: *const u8,
    len: usize,
) {
    if ctx.is_null() {
        return;
    }
    // SAFETY: as in `log_callback`.
    let (scope, message) = unsafe { (&*ctx.cast::<CallScope<'_>>(), read_text(data, len)) };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| scope.progress(done, total, message))) {
        std::mem::forget(payload);
    }
}

unsafe extern "C" fn notify_callback(
    ctx: *const c_void,
    level: LogLevel,
    data: *const u8,
    len: usize,
) {
    if ctx.is_null() {
        return;
    }
    // SAFETY: as in `log_callback`.
    let (scope, message) = unsafe { (&*ctx.cast::<CallScope<'_>>(), read_text(data, len)) };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| scope.notify(level, message))) {
        std::mem::forget(payload);
    }
}

unsafe extern "C" fn is_cancelled_callback(ctx: *const c_void) -> u32 {
    if ctx.is_null() {
        return 0;
    }
    // SAFETY: as in `log_callback`.
    let scope = unsafe { &*ctx.cast::<CallScope<'_>>() };
    match catch_unwind(AssertUnwindSafe(|| scope.is_cancelled())) {
        Ok(cancelled) => u32::from(cancelled),
        Err(payload) => {
            std::mem::forget(payload);
            1
        }
    }
}

/// Shared ownership of [`CallHooks`], as calls take them.
pub(crate) type SharedHooks = Arc<dyn CallHooks>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_log_messages_are_cut_on_a_character_boundary() {
        let text = "é".repeat(10);
        let cut = text_from(text.as_bytes(), 5);
        assert_eq!(cut, "éé [cut at 5 bytes]");
        assert_eq!(text_from(b"short", 5), "short");
    }
}
