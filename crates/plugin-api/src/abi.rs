//! The raw boundary: the vtable a plugin exports and the trampolines that
//! turn a [`Plugin`] into `extern "C"` functions that never let a panic
//! unwind into the host.
//!
//! One of the two modules of this crate that may use `unsafe` (the other is
//! `host`, the callbacks); everything above them is safe Rust.

#![expect(
    unsafe_code,
    reason = "the exported functions and the sink are the plugin side of the C ABI"
)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;

use crate::host::{HostApi, HostHandle, OutputSink, Status, append_to_vec};
use crate::types::{IncomingCall, PromptRequest, ResourceRequest};
use crate::{Plugin, ToolContext};

/// The version of the layout of [`PluginVTable`], of [`HostApi`] and of the
/// JSON payloads.
///
/// Bumped on any incompatible change. Version 2 added the host callbacks to
/// `invoke`; version 3 added resources and prompts to the vtable, and
/// progress, cancellation and logging to the client to the callbacks.
pub const ABI_VERSION: u32 = 3;

/// The oldest version the host still loads. A version 2 plugin's vtable is
/// [`PluginVTableV2`], the first fields of [`PluginVTable`], and it reads
/// only the first fields of the [`HostApi`] it is given; it has no
/// resources or prompts.
pub const OLDEST_ABI_VERSION: u32 = 2;

/// The name of the symbol every plugin exports, NUL-terminated for the loader.
///
/// The symbol is a [`PluginEntryFn`].
pub const ENTRY_SYMBOL: &[u8] = b"orchestrator_plugin_entry\0";

/// The type of the exported entry point.
pub type PluginEntryFn = unsafe extern "C" fn() -> *const PluginVTable;

/// The table of functions a plugin exports. `abi_version` must stay first.
#[repr(C)]
pub struct PluginVTable {
    /// Must equal [`ABI_VERSION`] of the host.
    pub abi_version: u32,
    /// Writes the plugin's [`PluginDescriptor`] as JSON to the sink.
    pub describe: unsafe extern "C" fn(out: OutputSink) -> Status,
    /// Reads a [`CallRequest`] as JSON from `request[..request_len]` and writes
    /// a [`ToolResult`] as JSON to the sink. `host` points to the host's
    /// callbacks, valid (and callable from any thread) until `invoke` returns.
    pub invoke: InvokeFn,
    /// Reads a [`ResourceRequest`] as JSON and writes a
    /// [`ResourceOutcome`](crate::ResourceOutcome) as JSON to the sink.
    /// Since version 3.
    pub read_resource: InvokeFn,
    /// Reads a [`PromptRequest`] as JSON and writes a
    /// [`PromptOutcome`](crate::PromptOutcome) as JSON to the sink. Since
    /// version 3.
    pub get_prompt: InvokeFn,
}

/// The vtable of ABI version 2: the first fields of [`PluginVTable`], which
/// is all a version 2 plugin exports.
#[repr(C)]
pub struct PluginVTableV2 {
    /// 2.
    pub abi_version: u32,
    /// As in [`PluginVTable`].
    pub describe: unsafe extern "C" fn(out: OutputSink) -> Status,
    /// As in [`PluginVTable`]; the plugin reads only the version 2 fields of
    /// the [`HostApi`] it is passed (`ctx`, `log`, `call_tool`).
    pub invoke: InvokeFn,
}

/// The type of a plugin's `invoke` (and of `read_resource` and
/// `get_prompt`, which take the same arguments).
pub type InvokeFn = unsafe extern "C" fn(
    request: *const u8,
    request_len: usize,
    host: *const HostApi,
    out: OutputSink,
) -> Status;

impl PluginVTable {
    /// The vtable for plugin `P`. Used by [`export_plugin!`].
    pub const fn for_plugin<P: Plugin>() -> Self {
        Self {
            abi_version: ABI_VERSION,
            describe: describe_trampoline::<P>,
            invoke: invoke_trampoline::<P>,
            read_resource: read_resource_trampoline::<P>,
            get_prompt: get_prompt_trampoline::<P>,
        }
    }
}

unsafe extern "C" fn describe_trampoline<P: Plugin>(out: OutputSink) -> Status {
    let work = || {
        P::start().map_err(|err| format!("the plugin did not start: {err}"))?;
        serde_json::to_vec(&P::describe())
            .map_err(|err| format!("plugin descriptor could not be serialised: {err}"))
    };
    // SAFETY: `out` is the sink the host passed to this call.
    unsafe { guarded(out, work) }
}

unsafe extern "C" fn invoke_trampoline<P: Plugin>(
    request: *const u8,
    request_len: usize,
    host: *const HostApi,
    out: OutputSink,
) -> Status {
    let work = || {
        let bytes = if request.is_null() || request_len == 0 {
            &[][..]
        } else {
            // SAFETY: the host passes a pointer to `request_len` initialised
            // bytes that outlive this call.
            unsafe { std::slice::from_raw_parts(request, request_len) }
        };
        // Checking the whole request as UTF-8 at once is much cheaper than
        // checking each string in it as it is parsed.
        let request = std::str::from_utf8(bytes)
            .map_err(|err| format!("call request is not UTF-8: {err}"))?;
        let request: IncomingCall<'_> = serde_json::from_str(request)
            .map_err(|err| format!("call request is not valid JSON for this ABI: {err}"))?;
        // SAFETY: the host's callbacks are valid, and callable from any
        // thread, until this call returns; the context is dropped before then.
        let context = ToolContext::from_host(request.context, unsafe { HostHandle::new(host) });
        let arguments = request.arguments.map_or("{}", |arguments| arguments.get());
        let mut answer = Vec::with_capacity(ANSWER_CAPACITY);
        P::invoke_json(&request.tool, arguments, &context, &mut answer)
            .map_err(|err| err.to_string())?;
        Ok(answer)
    };
    // SAFETY: `out` is the sink the host passed to this call.
    unsafe { guarded(out, work) }
}

