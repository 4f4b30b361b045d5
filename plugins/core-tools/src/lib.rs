//! Core tools: `ping`, the connectivity check behind the `tools:ping` scope.

use plugin_api::{CallRequest, Plugin, PluginDescriptor, ToolResult};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The core-tools plugin.
pub struct CoreTools;

plugin_api::export_plugin!(CoreTools);

impl Plugin for CoreTools {
    fn describe() -> PluginDescriptor {
        PluginDescriptor {
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            tools: vec![ping_descriptor()],
        }
    }

    fn invoke(request: CallRequest) -> ToolResult {
        match request.tool.as_str() {
            "ping" => ping(&request),
            other => ToolResult::error(format!(
                "core-tools has no tool named `{other}`; it provides: ping"
            )),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PingArgs {
    #[serde(default)]
    message: Option<String>,
}

/// What `ping` answers.
#[derive(Debug, Serialize)]
struct Pong {
    pong: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    server_time: String,
    principal_id: Option<String>,
}

fn ping_descriptor() -> Value {
    json!({
        "name": "ping",
        "title": "Ping",
        "description": "Checks connectivity: echoes an optional message with `pong`, the server time and the caller's principal id.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "message": {
                    "type": "string",
                    "description": "Text to echo back."
                }
            },
            "additionalProperties": false
        },
        "outputSchema": {
            "type": "object",
            "properties": {
                "pong": { "type": "boolean" },
                "message": { "type": "string" },
                "server_time": { "type": "string", "format": "date-time" },
                "principal_id": { "type": ["string", "null"] }
            },
            "required": ["pong", "server_time", "principal_id"]
        },
        "annotations": {
            "title": "Ping",
            "readOnlyHint": true,
            "destructiveHint": false,
            "idempotentHint": true,
            "openWorldHint": false
        }
    })
}

fn ping(request: &CallRequest) -> ToolResult {
    let args: PingArgs = match serde_json::from_value(Value::Object(request.arguments.clone())) {
        Ok(args) => args,
        Err(err) => return ToolResult::error(format!("invalid arguments for ping: {err}")),
    };
    let pong = Pong {
        pong: true,
        message: args.message,
        server_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        principal_id: request.context.as_ref().map(|c| c.principal_id.clone()),
    };
    let summary = match &pong.message {
        Some(message) => format!("pong: {message}"),
        None => "pong".to_owned(),
    };
    match serde_json::to_value(&pong) {
        Ok(structured) => ToolResult::structured(structured, summary),
        Err(err) => ToolResult::error(format!("ping could not encode its answer: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{CallContext, PrincipalKind};

    fn call(arguments: Value) -> ToolResult {
        let Value::Object(arguments) = arguments else {
            panic!("arguments must be an object")
        };
        CoreTools::invoke(CallRequest {
            tool: "ping".into(),
            arguments,
            context: Some(CallContext {
                principal_id: "user-1".into(),
                principal_kind: PrincipalKind::User,
                scopes: vec!["tools:ping".into()],
                tenant: None,
                request_id: "req-1".into(),
            }),
        })
    }

    #[test]
    fn ping_echoes_message_with_caller() {
        let result = call(json!({"message": "hello"}));
        assert!(!result.is_error);
        let structured = result.structured_content.expect("structured content");
        assert_eq!(structured["pong"], true);
        assert_eq!(structured["message"], "hello");
        assert_eq!(structured["principal_id"], "user-1");
        assert_eq!(result.content[0]["text"], "pong: hello");
    }

    #[test]
    fn ping_without_message_omits_it() {
        let result = call(json!({}));
        let structured = result
            .structured_content
            .as_ref()
            .expect("structured content");
        assert!(structured.get("message").is_none());
        assert_eq!(result.first_text(), Some("pong"));
    }

    #[test]
    fn ping_rejects_wrong_type_naming_the_problem() {
        let result = call(json!({"message": 5}));
        assert!(result.is_error);
        let text = result.first_text().unwrap_or_default();
        assert!(text.contains("invalid type: integer `5`"), "{text}");
    }

    #[test]
    fn unknown_tool_is_a_tool_error() {
        let result = CoreTools::invoke(CallRequest {
            tool: "nope".into(),
            arguments: Default::default(),
            context: None,
        });
        assert!(result.is_error);
    }
}
