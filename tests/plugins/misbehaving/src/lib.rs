//! Four tools that misbehave: `hang` never answers in time, `garbage`
//! answers with bytes that are not JSON, `off_schema` answers with
//! structured content its own output schema forbids, and `slow_quick`
//! declares itself quick and takes 150 ms.
//!
//! The vtable is written by hand, as a careless or hostile plugin could
//! write it, so that the output is not forced through `ToolResult`. It is
//! the vtable of ABI version 2, which the host still loads.

#![expect(
    unsafe_code,
    reason = "a hand-written vtable, as a careless plugin could write it"
)]

use plugin_api::{CallRequest, HostApi, OLDEST_ABI_VERSION, OutputSink, PluginVTableV2, Status};
use serde_json::json;

static VTABLE: PluginVTableV2 = PluginVTableV2 {
    abi_version: OLDEST_ABI_VERSION,
    describe,
    invoke,
};

/// The entry point the host looks up.
#[unsafe(no_mangle)]
pub extern "C" fn orchestrator_plugin_entry() -> *const PluginVTableV2 {
    &VTABLE
}

unsafe extern "C" fn describe(out: OutputSink) -> Status {
    let tool = |name: &str, description: &str| {
        json!({
            "name": name,
            "description": description,
            "inputSchema": {"type": "object"},
            "outputSchema": {
                "type": "object",
                "properties": {"count": {"type": "integer"}},
                "required": ["count"]
            }
        })
    };
    let mut slow = tool("slow_quick", "Declares itself quick, then takes 150 ms.");
    slow["_meta"] = json!({ plugin_api::QUICK_META_KEY: true });
    let descriptor = json!({
        "name": "misbehaving",
        "version": "0.0.0",
        "tools": [
            tool("hang", "Sleeps far longer than any time limit."),
            tool("garbage", "Answers with bytes that are not JSON."),
            tool("off_schema", "Answers with a count that is a string."),
            slow,
        ]
    });
    // SAFETY: the host's sink, used during this call.
    unsafe { out.write(descriptor.to_string().as_bytes()) };
    Status::OK
}

unsafe extern "C" fn invoke(
    request: *const u8,
    len: usize,
    _host: *const HostApi,
    out: OutputSink,
) -> Status {
    // SAFETY: the host passes `len` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(request, len) };
    let tool = serde_json::from_slice::<CallRequest>(bytes)
        .map(|request| request.tool)
        .unwrap_or_default();
    let answer = match tool.as_str() {
        "hang" => {
            std::thread::sleep(std::time::Duration::from_secs(60));
            json!({"content": [], "structuredContent": {"count": 1}}).to_string()
        }
        "slow_quick" => {
            std::thread::sleep(std::time::Duration::from_millis(150));
            json!({
                "content": [{"type": "text", "text": "1"}],
                "structuredContent": {"count": 1}
            })
            .to_string()
        }
        "off_schema" => json!({
            "content": [{"type": "text", "text": "three"}],
            "structuredContent": {"count": "three"}
        })
        .to_string(),
        _ => "{this is not json".to_owned(),
    };
    // SAFETY: as above.
    unsafe { out.write(answer.as_bytes()) };
    Status::OK
}
