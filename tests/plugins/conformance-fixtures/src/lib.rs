//! The fixtures the official MCP conformance suite
//! (`@modelcontextprotocol/conformance`) calls, reads and gets, each doing
//! what the suite's scenario describes, written against the raw
//! [`Plugin`] trait so every content type goes through the ABI as a plugin
//! would send it.
//!
//! The trigger tools change what the caller may see the way an operator
//! would: they write (or remove) a policy file in the directory named by
//! `CONFORMANCE_FIXTURES_POLICY_DIR` that permits a toggled fixture, then
//! reload the policies through the server's own `reload_policies`.

mod asking;

use std::collections::BTreeMap;
use std::time::Duration;

use plugin_api::content::{
    Role, audio, blob_contents, embedded_text, image, message, text, text_contents,
};
use plugin_api::serde_json::{Map, Value, json};
use plugin_api::{
    Completion, CompletionRef, LogLevel, Plugin, PluginDescriptor, PromptOutcome, ResourceOutcome,
    ToolContext, ToolResult, UriTemplate,
};

/// The plugin.
pub struct Fixtures;

plugin_api::export_plugin!(Fixtures);

/// A 1×1 red PNG.
const RED_PIXEL: [u8; 69] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0,
    0, 0, 144, 119, 83, 222, 0, 0, 0, 12, 73, 68, 65, 84, 120, 156, 99, 248, 207, 192, 0, 0, 3, 1,
    1, 0, 201, 254, 146, 239, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

/// A WAV file of one silent 16-bit mono sample at 8 kHz.
fn silent_wav() -> Vec<u8> {
    let mut wav = Vec::with_capacity(46);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&38_u32.to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16_u32.to_le_bytes());
    wav.extend_from_slice(&1_u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1_u16.to_le_bytes()); // mono
    wav.extend_from_slice(&8000_u32.to_le_bytes());
    wav.extend_from_slice(&16000_u32.to_le_bytes());
    wav.extend_from_slice(&2_u16.to_le_bytes());
    wav.extend_from_slice(&16_u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&2_u32.to_le_bytes());
    wav.extend_from_slice(&0_i16.to_le_bytes());
    wav
}

const TEMPLATE: &str = "test://template/{id}/data";

/// Names the policy directory the trigger tools write to.
const POLICY_DIR_VARIABLE: &str = "CONFORMANCE_FIXTURES_POLICY_DIR";

/// Permits the toggled fixture of `kind` if it is hidden, hides it if it
/// is permitted, and reloads the policies.
fn toggle(kind: &str, policy: &str, context: &ToolContext) -> ToolResult {
    let Some(dir) = std::env::var_os(POLICY_DIR_VARIABLE) else {
        return ToolResult::error(format!(
            "set {POLICY_DIR_VARIABLE} to the server's policy directory"
        ));
    };
    let file = std::path::Path::new(&dir).join(format!("conformance-toggle-{kind}.cedar"));
    let written = if file.exists() {
        std::fs::remove_file(&file)
    } else {
        std::fs::write(&file, policy)
    };
    if let Err(err) = written {
        return ToolResult::error(format!("{}: {err}", file.display()));
    }
    match context.call_tool("reload_policies", json!({})) {
        Ok(result) if !result.is_error => success(vec![text(format!("the {kind} list changed"))]),
        Ok(result) => result,
        Err(refused) => ToolResult::error(refused.message),
    }
}

fn tool(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "description": description,
        "inputSchema": {"type": "object", "properties": {}},
    })
}

fn success(content: Vec<Value>) -> ToolResult {
    ToolResult {
        content,
        structured_content: None,
        is_error: false,
        input_requests: None,
    }
}

fn pause() {
    std::thread::sleep(Duration::from_millis(50));
}

