//! The Rust layer: a tool is a function from one serde type to another.
//!
//! A tool author implements [`Tool`] for a unit struct, derives
//! [`JsonSchema`] for the input and output types, and lists the tools in
//! [`export_tools!`](crate::export_tools). The input and output schemas in
//! the tool's MCP descriptor are generated from the types, so they cannot
//! drift from what the code accepts and returns.

use schemars::generate::SchemaSettings;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

pub use schemars::JsonSchema;

use std::sync::Arc;

use crate::host::{CallToolError, HostHandle, LocalHost, LogLevel, Progress, RefusalReason};
use crate::input::{FormAnswer, InputKind, InputRequests, Root};
use crate::{CallContext, ToolResult};

/// MCP's hints about what a tool does, shown to clients and read by the
/// policies (`resource.read_only`, `resource.destructive`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Annotations {
    /// The tool changes nothing outside itself.
    pub read_only: bool,
    /// The tool may destroy or overwrite something (meaningful only when
    /// not read-only).
    pub destructive: bool,
    /// Calling it twice with the same arguments does no more than once.
    pub idempotent: bool,
    /// The tool reaches beyond a closed set of things (the network, say).
    pub open_world: bool,
}

impl Annotations {
    /// A tool that only computes an answer from its arguments.
    pub const PURE: Self = Self {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    };
}

/// An icon a client may show beside a tool (MCP `Icon`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icon {
    /// Where the image is: an `https:` URL or a `data:` URI.
    pub src: &'static str,
    /// Its media type (`image/svg+xml`), when the URL does not make it clear.
    pub mime_type: Option<&'static str>,
    /// The sizes it suits (`48x48`, `any` for a vector image).
    pub sizes: &'static [&'static str],
}

impl Icon {
    /// The MCP `Icon` object.
    pub fn to_json(&self) -> Value {
        let mut icon = json!({ "src": self.src });
        if let Some(mime_type) = self.mime_type {
            icon["mimeType"] = json!(mime_type);
        }
        if !self.sizes.is_empty() {
            icon["sizes"] = json!(self.sizes);
        }
        icon
    }
}

/// Why a tool could not do what it was asked, in words for the caller: what
/// was wrong and what to do about it; or what it needs from the client
/// before it can ([`ToolError::needs_input`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ToolError(
    /// The words for the caller.
    pub String,
    /// What the tool needs asked, when that is why it stopped.
    Option<InputRequests>,
);

impl ToolError {
    /// A tool error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into(), None)
    }

    /// Not an error: the tool needs `requests` answered before it can go
    /// on. The server asks the client and runs the tool again with the
    /// answers (see [`crate::input`]).
    pub fn needs_input(requests: InputRequests) -> Self {
        let keys: Vec<&str> = requests.keys().map(String::as_str).collect();
        Self(format!("needs input: {}", keys.join(", ")), Some(requests))
    }

    /// The words for the caller.
    pub fn message(&self) -> &str {
        &self.0
    }

    /// The requests, when the error is a need for input; else the message.
    pub(crate) fn into_needs(self) -> Result<InputRequests, String> {
        self.1.ok_or(self.0)
    }

    /// The result the host reads: a tool error, or the requests.
    fn into_result(self) -> ToolResult {
        match self.1 {
            Some(requests) => ToolResult::needs_input(requests),
            None => ToolResult::error(self.0),
        }
    }
}

