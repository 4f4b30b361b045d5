//! What the code tools offer besides tools: a prompt that asks a model to
//! review code by the same rules `review_code` applies, and those rules as
//! a resource per language.

use std::collections::BTreeMap;

use plugin_api::content::{Role, message, text};
use plugin_api::{
    Contents, Prompt, PromptArgument, Resource, ResourceTemplate, ToolContext, ToolError,
};
use serde_json::{Value, json};

use crate::language::{Language, accepted_names};
use crate::review::language_rules;
use crate::{check_size, language_of};

/// The languages a client may pick, as completions offer them.
const LANGUAGES: &[&str] = &[
    "c",
    "cpp",
    "go",
    "java",
    "javascript",
    "python",
    "ruby",
    "rust",
    "shell",
    "text",
    "typescript",
];

/// What a review may concentrate on.
const FOCUSES: &[&str] = &["all", "correctness", "security", "style"];

/// `code_review`: a review request for a model, with the rules for the
/// code's language.
pub struct CodeReview;

impl Prompt for CodeReview {
    const NAME: &'static str = "code_review";
    const TITLE: &'static str = "Review code";
    const DESCRIPTION: &'static str = "Asks for a review of `code` by the rules review_code applies to its language (guessed when `language` is absent), with a `focus` on security, correctness, style or all of them.";
    const ARGUMENTS: &'static [PromptArgument] = &[
        PromptArgument {
            name: "code",
            description: "the source text to review",
            required: true,
            completions: &[],
        },
        PromptArgument {
            name: "language",
            description: "its language; guessed from the text when absent",
            required: false,
            completions: LANGUAGES,
        },
        PromptArgument {
            name: "focus",
            description: "security, correctness, style or all (the default)",
            required: false,
            completions: FOCUSES,
        },
    ];

    fn get(
        arguments: &BTreeMap<String, String>,
        _context: &ToolContext,
    ) -> Result<Vec<Value>, ToolError> {
        let code = arguments.get("code").map_or("", String::as_str);
        check_size(code)?;
        let language = language_of(arguments.get("language").map(String::as_str), code)?;
        let focus = arguments.get("focus").map_or("all", |focus| focus.trim());
        if !FOCUSES.contains(&focus) {
            return Err(ToolError::new(format!(
                "unknown focus `{focus}`; use one of: {}",
                FOCUSES.join(", ")
            )));
        }
        let mut request = format!(
            "Review the following {} code. Report each finding with its line, a rule name, a \
             severity (error, warning or info) and a one-line fix.",
            language.name()
        );
        if focus != "all" {
            request.push_str(&format!(" Concentrate on {focus}."));
        }
        let rules: Vec<String> = language_rules(language)
            .iter()
            .map(|rule| {
                format!(
                    "- {} ({}): {}",
                    rule.rule,
                    rule.severity.name(),
                    rule.message
                )
            })
            .collect();
        request.push_str(
            "\nBesides hard-coded secrets, TODO comments, over-long lines and functions, check:\n",
        );
        if rules.is_empty() {
            request.push_str("- nothing particular to this language\n");
        } else {
            request.push_str(&rules.join("\n"));
            request.push('\n');
        }
        request.push_str(&format!("\n```{}\n{code}\n```", language.name()));
        Ok(vec![message(Role::User, text(request))])
    }
}

/// `code-tools://languages`: the languages the code tools read, each with
/// the names and file extensions that select it.
pub struct Languages;

impl Resource for Languages {
    const URI: &'static str = "code-tools://languages";
    const NAME: &'static str = "languages";
    const TITLE: &'static str = "Languages the code tools read";
    const DESCRIPTION: &'static str = "Every language review_code, fix_code and quality_report read, with the names and file extensions accepted for `language`, as JSON.";
    const MIME_TYPE: &'static str = "application/json";

    fn read(_context: &ToolContext) -> Result<Contents, ToolError> {
        let languages: Vec<Value> = LANGUAGES
            .iter()
            .filter_map(|name| Language::named(name).ok())
            .map(|language| {
                let aliases: Vec<&str> = accepted_names()
                    .filter(|(alias, named)| *named == language && *alias != language.name())
                    .map(|(alias, _)| alias)
                    .collect();
                json!({"name": language.name(), "aliases": aliases})
            })
            .collect();
        Ok(Contents::Text(
            json!({ "languages": languages }).to_string(),
        ))
    }
}

/// `code-tools://review-rules/{language}`: the rules review_code applies
/// to one language besides those for every language.
pub struct ReviewRules;

