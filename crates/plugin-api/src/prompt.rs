//! Typed prompts: a prompt is a name, words for people, the arguments it
//! takes and a function that renders its messages.
//!
//! List prompts in [`export_tools!`](crate::export_tools) beside the tools;
//! the descriptor, the completions of the arguments and the checks on the
//! arguments a client sends are generated from the [`Prompt`]
//! implementation.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::{Completion, CompletionRef, PromptOutcome, ToolContext, ToolError};

/// One argument of a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PromptArgument {
    /// Its name, as clients send it.
    pub name: &'static str,
    /// What it is, for the person filling it in.
    pub description: &'static str,
    /// Whether the prompt needs it.
    pub required: bool,
    /// Values a client may offer while it is typed (MCP
    /// `completion/complete`); none for free text.
    pub completions: &'static [&'static str],
}

/// One prompt.
pub trait Prompt {
    /// The prompt's name (`review_code`), unique across all plugins.
    const NAME: &'static str;
    /// A short human title.
    const TITLE: &'static str;
    /// What the prompt is for.
    const DESCRIPTION: &'static str;
    /// The arguments it takes.
    const ARGUMENTS: &'static [PromptArgument] = &[];

    /// Renders the messages (built with [`crate::content::message`]).
    /// `arguments` holds every required argument and no unknown one:
    /// [`get`] checks before calling. An `Err` says which argument cannot
    /// be used and what to send instead; the client sees it as invalid
    /// arguments.
    fn get(
        arguments: &BTreeMap<String, String>,
        context: &ToolContext,
    ) -> Result<Vec<Value>, ToolError>;
}

/// The MCP `Prompt` object for `P`.
pub fn descriptor<P: Prompt>() -> Value {
    let arguments: Vec<Value> = P::ARGUMENTS
        .iter()
        .map(|argument| {
            json!({
                "name": argument.name,
                "description": argument.description,
                "required": argument.required,
            })
        })
        .collect();
    json!({
        "name": P::NAME,
        "title": P::TITLE,
        "description": P::DESCRIPTION,
        "arguments": arguments,
    })
}

/// The completions `P`'s arguments declare.
pub fn completions<P: Prompt>() -> impl Iterator<Item = Completion> {
    P::ARGUMENTS
        .iter()
        .filter(|argument| !argument.completions.is_empty())
        .map(|argument| Completion {
            reference: CompletionRef::Prompt {
                name: P::NAME.to_owned(),
            },
            argument: argument.name.to_owned(),
            values: argument
                .completions
                .iter()
                .map(|value| (*value).to_owned())
                .collect(),
        })
}

/// Renders `P` with `arguments`, after checking that every required
/// argument is there and no unknown one is.
pub fn get<P: Prompt>(
    arguments: &BTreeMap<String, String>,
    context: &ToolContext,
) -> PromptOutcome {
    let known: Vec<&str> = P::ARGUMENTS.iter().map(|argument| argument.name).collect();
    if let Some(unknown) = arguments
        .keys()
        .find(|name| !known.contains(&name.as_str()))
    {
        return PromptOutcome::InvalidArguments {
            message: format!(
                "prompt `{}` has no argument `{unknown}`; it takes: {}",
                P::NAME,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        };
    }
    if let Some(missing) = P::ARGUMENTS
        .iter()
        .find(|argument| argument.required && !arguments.contains_key(argument.name))
    {
        return PromptOutcome::InvalidArguments {
            message: format!(
                "prompt `{}` needs the argument `{}` ({})",
                P::NAME,
                missing.name,
                missing.description
            ),
        };
    }
    match P::get(arguments, context) {
        Ok(messages) => PromptOutcome::Got {
            description: Some(P::DESCRIPTION.to_owned()),
            messages,
        },
        Err(error) => match error.into_needs() {
            Ok(requests) => PromptOutcome::InputRequired { requests },
            Err(message) => PromptOutcome::InvalidArguments { message },
        },
    }
}