unsafe extern "C" fn read_resource_trampoline<P: Plugin>(
    request: *const u8,
    request_len: usize,
    host: *const HostApi,
    out: OutputSink,
) -> Status {
    // SAFETY: the arguments are the host's for this call.
    unsafe {
        serve(
            request,
            request_len,
            host,
            out,
            "resource",
            |request: ResourceRequest, host| {
                P::read_resource(&request.uri, &ToolContext::from_host(request.context, host))
            },
        )
    }
}

unsafe extern "C" fn get_prompt_trampoline<P: Plugin>(
    request: *const u8,
    request_len: usize,
    host: *const HostApi,
    out: OutputSink,
) -> Status {
    // SAFETY: the arguments are the host's for this call.
    unsafe {
        serve(
            request,
            request_len,
            host,
            out,
            "prompt",
            |request: PromptRequest, host| {
                let PromptRequest {
                    name,
                    arguments,
                    context,
                } = request;
                P::get_prompt(&name, &arguments, &ToolContext::from_host(context, host))
            },
        )
    }
}

/// Reads a request of `kind`, answers it with `answer` and writes the
/// answer to `out`, never letting a panic unwind into the host.
///
/// # Safety
///
/// As for a plugin's `invoke`: `request` is null or points to `len`
/// initialised bytes, `host` is null or the host's callbacks for this call,
/// and `out` is the host's sink for this call.
unsafe fn serve<R: serde::de::DeserializeOwned, A: Serialize>(
    request: *const u8,
    len: usize,
    host: *const HostApi,
    out: OutputSink,
    kind: &str,
    answer: impl FnOnce(R, Option<HostHandle>) -> A,
) -> Status {
    let work = || {
        // SAFETY: guaranteed by this function's caller.
        let request: R = unsafe { read_request(request, len, kind) }?;
        // SAFETY: the host's callbacks are valid, and callable from any
        // thread, until this call returns; the context is dropped before then.
        let host = unsafe { HostHandle::new(host) };
        encode(&answer(request, host))
    };
    // SAFETY: `out` is the sink the host passed to this call.
    unsafe { guarded(out, work) }
}

/// Reads a request of `kind` from the host's bytes.
///
/// # Safety
///
/// `request` must be null or point to `len` initialised bytes that outlive
/// the call.
unsafe fn read_request<T: serde::de::DeserializeOwned>(
    request: *const u8,
    len: usize,
    kind: &str,
) -> Result<T, String> {
    let bytes = if request.is_null() || len == 0 {
        &[][..]
    } else {
        // SAFETY: guaranteed by this function's caller.
        unsafe { std::slice::from_raw_parts(request, len) }
    };
    serde_json::from_slice(bytes)
        .map_err(|err| format!("{kind} request is not valid JSON for this ABI: {err}"))
}

fn encode<T: Serialize>(answer: &T) -> Result<Vec<u8>, String> {
    serde_json::to_vec(answer).map_err(|err| format!("the answer could not be serialised: {err}"))
}

/// Calls `P`'s exported `invoke` with `request` as a host that passes no
/// callbacks would, and collects the answer: the boundary as the host
/// meets it, without a library to load.
pub(crate) fn invoke_without_host<P: Plugin>(request: &[u8]) -> (Status, Vec<u8>) {
    let mut answer = Vec::new();
    let sink = OutputSink {
        ctx: (&mut answer as *mut Vec<u8>).cast(),
        write: append_to_vec,
    };
    // SAFETY: `request` outlives the call, a null host means no callbacks,
    // and the sink appends to `answer`, which outlives the call and is not
    // otherwise borrowed during it.
    let status =
        unsafe { invoke_trampoline::<P>(request.as_ptr(), request.len(), std::ptr::null(), sink) };
    (status, answer)
}

/// Calls `P`'s exported `describe` as the host does when it loads the
/// plugin, and collects the answer.
#[cfg(test)]
pub(crate) fn describe_without_host<P: Plugin>() -> (Status, Vec<u8>) {
    let mut answer = Vec::new();
    let sink = OutputSink {
        ctx: (&mut answer as *mut Vec<u8>).cast(),
        write: append_to_vec,
    };
    // SAFETY: the sink appends to `answer`, which outlives the call and is
    // not otherwise borrowed during it.
    let status = unsafe { describe_trampoline::<P>(sink) };
    (status, answer)
}

/// What an answer buffer starts with: most answers fit, so the buffer
/// rarely grows while the tool's result is written.
const ANSWER_CAPACITY: usize = 1024;

/// Runs `work`, writes its bytes or its error to `out`, and never lets a panic
/// unwind into the host.
///
/// # Safety
///
/// `out` must be the sink the host passed to the current call.
unsafe fn guarded(out: OutputSink, work: impl FnOnce() -> Result<Vec<u8>, String>) -> Status {
    let (status, bytes) = match catch_unwind(AssertUnwindSafe(work)) {
        Ok(Ok(bytes)) => (Status::OK, bytes),
        Ok(Err(message)) => (Status::ERROR, message.into_bytes()),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic with a non-string payload".to_owned());
            // Dropping a payload runs arbitrary code that may itself panic,
            // outside any catch_unwind: leak it instead.
            std::mem::forget(payload);
            (Status::PANIC, message.into_bytes())
        }
    };
    // SAFETY: guaranteed by this function's caller.
    unsafe { out.write(&bytes) };
    status
}
