//! `fix_code`: the safe, mechanical repairs for what `review_code` marks
//! fixable, with a unified diff of the change.

use plugin_api::{Annotations, JsonSchema, Tool, ToolContext, ToolError};
use serde::{Deserialize, Serialize};

use crate::check_size;
use crate::language::Language;
use crate::review::{self, Finding, SECRET_ASSIGNMENT, env_name, is_placeholder};
use crate::rules::Hit;

/// Applies safe mechanical fixes.
pub struct FixCode;

/// What `fix_code` takes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixInput {
    /// The source text.
    pub code: String,
    /// Its language: `rust`, `python`, `javascript`, `typescript`, `go`,
    /// `java`, `ruby`, `c`, `cpp`, `shell` or `text` (or a common alias or file
    /// extension); guessed from the text when absent.
    #[serde(default)]
    pub language: Option<String>,
    /// The file name shown in the diff headers.
    #[serde(default = "default_path")]
    pub path: String,
}

fn default_path() -> String {
    "code".to_owned()
}

/// One change made.
#[derive(Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct AppliedFix {
    /// The line, from 1, in the original text.
    pub line: usize,
    /// The rule whose finding it repairs.
    pub rule: String,
    /// What was changed.
    pub change: String,
}

/// The fixed text and what changed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FixResult {
    /// The language the code was read as.
    pub language: String,
    /// The text after the fixes.
    pub fixed: String,
    /// A unified diff from the original to the fixed text (empty when
    /// nothing changed).
    pub diff: String,
    /// The changes made.
    pub applied: Vec<AppliedFix>,
    /// The findings that remain, by line of the fixed text: those no
    /// mechanical fix can repair.
    pub remaining: Vec<Finding>,
}

impl Tool for FixCode {
    type Input = FixInput;
    type Output = FixResult;

    const NAME: &'static str = "fix_code";
    const TITLE: &'static str = "Fix code";
    const DESCRIPTION: &'static str = "Applies the safe mechanical fixes for what review_code marks fixable: the syntax rules' rewrites (yaml.load to yaml.safe_load in Python and YAML.load to YAML.safe_load in Ruby, a timeout for requests calls, verify=False removed), strips trailing whitespace, adds the final newline, re-indents tabs with spaces (except in Go), and replaces hard-coded secrets with environment lookups in the language's own idiom. Returns the fixed text, a unified diff, the changes made and the findings that remain.";
    const ANNOTATIONS: Annotations = Annotations::PURE;

    fn run(input: FixInput, _context: &ToolContext) -> Result<FixResult, ToolError> {
        check_size(&input.code)?;
        let language = crate::language_of(input.language.as_deref(), &input.code)?;
        crate::check_rules(language)?;
        let original = &input.code;
        let (rewritten, mut applied) = rewrite(original, language);
        let (fixed, text_fixes) = fix(&rewritten, language);
        applied.extend(text_fixes);
        applied.sort_by_key(|fix| fix.line);
        let diff = if fixed == *original {
            String::new()
        } else {
            similar::TextDiff::from_lines(original.as_str(), fixed.as_str())
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{}", input.path), &format!("b/{}", input.path))
                .to_string()
        };
        let remaining = review::review(&fixed, language, usize::MAX, usize::MAX)
            .into_iter()
            .filter(|finding| !finding.fixable)
            .collect();
        Ok(FixResult {
            language: language.name().to_owned(),
            fixed,
            diff,
            applied,
            remaining,
        })
    }

    fn summary(result: &FixResult) -> String {
        if result.applied.is_empty() {
            return format!(
                "Nothing to fix mechanically; {} findings need a person.",
                result.remaining.len()
            );
        }
        let mut text = format!(
            "{} fixes applied; {} findings need a person.",
            result.applied.len(),
            result.remaining.len()
        );
        for fix in &result.applied {
            text.push_str(&format!(
                "\nline {}: [{}] {}",
                fix.line, fix.rule, fix.change
            ));
        }
        text.push_str("\n\n");
        text.push_str(&result.diff);
        text
    }
}

/// The code with the syntax rules' safe rewrites made (`yaml.load` to
/// `yaml.safe_load`, a timeout added, `verify=False` removed), except
/// where a suppression comment silences the rule, and the rewrites made.
fn rewrite(code: &str, language: Language) -> (String, Vec<AppliedFix>) {
    let mut code = code.to_owned();
    let mut applied = Vec::new();
    // An edit inside another (verify=False inside a call that gains a
    // timeout) waits for the next pass, which sees the first one's result.
    for _ in 0..MAX_REWRITE_PASSES {
        let (next, made) = rewrite_once(&code, language);
        if made.is_empty() {
            break;
        }
        code = next;
        applied.extend(made);
    }
    (code, applied)
}

