//! One tool, `explode`, that panics with a message no caller should see.

use plugin_api::serde_json::{Map, Value};
use plugin_api::{Plugin, PluginDescriptor, ToolContext, ToolResult};
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
            ..PluginDescriptor::default()
        }
    }

    fn invoke(_tool: &str, _arguments: Map<String, Value>, _context: &ToolContext) -> ToolResult {
        panic!("internal detail: secret-panic-message");
    }
}
