//! What the host hands a plugin: the sink it writes its answers into, the
//! status codes it answers with, and during a call the callbacks to log into
//! the server's log and to call other tools on behalf of the same caller.
//!
//! The host passes a [`HostApi`] to every `invoke`. It is valid until that
//! `invoke` returns, and its functions may be called from any thread in the
//! meantime (a tool may fan its work out over scoped threads).
//!
//! One of the two modules of this crate that may use `unsafe` (the other is
//! `abi`): [`HostHandle`] is the only way the rest of the crate reaches the
//! callbacks, through safe methods.

#![expect(
    unsafe_code,
    reason = "calling the host's callbacks is the plugin side of the C ABI"
)]

use std::ffi::c_void;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ToolResult;

/// The host's callbacks for the call in progress, checked non-null.
pub(crate) struct HostHandle(*const HostApi);

// SAFETY: the host's callbacks may be called from any thread while the call
// runs (the rule above), and a handle lives in a `ToolContext`, which never
// outlives its call (tools only borrow it, so only `Sync` is needed).
unsafe impl Sync for HostHandle {}

impl HostHandle {
    /// The handle for `host`, or `None` when the host passed none.
    ///
    /// # Safety
    ///
    /// `host` must be null or point to a [`HostApi`] that stays valid, with
    /// thread-safe callbacks, for as long as the handle lives.
    pub(crate) unsafe fn new(host: *const HostApi) -> Option<Self> {
        (!host.is_null()).then_some(Self(host))
    }

    fn api(&self) -> &HostApi {
        // SAFETY: `new`'s contract: non-null and valid while the handle lives.
        unsafe { &*self.0 }
    }

    /// Writes `message` to the server's log.
    pub(crate) fn log(&self, level: LogLevel, message: &str) {
        let host = self.api();
        // SAFETY: the callback is live for the call, and the message is a
        // live UTF-8 slice for the duration of this call.
        unsafe { (host.log)(host.ctx, level, message.as_ptr(), message.len()) }
    }

    /// Reports how far the call has come.
    pub(crate) fn progress(&self, done: f64, total: Option<f64>, message: &str) {
        let host = self.api();
        // SAFETY: the callback is live for the call, and the message is a
        // live UTF-8 slice for the duration of this call.
        unsafe {
            (host.progress)(
                host.ctx,
                done,
                total.unwrap_or(f64::NAN),
                message.as_ptr(),
                message.len(),
            )
        }
    }

    /// Whether the client has cancelled the call or gone away.
    pub(crate) fn is_cancelled(&self) -> bool {
        let host = self.api();
        // SAFETY: the callback is live for the call.
        unsafe { (host.is_cancelled)(host.ctx) != 0 }
    }

    /// Sends `message` to the client's log.
    pub(crate) fn notify(&self, level: LogLevel, message: &str) {
        let host = self.api();
        // SAFETY: the callback is live for the call, and the message is a
        // live UTF-8 slice for the duration of this call.
        unsafe { (host.notify)(host.ctx, level, message.as_ptr(), message.len()) }
    }

    /// Calls tool `name` through the host, for the same caller.
    pub(crate) fn call_tool(
        &self,
        name: &str,
        arguments: Value,
        inputs: serde_json::Map<String, Value>,
    ) -> Result<ToolResult, CallToolError> {
        call_through_host(self.api(), name, arguments, inputs)
    }
}

/// Callback through which a plugin hands output bytes to the host.
///
/// The plugin may call it any number of times; the host appends each chunk.
/// `data` points to `len` readable bytes valid for the duration of the call.
pub type WriteFn = unsafe extern "C" fn(ctx: *mut c_void, data: *const u8, len: usize);

/// A host-owned output buffer, as seen by the plugin.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct OutputSink {
    /// Opaque pointer to the host's buffer; passed back to `write` unchanged.
    pub ctx: *mut c_void,
    /// Appends bytes to the host's buffer.
    pub write: WriteFn,
}

impl OutputSink {
    /// Appends `bytes` to the host's buffer.
    ///
    /// # Safety
    ///
    /// The sink must be one the host passed to this call (or a sink whose
    /// `write` accepts this `ctx`), used before the call returns.
    pub unsafe fn write(&self, bytes: &[u8]) {
        // SAFETY: the caller guarantees `ctx` and `write` belong together and
        // are live; `bytes` is a live slice for the duration of this call.
        unsafe { (self.write)(self.ctx, bytes.as_ptr(), bytes.len()) }
    }
}