impl ResourceTemplate for ReviewRules {
    const URI_TEMPLATE: &'static str = "code-tools://review-rules/{language}";
    const NAME: &'static str = "review-rules";
    const TITLE: &'static str = "Review rules for a language";
    const DESCRIPTION: &'static str = "The rules review_code applies to code in one language, besides those for every language: each rule's name, severity and message, as JSON.";
    const MIME_TYPE: &'static str = "application/json";
    const COMPLETIONS: &'static [(&'static str, &'static [&'static str])] =
        &[("language", LANGUAGES)];

    fn read(
        _uri: &str,
        parameters: &BTreeMap<String, String>,
        _context: &ToolContext,
    ) -> Result<Option<Contents>, ToolError> {
        let name = parameters.get("language").map_or("", String::as_str);
        let Ok(language) = Language::named(name) else {
            return Ok(None);
        };
        let rules: Vec<Value> = language_rules(language)
            .iter()
            .map(|rule| {
                let mut entry = json!({
                    "rule": rule.rule,
                    "severity": rule.severity.name(),
                    "message": rule.message,
                });
                if let Some(detail) = rule.detail {
                    entry["cwe"] = json!(detail.cwe);
                    entry["rationale"] = json!(detail.rationale);
                    entry["suggestion"] = json!(detail.suggestion);
                    entry["url"] = json!(detail.url);
                    entry["also_known_as"] = json!(detail.aliases);
                }
                entry
            })
            .collect();
        let document = json!({"language": language.name(), "rules": rules});
        Ok(Some(Contents::Text(document.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{PromptOutcome, ResourceOutcome, prompt, resource};

    fn arguments(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_prompt_carries_the_languages_rules_and_the_code() {
        let outcome = prompt::get::<CodeReview>(
            &arguments(&[
                ("code", "fn main() { x.unwrap(); }"),
                ("focus", "correctness"),
            ]),
            &ToolContext::new(None),
        );
        let PromptOutcome::Got { messages, .. } = outcome else {
            panic!("renders: {outcome:?}");
        };
        let text = messages[0]["content"]["text"].as_str().expect("text");
        assert!(
            text.starts_with("Review the following rust code."),
            "{text}"
        );
        assert!(text.contains("Concentrate on correctness."), "{text}");
        assert!(text.contains("- rust.unwrap (warning):"), "{text}");
        assert!(
            text.ends_with("```rust\nfn main() { x.unwrap(); }\n```"),
            "{text}"
        );
    }

    #[test]
    fn bad_arguments_say_what_to_send() {
        let context = ToolContext::new(None);
        for (pairs, wanted) in [
            (&[][..], "needs the argument `code`"),
            (
                &[("code", "x"), ("focus", "speed")][..],
                "unknown focus `speed`",
            ),
            (
                &[("code", "x"), ("language", "cobol")][..],
                "unknown language `cobol`",
            ),
        ] {
            let outcome = prompt::get::<CodeReview>(&arguments(pairs), &context);
            let message = match &outcome {
                PromptOutcome::InvalidArguments { message } | PromptOutcome::Failed { message } => {
                    message
                }
                other => panic!("refused: {other:?}"),
            };
            assert!(message.contains(wanted), "{message}");
        }
    }

    #[test]
    fn the_rules_resource_lists_a_languages_rules_and_knows_no_others() {
        let context = ToolContext::new(None);
        let read =
            resource::read_template::<ReviewRules>("code-tools://review-rules/python", &context);
        let Some(ResourceOutcome::Read { contents }) = read else {
            panic!("reads: {read:?}");
        };
        assert_eq!(contents[0]["mimeType"], "application/json");
        let document: Value =
            serde_json::from_str(contents[0]["text"].as_str().expect("text")).expect("JSON");
        assert_eq!(document["language"], "python");
        assert_eq!(document["rules"][1]["rule"], "python.bare-except");
        assert!(matches!(
            resource::read_template::<ReviewRules>("code-tools://review-rules/cobol", &context),
            Some(ResourceOutcome::NotFound { .. })
        ));
    }

    #[test]
    fn the_languages_resource_names_each_language_with_its_aliases() {
        let ResourceOutcome::Read { contents } =
            resource::read::<Languages>(&ToolContext::new(None))
        else {
            panic!("reads");
        };
        let document: Value =
            serde_json::from_str(contents[0]["text"].as_str().expect("text")).expect("JSON");
        let rust = document["languages"]
            .as_array()
            .expect("languages")
            .iter()
            .find(|language| language["name"] == "rust")
            .expect("rust");
        assert_eq!(rust["aliases"], json!(["rs"]));
        assert_eq!(
            document["languages"].as_array().map(Vec::len),
            Some(LANGUAGES.len())
        );
    }

    #[test]
    fn every_completed_language_is_one_the_tools_know() {
        for name in LANGUAGES {
            assert_eq!(Language::named(name).expect(name).name(), *name);
        }
    }

    #[test]
    fn every_language_the_tools_know_is_completed() {
        for (alias, language) in accepted_names() {
            assert!(
                LANGUAGES.contains(&language.name()),
                "`{alias}` names {}, which the completions leave out",
                language.name()
            );
        }
    }
}
