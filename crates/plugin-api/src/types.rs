//! The JSON payloads exchanged over the ABI.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// What a plugin says about itself when loaded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PluginDescriptor {
    /// The plugin's name, unique among loaded plugins (for example `core-tools`).
    pub name: String,
    /// The plugin's version, shown in `/health`.
    pub version: String,
    /// The tools the plugin provides, each an MCP `Tool` object: `name`,
    /// `title`, `description`, `inputSchema`, `outputSchema`, `annotations`,
    /// `icons`.
    pub tools: Vec<Value>,
    /// Resources with a fixed URI, each an MCP `Resource` object: `uri`,
    /// `name`, `title`, `description`, `mimeType`. Since ABI version 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Value>,
    /// Families of resources, each an MCP `ResourceTemplate` object:
    /// `uriTemplate` (RFC 6570 `{name}` parameters), `name`, `title`,
    /// `description`, `mimeType`. Since ABI version 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_templates: Vec<Value>,
    /// Prompts, each an MCP `Prompt` object: `name`, `title`,
    /// `description`, `arguments`. Since ABI version 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompts: Vec<Value>,
    /// The values that complete a prompt's argument or a template's
    /// parameter (MCP `completion/complete`). Since ABI version 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub completions: Vec<Completion>,
}

/// The values an argument may take, offered to clients that complete it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// The prompt or resource template the argument belongs to.
    #[serde(rename = "ref")]
    pub reference: CompletionRef,
    /// The argument's (or the template parameter's) name.
    pub argument: String,
    /// The values, in the order they are offered.
    pub values: Vec<String>,
}

/// What a [`Completion`] completes, as MCP's `completion/complete` names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum CompletionRef {
    /// An argument of the prompt `name`.
    #[serde(rename = "ref/prompt")]
    Prompt {
        /// The prompt's name.
        name: String,
    },
    /// A parameter of the resource template `uri`.
    #[serde(rename = "ref/resource")]
    Resource {
        /// The template, as its `uriTemplate` reads.
        uri: String,
    },
}

/// A resource read, as the plugin receives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceRequest {
    /// The URI to read: one of the plugin's resources, or one its templates
    /// match.
    pub uri: String,
    /// Who is reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<CallContext>,
}

/// What came of a resource read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ResourceOutcome {
    /// The resource's contents, each an MCP `ResourceContents` object
    /// (`uri`, `mimeType`, and `text` or base64 `blob`).
    Read {
        /// One or more contents.
        contents: Vec<Value>,
    },
    /// Nothing has that URI (a template matched, but names nothing).
    NotFound {
        /// Words for the caller.
        message: String,
    },
    /// The resource exists but could not be read.
    Failed {
        /// Words for the caller: what went wrong and what to do.
        message: String,
    },
}

/// A prompt request, as the plugin receives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PromptRequest {
    /// The prompt.
    pub name: String,
    /// Its arguments, by name.
    #[serde(default)]
    pub arguments: BTreeMap<String, String>,
    /// Who is asking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<CallContext>,
}

/// What came of a prompt request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PromptOutcome {
    /// The prompt's messages.
    Got {
        /// A description of this rendering of the prompt.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// MCP `PromptMessage` objects (`role`, `content`).
        messages: Vec<Value>,
    },
    /// The arguments are missing or wrong.
    InvalidArguments {
        /// Words for the caller: which argument, and what it should be.
        message: String,
    },
    /// The plugin has no prompt with that name.
    NotFound {
        /// Words for the caller.
        message: String,
    },
    /// The prompt could not be rendered.
    Failed {
        /// Words for the caller.
        message: String,
    },
    /// The prompt needs these answered first (see [`crate::input`]); the
    /// server asks, and gets the prompt again with the answers in its
    /// context. Since ABI version 3.
    InputRequired {
        /// The requests, by the prompt's own keys.
        requests: crate::InputRequests,
    },
}

/// The kind of caller, as the host authenticated it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A person, signed in through OAuth.
    User,
    /// A machine, authenticated with an access key.
    Machine,
    /// A caller without credentials.
    Anonymous,
}

/// Who is calling, passed with every call so tools can attribute their work.
///
/// The call has already been authorised when a plugin sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallContext {
    /// The caller's stable id (the token's `sub`).
    pub principal_id: String,
    /// The caller's kind.
    pub principal_kind: PrincipalKind,
    /// The caller's scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The caller's current tenant, if any; left out of the JSON when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The id of the HTTP request that carried the call, for log correlation.
    pub request_id: String,
    /// What the tool may ask the client for during this call; empty when
    /// the client can be asked nothing. Since ABI version 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub can_ask: Vec<crate::InputKind>,
    /// The answers to what the tool asked earlier in this call, by the
    /// tool's keys, as the client gave them and the server checked them.
    /// Since ABI version 3.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub inputs: Map<String, Value>,
}

/// One tool call, as the plugin receives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallRequest {
    /// The tool to run.
    pub tool: String,
    /// The arguments, already checked against the tool's input schema.
    #[serde(default)]
    pub arguments: Map<String, Value>,
    /// Who is calling. Absent only in unit tests of a plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<CallContext>,
}

/// A [`CallRequest`] as the plugin side reads it: borrowed from the
/// request bytes, with the arguments left as JSON text for the tool's own
/// input type to decode, so no intermediate JSON value is built.
#[derive(Deserialize)]
pub(crate) struct IncomingCall<'a> {
    #[serde(borrow)]
    pub(crate) tool: Cow<'a, str>,
    #[serde(borrow, default)]
    pub(crate) arguments: Option<&'a RawValue>,
    #[serde(default)]
    pub(crate) context: Option<CallContext>,
}

/// The result of a tool call, in MCP's `CallToolResult` shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult {
    /// Content blocks for the caller to read; text blocks are
    /// `{"type": "text", "text": "..."}`.
    pub content: Vec<Value>,
    /// The structured result, matching the tool's output schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_content: Option<Value>,
    /// True when the tool failed; the text says why.
    #[serde(default)]
    pub is_error: bool,
    /// What the tool needs from the client before it can answer: the server
    /// asks, and calls the tool again with the answers. `None` for a result.
    /// Since ABI version 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_requests: Option<Box<crate::InputRequests>>,
}

impl ToolResult {
    /// A successful result with only a text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            content: vec![text_block(text.into())],
            structured_content: None,
            is_error: false,
            input_requests: None,
        }
    }

    /// A successful result with structured content and a readable summary.
    pub fn structured(structured: Value, summary: impl Into<String>) -> Self {
        Self {
            content: vec![text_block(summary.into())],
            structured_content: Some(structured),
            is_error: false,
            input_requests: None,
        }
    }

    /// A failed call; `message` should say what was wrong and what to do.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            content: vec![text_block(message.into())],
            structured_content: None,
            is_error: true,
            input_requests: None,
        }
    }

    /// No result yet: the tool needs `requests` answered first (see
    /// [`crate::input`]).
    pub fn needs_input(requests: crate::InputRequests) -> Self {
        Self {
            content: Vec::new(),
            structured_content: None,
            is_error: false,
            input_requests: Some(Box::new(requests)),
        }
    }

    /// The text of the first text block, if any.
    pub fn first_text(&self) -> Option<&str> {
        self.content
            .iter()
            .find_map(|block| block.get("text").and_then(Value::as_str))
    }
}

fn text_block(text: String) -> Value {
    serde_json::json!({ "type": "text", "text": text })
}
