//! The fixtures that ask the client for input, each as its scenario
//! describes: elicitation, sampling and roots, once, several at once, over
//! several rounds, and only what the client offers. The server turns each
//! request into a 2026-07-28 input-required result or, in a 2025 session,
//! a request on the call's stream; the fixture reads the answers by key
//! when it is run again.

use plugin_api::content::{Role, message, text};
use plugin_api::serde_json::{Map, Value, json};
use plugin_api::{InputKind, InputRequest, InputRequests, PromptOutcome, ToolContext, ToolResult};

/// The asking tools' descriptors.
pub(crate) fn tools() -> Vec<Value> {
    let argument = |name: &str, description: &str| json!({"type": "object", "properties": {name: {"type": "string", "description": description}}, "required": [name]});
    let none = json!({"type": "object", "properties": {}});
    [
        ("test_elicitation", "Asks the user for a username and an email.", argument("message", "The message to show the user")),
        ("test_sampling", "Asks the client's model to answer a prompt.", argument("prompt", "The prompt to send to the model")),
        ("test_elicitation_sep1034_defaults", "Asks with a default for every primitive type.", none.clone()),
        ("test_elicitation_sep1330_enums", "Asks with every kind of enum.", none.clone()),
        ("test_input_required_result_elicitation", "Asks the user's name.", none.clone()),
        ("test_input_required_result_sampling", "Asks the client's model a question.", none.clone()),
        ("test_input_required_result_list_roots", "Asks the client for its roots.", none.clone()),
        ("test_input_required_result_request_state", "Asks for a confirmation.", none.clone()),
        ("test_input_required_result_multiple_inputs", "Asks a name, a greeting and the roots at once.", none.clone()),
        ("test_input_required_result_multi_round", "Asks a name, then a colour.", none.clone()),
        ("test_input_required_result_tampered_state", "Asks for a confirmation.", none.clone()),
        ("test_input_required_result_capabilities", "Asks only what the client offers.", none),
    ]
    .into_iter()
    .map(|(name, description, schema)| {
        json!({"name": name, "description": description, "inputSchema": schema})
    })
    .collect()
}

/// The asking prompt's descriptor.
pub(crate) fn prompt() -> Value {
    json!({"name": "test_input_required_result_prompt", "description": "Asks what context to use."})
}

