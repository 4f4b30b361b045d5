//! Asking the client for what a tool lacks, instead of failing: a person's
//! answers to a small form (MCP elicitation), a completion from the
//! client's model (sampling), or the client's roots.
//!
//! A tool asks by returning [`ToolError::needs_input`](crate::ToolError::needs_input)
//! (or [`ToolResult::needs_input`](crate::ToolResult::needs_input) from a
//! raw [`Plugin`](crate::Plugin)) with its requests, each under a key of its
//! own. The server asks the client (in a 2026-07-28 input-required result,
//! or on a 2025-era session's stream), checks each answer against what was
//! asked, and calls the tool again with the same arguments and the answers,
//! which [`ToolContext::input`](crate::ToolContext::input) and its helpers
//! read by key. A tool must do nothing before it asks: it may be called
//! again many times, and a person may never answer.
//!
//! Ask only for what [`ToolContext::can_ask`](crate::ToolContext::can_ask)
//! says the client offers; the server refuses a request it cannot pass on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// What a tool may ask the client for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A person fills in a form (MCP `elicitation/create`).
    Elicitation,
    /// The client's model completes a prompt (MCP `sampling/createMessage`);
    /// offered only where a policy lets the tool spend the user's model.
    Sampling,
    /// The client lists its roots, the directories it works in (MCP
    /// `roots/list`).
    Roots,
}

/// One request to the client, as MCP writes it: a method and its params.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputRequest {
    /// `elicitation/create`, `sampling/createMessage` or `roots/list`.
    pub method: String,
    /// The request's params, as MCP defines them for the method.
    #[serde(default)]
    pub params: Value,
}

/// A tool's requests, by its own keys. Keys starting with
/// `orchestrator-mcp/` are the server's.
pub type InputRequests = BTreeMap<String, InputRequest>;

impl InputRequest {
    /// Asks a person to fill in `form`, with `message` saying why.
    pub fn form(message: impl Into<String>, form: &Form) -> Self {
        Self::form_with_schema(message, form.schema())
    }

    /// Asks a person to fill in a form described by `requested_schema`, an
    /// MCP elicitation schema (a flat object of primitive fields), for forms
    /// [`Form`] cannot write (titled or multi-select enums).
    pub fn form_with_schema(message: impl Into<String>, requested_schema: Value) -> Self {
        Self {
            method: "elicitation/create".to_owned(),
            params: json!({
                "mode": "form",
                "message": message.into(),
                "requestedSchema": requested_schema,
            }),
        }
    }

    /// Asks the client's model to answer `prompt`, in at most `max_tokens`.
    pub fn sample(prompt: impl Into<String>, max_tokens: u32) -> Self {
        Self::sample_with(json!({
            "messages": [{"role": "user", "content": {"type": "text", "text": prompt.into()}}],
            "maxTokens": max_tokens,
        }))
    }

    /// Asks the client's model with MCP `sampling/createMessage` params as
    /// written (a system prompt, several messages, model preferences).
    pub fn sample_with(params: Value) -> Self {
        Self {
            method: "sampling/createMessage".to_owned(),
            params,
        }
    }

    /// Asks the client for its roots.
    pub fn roots() -> Self {
        Self {
            method: "roots/list".to_owned(),
            params: json!({}),
        }
    }

    /// What the request asks for; `None` for a method no client answers.
    pub fn kind(&self) -> Option<InputKind> {
        match self.method.as_str() {
            "elicitation/create" => Some(InputKind::Elicitation),
            "sampling/createMessage" => Some(InputKind::Sampling),
            "roots/list" => Some(InputKind::Roots),
            _ => None,
        }
    }
}

/// A small form: strings, numbers, whole numbers, booleans and choices,
/// each optionally with a default, as MCP elicitation allows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Form {
    fields: Vec<Field>,
}

impl Form {
    /// A form with `fields`, shown in this order.
    pub fn new(fields: Vec<Field>) -> Self {
        Self { fields }
    }

    /// The form as an MCP elicitation schema.
    pub fn schema(&self) -> Value {
        let properties: Map<String, Value> = self
            .fields
            .iter()
            .map(|field| (field.name.clone(), Value::Object(field.schema.clone())))
            .collect();
        let required: Vec<&str> = self
            .fields
            .iter()
            .filter(|field| field.required)
            .map(|field| field.name.as_str())
            .collect();
        json!({"type": "object", "properties": properties, "required": required})
    }
}

/// One field of a [`Form`].
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    name: String,
    schema: Map<String, Value>,
    required: bool,
}

impl Field {
    fn typed(name: &str, kind: &str, title: &str) -> Self {
        let mut schema = Map::new();
        schema.insert("type".to_owned(), json!(kind));
        schema.insert("title".to_owned(), json!(title));
        Self {
            name: name.to_owned(),
            schema,
            required: false,
        }
    }

    /// A line of text.
    pub fn text(name: &str, title: &str) -> Self {
        Self::typed(name, "string", title)
    }

    /// A number.
    pub fn number(name: &str, title: &str) -> Self {
        Self::typed(name, "number", title)
    }