impl From<ToolError> for ToolResult {
    /// The result the host reads: a tool error, or the requests.
    fn from(error: ToolError) -> Self {
        error.into_result()
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a tool knows about the call besides its arguments, and what it may
/// ask of the host: to log, to call other tools for the same caller, to
/// report progress, to learn whether the call was cancelled, and to log to
/// the client.
///
/// A tool only ever sees a `&ToolContext` that lives for its call.
pub struct ToolContext {
    caller: Option<CallContext>,
    host: Host,
}

enum Host {
    /// Run outside the server: nothing to log to or call through.
    Absent,
    /// The server's callbacks, valid for the call that made this context.
    Abi(HostHandle),
    /// A stand-in host, for a plugin's own tests.
    Local(Arc<LocalHost>),
}

impl ToolContext {
    /// A context for running a tool outside the server: in a plugin's own
    /// tests, say. Log messages and progress go nowhere, tool calls are
    /// refused and the call is never cancelled.
    pub fn new(caller: Option<CallContext>) -> Self {
        Self {
            caller,
            host: Host::Absent,
        }
    }

    /// A context whose tool calls are answered by `tools`, for testing a tool
    /// that calls others without a server.
    pub fn with_tools(
        caller: Option<CallContext>,
        tools: impl Fn(&str, Value) -> Result<ToolResult, CallToolError> + Send + Sync + 'static,
    ) -> Self {
        Self::local(caller, Arc::new(LocalHost::with_tools(tools)))
    }

    /// A context backed by `host`, which keeps what the tool reports, for
    /// testing a tool's progress, cancellation and client log.
    pub fn local(caller: Option<CallContext>, host: Arc<LocalHost>) -> Self {
        Self {
            caller,
            host: Host::Local(host),
        }
    }

    /// A context for testing a tool that asks its client (see
    /// [`crate::input`]): a user's call whose client can be asked
    /// `can_ask`, with `inputs` answered.
    pub fn answering(can_ask: Vec<InputKind>, inputs: Map<String, Value>) -> Self {
        Self::new(Some(CallContext {
            principal_id: "test-user".to_owned(),
            principal_kind: crate::PrincipalKind::User,
            scopes: Vec::new(),
            tenant: None,
            request_id: "test".to_owned(),
            can_ask,
            inputs,
        }))
    }

    /// A context backed by the host's callbacks, if the host passed any.
    pub(crate) fn from_host(caller: Option<CallContext>, host: Option<HostHandle>) -> Self {
        Self {
            caller,
            host: host.map_or(Host::Absent, Host::Abi),
        }
    }

    /// Who is calling; `None` only when a tool is run outside the server
    /// (in a plugin's own unit tests, say).
    pub fn caller(&self) -> Option<&CallContext> {
        self.caller.as_ref()
    }

    /// Whether the client can be asked for `kind` during this call.
    pub fn can_ask(&self, kind: InputKind) -> bool {
        self.caller
            .as_ref()
            .is_some_and(|caller| caller.can_ask.contains(&kind))
    }

    /// The answer to what the tool asked under `key`, as the client gave
    /// it (an MCP `ElicitResult`, `CreateMessageResult` or
    /// `ListRootsResult`); `None` until it is answered.
    pub fn input(&self, key: &str) -> Option<&Value> {
        self.caller.as_ref()?.inputs.get(key)
    }

    /// What a person did with the form asked under `key`; `None` until they
    /// answered. An accepted form's fields fit the form: the server checked.
    pub fn form_answer(&self, key: &str) -> Option<FormAnswer<'_>> {
        crate::input::form_answer(self.input(key)?)
    }

    /// The text the client's model answered to the request under `key`.
    pub fn sampled_text(&self, key: &str) -> Option<&str> {
        crate::input::sampled_text(self.input(key)?)
    }

    /// The roots the client listed in answer to the request under `key`.
    pub fn roots(&self, key: &str) -> Option<Vec<Root>> {
        crate::input::roots(self.input(key)?)
    }

    /// Writes `message` to the server's log, attributed to this plugin and
    /// tool and to the caller's request. Never log secrets or caller data
    /// that the operator should not keep.
    pub fn log(&self, level: LogLevel, message: &str) {
        if let Host::Abi(host) = &self.host {
            host.log(level, message);
        }
    }

    /// Reports how far the call has come: `done` out of `total` (when the
    /// tool knows it), and what it is doing now. The client sees it as MCP
    /// `notifications/progress` when it asked for progress; otherwise the
    /// report goes nowhere, so a tool may always report. The host passes
    /// reports on at a bounded rate, dropping those that come too fast, and
    /// only the ones whose `done` grows.
    pub fn progress(&self, done: f64, total: Option<f64>, message: Option<&str>) {
        match &self.host {
            Host::Absent => {}
            Host::Abi(host) => host.progress(done, total, message.unwrap_or_default()),
            Host::Local(host) => host.record_progress(Progress {
                done,
                total,
                message: message.map(str::to_owned),
            }),
        }
    }

    /// True once the client has cancelled the call (MCP
    /// `notifications/cancelled`), gone away, or the call ran past its time
    /// limit. A tool doing work in steps should ask between steps and stop,
    /// leaving nothing half-written: its answer will not be read.
    pub fn is_cancelled(&self) -> bool {
        match &self.host {
            Host::Absent => false,
            Host::Abi(host) => host.is_cancelled(),
            Host::Local(host) => host.is_cancelled(),
        }
    }

    /// Sends `message` to the client's log (MCP `notifications/message`),
    /// when the client asked for messages at `level` or above; otherwise it
    /// goes nowhere. The client reads it: never send secrets, and never
    /// anything the caller may not see.
    pub fn notify(&self, level: LogLevel, message: &str) {
        match &self.host {
            Host::Absent => {}
            Host::Abi(host) => host.notify(level, message),
            Host::Local(host) => host.record_message(level, message),
        }
    }

    /// Calls tool `name` with `arguments` for the same caller, as if the
    /// caller had called it: the policies decide it for them, so a tool can
    /// never do through another what its caller may not do.
    ///
    /// `Ok` holds the tool's result, which may itself be a tool error;
    /// `Err` says why the call did not run (denied, unknown tool, nested too
    /// deeply, or no server to call through).
    ///
    /// A called tool that asks for input (see [`crate::input`]) is a tool
    /// error here; [`Self::call_tool_with_inputs`] passes its questions on.
    pub fn call_tool(&self, name: &str, arguments: Value) -> Result<ToolResult, CallToolError> {
        let result = self.call_tool_with_inputs(name, arguments, Map::new())?;
        Ok(match &result.input_requests {
            Some(requests) => ToolResult::error(format!(
                "`{name}` needs input ({}) that this tool does not ask its caller for",
                requests
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            None => result,
        })
    }

    /// [`Self::call_tool`], passing on `inputs`: answers to what the called
    /// tool asked for in an earlier round of this call. A called tool that
    /// asks comes back with [`ToolResult::input_requests`] set; a tool that
    /// cannot ask for it itself should fail the step, and one that can (see
    /// [`crate::input`]) asks its own client under keys of its own and
    /// passes the answers back here.
    pub fn call_tool_with_inputs(
        &self,
        name: &str,
        arguments: Value,
        inputs: Map<String, Value>,
    ) -> Result<ToolResult, CallToolError> {
        match &self.host {
            Host::Absent => Err(CallToolError {
                reason: RefusalReason::Unavailable,
                message: format!(
                    "cannot call `{name}`: this tool is running outside the server, with no host to call through"
                ),
            }),
            Host::Local(host) => host.call_tool(name, arguments),
            Host::Abi(host) => host.call_tool(name, arguments, inputs),
        }
    }
}

/// One tool: its name, words for people, hints, and the function itself.
pub trait Tool {
    /// The arguments, as the caller sends them.
    type Input: DeserializeOwned + JsonSchema;
    /// The structured result.
    type Output: Serialize + JsonSchema;

    /// The tool's name (`review_code`): unique across all plugins.
    const NAME: &'static str;
    /// A short human title (`Review code`).
    const TITLE: &'static str;
    /// What the tool does, for the agent deciding whether to call it.
    const DESCRIPTION: &'static str;
    /// MCP's behaviour hints.
    const ANNOTATIONS: Annotations;
    /// Icons a client may show beside the tool; none by default.
    const ICONS: &'static [Icon] = &[];
    /// The tool answers in microseconds and never blocks: no I/O, no
    /// waiting on locks or other threads, no calls to other tools. The host
    /// may then run it on the thread serving the request rather than hand
    /// it to a plugin thread and back, which costs more than such a tool's
    /// work. Such a call has no time limit and cannot call other tools;
    /// five calls in a row over a millisecond, or one over a tenth of a
    /// second, make the host hand the tool's later calls to plugin threads.
    /// Off by default.
    const QUICK: bool = false;

    /// Does the work. Deterministic for the same input, unless the tool's
    /// purpose says otherwise (the time, the caller).
    fn run(input: Self::Input, context: &ToolContext) -> Result<Self::Output, ToolError>;

    /// The readable text block sent beside the structured result.
    fn summary(output: &Self::Output) -> String;
}

/// The JSON schema of what `T` accepts when deserialised, self-contained
/// (no `$ref`s), as MCP clients expect in `inputSchema`.
pub fn input_schema_for<T: JsonSchema>() -> Value {
    schema_for::<T>(SchemaSettings::draft2020_12().for_deserialize())
}

/// The JSON schema of what `T` produces when serialised (an `Option` field
/// is always present, as `null` when empty), for `outputSchema`.
pub fn output_schema_for<T: JsonSchema>() -> Value {
    schema_for::<T>(SchemaSettings::draft2020_12().for_serialize())
}

fn schema_for<T: JsonSchema>(settings: SchemaSettings) -> Value {
    settings
        .with(|settings| settings.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// The MCP `Tool` object for `T`.
pub fn descriptor<T: Tool>() -> Value {
    let hints = T::ANNOTATIONS;
    let mut descriptor = json!({
        "name": T::NAME,
        "title": T::TITLE,
        "description": T::DESCRIPTION,
        "inputSchema": input_schema_for::<T::Input>(),
        "outputSchema": output_schema_for::<T::Output>(),
        "annotations": {
            "title": T::TITLE,
            "readOnlyHint": hints.read_only,
            "destructiveHint": hints.destructive,
            "idempotentHint": hints.idempotent,
            "openWorldHint": hints.open_world,
        }
    });
    if !T::ICONS.is_empty() {
        descriptor["icons"] = T::ICONS.iter().map(Icon::to_json).collect();
    }
    if T::QUICK {
        descriptor["_meta"] = json!({ QUICK_META_KEY: true });
    }
    descriptor
}

/// The key in a tool descriptor's `_meta` that says the tool is
/// [`Tool::QUICK`]. The host reads it and takes it out: clients never see
/// it.
pub const QUICK_META_KEY: &str = "orchestrator-mcp/quick";

/// Runs `T` for one call: decodes the arguments, runs the tool, and encodes
/// its output as structured content with its summary.
pub fn invoke<T: Tool>(arguments: Map<String, Value>, context: &ToolContext) -> ToolResult {
    let input = match serde_json::from_value::<T::Input>(Value::Object(arguments)) {
        Ok(input) => input,
        Err(err) => {
            return ToolResult::error(format!("invalid arguments for `{}`: {err}", T::NAME));
        }
    };
    match T::run(input, context) {
        Ok(output) => match serde_json::to_value(&output) {
            Ok(structured) => ToolResult::structured(structured, T::summary(&output)),
            Err(err) => {
                ToolResult::error(format!("`{}` could not encode its result: {err}", T::NAME))
            }
        },
        Err(error) => error.into_result(),
    }
}

/// Runs `T` for one call from its arguments as JSON text and writes the
/// result as JSON to `answer`: the same result as [`invoke`], but decoded
/// straight into `T::Input` and encoded straight from `T::Output`, which is
/// the path every call from the host takes.
///
/// An `Err` means the result could not be written at all.
pub fn invoke_json<T: Tool>(
    arguments: &str,
    context: &ToolContext,
    answer: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let start = answer.len();
    let failed = |answer: &mut Vec<u8>, message: String| {
        answer.truncate(start);
        write_result(answer, &ToolResult::error(message))
    };
    let input = match serde_json::from_str::<T::Input>(arguments) {
        Ok(input) => input,
        Err(err) => {
            let reason = without_position(&err);
            return failed(
                answer,
                format!("invalid arguments for `{}`: {reason}", T::NAME),
            );
        }
    };
    let output = match T::run(input, context) {
        Ok(output) => output,
        Err(error) => {
            answer.truncate(start);
            return write_result(answer, &error.into_result());
        }
    };
    let summary = T::summary(&output);
    let written = crate::wire::write_structured_answer(answer, &summary, &output);
    match written {
        Ok(()) => Ok(()),
        Err(err) => failed(
            answer,
            format!("`{}` could not encode its result: {err}", T::NAME),
        ),
    }
}

/// Appends `result` to `answer` as JSON. An `Err` says why it could not be
/// encoded.
pub fn write_result(answer: &mut Vec<u8>, result: &ToolResult) -> Result<(), EncodeError> {
    serde_json::to_writer(answer, result).map_err(EncodeError)
}

/// A tool's answer could not be encoded as JSON: a fault in the plugin
/// (a map with non-string keys, a serializer that fails), not a tool error.
#[derive(Debug)]
pub struct EncodeError(serde_json::Error);

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tool result could not be serialised: {}", self.0)
    }
}

impl From<serde_json::Error> for EncodeError {
    fn from(err: serde_json::Error) -> Self {
        Self(err)
    }
}

impl std::error::Error for EncodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// What is wrong, without serde_json's "at line 1 column 10": the caller
/// sent a JSON value, not this text, so the position means nothing to them.
pub(crate) fn without_position(err: &serde_json::Error) -> String {
    let message = err.to_string();
    let position = format!(" at line {} column {}", err.line(), err.column());
    match message.strip_suffix(&position) {
        Some(reason) => reason.to_owned(),
        None => message,
    }
}

#[cfg(test)]
#[expect(
    unreachable_pub,
    reason = "`export_tools!` makes its items public, as a plugin crate needs"
)]
mod tests {
    use super::*;
    use crate::Plugin;
    use serde::Deserialize;

