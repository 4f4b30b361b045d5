//! `architecture_brief`: a prompt that hands a model the design `architect`
//! derives for a project, to critique and carry further.

use std::collections::BTreeMap;

use plugin_api::content::{Role, message, text};
use plugin_api::{Prompt, PromptArgument, Tool, ToolContext, ToolError};
use serde_json::Value;

use crate::architect::{Architect, Brief, Constraints};

/// `architecture_brief`.
pub struct ArchitectureBrief;

/// The availability a client may ask for.
const AVAILABILITY: &[&str] = &["high", "standard"];

/// The compliance regimes the rules know.
const COMPLIANCE: &[&str] = &["gdpr", "hipaa", "pci"];

impl Prompt for ArchitectureBrief {
    const NAME: &'static str = "architecture_brief";
    const TITLE: &'static str = "Architecture brief";
    const DESCRIPTION: &'static str = "Asks for a critique of the architecture the `architect` rules derive for a project (`project`, with optional `users`, `availability` and `compliance`): its components, links, forced decisions and diagram, with what to challenge.";
    const ARGUMENTS: &'static [PromptArgument] = &[
        PromptArgument {
            name: "project",
            description: "what the system must do, in plain words",
            required: true,
            completions: &[],
        },
        PromptArgument {
            name: "users",
            description: "peak users at the same time, as a whole number",
            required: false,
            completions: &[],
        },
        PromptArgument {
            name: "availability",
            description: "high (survives losing a data centre) or standard",
            required: false,
            completions: AVAILABILITY,
        },
        PromptArgument {
            name: "compliance",
            description: "regimes to comply with, separated by commas: gdpr, hipaa, pci",
            required: false,
            completions: COMPLIANCE,
        },
    ];

    fn get(
        arguments: &BTreeMap<String, String>,
        context: &ToolContext,
    ) -> Result<Vec<Value>, ToolError> {
        let project = arguments.get("project").map_or("", String::as_str).trim();
        let concurrent_users = match arguments.get("users").map(|users| users.trim()) {
            None | Some("") => None,
            Some(users) => Some(users.parse::<u64>().map_err(|_| {
                ToolError::new(format!(
                    "`users` is `{users}`; give a whole number such as 5000"
                ))
            })?),
        };
        let high_availability = match arguments.get("availability").map(|a| a.trim()) {
            None | Some("" | "standard") => false,
            Some("high") => true,
            Some(other) => {
                return Err(ToolError::new(format!(
                    "`availability` is `{other}`; use high or standard"
                )));
            }
        };
        let compliance: Vec<String> = arguments
            .get("compliance")
            .map(|list| {
                list.split(',')
                    .map(|regime| regime.trim().to_lowercase())
                    .filter(|regime| !regime.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if project.chars().count() < 10 {
            return Err(ToolError::new(
                "`project` needs at least 10 characters describing what the system must do",
            ));
        }
        let design = Architect::run(
            Brief {
                description: project.to_owned(),
                constraints: Constraints {
                    concurrent_users,
                    high_availability,
                    compliance,
                },
            },
            context,
        )?;
        let mut request = format!(
            "Critique this architecture for: {project}\n\nComponents (each with the rule that \
             added it):\n"
        );
        for component in &design.components {
            request.push_str(&format!(
                "- {} ({}): {}; interface: {}; because {}\n",
                component.name,
                component.id,
                component.responsibility,
                component.interface,
                component.because
            ));
        }
        if !design.decisions.is_empty() {
            request.push_str("\nDecisions the constraints force:\n");
            for decision in &design.decisions {
                request.push_str(&format!("- {decision}\n"));
            }
        }
        request.push_str(&format!(
            "\nDiagram:\n```mermaid\n{}\n```\n\nSay which components are missing or \
             unnecessary, which links would fail first under load, and what you would change.",
            design.mermaid.trim_end()
        ));
        Ok(vec![message(Role::User, text(request))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{PromptOutcome, prompt};

    fn get(pairs: &[(&str, &str)]) -> PromptOutcome {
        let arguments = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        prompt::get::<ArchitectureBrief>(&arguments, &ToolContext::new(None))
    }

    #[test]
    fn the_brief_carries_the_derived_design() {
        let outcome = get(&[
            (
                "project",
                "an online shop with card payments and order emails",
            ),
            ("users", "20000"),
            ("compliance", "pci"),
        ]);
        let PromptOutcome::Got { messages, .. } = outcome else {
            panic!("renders: {outcome:?}");
        };
        let text = messages[0]["content"]["text"].as_str().expect("text");
        assert!(
            text.starts_with("Critique this architecture for: an online shop"),
            "{text}"
        );
        assert!(
            text.contains("Cache (Redis)"),
            "20,000 users bring a cache: {text}"
        );
        assert!(text.contains("```mermaid\nflowchart"), "{text}");
    }

    #[test]
    fn bad_arguments_say_what_to_send() {
        let outcome = get(&[("project", "an online shop"), ("users", "many")]);
        assert!(
            matches!(&outcome, PromptOutcome::InvalidArguments { message } if message.contains("give a whole number")),
            "{outcome:?}"
        );
        let outcome = get(&[("project", "an online shop"), ("availability", "always")]);
        assert!(
            matches!(&outcome, PromptOutcome::InvalidArguments { message } if message.contains("use high or standard")),
            "{outcome:?}"
        );
        let outcome = get(&[("project", "an online shop"), ("compliance", "sox")]);
        assert!(
            matches!(&outcome, PromptOutcome::InvalidArguments { message } if message.contains("unknown compliance regime `sox`")),
            "{outcome:?}"
        );
        let outcome = get(&[("project", "shop")]);
        assert!(
            matches!(&outcome, PromptOutcome::InvalidArguments { message } if message.contains("at least 10 characters")),
            "{outcome:?}"
        );
    }
}
