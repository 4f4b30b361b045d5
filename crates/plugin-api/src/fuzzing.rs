//! Entry points for the fuzz targets (`fuzz/` at the workspace root): thin
//! wrappers over the plugin side of the boundary, so the fuzzer feeds bytes
//! to the same decoding a plugin runs. Not a stable interface.

use crate::host::{self, CallToolError, Status};
use crate::{Plugin, ToolResult};

/// Calls plugin `P`'s exported `invoke` with `request` as the host's call
/// request, with no host callbacks: the status and the answer the host
/// would read.
pub fn invoke<P: Plugin>(request: &[u8]) -> (Status, Vec<u8>) {
    crate::abi::invoke_without_host::<P>(request)
}

/// Reads the host's answer to a nested call to `tool` (its status and
/// bytes) as [`ToolContext::call_tool`](crate::ToolContext::call_tool) does.
pub fn read_nested_answer(
    tool: &str,
    status: Status,
    answer: &[u8],
) -> Result<ToolResult, CallToolError> {
    host::read_outcome(tool, status, answer)
}