/// What a `describe` or `invoke` call reports back to the host.
///
/// A plain integer rather than a Rust enum: a value read across the boundary
/// from a misbehaving library must not be able to be an invalid enum.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub u32);

impl Status {
    /// The output holds the JSON payload the call promises.
    pub const OK: Self = Self(0);
    /// The output holds a UTF-8 message explaining why the call failed.
    pub const ERROR: Self = Self(1);
    /// The plugin panicked; the output holds the panic message.
    pub const PANIC: Self = Self(2);
}

/// The severity of a plugin's log message, as a plain integer so that a
/// value from a misbehaving library cannot be an invalid enum.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLevel(pub u32);

impl LogLevel {
    /// Something failed.
    pub const ERROR: Self = Self(1);
    /// Something looks wrong but the work goes on.
    pub const WARN: Self = Self(2);
    /// A notable step.
    pub const INFO: Self = Self(3);
    /// Detail for whoever debugs the plugin.
    pub const DEBUG: Self = Self(4);
}

/// The host's log callback: `message[..len]` is UTF-8 text.
pub type LogFn =
    unsafe extern "C" fn(ctx: *const c_void, level: LogLevel, message: *const u8, len: usize);

/// The host's tool-call callback: reads a [`NestedCall`] as JSON from
/// `request[..len]` and writes a [`NestedOutcome`] as JSON to `out`.
pub type CallToolFn = unsafe extern "C" fn(
    ctx: *const c_void,
    request: *const u8,
    len: usize,
    out: OutputSink,
) -> Status;

/// The host's progress callback: `done` so far out of `total` (NaN when the
/// total is unknown), with `message[..len]` as UTF-8 text (empty for none).
pub type ProgressFn =
    unsafe extern "C" fn(ctx: *const c_void, done: f64, total: f64, message: *const u8, len: usize);

/// The host's cancellation check: non-zero once the client has cancelled
/// the call or gone away.
pub type IsCancelledFn = unsafe extern "C" fn(ctx: *const c_void) -> u32;

/// The host's callbacks for one call.
///
/// Fields are only ever added at the end, so a plugin built against an
/// older version reads the prefix it knows.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct HostApi {
    /// Opaque pointer to the host's state for this call; passed back unchanged.
    pub ctx: *const c_void,
    /// Writes a message to the server's log, attributed to the plugin and tool.
    pub log: LogFn,
    /// Calls another tool for the caller of this call.
    pub call_tool: CallToolFn,
    /// Reports progress to the client, when it asked for progress. Since
    /// version 3.
    pub progress: ProgressFn,
    /// Whether the call was cancelled. Since version 3.
    pub is_cancelled: IsCancelledFn,
    /// Sends a message to the client's log (MCP `notifications/message`),
    /// when the client asked for messages at that level. Since version 3.
    pub notify: LogFn,
}

/// A tool call a plugin asks the host to make.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NestedCall {
    /// The tool to call.
    pub tool: String,
    /// Its arguments (an object).
    #[serde(default)]
    pub arguments: Value,
    /// Answers to what the called tool asked in an earlier round, by its
    /// keys, which the calling tool passes on (see [`crate::input`]).
    /// Since ABI version 3.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub inputs: serde_json::Map<String, Value>,
}

/// What came of a [`NestedCall`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum NestedOutcome {
    /// The tool ran; its result may still be a tool error.
    Completed {
        /// The tool's result.
        result: ToolResult,
    },
    /// The call did not run; the message says why.
    Refused {
        /// Why the call was refused.
        reason: RefusalReason,
        /// Words for the caller.
        message: String,
    },
}

/// Why the host refused to make a nested call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The policies do not let the original caller call the tool.
    Denied,
    /// No tool has that name.
    UnknownTool,
    /// Calls nested too deeply, or the request was malformed.
    Invalid,
    /// There is no host to call through (a tool run outside the server).
    Unavailable,
}

/// A nested call that did not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallToolError {
    /// Why it did not run.
    pub reason: RefusalReason,
    /// Words for the caller.
    pub message: String,
}

impl std::fmt::Display for CallToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallToolError {}