    /// Adds two numbers.
    struct Add;

    /// Two numbers.
    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Operands {
        /// The first.
        a: i64,
        /// The second.
        b: i64,
        #[serde(default)]
        nested: Option<Nested>,
    }

    #[derive(Deserialize, JsonSchema)]
    struct Nested {
        #[expect(dead_code, reason = "read through its schema only")]
        flag: bool,
    }

    #[derive(Serialize, JsonSchema)]
    struct Sum {
        sum: i64,
    }

    impl Tool for Add {
        type Input = Operands;
        type Output = Sum;
        const NAME: &'static str = "add";
        const TITLE: &'static str = "Add";
        const DESCRIPTION: &'static str = "Adds two numbers.";
        const ANNOTATIONS: Annotations = Annotations::PURE;

        fn run(input: Operands, _context: &ToolContext) -> Result<Sum, ToolError> {
            let _ = input.nested;
            input
                .a
                .checked_add(input.b)
                .map(|sum| Sum { sum })
                .ok_or_else(|| ToolError::new("the sum overflows a 64-bit integer"))
        }

        fn summary(output: &Sum) -> String {
            format!("{}", output.sum)
        }
    }

    crate::export_tools!(Adder: [Add]);

    fn call(arguments: Value) -> ToolResult {
        let Value::Object(arguments) = arguments else {
            panic!("arguments must be an object");
        };
        Adder::invoke("add", arguments, &ToolContext::new(None))
    }

