//! `optimize_prompt`: lints a prompt template and returns it restructured
//! (role, task, constraints, output format) with every change listed.

use std::collections::BTreeSet;

use plugin_api::{Annotations, JsonSchema, Tool, ToolContext, ToolError};
use serde::{Deserialize, Serialize};

/// Lints and restructures a prompt template.
pub struct OptimizePrompt;

/// What `optimize_prompt` takes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptInput {
    /// The prompt template; placeholders are written `{{name}}`.
    #[schemars(length(min = 1, max = 100000))]
    pub prompt: String,
    /// The variables the caller will fill in. When given, placeholders
    /// without a variable and variables without a placeholder are reported.
    #[serde(default)]
    pub variables: Option<Vec<String>>,
    /// The most words the prompt should have.
    #[serde(default = "default_max_words")]
    #[schemars(range(min = 10, max = 100000))]
    pub max_words: usize,
}

fn default_max_words() -> usize {
    400
}

/// One problem found.
#[derive(Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Issue {
    /// The rule (`unfilled-placeholder`, `missing-role`, ...).
    pub rule: String,
    /// `error` for what will break the prompt, `warning` for what weakens it.
    pub severity: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// The lint and the improved prompt.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PromptReport {
    /// The problems found in the original.
    pub issues: Vec<Issue>,
    /// The placeholders the template uses, in order of first use.
    pub placeholders: Vec<String>,
    /// Words in the original.
    pub words: usize,
    /// The restructured prompt.
    pub improved: String,
    /// What was changed to make it.
    pub changes: Vec<String>,
    /// The client's model's own rewrite, when the client offers sampling
    /// and the policies let `optimize_prompt` use it; labelled, and never
    /// mixed into `improved`.
    pub refinement: Option<crate::refine::Refinement>,
}

/// Instruction words that pull against each other.
const CONTRADICTIONS: &[(&[&str], &[&str], &str)] = &[
    (
        &[
            "concise",
            "brief",
            "short answer",
            "keep it short",
            "succinct",
        ],
        &[
            "detailed",
            "comprehensive",
            "in depth",
            "in-depth",
            "thorough",
            "exhaustive",
        ],
        "length",
    ),
    (
        &["formal"],
        &["casual", "informal", "friendly and relaxed"],
        "tone",
    ),
    (
        &["use bullet points", "as a list", "bulleted"],
        &["no bullet points", "avoid lists", "no lists", "prose only"],
        "layout",
    ),
    (
        &["include examples", "give examples", "with examples"],
        &["no examples", "without examples"],
        "examples",
    ),
    (
        &["respond in json", "as json", "json object"],
        &["plain text only", "no json"],
        "format",
    ),
];

const ROLE_MARKERS: &[&str] = &[
    "you are",
    "act as",
    "as a ",
    "your role",
    "you're a",
    "you will act",
];
const FORMAT_MARKERS: &[&str] = &[
    "format",
    "json",
    "markdown",
    "bullet",
    "table",
    "respond with",
    "return ",
    "output",
    "list of",
    "yaml",
    "csv",
];
const VAGUE: &[&str] = &["etc", "and so on", "stuff", "things like that", "whatever"];

impl Tool for OptimizePrompt {
    type Input = PromptInput;
    type Output = PromptReport;

    const NAME: &'static str = "optimize_prompt";
    const TITLE: &'static str = "Optimize a prompt";
    const DESCRIPTION: &'static str = "Lints a prompt template: placeholders ({{name}}) left unfilled or variables never used, a missing role, a missing output format, contradictory instructions (concise and detailed, formal and casual), vague wording, repeated sentences and length. Returns the issues, an improved version organised as role, task, constraints and output format, and the list of changes made.";
    const ANNOTATIONS: Annotations = Annotations::PURE;

