//! What the host offers a plugin during a call: logging into the server's
//! log, and calling other tools on behalf of the same caller.
//!
//! The host passes a [`HostApi`] to every `invoke`. It is valid until that
//! `invoke` returns, and its functions may be called from any thread in the
//! meantime (a tool may fan its work out over scoped threads).

use std::ffi::c_void;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{OutputSink, Status, ToolResult};

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

/// The host's callbacks for one call.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct HostApi {
    /// Opaque pointer to the host's state for this call; passed back unchanged.
    pub ctx: *const c_void,
    /// Writes a message to the server's log, attributed to the plugin and tool.
    pub log: LogFn,
    /// Calls another tool for the caller of this call.
    pub call_tool: CallToolFn,
}

/// A tool call a plugin asks the host to make.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NestedCall {
    /// The tool to call.
    pub tool: String,
    /// Its arguments (an object).
    #[serde(default)]
    pub arguments: Value,
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