fn call_through_host(
    host: &HostApi,
    name: &str,
    arguments: Value,
    inputs: serde_json::Map<String, Value>,
) -> Result<ToolResult, CallToolError> {
    let invalid = |message: String| CallToolError {
        reason: RefusalReason::Invalid,
        message,
    };
    let request = serde_json::to_vec(&NestedCall {
        tool: name.to_owned(),
        arguments,
        inputs,
    })
    .map_err(|err| invalid(format!("cannot encode the call to `{name}`: {err}")))?;
    let mut answer = Vec::new();
    let sink = OutputSink {
        ctx: (&mut answer as *mut Vec<u8>).cast(),
        write: append_to_vec,
    };
    // SAFETY: the host's callback for this call; the request and the sink's
    // buffer outlive it.
    let status = unsafe { (host.call_tool)(host.ctx, request.as_ptr(), request.len(), sink) };
    read_outcome(name, status, &answer)
}

/// What came of a nested call to `name`, from the status and the bytes of
/// the host's answer.
pub(crate) fn read_outcome(
    name: &str,
    status: Status,
    answer: &[u8],
) -> Result<ToolResult, CallToolError> {
    let invalid = |message: String| CallToolError {
        reason: RefusalReason::Invalid,
        message,
    };
    if status != Status::OK {
        return Err(invalid(format!(
            "the server could not call `{name}`: {}",
            String::from_utf8_lossy(answer)
        )));
    }
    match serde_json::from_slice::<NestedOutcome>(answer) {
        Ok(NestedOutcome::Completed { result }) => Ok(result),
        Ok(NestedOutcome::Refused { reason, message }) => Err(CallToolError { reason, message }),
        Err(err) => Err(invalid(format!(
            "the server's answer to the call to `{name}` is not understood: {err}"
        ))),
    }
}

/// The plugin's own write callback, for answers from the host.
pub(crate) unsafe extern "C" fn append_to_vec(ctx: *mut c_void, data: *const u8, len: usize) {
    if ctx.is_null() || data.is_null() || len == 0 {
        return;
    }
    // SAFETY: `ctx` is the answer `Vec` of `call_through_host` (or of
    // `invoke_without_host`), alive and not otherwise borrowed during the
    // callback, and `data` holds `len` bytes.
    unsafe {
        (*ctx.cast::<Vec<u8>>()).extend_from_slice(std::slice::from_raw_parts(data, len));
    }
}

/// One progress report a tool made.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// How much is done, in the tool's own unit (steps, bytes).
    pub done: f64,
    /// How much there is in all, when known.
    pub total: Option<f64>,
    /// What the tool is doing now.
    pub message: Option<String>,
}

type LocalTools = dyn Fn(&str, Value) -> Result<ToolResult, CallToolError> + Send + Sync;

/// A host for running tools outside the server, in a plugin's own tests:
/// it answers nested tool calls with a function, keeps the progress reports
/// and client log messages a tool makes, and can be cancelled.
#[derive(Default)]
pub struct LocalHost {
    tools: Option<Box<LocalTools>>,
    progress: std::sync::Mutex<Vec<Progress>>,
    messages: std::sync::Mutex<Vec<(LogLevel, String)>>,
    cancelled: std::sync::atomic::AtomicBool,
}

impl LocalHost {
    /// A host that refuses nested calls as unavailable.
    pub fn new() -> Self {
        Self::default()
    }

    /// A host whose nested tool calls are answered by `tools`.
    pub fn with_tools(
        tools: impl Fn(&str, Value) -> Result<ToolResult, CallToolError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            tools: Some(Box::new(tools)),
            ..Self::default()
        }
    }

    /// Cancels the call, as a client sending `notifications/cancelled` would.
    pub fn cancel(&self) {
        self.cancelled
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The progress reports made so far, in order.
    pub fn progress(&self) -> Vec<Progress> {
        self.progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The messages sent to the client's log so far, in order.
    pub fn messages(&self) -> Vec<(LogLevel, String)> {
        self.messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn call_tool(
        &self,
        name: &str,
        arguments: Value,
    ) -> Result<ToolResult, CallToolError> {
        match &self.tools {
            Some(tools) => tools(name, arguments),
            None => Err(CallToolError {
                reason: RefusalReason::Unavailable,
                message: format!(
                    "cannot call `{name}`: this tool is running outside the server, with no host to call through"
                ),
            }),
        }
    }

    pub(crate) fn record_progress(&self, progress: Progress) {
        self.progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(progress);
    }

    pub(crate) fn record_message(&self, level: LogLevel, message: &str) {
        self.messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((level, message.to_owned()));
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(std::sync::atomic::Ordering::Relaxed)
    }
}