    /// A whole number.
    pub fn integer(name: &str, title: &str) -> Self {
        Self::typed(name, "integer", title)
    }

    /// Yes or no.
    pub fn boolean(name: &str, title: &str) -> Self {
        Self::typed(name, "boolean", title)
    }

    /// One of `options`.
    pub fn choice(name: &str, title: &str, options: &[&str]) -> Self {
        let mut field = Self::typed(name, "string", title);
        field.schema.insert("enum".to_owned(), json!(options));
        field
    }

    /// What the field is for, shown beside it.
    #[must_use]
    pub fn description(mut self, text: &str) -> Self {
        self.schema.insert("description".to_owned(), json!(text));
        self
    }

    /// The value the form starts with.
    #[must_use]
    pub fn default(mut self, value: impl Into<Value>) -> Self {
        self.schema.insert("default".to_owned(), value.into());
        self
    }

    /// The least and the most a number may be (whole numbers for an
    /// [`Field::integer`], as MCP asks).
    #[must_use]
    pub fn range(mut self, minimum: f64, maximum: f64) -> Self {
        let whole = self.schema.get("type") == Some(&json!("integer"));
        let bound = |value: f64| {
            if whole {
                // Saturating: a bound past i64 is no bound a form can show.
                json!(value.round() as i64)
            } else {
                json!(value)
            }
        };
        self.schema.insert("minimum".to_owned(), bound(minimum));
        self.schema.insert("maximum".to_owned(), bound(maximum));
        self
    }

    /// The form cannot be submitted without it.
    #[must_use]
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
}

/// What a person did with a form.
#[derive(Clone, Debug, PartialEq)]
pub enum FormAnswer<'a> {
    /// They submitted it; the fields were checked against the form.
    Accepted(&'a Map<String, Value>),
    /// They said no.
    Declined,
    /// They dismissed it.
    Cancelled,
}

/// Reads an answer to a form (an MCP `ElicitResult`).
pub(crate) fn form_answer(answer: &Value) -> Option<FormAnswer<'_>> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    match answer.get("action")?.as_str()? {
        "accept" => Some(FormAnswer::Accepted(
            answer
                .get("content")
                .and_then(Value::as_object)
                .unwrap_or_else(|| EMPTY.get_or_init(Map::new)),
        )),
        "decline" => Some(FormAnswer::Declined),
        "cancel" => Some(FormAnswer::Cancelled),
        _ => None,
    }
}

/// The text of an answer from the client's model (an MCP
/// `CreateMessageResult` with text content).
pub(crate) fn sampled_text(answer: &Value) -> Option<&str> {
    let content = answer.get("content")?;
    match content {
        Value::Array(blocks) => blocks
            .iter()
            .find_map(|block| block.get("text").and_then(Value::as_str)),
        block => block.get("text").and_then(Value::as_str),
    }
}

/// One of the client's roots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    /// Its URI (`file:///home/me/project`).
    pub uri: String,
    /// What the client calls it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The roots in an answer to `roots/list` (an MCP `ListRootsResult`).
pub(crate) fn roots(answer: &Value) -> Option<Vec<Root>> {
    serde_json::from_value(answer.get("roots")?.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_becomes_an_elicitation_schema() {
        let form = Form::new(vec![
            Field::choice("template", "Template", &["rust-axum", "python-fastapi"])
                .default("rust-axum")
                .required(),
            Field::integer("port", "Port").range(1.0, 65535.0),
            Field::boolean("tests", "Tests").default(true),
        ]);
        let request = InputRequest::form("Which template?", &form);
        assert_eq!(request.kind(), Some(InputKind::Elicitation));
        assert_eq!(
            request.params,
            json!({
                "mode": "form",
                "message": "Which template?",
                "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "template": {"type": "string", "title": "Template", "enum": ["rust-axum", "python-fastapi"], "default": "rust-axum"},
                        "port": {"type": "integer", "title": "Port", "minimum": 1, "maximum": 65535},
                        "tests": {"type": "boolean", "title": "Tests", "default": true},
                    },
                    "required": ["template"],
                },
            })
        );
    }

    #[test]
    fn answers_are_read_by_what_was_asked() {
        let accepted = json!({"action": "accept", "content": {"port": 8080}});
        assert_eq!(
            form_answer(&accepted),
            Some(FormAnswer::Accepted(
                accepted["content"].as_object().expect("object")
            ))
        );
        assert_eq!(
            form_answer(&json!({"action": "decline"})),
            Some(FormAnswer::Declined)
        );
        assert_eq!(form_answer(&json!({"action": "later"})), None);
        let sampled = json!({"role": "assistant", "content": {"type": "text", "text": "Paris"}, "model": "m"});
        assert_eq!(sampled_text(&sampled), Some("Paris"));
        let listed = json!({"roots": [{"uri": "file:///src", "name": "src"}]});
        assert_eq!(
            roots(&listed),
            Some(vec![Root {
                uri: "file:///src".to_owned(),
                name: Some("src".to_owned())
            }])
        );
    }
}