/// How many times the rewrites run over their own output at most.
const MAX_REWRITE_PASSES: usize = 4;

/// One pass of [`rewrite`]: the edits that do not overlap.
fn rewrite_once(code: &str, language: Language) -> (String, Vec<AppliedFix>) {
    let Some(hits) = crate::rules::book()
        .ok()
        .and_then(|book| book.scan(code, language))
    else {
        return (code.to_owned(), Vec::new());
    };
    let mut edits: Vec<(Hit, std::ops::Range<usize>, String)> = hits
        .into_iter()
        .filter_map(|mut hit| {
            let (range, text) = hit.rewrite.take()?;
            (range.end <= code.len()
                && code.is_char_boundary(range.start)
                && code.is_char_boundary(range.end))
            .then_some((hit, range, text))
        })
        .collect();
    let probes = edits
        .iter()
        .map(|(hit, _, _)| Finding::probe(&hit.rule, hit.line, hit.end_line))
        .collect();
    let (kept, _) = review::suppress(code, language, probes);
    edits.retain(|(hit, _, _)| {
        kept.iter()
            .any(|finding| finding.rule == hit.rule && finding.line == hit.line)
    });
    // From the end, so each range still points into the text.
    edits.sort_by_key(|edit| std::cmp::Reverse(edit.1.start));
    let mut out = code.to_owned();
    let mut applied = Vec::new();
    let mut floor = usize::MAX;
    for (hit, range, text) in edits {
        if range.end > floor {
            continue;
        }
        floor = range.start;
        let before = &code[range.clone()];
        let change = if text.is_empty() {
            format!(
                "`{}` removed",
                shorten(before.trim_start_matches([',', ' ']))
            )
        } else {
            format!("`{}` rewritten as `{}`", shorten(before), shorten(&text))
        };
        out.replace_range(range, &text);
        applied.push(AppliedFix {
            line: hit.line,
            rule: hit.rule,
            change,
        });
    }
    applied.reverse();
    (out, applied)
}

/// Code quoted in a change: on one line, at most 80 characters.
fn shorten(code: &str) -> String {
    let flat = code.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= 80 {
        return flat;
    }
    let mut short: String = flat.chars().take(79).collect();
    short.push('…');
    short
}

