//! [`export_tools!`]: a plugin made of typed tools, prompts, resources and
//! resource templates, with its descriptor and its dispatch generated.

/// Exports a plugin made of [`Tool`](crate::Tool)s: defines the plugin type, its
/// descriptor (named and versioned from the crate's `Cargo.toml`) and its
/// dispatch by tool name, and exports it with
/// [`export_plugin!`](crate::export_plugin).
///
/// ```
/// use plugin_api::{Annotations, JsonSchema, Tool, ToolContext, ToolError};
/// use serde::{Deserialize, Serialize};
///
/// /// Counts the words in a text.
/// pub struct CountWords;
///
/// #[derive(Deserialize, JsonSchema)]
/// pub struct Text {
///     /// The text to count.
///     pub text: String,
/// }
///
/// #[derive(Serialize, JsonSchema)]
/// pub struct Count {
///     pub words: usize,
/// }
///
/// impl Tool for CountWords {
///     type Input = Text;
///     type Output = Count;
///     const NAME: &'static str = "count_words";
///     const TITLE: &'static str = "Count words";
///     const DESCRIPTION: &'static str = "Counts the words in a text.";
///     const ANNOTATIONS: Annotations = Annotations::PURE;
///
///     fn run(input: Text, _context: &ToolContext) -> Result<Count, ToolError> {
///         Ok(Count { words: input.text.split_whitespace().count() })
///     }
///
///     fn summary(count: &Count) -> String {
///         format!("{} words", count.words)
///     }
/// }
///
/// plugin_api::export_tools!(WordTools: [CountWords]);
/// ```
///
/// After the tools come, each optional and in this order, `prompts: [..]`,
/// `resources: [..]`, `templates: [..]` and `start: path`, a function
/// `fn() -> Result<(), String>` the host calls before it reads the
/// descriptor (see [`Plugin::start`](crate::Plugin::start)).
#[macro_export]
macro_rules! export_tools {
    (
        $plugin:ident : [$($tool:ty),* $(,)?]
        $(, prompts: [$($prompt:ty),* $(,)?])?
        $(, resources: [$($resource:ty),* $(,)?])?
        $(, templates: [$($template:ty),* $(,)?])?
        $(, start: $start:path)?
        $(,)?
    ) => {
        /// This crate's plugin: its tools, prompts and resources, exported
        /// to the orchestrator-mcp host.
        pub struct $plugin;

        impl $crate::Plugin for $plugin {
            $(
                fn start() -> Result<(), String> {
                    $start()
                }
            )?

            fn describe() -> $crate::PluginDescriptor {
                let completions: Vec<$crate::Completion> = ::std::iter::empty()
                    $($(.chain($crate::prompt::completions::<$prompt>()))*)?
                    $($(.chain($crate::resource::template_completions::<$template>()))*)?
                    .collect();
                $crate::PluginDescriptor {
                    name: env!("CARGO_PKG_NAME").to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    tools: vec![$($crate::tool::descriptor::<$tool>()),*],
                    prompts: vec![$($($crate::prompt::descriptor::<$prompt>()),*)?],
                    resources: vec![$($($crate::resource::descriptor::<$resource>()),*)?],
                    resource_templates: vec![
                        $($($crate::resource::template_descriptor::<$template>()),*)?
                    ],
                    completions,
                }
            }

            fn invoke(
                tool: &str,
                arguments: $crate::serde_json::Map<String, $crate::serde_json::Value>,
                context: &$crate::ToolContext,
            ) -> $crate::ToolResult {
                $(
                    if tool == <$tool as $crate::Tool>::NAME {
                        return $crate::tool::invoke::<$tool>(arguments, context);
                    }
                )*
                let _ = (arguments, context);
                Self::unknown_tool(tool)
            }

            fn invoke_json(
                tool: &str,
                arguments: &str,
                context: &$crate::ToolContext,
                answer: &mut Vec<u8>,
            ) -> Result<(), $crate::EncodeError> {
                $(
                    if tool == <$tool as $crate::Tool>::NAME {
                        return $crate::tool::invoke_json::<$tool>(arguments, context, answer);
                    }
                )*
                let _ = (arguments, context);
                $crate::tool::write_result(answer, &Self::unknown_tool(tool))
            }

            fn read_resource(
                uri: &str,
                context: &$crate::ToolContext,
            ) -> $crate::ResourceOutcome {
                $($(
                    if uri == <$resource as $crate::Resource>::URI {
                        return $crate::resource::read::<$resource>(context);
                    }
                )*)?
                $($(
                    if let Some(outcome) = $crate::resource::read_template::<$template>(uri, context) {
                        return outcome;
                    }
                )*)?
                let _ = context;
                $crate::ResourceOutcome::NotFound {
                    message: format!(
                        "plugin {} has no resource with the URI `{}`",
                        env!("CARGO_PKG_NAME"),
                        uri
                    ),
                }
            }

            fn get_prompt(
                name: &str,
                arguments: &::std::collections::BTreeMap<String, String>,
                context: &$crate::ToolContext,
            ) -> $crate::PromptOutcome {
                $($(
                    if name == <$prompt as $crate::Prompt>::NAME {
                        return $crate::prompt::get::<$prompt>(arguments, context);
                    }
                )*)?
                let _ = (arguments, context);
                $crate::PromptOutcome::NotFound {
                    message: format!(
                        "plugin {} has no prompt named `{}`",
                        env!("CARGO_PKG_NAME"),
                        name
                    ),
                }
            }
        }

        impl $plugin {
            fn unknown_tool(tool: &str) -> $crate::ToolResult {
                let names: &[&str] = &[$(<$tool as $crate::Tool>::NAME),*];
                $crate::ToolResult::error(format!(
                    "plugin {} has no tool named `{}`; it provides: {}",
                    env!("CARGO_PKG_NAME"),
                    tool,
                    names.join(", ")
                ))
            }
        }

        $crate::export_plugin!($plugin);
    };
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::{ToolContext, ToolError};

    /// A prompt and a template, as a plugin would list them.
    mod promptful {
        use super::*;

        /// Asks for a review of a language's code.
        pub(super) struct Review;

        impl crate::Prompt for Review {
            const NAME: &'static str = "review";
            const TITLE: &'static str = "Review";
            const DESCRIPTION: &'static str = "Asks for a review.";
            const ARGUMENTS: &'static [crate::PromptArgument] = &[crate::PromptArgument {
                name: "language",
                description: "the code's language",
                required: true,
                completions: &["python", "rust"],
            }];

            fn get(
                arguments: &std::collections::BTreeMap<String, String>,
                _context: &ToolContext,
            ) -> Result<Vec<Value>, ToolError> {
                let language = arguments.get("language").map_or("", String::as_str);
                Ok(vec![crate::content::message(
                    crate::content::Role::User,
                    crate::content::text(format!("Review this {language} code.")),
                )])
            }
        }

        /// The numbers a plugin knows.
        pub(super) struct Numbers;

        impl crate::ResourceTemplate for Numbers {
            const URI_TEMPLATE: &'static str = "numbers://{n}";
            const NAME: &'static str = "number";
            const TITLE: &'static str = "A number";
            const DESCRIPTION: &'static str = "A number, doubled.";
            const MIME_TYPE: &'static str = "text/plain";
            const COMPLETIONS: &'static [(&'static str, &'static [&'static str])] =
                &[("n", &["1", "2"])];

            fn read(
                _uri: &str,
                parameters: &std::collections::BTreeMap<String, String>,
                _context: &ToolContext,
            ) -> Result<Option<crate::Contents>, ToolError> {
                let n = parameters.get("n").and_then(|n| n.parse::<i64>().ok());
                Ok(n.map(|n| crate::Contents::Text((n * 2).to_string())))
            }
        }
    }

    use promptful::{Numbers as NumbersTemplate, Review as ReviewPrompt};

    #[test]
    fn prompts_and_templates_are_described_completed_and_served() {
        use crate::{PromptOutcome, ResourceOutcome, prompt, resource};
        assert_eq!(
            prompt::descriptor::<ReviewPrompt>()["arguments"][0]["name"],
            "language"
        );
        assert_eq!(
            resource::template_descriptor::<NumbersTemplate>()["uriTemplate"],
            "numbers://{n}"
        );
        let completions: Vec<_> = prompt::completions::<ReviewPrompt>()
            .chain(resource::template_completions::<NumbersTemplate>())
            .collect();
        assert_eq!(completions.len(), 2);
        assert_eq!(completions[0].values, ["python", "rust"]);
        let context = ToolContext::new(None);
        let arguments = [("language".to_owned(), "rust".to_owned())].into();
        let PromptOutcome::Got { messages, .. } = prompt::get::<ReviewPrompt>(&arguments, &context)
        else {
            panic!("the prompt renders");
        };
        assert_eq!(messages[0]["content"]["text"], "Review this rust code.");
        let missing = prompt::get::<ReviewPrompt>(&Default::default(), &context);
        assert!(
            matches!(&missing, PromptOutcome::InvalidArguments { message } if message.contains("needs the argument `language`")),
            "{missing:?}"
        );
        let unknown = [("tone".to_owned(), "kind".to_owned())].into();
        let unknown = prompt::get::<ReviewPrompt>(&unknown, &context);
        assert!(
            matches!(&unknown, PromptOutcome::InvalidArguments { message } if message.contains("no argument `tone`; it takes: language")),
            "{unknown:?}"
        );
        assert_eq!(
            resource::read_template::<NumbersTemplate>("numbers://21", &context),
            Some(ResourceOutcome::Read {
                contents: vec![
                    json!({"uri": "numbers://21", "mimeType": "text/plain", "text": "42"})
                ]
            })
        );
        assert!(matches!(
            resource::read_template::<NumbersTemplate>("numbers://x", &context),
            Some(ResourceOutcome::NotFound { .. })
        ));
        assert_eq!(
            resource::read_template::<NumbersTemplate>("other://1", &context),
            None
        );
    }
}
