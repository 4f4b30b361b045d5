//! The contract between orchestrator-mcp and its tool plugins.
//!
//! A plugin is a `cdylib` that exports one symbol, [`ENTRY_SYMBOL`], a
//! function returning a pointer to a [`PluginVTable`]. The vtable's first
//! field is [`ABI_VERSION`]; the host reads that field before anything else
//! and refuses a library whose version differs, so every future layout keeps
//! the version first.
//!
//! Everything that crosses the boundary is either a `#[repr(C)]` type defined
//! here or JSON bytes:
//!
//! - `describe` writes a [`PluginDescriptor`] (the plugin's name and its tools
//!   in MCP's tool format).
//! - `invoke` reads a [`CallRequest`] (tool name, arguments, caller context)
//!   and writes a [`ToolResult`] in MCP's `CallToolResult` format. The host
//!   passes a [`HostApi`] with it: callbacks to log into the server's log,
//!   to call other tools for the same caller, to report progress, to ask
//!   whether the call was cancelled and to log to the client (see [`host`]).
//! - `read_resource` reads a [`ResourceRequest`] and writes a
//!   [`ResourceOutcome`]; `get_prompt` reads a [`PromptRequest`] and writes a
//!   [`PromptOutcome`].
//!
//! The host loads plugins of [`ABI_VERSION`] and of every version back to
//! [`OLDEST_ABI_VERSION`].
//!
//! Output always goes through an [`OutputSink`]: the host hands the plugin a
//! callback that copies bytes into a host-owned buffer, so memory is freed by
//! whoever allocated it and the two sides never share an allocator.
//!
//! Plugin authors do not touch the raw ABI. They write each tool as a
//! function from one serde type to another ([`Tool`]) and list the tools in
//! [`export_tools!`]; underneath, [`Plugin`] and [`export_plugin!`] generate
//! the exported symbol and catch every panic before it could unwind across
//! the boundary.

mod abi;
pub mod content;
mod export;
#[doc(hidden)]
pub mod fuzzing;
pub mod host;
pub mod input;
pub mod prompt;
pub mod resource;
pub mod tool;
mod types;
pub mod uri_template;
mod wire;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub use abi::{
    ABI_VERSION, ENTRY_SYMBOL, InvokeFn, OLDEST_ABI_VERSION, PluginEntryFn, PluginVTable,
    PluginVTableV2,
};
pub use host::{
    CallToolError, HostApi, LocalHost, LogLevel, OutputSink, Progress, RefusalReason, Status,
    WriteFn,
};
pub use input::{Field, Form, FormAnswer, InputKind, InputRequest, InputRequests, Root};
pub use prompt::{Prompt, PromptArgument};
pub use resource::{Contents, Resource, ResourceTemplate};
pub use tool::{
    Annotations, EncodeError, Icon, JsonSchema, QUICK_META_KEY, Tool, ToolContext, ToolError,
};
pub use types::{
    CallContext, CallRequest, Completion, CompletionRef, PluginDescriptor, PrincipalKind,
    PromptOutcome, PromptRequest, ResourceOutcome, ResourceRequest, ToolResult,
};
pub use uri_template::UriTemplate;
pub use wire::write_call_request;

/// The schema derive, for `#[derive(JsonSchema)]` on tool inputs and outputs
/// with the same version of schemars this crate uses.
pub use schemars;

/// The JSON types of the payloads, with the version of serde_json this crate
/// uses.
pub use serde_json;

/// What a plugin author implements. [`export_plugin!`] turns it into a plugin.
pub trait Plugin {
    /// Readies the plugin (loads and checks what it ships besides code: rule
    /// files, data). Called when the host loads it, before
    /// [`Plugin::describe`]; an `Err` stops the load, and its text, which
    /// should name the file and line at fault and what to do, is the
    /// load's error. The default has nothing to ready.
    fn start() -> Result<(), String> {
        Ok(())
    }

    /// The plugin's name and tools. Called once, when the host loads the plugin.
    fn describe() -> PluginDescriptor;

    /// Runs `tool` with `arguments` (already checked against its input
    /// schema by the host).
    ///
    /// Errors the caller should see (bad arguments, failed work) are returned
    /// as [`ToolResult::error`]; they are not panics.
    fn invoke(tool: &str, arguments: Map<String, Value>, context: &ToolContext) -> ToolResult;

