//! MCP content blocks, for tool results and prompt messages: text, images,
//! audio, embedded resources and links to resources.
//!
//! Each function returns the block as the JSON object MCP defines, ready to
//! go into [`ToolResult::content`](crate::ToolResult) or a prompt message.
//! Binary data is given as bytes and base64-encoded here.

use base64::Engine as _;
use serde_json::{Value, json};

/// `{"type": "text", "text": …}`.
pub fn text(text: impl Into<String>) -> Value {
    json!({ "type": "text", "text": text.into() })
}

/// `{"type": "image", "data": <base64>, "mimeType": …}`.
pub fn image(bytes: &[u8], mime_type: &str) -> Value {
    json!({ "type": "image", "data": base64(bytes), "mimeType": mime_type })
}

/// `{"type": "audio", "data": <base64>, "mimeType": …}`.
pub fn audio(bytes: &[u8], mime_type: &str) -> Value {
    json!({ "type": "audio", "data": base64(bytes), "mimeType": mime_type })
}

/// A resource's text embedded in the block:
/// `{"type": "resource", "resource": {"uri", "mimeType", "text"}}`.
pub fn embedded_text(uri: &str, mime_type: &str, text: impl Into<String>) -> Value {
    json!({ "type": "resource", "resource": text_contents(uri, mime_type, text) })
}

/// A resource's bytes embedded in the block:
/// `{"type": "resource", "resource": {"uri", "mimeType", "blob"}}`.
pub fn embedded_blob(uri: &str, mime_type: &str, bytes: &[u8]) -> Value {
    json!({ "type": "resource", "resource": blob_contents(uri, mime_type, bytes) })
}

/// A link the client may read with `resources/read`:
/// `{"type": "resource_link", "uri", "name", "mimeType"}`.
pub fn resource_link(uri: &str, name: &str, mime_type: Option<&str>) -> Value {
    let mut link = json!({ "type": "resource_link", "uri": uri, "name": name });
    if let Some(mime_type) = mime_type {
        link["mimeType"] = json!(mime_type);
    }
    link
}

/// MCP `TextResourceContents`: `{"uri", "mimeType", "text"}`.
pub fn text_contents(uri: &str, mime_type: &str, text: impl Into<String>) -> Value {
    json!({ "uri": uri, "mimeType": mime_type, "text": text.into() })
}

/// MCP `BlobResourceContents`: `{"uri", "mimeType", "blob": <base64>}`.
pub fn blob_contents(uri: &str, mime_type: &str, bytes: &[u8]) -> Value {
    json!({ "uri": uri, "mimeType": mime_type, "blob": base64(bytes) })
}

/// A prompt message: `{"role": "user" | "assistant", "content": <block>}`.
pub fn message(role: Role, content: Value) -> Value {
    json!({ "role": role.as_str(), "content": content })
}

/// Who a prompt message is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The person using the client.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The role's name in MCP.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_the_shapes_mcp_defines() {
        assert_eq!(text("hi"), json!({"type": "text", "text": "hi"}));
        assert_eq!(
            image(b"\x89PNG", "image/png"),
            json!({"type": "image", "data": "iVBORw==", "mimeType": "image/png"})
        );
        assert_eq!(audio(b"RIFF", "audio/wav")["data"], "UklGRg==");
        assert_eq!(
            embedded_text("test://a", "text/plain", "body"),
            json!({"type": "resource", "resource": {"uri": "test://a", "mimeType": "text/plain", "text": "body"}})
        );
        assert_eq!(
            embedded_blob("test://b", "image/png", b"\x00")["resource"]["blob"],
            "AA=="
        );
        assert_eq!(
            resource_link("test://c", "c", None),
            json!({"type": "resource_link", "uri": "test://c", "name": "c"})
        );
        assert_eq!(
            message(Role::Assistant, text("ok")),
            json!({"role": "assistant", "content": {"type": "text", "text": "ok"}})
        );
    }
}
