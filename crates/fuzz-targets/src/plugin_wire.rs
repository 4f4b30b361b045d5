//! `plugin_wire`: arbitrary bytes on each side of the plugin boundary, read
//! by the code that reads them there:
//!
//! - as the host's call request, by a plugin's exported `invoke` (a typed
//!   tool made with `export_tools!`), whose answer the host then reads;
//! - as a plugin's answer to `invoke`, and to `describe` (the descriptor,
//!   its tools checked and their schemas compiled), by the host;
//! - as a plugin's request for a nested tool call, by the host, whose
//!   answer the plugin then reads;
//! - as the host's answer to a nested call, by the plugin.
//!
//! Each must come to a result or an error: never a panic, on either side.

use plugin_api::host::RefusalReason;
use plugin_api::{Status, ToolResult};

#[expect(
    unreachable_pub,
    reason = "`export_tools!` makes its items public, as a plugin crate needs"
)]
mod echo {
    use plugin_api::{Annotations, JsonSchema, Tool, ToolContext, ToolError};
    use serde::{Deserialize, Serialize};

    plugin_api::export_tools!(EchoTools: [Echo]);

    /// Echoes its text: a tool whose input has every kind of field.
    pub struct Echo;

    /// What `echo` takes.
    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Input {
        /// The text.
        pub text: String,
        /// How many times, at most a few.
        #[serde(default)]
        pub times: Option<u8>,
        /// Labels.
        #[serde(default)]
        pub tags: Vec<String>,
        /// How to echo.
        #[serde(default)]
        pub style: Style,
        /// An input inside the input.
        #[serde(default)]
        pub inner: Option<Box<Input>>,
    }

    /// How to echo.
    #[derive(Default, Deserialize, JsonSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Style {
        /// As sent.
        #[default]
        Plain,
        /// In capitals.
        Loud,
    }

    /// What `echo` answers.
    #[derive(Serialize, JsonSchema)]
    pub struct Output {
        /// The text, echoed.
        pub echo: String,
        /// The labels, sorted.
        pub tags: Vec<String>,
    }

    impl Tool for Echo {
        type Input = Input;
        type Output = Output;
        const NAME: &'static str = "echo";
        const TITLE: &'static str = "Echo";
        const DESCRIPTION: &'static str = "Echoes its text.";
        const ANNOTATIONS: Annotations = Annotations::PURE;

        fn run(input: Input, _context: &ToolContext) -> Result<Output, ToolError> {
            let times = usize::from(input.times.unwrap_or(1));
            if times > 4 {
                return Err(ToolError::new("`times` is at most 4"));
            }
            let text = match input.style {
                Style::Plain => input.text,
                Style::Loud => input.text.to_uppercase(),
            };
            let inner = input.inner.map_or(0, |inner| inner.text.len());
            let mut tags = input.tags;
            tags.sort();
            Ok(Output {
                echo: format!("{}{}", text.repeat(times), ".".repeat(inner.min(8))),
                tags,
            })
        }

        fn summary(output: &Output) -> String {
            output.echo.clone()
        }
    }
}

/// The statuses a plugin may answer with, and one it may not.
const STATUSES: [Status; 4] = [Status::OK, Status::ERROR, Status::PANIC, Status(7)];

/// The `plugin_wire` target.
pub fn plugin_wire(data: &[u8]) {
    plugin_reads_a_call_request(data);
    for status in STATUSES {
        host_reads_an_answer(status, data);
        // Errors are expected; a panic is the finding.
        let _ = plugin_host::fuzzing::read_descriptor(status, data);
    }
    host_answers_a_nested_call(data);
    let _ = plugin_api::fuzzing::read_nested_answer("fuzzed_tool", Status::OK, data);
}

/// A plugin answers any request, and the host reads what it answered.
fn plugin_reads_a_call_request(request: &[u8]) {
    let (status, answer) = plugin_api::fuzzing::invoke::<echo::EchoTools>(request);
    let text = || String::from_utf8_lossy(&answer).into_owned();
    assert_ne!(status, Status::PANIC, "the plugin panicked: {}", text());
    let read = plugin_host::fuzzing::read_answer(status, &answer);
    if status == Status::OK {
        let result: ToolResult = read.unwrap_or_else(|failure| {
            panic!(
                "the host cannot read the plugin's answer ({failure}): {}",
                text()
            )
        });
        assert!(
            result.first_text().is_some(),
            "a tool's answer says something: {}",
            text()
        );
    } else {
        assert!(read.is_err(), "a failure read as a result: {}", text());
    }
}

/// What a plugin answers is a result only when its status says so.
fn host_reads_an_answer(status: Status, answer: &[u8]) {
    let read = plugin_host::fuzzing::read_answer(status, answer);
    assert!(
        status == Status::OK || read.is_err(),
        "an answer with status {status:?} read as a result"
    );
}

/// The host answers every nested call request (here, where no tool may be
/// called, with a refusal), in words the plugin reads.
fn host_answers_a_nested_call(request: &[u8]) {
    let answer = plugin_host::fuzzing::nested_call(request)
        .expect("the host answers every nested call request");
    match plugin_api::fuzzing::read_nested_answer("fuzzed_tool", Status::OK, &answer) {
        Err(refused) => assert!(
            matches!(
                refused.reason,
                RefusalReason::Invalid | RefusalReason::Unavailable
            ) && !refused.message.contains("not understood"),
            "the plugin misread the host's answer: {refused:?}"
        ),
        Ok(result) => panic!("a call that may not be made completed: {result:?}"),
    }
}
