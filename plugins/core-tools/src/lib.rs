//! Core tools: `ping`, the connectivity check behind the `tools:ping` scope,
//! and `orchestrate`, which runs plans of other tools behind
//! `tools:orchestrate`.

mod orchestrate;

use plugin_api::{Annotations, JsonSchema, Tool, ToolContext, ToolError};
use serde::{Deserialize, Serialize};

pub use orchestrate::Orchestrate;

plugin_api::export_tools!(CoreTools: [Orchestrate, Ping]);

/// Checks connectivity.
pub struct Ping;

/// What `ping` takes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PingInput {
    /// Text to echo back.
    #[serde(default)]
    pub message: Option<String>,
}

/// What `ping` answers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Pong {
    /// Always true.
    pub pong: bool,
    /// The message, when one was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The server's clock, RFC 3339 in UTC.
    #[schemars(extend("format" = "date-time"))]
    pub server_time: String,
    /// The caller's principal id.
    pub principal_id: Option<String>,
}

impl Tool for Ping {
    type Input = PingInput;
    type Output = Pong;

    const NAME: &'static str = "ping";
    const TITLE: &'static str = "Ping";
    const DESCRIPTION: &'static str = "Checks connectivity: echoes an optional message with `pong`, the server time and the caller's principal id.";
    const ANNOTATIONS: Annotations = Annotations::PURE;
    // A clock reading and a copy: far less than a hand-off to a plugin
    // thread.
    const QUICK: bool = true;

    fn run(input: PingInput, context: &ToolContext) -> Result<Pong, ToolError> {
        Ok(Pong {
            pong: true,
            message: input.message,
            server_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            principal_id: context.caller().map(|caller| caller.principal_id.clone()),
        })
    }

    fn summary(pong: &Pong) -> String {
        match &pong.message {
            Some(message) => format!("pong: {message}"),
            None => "pong".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{CallContext, Plugin, PrincipalKind, ToolResult};
    use serde_json::{Value, json};

    fn call(arguments: Value) -> ToolResult {
        let Value::Object(arguments) = arguments else {
            panic!("arguments must be an object")
        };
        let context = ToolContext::new(Some(CallContext {
            principal_id: "user-1".into(),
            principal_kind: PrincipalKind::User,
            scopes: vec!["tools:ping".into()],
            tenant: None,
            request_id: "req-1".into(),
            can_ask: Vec::new(),
            inputs: plugin_api::serde_json::Map::new(),
        }));
        CoreTools::invoke("ping", arguments, &context)
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
        let result = CoreTools::invoke("nope", Default::default(), &ToolContext::new(None));
        assert!(result.is_error);
    }
}