impl Plugin for Fixtures {
    fn describe() -> PluginDescriptor {
        let mut needs_sampling = tool(
            "test_missing_capability",
            "Needs the client to offer sampling; refused for a client that does not declare it.",
        );
        needs_sampling["_meta"] =
            json!({"orchestrator-mcp/requiredClientCapabilities": {"sampling": {}}});
        let mut tools = vec![
            tool("test_simple_text", "Returns one text block."),
            tool("test_image_content", "Returns a PNG image."),
            tool("test_audio_content", "Returns a WAV recording."),
            tool(
                "test_embedded_resource",
                "Returns an embedded text resource.",
            ),
            tool(
                "test_multiple_content_types",
                "Returns text, an image and an embedded resource.",
            ),
            tool(
                "test_tool_with_logging",
                "Logs three messages to the client while it runs.",
            ),
            tool("test_logging_tool", "Logs one message to the client."),
            tool("test_error_handling", "Always fails."),
            tool(
                "test_tool_with_progress",
                "Reports progress 0, 50 and 100 of 100.",
            ),
            tool(
                "test_streaming_elicitation",
                "Answers without asking the client anything.",
            ),
            needs_sampling,
            tool(
                "test_trigger_tool_change",
                "Shows or hides test_toggled_tool by a policy change.",
            ),
            tool(
                "test_trigger_prompt_change",
                "Shows or hides test_toggled_prompt by a policy change.",
            ),
            tool(
                "test_toggled_tool",
                "Listed only while the trigger shows it.",
            ),
        ];
        tools.extend(asking::tools());
        PluginDescriptor {
            name: "conformance-fixtures".to_owned(),
            version: "0.0.0".to_owned(),
            tools,
            resources: vec![
                json!({"uri": "test://static-text", "name": "static-text", "description": "A fixed text.", "mimeType": "text/plain"}),
                json!({"uri": "test://static-binary", "name": "static-binary", "description": "A fixed PNG image.", "mimeType": "image/png"}),
                json!({"uri": "test://watched-resource", "name": "watched-resource", "description": "A resource clients may subscribe to.", "mimeType": "text/plain"}),
            ],
            resource_templates: vec![json!({
                "uriTemplate": TEMPLATE,
                "name": "template-data",
                "description": "Data for an id.",
                "mimeType": "application/json",
            })],
            prompts: vec![
                json!({"name": "test_simple_prompt", "description": "A prompt without arguments."}),
                json!({
                    "name": "test_prompt_with_arguments",
                    "description": "A prompt with two arguments.",
                    "arguments": [
                        {"name": "arg1", "description": "First test argument", "required": true},
                        {"name": "arg2", "description": "Second test argument", "required": true},
                    ],
                }),
                json!({
                    "name": "test_prompt_with_embedded_resource",
                    "description": "A prompt embedding a resource.",
                    "arguments": [{"name": "resourceUri", "description": "URI of the resource to embed", "required": true}],
                }),
                json!({"name": "test_prompt_with_image", "description": "A prompt with an image."}),
                json!({"name": "test_toggled_prompt", "description": "Listed only while the trigger shows it."}),
                asking::prompt(),
            ],
            completions: vec![Completion {
                reference: CompletionRef::Prompt {
                    name: "test_prompt_with_arguments".to_owned(),
                },
                argument: "arg1".to_owned(),
                values: ["paris", "park", "party", "test", "testing"]
                    .map(str::to_owned)
                    .to_vec(),
            }],
        }
    }