/// The fixed text and the fixes applied.
fn fix(code: &str, language: Language) -> (String, Vec<AppliedFix>) {
    let mut applied = Vec::new();
    let mut out = String::with_capacity(code.len() + 1);
    let mut needs_os_import = false;
    for (index, raw) in code.lines().enumerate() {
        let number = index + 1;
        let mut line = raw.to_owned();
        if let Some((replaced, variable)) = replace_secret(&line, language) {
            line = replaced;
            needs_os_import |= language == Language::Python;
            applied.push(AppliedFix {
                line: number,
                rule: "secret".to_owned(),
                change: format!("hard-coded secret replaced by a read of {variable}"),
            });
        }
        let trimmed = line.trim_end_matches([' ', '\t']);
        if trimmed.len() != line.len() {
            line.truncate(trimmed.len());
            applied.push(AppliedFix {
                line: number,
                rule: "trailing-whitespace".to_owned(),
                change: "trailing whitespace removed".to_owned(),
            });
        }
        if !language.indents_with_tabs() {
            let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
            if indent.contains('\t') {
                let spaces = indent.replace('\t', "    ");
                line = format!("{spaces}{}", &line[indent.len()..]);
                applied.push(AppliedFix {
                    line: number,
                    rule: "tab-indentation".to_owned(),
                    change: "tabs in the indentation replaced by four spaces each".to_owned(),
                });
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    if !code.is_empty() && !code.ends_with('\n') {
        applied.push(AppliedFix {
            line: code.lines().count(),
            rule: "final-newline".to_owned(),
            change: "final newline added".to_owned(),
        });
    }
    if needs_os_import && !code.lines().any(|line| line.trim() == "import os") {
        out.insert_str(0, "import os\n");
        applied.push(AppliedFix {
            line: 1,
            rule: "secret".to_owned(),
            change: "`import os` added for the environment lookups".to_owned(),
        });
    }
    (out, applied)
}

/// The line with its hard-coded secret (a whole string literal) replaced by
/// an environment lookup, and the variable read; `None` when there is none
/// to replace.
fn replace_secret(line: &str, language: Language) -> Option<(String, String)> {
    for (_, variable, pattern) in review::SECRET_SHAPES.iter() {
        if let Some(found) = pattern.find(line)
            && review::inside_string_literal(line, pattern)
        {
            let (start, end) = (found.start() - 1, found.end() + 1);
            let lookup = language.env_lookup(variable);
            return Some((
                format!("{}{lookup}{}", &line[..start], &line[end..]),
                (*variable).to_owned(),
            ));
        }
    }
    let captures = SECRET_ASSIGNMENT.captures(line)?;
    if is_placeholder(&captures[3]) {
        return None;
    }
    let value = captures.get(3)?;
    let variable = env_name(&captures[1]);
    let (start, end) = (value.start() - 1, value.end() + 1);
    let lookup = language.env_lookup(&variable);
    Some((
        format!("{}{lookup}{}", &line[..start], &line[end..]),
        variable,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(code: &str, language: &str) -> FixResult {
        FixCode::run(
            FixInput {
                code: code.to_owned(),
                language: Some(language.to_owned()),
                path: "app.py".to_owned(),
            },
            &ToolContext::new(None),
        )
        .expect("fixes")
    }

    #[test]
    fn python_secrets_become_environment_reads_with_the_import() {
        let result = run(
            "API_KEY = \"sk_test_abcdef123456\"  \nprint(API_KEY)",
            "python",
        );
        assert_eq!(
            result.fixed,
            "import os\nAPI_KEY = os.environ[\"API_KEY\"]\nprint(API_KEY)\n"
        );
        let rules: Vec<&str> = result.applied.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(
            rules,
            ["secret", "trailing-whitespace", "secret", "final-newline"]
        );
        assert!(
            result.diff.starts_with("--- a/app.py\n+++ b/app.py\n"),
            "{}",
            result.diff
        );
        assert!(
            result
                .diff
                .contains("-API_KEY = \"sk_test_abcdef123456\"  \n")
        );
        assert!(result.diff.contains("+API_KEY = os.environ[\"API_KEY\"]\n"));
        let remaining: Vec<&str> = result.remaining.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(remaining, ["debug-print"]);
    }

    #[test]
    fn shaped_secrets_use_their_conventional_variable() {
        let result = run("const key = \"AKIAIOSFODNN7EXAMPLE\";\n", "javascript");
        assert_eq!(result.fixed, "const key = process.env.AWS_ACCESS_KEY_ID;\n");
    }

    #[test]
    fn tabs_are_kept_in_go_and_replaced_elsewhere() {
        assert!(run("func f() {\n\treturn\n}\n", "go").applied.is_empty());
        let rust = run("fn f() {\n\treturn;\n}\n", "rust");
        assert_eq!(rust.fixed, "fn f() {\n    return;\n}\n");
    }

    #[test]
    fn a_ruby_yaml_load_is_rewritten_as_safe_load() {
        let result = run("config = YAML.load(request.body.read)\n", "ruby");
        assert_eq!(result.fixed, "config = YAML.safe_load(request.body.read)\n");
        assert_eq!(result.applied.len(), 1, "{:?}", result.applied);
        assert_eq!(result.applied[0].rule, "ruby.yaml-load");
    }

    #[test]
    fn rule_rewrites_are_applied_unless_suppressed_and_shown_in_the_diff() {
        let code = "import requests\nimport yaml\n\
            config = yaml.load(text)\n\
            page = requests.get(url, verify=False)\n\
            kept = yaml.load(other)  # nosec B506 -- trusted file\n";
        let result = run(code, "python");
        assert_eq!(
            result.fixed,
            "import requests\nimport yaml\n\
            config = yaml.safe_load(text)\n\
            page = requests.get(url, timeout=30)\n\
            kept = yaml.load(other)  # nosec B506 -- trusted file\n"
        );
        let changes: Vec<(usize, &str, &str)> = result
            .applied
            .iter()
            .map(|fix| (fix.line, fix.rule.as_str(), fix.change.as_str()))
            .collect();
        assert_eq!(
            changes,
            [
                (
                    3,
                    "python.yaml-load",
                    "`yaml.load(text)` rewritten as `yaml.safe_load(text)`"
                ),
                (4, "python.tls-verify-disabled", "`verify=False` removed"),
                (
                    4,
                    "python.request-without-timeout",
                    "`requests.get(url)` rewritten as `requests.get(url, timeout=30)`"
                ),
            ]
        );
        assert!(
            result.diff.contains("+config = yaml.safe_load(text)"),
            "{}",
            result.diff
        );
    }

    #[test]
    fn clean_code_is_returned_unchanged_with_an_empty_diff() {
        let result = run("x = 1\n", "python");
        assert_eq!(result.fixed, "x = 1\n");
        assert!(result.diff.is_empty());
        assert!(result.applied.is_empty());
    }
}