    #[test]
    fn the_descriptor_carries_schemas_generated_from_the_types() {
        let descriptor = descriptor::<Add>();
        let input = &descriptor["inputSchema"];
        assert_eq!(input["type"], "object");
        assert_eq!(input["additionalProperties"], false);
        assert_eq!(input["properties"]["a"]["description"], "The first.");
        assert_eq!(input["required"], json!(["a", "b"]));
        assert!(
            !input.to_string().contains("$ref"),
            "subschemas are inlined: {input}"
        );
        assert_eq!(descriptor["outputSchema"]["type"], "object");
        assert_eq!(descriptor["outputSchema"]["required"], json!(["sum"]));
        assert_eq!(descriptor["annotations"]["readOnlyHint"], true);
        assert!(descriptor.get("_meta").is_none(), "not quick: no mark");
    }

    #[test]
    fn a_quick_tool_is_marked_for_the_host() {
        struct QuickAdd;
        impl Tool for QuickAdd {
            type Input = Operands;
            type Output = Sum;
            const NAME: &'static str = "quick_add";
            const TITLE: &'static str = "Add";
            const DESCRIPTION: &'static str = "Adds two numbers.";
            const ANNOTATIONS: Annotations = Annotations::PURE;
            const QUICK: bool = true;

            fn run(input: Operands, context: &ToolContext) -> Result<Sum, ToolError> {
                Add::run(input, context)
            }

            fn summary(output: &Sum) -> String {
                Add::summary(output)
            }
        }
        assert_eq!(descriptor::<QuickAdd>()["_meta"][QUICK_META_KEY], true);
    }

