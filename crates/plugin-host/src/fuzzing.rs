//! Entry points for the fuzz targets (`fuzz/` at the workspace root): thin
//! wrappers over the host's side of the boundary, so the fuzzer feeds bytes
//! to the same decoding the host runs on what a plugin writes. Not a stable
//! interface.

use std::path::Path;

use plugin_api::Status;

use crate::ToolResult;
use crate::callbacks::CallScope;
use crate::library;

/// The file name errors name for the plugin under test.
const FILE: &str = "fuzzed-plugin";

/// Reads a plugin's answer to `invoke` (its status and bytes) as the host
/// does after a call; `Err` is the failure the server log would record.
pub fn read_answer(status: Status, answer: &[u8]) -> Result<ToolResult, String> {
    library::read_result(status, answer).map_err(|failure| failure.to_string())
}

/// Reads a plugin's answer to `describe` as loading does: the descriptor,
/// then each tool's descriptor checked and its schemas compiled. The tool
/// names, or the load error.
pub fn read_descriptor(status: Status, answer: &[u8]) -> Result<Vec<String>, String> {
    let file = Path::new(FILE);
    let descriptor =
        library::read_descriptor(file, status, answer).map_err(|err| err.to_string())?;
    descriptor
        .tools
        .iter()
        .map(|tool| {
            crate::check_tool_descriptor(file, tool)
                .map(|(name, _, _)| name)
                .map_err(|err| err.to_string())
        })
        .collect()
}

/// Answers a plugin's request for a nested tool call (`request`, the bytes
/// it passed) as the host does during a call that may not make one: the
/// outcome as the JSON the plugin reads, or `None` when the host failed.
pub fn nested_call(request: &[u8]) -> Option<Vec<u8>> {
    let scope = CallScope {
        plugin: FILE,
        tool: "fuzzed_tool",
        request_id: "fuzzing",
        hooks: None,
        may_call_tools: true,
        abandoned: &|| false,
        progress: std::sync::Mutex::default(),
    };
    scope.answer_call(request)
}