    fn run(input: PromptInput, context: &ToolContext) -> Result<PromptReport, ToolError> {
        let prompt = input.prompt.trim();
        if prompt.is_empty() {
            return Err(ToolError::new(
                "`prompt` is blank; send the template to lint",
            ));
        }
        let lower = prompt.to_lowercase();
        let placeholders = placeholders(prompt)?;
        let mut issues = Vec::new();
        let mut issue = |rule: &str, severity: &str, message: String| {
            issues.push(Issue {
                rule: rule.to_owned(),
                severity: severity.to_owned(),
                message,
            });
        };
        if let Some(variables) = &input.variables {
            for name in placeholders.iter().filter(|p| !variables.contains(p)) {
                issue(
                    "unfilled-placeholder",
                    "error",
                    format!(
                        "`{{{{{name}}}}}` has no variable to fill it: add `{name}` to the variables or remove the placeholder"
                    ),
                );
            }
            for name in variables.iter().filter(|v| !placeholders.contains(v)) {
                issue(
                    "unused-variable",
                    "warning",
                    format!(
                        "variable `{name}` is never used: add `{{{{{name}}}}}` where it belongs or stop sending it"
                    ),
                );
            }
        }
        let has_role = ROLE_MARKERS.iter().any(|marker| lower.contains(marker));
        if !has_role {
            issue("missing-role", "warning", "no role: say who the model is (\"You are a ...\") so it knows the perspective and expertise to answer from".to_owned());
        }
        let has_format = FORMAT_MARKERS.iter().any(|marker| lower.contains(marker));
        if !has_format {
            issue("missing-output-format", "warning", "no output format: say what the answer must look like (sections, a list, JSON with named fields)".to_owned());
        }
        for (one, other, topic) in CONTRADICTIONS {
            let first = one.iter().find(|w| lower.contains(*w));
            let second = other.iter().find(|w| lower.contains(*w));
            if let (Some(first), Some(second)) = (first, second) {
                issue(
                    "contradiction",
                    "error",
                    format!(
                        "contradictory {topic} instructions: \"{first}\" and \"{second}\"; keep one"
                    ),
                );
            }
        }
        for word in VAGUE {
            if contains_word(&lower, word) {
                issue(
                    "vague",
                    "warning",
                    format!("\"{word}\" leaves the model to guess: list what you mean"),
                );
            }
        }
        let sentences = sentences(prompt);
        let mut seen = BTreeSet::new();
        let repeated: Vec<&str> = sentences
            .iter()
            .copied()
            .filter(|s| !seen.insert(s.to_lowercase()))
            .collect();
        for sentence in &repeated {
            issue(
                "repeated",
                "warning",
                format!("\"{sentence}\" is said twice; once is enough"),
            );
        }
        let words = prompt.split_whitespace().count();
        if words > input.max_words {
            issue(
                "too-long",
                "warning",
                format!(
                    "{words} words (limit {}): cut what the model does not need",
                    input.max_words
                ),
            );
        } else if words < 8 {
            issue(
                "too-short",
                "warning",
                format!("{words} words: give the model the context and goal of the task"),
            );
        }
        let (improved, changes) = improve(prompt, &sentences, &repeated, has_role, has_format);
        let refinement = crate::refine::refinement(
            context,
            "You improve prompts for language models. Answer with the improved prompt only, keeping every {{placeholder}} as written.",
            || {
                format!(
                    "Improve this prompt:\n\n{prompt}\n\nA rule-based rewrite, for reference:\n\n{improved}"
                )
            },
            1000,
        )?;
        Ok(PromptReport {
            issues,
            placeholders,
            words,
            improved,
            changes,
            refinement,
        })
    }

    fn summary(report: &PromptReport) -> String {
        let mut text = format!("{} issues in {} words.", report.issues.len(), report.words);
        for issue in &report.issues {
            text.push_str(&format!(
                "\n{} [{}] {}",
                issue.severity, issue.rule, issue.message
            ));
        }
        text.push_str("\n\nImproved prompt:\n");
        text.push_str(&report.improved);
        text.push_str(&crate::refine::paragraph(report.refinement.as_ref()));
        text
    }
}