    #[test]
    fn a_call_returns_structured_output_and_its_summary() {
        let result = call(json!({"a": 2, "b": 3}));
        assert!(!result.is_error);
        assert_eq!(result.structured_content, Some(json!({"sum": 5})));
        assert_eq!(result.first_text(), Some("5"));
    }

    #[test]
    fn bad_arguments_and_tool_errors_are_tool_errors_with_reasons() {
        let bad = call(json!({"a": "two", "b": 3}));
        assert!(bad.is_error);
        let text = bad.first_text().unwrap_or_default();
        assert!(text.starts_with("invalid arguments for `add`"), "{text}");
        let overflow = call(json!({"a": i64::MAX, "b": 1}));
        assert_eq!(
            overflow.first_text(),
            Some("the sum overflows a 64-bit integer")
        );
        assert!(overflow.is_error);
    }

    /// The result of a call through `invoke_json`, as the host reads it.
    fn call_json(tool: &str, arguments: &str) -> ToolResult {
        let mut answer = b"kept".to_vec();
        Adder::invoke_json(tool, arguments, &ToolContext::new(None), &mut answer)
            .expect("the answer is written");
        assert_eq!(&answer[..4], b"kept", "what was in the buffer stays");
        serde_json::from_slice(&answer[4..]).expect("the answer is a tool result")
    }

