//! One tool, `explode`, that panics with a message no caller should see.

use plugin_api::{CallRequest, Plugin, PluginDescriptor, ToolResult};
use serde_json::json;

/// The panicking plugin.
pub struct Panicking;

plugin_api::export_plugin!(Panicking);

impl Plugin for Panicking {
    fn describe() -> PluginDescriptor {
        PluginDescriptor {
            name: "panicking".into(),
            version: "0.0.0".into(),
            tools: vec![json!({
                "name": "explode",
                "description": "Panics.",
                "inputSchema": {"type": "object"}
            })],
        }
    }

    fn invoke(_request: CallRequest) -> ToolResult {
        panic!("internal detail: secret-panic-message");
    }
}