/// The `{{name}}` placeholders in order of first use; an unclosed one is an
/// error.
fn placeholders(prompt: &str) -> Result<Vec<String>, ToolError> {
    let mut found: Vec<String> = Vec::new();
    let mut rest = prompt;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| {
            ToolError::new(format!(
                "a placeholder is opened but never closed near \"{}\": close it with `}}}}`",
                after.chars().take(20).collect::<String>()
            ))
        })?;
        let name = after[..end].trim().to_owned();
        if !name.is_empty() && !found.contains(&name) {
            found.push(name);
        }
        rest = &after[end + 2..];
    }
    Ok(found)
}

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().last();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The prompt's sentences, trimmed.
fn sentences(prompt: &str) -> Vec<&str> {
    prompt
        .split_inclusive(['.', '!', '?', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn improve(
    prompt: &str,
    sentences: &[&str],
    repeated: &[&str],
    has_role: bool,
    has_format: bool,
) -> (String, Vec<String>) {
    let mut changes = Vec::new();
    let mut kept: Vec<&str> = Vec::new();
    let mut seen = BTreeSet::new();
    for sentence in sentences {
        if seen.insert(sentence.to_lowercase()) {
            kept.push(sentence);
        }
    }
    if !repeated.is_empty() {
        changes.push(format!("removed {} repeated sentence(s)", repeated.len()));
    }
    let is_role = |s: &&str| ROLE_MARKERS.iter().any(|m| s.to_lowercase().contains(m));
    let is_rule = |s: &&str| {
        let lower = s.to_lowercase();
        [
            "must", "never", "always", "do not", "don't", "avoid", "only",
        ]
        .iter()
        .any(|w| contains_word(&lower, w))
    };
    let is_format = |s: &&str| FORMAT_MARKERS.iter().any(|m| s.to_lowercase().contains(m));
    let role: Vec<&str> = kept.iter().copied().filter(is_role).collect();
    let format: Vec<&str> = kept
        .iter()
        .copied()
        .filter(|s| !is_role(s) && is_format(s))
        .collect();
    let rules: Vec<&str> = kept
        .iter()
        .copied()
        .filter(|s| !is_role(s) && !is_format(s) && is_rule(s))
        .collect();
    let task: Vec<&str> = kept
        .iter()
        .copied()
        .filter(|s| !is_role(s) && !is_format(s) && !is_rule(s))
        .collect();
    let mut out = String::from("## Role\n");
    if has_role {
        out.push_str(&role.join(" "));
    } else {
        out.push_str("You are an expert assistant for the task below.");
        changes.push("added a role".to_owned());
    }
    out.push_str("\n\n## Task\n");
    out.push_str(&task.join(" "));
    if !rules.is_empty() {
        out.push_str("\n\n## Constraints\n");
        for rule in &rules {
            out.push_str(&format!("- {rule}\n"));
        }
        out.truncate(out.trim_end().len());
        changes.push(format!(
            "gathered {} rule(s) under Constraints",
            rules.len()
        ));
    }
    out.push_str("\n\n## Output format\n");
    if has_format {
        out.push_str(&format.join(" "));
    } else {
        out.push_str("Start with a one-sentence answer, then give the details as a short list.");
        changes.push("added an output format".to_owned());
    }
    out.push('\n');
    if out.trim() != prompt.trim() {
        changes.insert(
            0,
            "organised the prompt into role, task, constraints and output format".to_owned(),
        );
    }
    (out, changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(prompt: &str, variables: Option<&[&str]>) -> PromptReport {
        OptimizePrompt::run(
            PromptInput {
                prompt: prompt.to_owned(),
                variables: variables.map(|v| v.iter().map(|s| (*s).to_owned()).collect()),
                max_words: 400,
            },
            &ToolContext::new(None),
        )
        .expect("a report")
    }

    fn rules(report: &PromptReport) -> Vec<&str> {
        report.issues.iter().map(|i| i.rule.as_str()).collect()
    }

    #[test]
    fn placeholders_and_variables_are_matched_both_ways() {
        let report = lint(
            "You are a translator. Translate {{text}} into {{ language }}. Return only the translation.",
            Some(&["text", "tone"]),
        );
        assert_eq!(report.placeholders, ["text", "language"]);
        assert_eq!(rules(&report), ["unfilled-placeholder", "unused-variable"]);
        assert!(
            report.issues[0]
                .message
                .starts_with("`{{language}}` has no variable")
        );
    }

    #[test]
    fn a_bare_prompt_gains_a_role_and_an_output_format() {
        let report = lint(
            "Summarise the meeting notes below. Be concise. Be thorough and detailed, etc.",
            None,
        );
        assert_eq!(
            rules(&report),
            [
                "missing-role",
                "missing-output-format",
                "contradiction",
                "vague"
            ]
        );
        assert_eq!(
            report.improved,
            "## Role\nYou are an expert assistant for the task below.\n\n## Task\nSummarise the meeting notes below. Be concise. Be thorough and detailed, etc.\n\n## Output format\nStart with a one-sentence answer, then give the details as a short list.\n"
        );
        assert_eq!(
            report.changes,
            [
                "organised the prompt into role, task, constraints and output format",
                "added a role",
                "added an output format"
            ]
        );
    }

    #[test]
    fn repeated_sentences_and_rules_are_tidied() {
        let report = lint(
            "You are a reviewer. Review the diff. Never approve failing tests. Review the diff. Respond in JSON.",
            None,
        );
        assert_eq!(rules(&report), ["repeated"]);
        assert!(
            report
                .improved
                .contains("## Constraints\n- Never approve failing tests.\n")
        );
        assert_eq!(report.improved.matches("Review the diff.").count(), 1);
    }

    #[test]
    fn an_unclosed_placeholder_is_an_error() {
        let error = OptimizePrompt::run(
            PromptInput {
                prompt: "Hello {{name".into(),
                variables: None,
                max_words: 400,
            },
            &ToolContext::new(None),
        )
        .expect_err("unclosed");
        assert!(
            error
                .0
                .starts_with("a placeholder is opened but never closed")
        );
    }
}