    /// Runs `tool` with `arguments` given as JSON text (an object, already
    /// checked against its input schema) and writes the [`ToolResult`] as
    /// JSON to `answer`. This is what the host's calls go through.
    ///
    /// The default decodes the arguments into a map and encodes what
    /// [`Plugin::invoke`] returns. [`export_tools!`] does better: it decodes
    /// the text straight into each tool's input type and encodes the output
    /// straight into the answer, with no JSON values built in between.
    ///
    /// An `Err` is a fault in the plugin (an answer that cannot be
    /// encoded), not a tool error.
    fn invoke_json(
        tool: &str,
        arguments: &str,
        context: &ToolContext,
        answer: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let result = match serde_json::from_str::<Map<String, Value>>(arguments) {
            Ok(arguments) => Self::invoke(tool, arguments, context),
            Err(err) => ToolResult::error(format!(
                "invalid arguments for `{tool}`: {}",
                tool::without_position(&err)
            )),
        };
        tool::write_result(answer, &result)
    }

    /// Reads the resource at `uri`: one of the plugin's resources, or a URI
    /// one of its templates matches. The host only asks for URIs the
    /// descriptor declares, and only once the policies allow the read.
    ///
    /// The default has no resources.
    fn read_resource(uri: &str, context: &ToolContext) -> ResourceOutcome {
        let _ = context;
        ResourceOutcome::NotFound {
            message: format!("no resource has the URI `{uri}`"),
        }
    }

    /// Renders the prompt `name` with `arguments`. The host only asks for
    /// prompts the descriptor declares, and only once the policies allow it.
    ///
    /// The default has no prompts.
    fn get_prompt(
        name: &str,
        arguments: &BTreeMap<String, String>,
        context: &ToolContext,
    ) -> PromptOutcome {
        let _ = (arguments, context);
        PromptOutcome::NotFound {
            message: format!("no prompt is named `{name}`"),
        }
    }
}

/// Exports a [`Plugin`] implementation as an orchestrator-mcp plugin.
///
/// Most plugins list typed tools in [`export_tools!`] instead, which
/// implements [`Plugin`] for them.
///
/// ```
/// use plugin_api::serde_json::{Map, Value};
/// use plugin_api::{Plugin, PluginDescriptor, ToolContext, ToolResult};
///
/// struct MyTools;
///
/// impl Plugin for MyTools {
///     fn describe() -> PluginDescriptor {
///         PluginDescriptor {
///             name: "my-tools".to_owned(),
///             version: "0.1.0".to_owned(),
///             ..PluginDescriptor::default()
///         }
///     }
///
///     fn invoke(tool: &str, _arguments: Map<String, Value>, _context: &ToolContext) -> ToolResult {
///         ToolResult::error(format!("my-tools has no tool named `{tool}`"))
///     }
/// }
///
/// plugin_api::export_plugin!(MyTools);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        /// The plugin entry point read by the orchestrator-mcp host.
        #[expect(unsafe_code, reason = "the one symbol a plugin exports")]
        #[unsafe(no_mangle)]
        pub extern "C" fn orchestrator_plugin_entry() -> *const $crate::PluginVTable {
            static VTABLE: $crate::PluginVTable = $crate::PluginVTable::for_plugin::<$plugin>();
            &VTABLE
        }
    };
}

#[cfg(test)]
#[expect(unsafe_code, reason = "the tests play the host's side of the ABI")]
mod tests {
    use super::*;
    use std::ffi::c_void;

    /// A plugin whose rule files do not load.
    struct Unready;

    impl Plugin for Unready {
        fn start() -> Result<(), String> {
            Err("rules/broken.yml:3: `message` is required".to_owned())
        }

        fn describe() -> PluginDescriptor {
            PluginDescriptor::default()
        }

        fn invoke(
            _tool: &str,
            _arguments: Map<String, Value>,
            _context: &ToolContext,
        ) -> ToolResult {
            ToolResult::text("unreachable")
        }
    }

    #[test]
    fn a_plugin_that_does_not_start_is_not_described() {
        let (status, answer) = abi::describe_without_host::<Unready>();
        assert_eq!(status, Status::ERROR);
        assert_eq!(
            String::from_utf8_lossy(&answer),
            "the plugin did not start: rules/broken.yml:3: `message` is required"
        );
        let (status, _) = abi::describe_without_host::<Echo>();
        assert_eq!(status, Status::OK);
    }

    struct Echo;

    impl Plugin for Echo {
        fn describe() -> PluginDescriptor {
            PluginDescriptor {
                name: "echo".into(),
                version: "1.0.0".into(),
                ..PluginDescriptor::default()
            }
        }