fn form(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

fn ask(requests: impl IntoIterator<Item = (&'static str, InputRequest)>) -> ToolResult {
    let requests: InputRequests = requests
        .into_iter()
        .map(|(key, request)| (key.to_owned(), request))
        .collect();
    ToolResult::needs_input(requests)
}

fn answer(context: &ToolContext, key: &str) -> Option<String> {
    context.input(key).map(Value::to_string)
}

fn name_form() -> InputRequest {
    InputRequest::form_with_schema(
        "What is your name?",
        form(json!({"name": {"type": "string"}}), &["name"]),
    )
}

fn done(words: String) -> ToolResult {
    ToolResult::text(words)
}

/// Runs an asking tool; `None` for a tool that is not one of them.
pub(crate) fn invoke(
    tool: &str,
    arguments: &Map<String, Value>,
    context: &ToolContext,
) -> Option<ToolResult> {
    let argument = |name: &str| {
        arguments
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Some(match tool {
        "test_elicitation" => match answer(context, "user") {
            Some(response) => done(format!("User response: {response}")),
            None => ask([(
                "user",
                InputRequest::form_with_schema(
                    argument("message"),
                    form(
                        json!({
                            "username": {"type": "string", "description": "User's response"},
                            "email": {"type": "string", "description": "User's email address"},
                        }),
                        &["username", "email"],
                    ),
                ),
            )]),
        },
        "test_sampling" => match context.sampled_text("completion") {
            Some(reply) => done(format!("LLM response: {reply}")),
            None => ask([("completion", InputRequest::sample(argument("prompt"), 100))]),
        },
        "test_elicitation_sep1034_defaults" => match answer(context, "defaults") {
            Some(response) => done(format!("Elicitation completed: {response}")),
            None => ask([(
                "defaults",
                InputRequest::form_with_schema(
                    "Test client default value handling - please accept with defaults",
                    form(
                        json!({
                            "name": {"type": "string", "description": "User name", "default": "John Doe"},
                            "age": {"type": "integer", "description": "User age", "default": 30},
                            "score": {"type": "number", "description": "User score", "default": 95.5},
                            "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"], "default": "active"},
                            "verified": {"type": "boolean", "description": "Verification status", "default": true},
                        }),
                        &[],
                    ),
                ),
            )]),
        },
        "test_elicitation_sep1330_enums" => match answer(context, "enums") {
            Some(response) => done(format!("Elicitation completed: {response}")),
            None => ask([(
                "enums",
                InputRequest::form_with_schema(
                    "Pick from each kind of list",
                    form(
                        json!({
                            "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                            "titledSingle": {"type": "string", "oneOf": [
                                {"const": "value1", "title": "First Option"},
                                {"const": "value2", "title": "Second Option"},
                                {"const": "value3", "title": "Third Option"},
                            ]},
                            "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"]},
                            "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                            "titledMulti": {"type": "array", "items": {"anyOf": [
                                {"const": "value1", "title": "First Choice"},
                                {"const": "value2", "title": "Second Choice"},
                                {"const": "value3", "title": "Third Choice"},
                            ]}},
                        }),
                        &[],
                    ),
                ),
            )]),
        },
        "test_input_required_result_elicitation" => match context.input("user_name") {
            Some(response) => {
                let name = response
                    .pointer("/content/name")
                    .and_then(Value::as_str)
                    .unwrap_or("stranger");
                done(format!("Hello, {name}!"))
            }
            None => ask([("user_name", name_form())]),
        },
        "test_input_required_result_sampling" => match context.sampled_text("capital_question") {
            Some(reply) => done(format!("The model said: {reply}")),
            None => ask([(
                "capital_question",
                InputRequest::sample("What is the capital of France?", 100),
            )]),
        },
        "test_input_required_result_list_roots" => match context.roots("client_roots") {
            Some(roots) => {
                let uris: Vec<String> = roots.into_iter().map(|root| root.uri).collect();
                done(format!("The client's roots: {}", uris.join(", ")))
            }
            None => ask([("client_roots", InputRequest::roots())]),
        },
        "test_input_required_result_request_state"
        | "test_input_required_result_tampered_state" => match answer(context, "confirm") {
            Some(response) => done(format!("state-ok: the confirmation was {response}")),
            None => ask([(
                "confirm",
                InputRequest::form_with_schema(
                    "Please confirm",
                    form(json!({"ok": {"type": "boolean"}}), &["ok"]),
                ),
            )]),
        },
        "test_input_required_result_multiple_inputs" => {
            match (
                context.input("user_name"),
                context.sampled_text("greeting"),
                context.roots("client_roots"),
            ) {
                (Some(_), Some(greeting), Some(roots)) => done(format!(
                    "All answered: a greeting ({greeting}) and {} roots",
                    roots.len()
                )),
                _ => ask([
                    ("user_name", name_form()),
                    ("greeting", InputRequest::sample("Say hello.", 50)),
                    ("client_roots", InputRequest::roots()),
                ]),
            }
        }
        "test_input_required_result_multi_round" => {
            match (answer(context, "step1"), answer(context, "step2")) {
                (Some(name), Some(color)) => done(format!("Done: {name} likes {color}")),
                (Some(_), None) => ask([(
                    "step2",
                    InputRequest::form_with_schema(
                        "Step 2: What is your favorite color?",
                        form(json!({"color": {"type": "string"}}), &["color"]),
                    ),
                )]),
                _ => ask([(
                    "step1",
                    InputRequest::form_with_schema(
                        "Step 1: What is your name?",
                        form(json!({"name": {"type": "string"}}), &["name"]),
                    ),
                )]),
            }
        }
        "test_input_required_result_capabilities" => {
            let mut requests = Vec::new();
            if context.can_ask(InputKind::Sampling) && context.input("model").is_none() {
                requests.push(("model", InputRequest::sample("Say anything.", 20)));
            }
            if context.can_ask(InputKind::Elicitation) && context.input("person").is_none() {
                requests.push(("person", name_form()));
            }
            if requests.is_empty() {
                done("Asked only what the client offers".to_owned())
            } else {
                ask(requests)
            }
        }
        _ => return None,
    })
}

/// Gets the asking prompt.
pub(crate) fn get_prompt(context: &ToolContext) -> PromptOutcome {
    match context.input("user_context") {
        Some(response) => {
            let chosen = response
                .pointer("/content/context")
                .and_then(Value::as_str)
                .unwrap_or("none");
            PromptOutcome::Got {
                description: None,
                messages: vec![message(
                    Role::User,
                    text(format!("Answer with this context in mind: {chosen}")),
                )],
            }
        }
        None => PromptOutcome::InputRequired {
            requests: [(
                "user_context".to_owned(),
                InputRequest::form_with_schema(
                    "What context should the prompt use?",
                    form(json!({"context": {"type": "string"}}), &["context"]),
                ),
            )]
            .into_iter()
            .collect(),
        },
    }
}