    #[test]
    fn calls_from_json_text_answer_exactly_as_calls_from_values() {
        let cases = [
            ("add", json!({"a": 2, "b": 3})),
            ("add", json!({"a": "two", "b": 3})),
            ("add", json!({"a": i64::MAX, "b": 1})),
            ("add", json!({"a": 1, "b": 2, "c": 3})),
            ("add", json!({"a": 1, "b": 2, "nested": {"flag": true}})),
            ("subtract", json!({})),
        ];
        for (tool, arguments) in cases {
            let Value::Object(map) = arguments.clone() else {
                unreachable!("every case is an object")
            };
            let from_value = Adder::invoke(tool, map, &ToolContext::new(None));
            let from_text = call_json(tool, &arguments.to_string());
            assert_eq!(from_text, from_value, "{tool} {arguments}");
        }
    }

    /// Hands back a result that cannot be encoded.
    struct Broken;

    #[derive(Serialize, JsonSchema)]
    struct Unencodable {
        #[serde(serialize_with = "refuse")]
        value: i64,
    }

    fn refuse<S: serde::Serializer>(_: &i64, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be encoded",
        ))
    }

    impl Tool for Broken {
        type Input = Map<String, Value>;
        type Output = Unencodable;
        const NAME: &'static str = "broken";
        const TITLE: &'static str = "Broken";
        const DESCRIPTION: &'static str = "Returns what cannot be encoded.";
        const ANNOTATIONS: Annotations = Annotations::PURE;

        fn run(_: Map<String, Value>, _context: &ToolContext) -> Result<Unencodable, ToolError> {
            Ok(Unencodable { value: 1 })
        }

        fn summary(_: &Unencodable) -> String {
            "never shown".to_owned()
        }
    }

    #[test]
    fn an_output_that_cannot_be_encoded_is_a_whole_tool_error_not_a_torn_answer() {
        let mut answer = Vec::new();
        invoke_json::<Broken>("{}", &ToolContext::new(None), &mut answer)
            .expect("the answer is written");
        let result: ToolResult = serde_json::from_slice(&answer).expect("a whole tool result");
        assert!(result.is_error);
        assert_eq!(
            result.first_text(),
            Some("`broken` could not encode its result: this value refuses to be encoded")
        );
        assert_eq!(
            result,
            invoke::<Broken>(Map::new(), &ToolContext::new(None))
        );
    }

    #[test]
    fn an_unknown_tool_names_the_ones_the_plugin_provides() {
        let result = Adder::invoke("subtract", Map::new(), &ToolContext::new(None));
        assert!(result.is_error);
        let text = result.first_text().unwrap_or_default();
        assert!(text.contains("no tool named `subtract`"), "{text}");
        assert!(text.contains("it provides: add"), "{text}");
    }
}