        fn invoke(tool: &str, _arguments: Map<String, Value>, context: &ToolContext) -> ToolResult {
            match tool {
                "boom" => panic!("boom was called"),
                "steps" => {
                    for step in 0..3_u8 {
                        if context.is_cancelled() {
                            return ToolResult::error(format!("cancelled after {step} steps"));
                        }
                        context.progress(f64::from(step + 1), Some(3.0), Some("step"));
                        context.notify(LogLevel::INFO, "stepped");
                    }
                    ToolResult::text("3 steps")
                }
                "relay" => {
                    context.log(LogLevel::INFO, "relaying");
                    match context.call_tool("inner", serde_json::json!({"n": 1})) {
                        Ok(result) => result,
                        Err(refused) => {
                            ToolResult::error(format!("{:?}: {refused}", refused.reason))
                        }
                    }
                }
                _ => ToolResult::text(tool),
            }
        }
    }

    /// A host that records log lines and answers every nested call to
    /// `inner` with its arguments, and refuses the rest.
    #[derive(Default)]
    struct FakeHost {
        logs: std::sync::Mutex<Vec<(u32, String)>>,
        progress: std::sync::Mutex<Vec<(f64, f64, String)>>,
        notes: std::sync::Mutex<Vec<String>>,
        cancelled: std::sync::atomic::AtomicBool,
    }