    fn invoke(tool: &str, arguments: Map<String, Value>, context: &ToolContext) -> ToolResult {
        if let Some(result) = asking::invoke(tool, &arguments, context) {
            return result;
        }
        match tool {
            "test_simple_text" => {
                success(vec![text("This is a simple text response for testing.")])
            }
            "test_image_content" => success(vec![image(&RED_PIXEL, "image/png")]),
            "test_audio_content" => success(vec![audio(&silent_wav(), "audio/wav")]),
            "test_embedded_resource" => success(vec![embedded_text(
                "test://embedded-resource",
                "text/plain",
                "This is an embedded resource content.",
            )]),
            "test_multiple_content_types" => success(vec![
                text("Multiple content types test:"),
                image(&RED_PIXEL, "image/png"),
                embedded_text(
                    "test://mixed-content-resource",
                    "application/json",
                    r#"{"test":"data","value":123}"#,
                ),
            ]),
            "test_tool_with_logging" => {
                context.notify(LogLevel::INFO, "Tool execution started");
                pause();
                context.notify(LogLevel::INFO, "Tool processing data");
                pause();
                context.notify(LogLevel::INFO, "Tool execution completed");
                success(vec![text("Tool with logging executed successfully")])
            }
            "test_logging_tool" => {
                context.notify(LogLevel::INFO, "Logging tool ran");
                success(vec![text("Logging tool executed")])
            }
            "test_error_handling" => {
                ToolResult::error("This tool intentionally returns an error for testing")
            }
            "test_tool_with_progress" => {
                context.progress(0.0, Some(100.0), None);
                pause();
                context.progress(50.0, Some(100.0), None);
                pause();
                context.progress(100.0, Some(100.0), None);
                success(vec![text("Tool with progress executed successfully")])
            }
            "test_streaming_elicitation" => success(vec![text("Nothing was asked of the client")]),
            "test_missing_capability" => success(vec![text("The client offers sampling")]),
            "test_trigger_tool_change" => toggle(
                "tool",
                r#"@id("conformance.toggle.tool") permit (principal, action == Action::"call", resource == Tool::"test_toggled_tool");"#,
                context,
            ),
            "test_trigger_prompt_change" => toggle(
                "prompt",
                r#"@id("conformance.toggle.prompt") permit (principal, action == Action::"get", resource == Prompt::"test_toggled_prompt");"#,
                context,
            ),
            "test_toggled_tool" => success(vec![text("The toggled tool is shown")]),
            other => ToolResult::error(format!("conformance-fixtures has no tool `{other}`")),
        }
    }

    fn read_resource(uri: &str, _context: &ToolContext) -> ResourceOutcome {
        let contents = match uri {
            "test://static-text" => text_contents(
                uri,
                "text/plain",
                "This is the content of the static text resource.",
            ),
            "test://static-binary" => blob_contents(uri, "image/png", &RED_PIXEL),
            "test://watched-resource" => {
                text_contents(uri, "text/plain", "The watched resource, unchanged.")
            }
            _ => {
                let parameters = UriTemplate::parse(TEMPLATE)
                    .ok()
                    .and_then(|template| template.matches(uri));
                let Some(id) = parameters.and_then(|mut found| found.remove("id")) else {
                    return ResourceOutcome::NotFound {
                        message: format!("no fixture resource has the URI `{uri}`"),
                    };
                };
                let data =
                    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
                text_contents(uri, "application/json", data.to_string())
            }
        };
        ResourceOutcome::Read {
            contents: vec![contents],
        }
    }

    fn get_prompt(
        name: &str,
        arguments: &BTreeMap<String, String>,
        context: &ToolContext,
    ) -> PromptOutcome {
        if name == "test_input_required_result_prompt" {
            return asking::get_prompt(context);
        }
        let argument = |key: &str| arguments.get(key).cloned();
        let messages = match name {
            "test_simple_prompt" => vec![message(
                Role::User,
                text("This is a simple prompt for testing."),
            )],
            "test_prompt_with_arguments" => {
                let (Some(arg1), Some(arg2)) = (argument("arg1"), argument("arg2")) else {
                    return PromptOutcome::InvalidArguments {
                        message: "test_prompt_with_arguments needs arg1 and arg2".to_owned(),
                    };
                };
                vec![message(
                    Role::User,
                    text(format!(
                        "Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"
                    )),
                )]
            }
            "test_prompt_with_embedded_resource" => {
                let Some(uri) = argument("resourceUri") else {
                    return PromptOutcome::InvalidArguments {
                        message: "test_prompt_with_embedded_resource needs resourceUri".to_owned(),
                    };
                };
                vec![
                    message(
                        Role::User,
                        embedded_text(&uri, "text/plain", "Embedded resource content for testing."),
                    ),
                    message(
                        Role::User,
                        text("Please process the embedded resource above."),
                    ),
                ]
            }
            "test_toggled_prompt" => {
                vec![message(Role::User, text("The toggled prompt is shown."))]
            }
            "test_prompt_with_image" => vec![
                message(Role::User, image(&RED_PIXEL, "image/png")),
                message(Role::User, text("Please analyze the image above.")),
            ],
            other => {
                return PromptOutcome::NotFound {
                    message: format!("conformance-fixtures has no prompt `{other}`"),
                };
            }
        };
        PromptOutcome::Got {
            description: None,
            messages,
        }
    }
}