    unsafe extern "C" fn fake_progress(
        ctx: *const c_void,
        done: f64,
        total: f64,
        data: *const u8,
        len: usize,
    ) {
        // SAFETY: tests pass a `FakeHost` and a valid slice.
        let host = unsafe { &*(ctx as *const FakeHost) };
        let text = String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(data, len) });
        host.progress
            .lock()
            .expect("lock")
            .push((done, total, text.into_owned()));
        if done >= 2.0 {
            host.cancelled
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    unsafe extern "C" fn fake_is_cancelled(ctx: *const c_void) -> u32 {
        // SAFETY: tests pass a `FakeHost`.
        let host = unsafe { &*(ctx as *const FakeHost) };
        u32::from(host.cancelled.load(std::sync::atomic::Ordering::Relaxed))
    }

    unsafe extern "C" fn fake_notify(
        ctx: *const c_void,
        _level: LogLevel,
        data: *const u8,
        len: usize,
    ) {
        // SAFETY: tests pass a `FakeHost` and a valid slice.
        let host = unsafe { &*(ctx as *const FakeHost) };
        let text = String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(data, len) });
        host.notes.lock().expect("lock").push(text.into_owned());
    }

    fn fake_api(fake: &FakeHost) -> HostApi {
        HostApi {
            ctx: fake as *const FakeHost as *const c_void,
            log: fake_log,
            call_tool: fake_call_tool,
            progress: fake_progress,
            is_cancelled: fake_is_cancelled,
            notify: fake_notify,
        }
    }

    unsafe extern "C" fn fake_log(
        ctx: *const c_void,
        level: LogLevel,
        data: *const u8,
        len: usize,
    ) {
        // SAFETY: tests pass a `FakeHost` and a valid slice.
        let host = unsafe { &*(ctx as *const FakeHost) };
        let text = String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(data, len) });
        host.logs
            .lock()
            .expect("lock")
            .push((level.0, text.into_owned()));
    }

    unsafe extern "C" fn fake_call_tool(
        _ctx: *const c_void,
        data: *const u8,
        len: usize,
        out: OutputSink,
    ) -> Status {
        // SAFETY: the plugin passes a valid slice.
        let call: host::NestedCall =
            serde_json::from_slice(unsafe { std::slice::from_raw_parts(data, len) })
                .expect("nested call JSON");
        let outcome = if call.tool == "inner" {
            host::NestedOutcome::Completed {
                result: ToolResult::text(call.arguments.to_string()),
            }
        } else {
            host::NestedOutcome::Refused {
                reason: RefusalReason::Denied,
                message: format!("no `{}`", call.tool),
            }
        };
        let bytes = serde_json::to_vec(&outcome).expect("encode");
        // SAFETY: the sink the plugin passed to this callback.
        unsafe { out.write(&bytes) };
        Status::OK
    }

    unsafe extern "C" fn append(ctx: *mut c_void, data: *const u8, len: usize) {
        // SAFETY: tests pass a `Vec<u8>` as ctx and a valid slice.
        let buffer = unsafe { &mut *(ctx as *mut Vec<u8>) };
        buffer.extend_from_slice(unsafe { std::slice::from_raw_parts(data, len) });
    }

    fn call(vtable: &PluginVTable, request: &[u8]) -> (Status, String) {
        call_with_host(vtable, request, std::ptr::null())
    }

    fn call_with_host(
        vtable: &PluginVTable,
        request: &[u8],
        host: *const HostApi,
    ) -> (Status, String) {
        let mut buffer = Vec::new();
        let sink = OutputSink {
            ctx: &mut buffer as *mut Vec<u8> as *mut c_void,
            write: append,
        };
        let status = unsafe { (vtable.invoke)(request.as_ptr(), request.len(), host, sink) };
        (status, String::from_utf8_lossy(&buffer).into_owned())
    }

    const VTABLE: PluginVTable = PluginVTable::for_plugin::<Echo>();

    #[test]
    fn invoke_round_trips_json() {
        let (status, out) = call(&VTABLE, br#"{"tool":"hello","arguments":{}}"#);
        assert_eq!(status, Status::OK);
        let result: ToolResult = serde_json::from_str(&out).expect("tool result JSON");
        assert_eq!(result, ToolResult::text("hello"));
    }

    #[test]
    fn invalid_request_json_is_an_error_not_a_panic() {
        let (status, out) = call(&VTABLE, b"{not json");
        assert_eq!(status, Status::ERROR);
        assert!(out.contains("call request is not valid JSON"), "{out}");
    }

    #[test]
    fn a_request_that_is_not_utf8_is_an_error_not_a_panic() {
        let (status, out) = call(&VTABLE, b"{\"tool\":\"\xff\"}");
        assert_eq!(status, Status::ERROR);
        assert!(out.starts_with("call request is not UTF-8"), "{out}");
    }

    #[test]
    fn panics_are_caught_and_reported() {
        let (status, out) = call(&VTABLE, br#"{"tool":"boom","arguments":{}}"#);
        assert_eq!(status, Status::PANIC);
        assert_eq!(out, "boom was called");
    }

    #[test]
    fn a_tool_logs_and_calls_other_tools_through_the_host() {
        let fake = FakeHost::default();
        let host = fake_api(&fake);
        let (status, out) = call_with_host(&VTABLE, br#"{"tool":"relay"}"#, &host);
        assert_eq!(status, Status::OK);
        let result: ToolResult = serde_json::from_str(&out).expect("tool result JSON");
        assert_eq!(result.first_text(), Some(r#"{"n":1}"#));
        assert_eq!(
            *fake.logs.lock().expect("lock"),
            vec![(LogLevel::INFO.0, "relaying".to_owned())]
        );
    }

    #[test]
    fn a_tool_reports_progress_and_stops_once_cancelled() {
        let fake = FakeHost::default();
        let host = fake_api(&fake);
        let (status, out) = call_with_host(&VTABLE, br#"{"tool":"steps"}"#, &host);
        assert_eq!(status, Status::OK);
        let result: ToolResult = serde_json::from_str(&out).expect("tool result JSON");
        // The host cancels once step 2 is reported; step 3 never starts.
        assert_eq!(result.first_text(), Some("cancelled after 2 steps"));
        assert_eq!(
            *fake.progress.lock().expect("lock"),
            vec![(1.0, 3.0, "step".to_owned()), (2.0, 3.0, "step".to_owned())]
        );
        assert_eq!(fake.notes.lock().expect("lock").len(), 2);
    }

    #[test]
    fn the_default_plugin_has_no_resources_or_prompts() {
        let mut buffer = Vec::new();
        let sink = OutputSink {
            ctx: &mut buffer as *mut Vec<u8> as *mut c_void,
            write: append,
        };
        let request = br#"{"uri":"test://nothing"}"#;
        let status = unsafe {
            (VTABLE.read_resource)(request.as_ptr(), request.len(), std::ptr::null(), sink)
        };
        assert_eq!(status, Status::OK);
        let outcome: ResourceOutcome = serde_json::from_slice(&buffer).expect("outcome JSON");
        assert!(
            matches!(outcome, ResourceOutcome::NotFound { .. }),
            "{outcome:?}"
        );
        let mut buffer = Vec::new();
        let sink = OutputSink {
            ctx: &mut buffer as *mut Vec<u8> as *mut c_void,
            write: append,
        };
        let request = b"{not json";
        let status =
            unsafe { (VTABLE.get_prompt)(request.as_ptr(), request.len(), std::ptr::null(), sink) };
        assert_eq!(status, Status::ERROR);
        assert!(
            String::from_utf8_lossy(&buffer).starts_with("prompt request is not valid JSON"),
            "{}",
            String::from_utf8_lossy(&buffer)
        );
    }

    #[test]
    fn without_a_host_nested_calls_are_refused_as_unavailable() {
        let (status, out) = call(&VTABLE, br#"{"tool":"relay"}"#);
        assert_eq!(status, Status::OK);
        let result: ToolResult = serde_json::from_str(&out).expect("tool result JSON");
        assert!(result.is_error);
        let text = result.first_text().unwrap_or_default();
        assert!(
            text.starts_with("Unavailable: cannot call `inner`"),
            "{text}"
        );
    }

    #[test]
    fn version_is_the_first_field() {
        let base = &VTABLE as *const PluginVTable as *const u32;
        assert_eq!(unsafe { *base }, ABI_VERSION);
    }
}
