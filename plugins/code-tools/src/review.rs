//! `review_code`: findings for hard-coded secrets, leftover TODOs, debug
//! prints, over-long lines and functions, per-language smells and the
//! whitespace problems `fix_code` can repair.

use std::sync::LazyLock;

use plugin_api::{Annotations, JsonSchema, Tool, ToolContext, ToolError};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::check_size;
use crate::language::Language;
use crate::scan::{self, Line};
pub(crate) use crate::severity::Severity;

/// Reviews source text.
pub struct ReviewCode;

/// What `review_code` takes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// The source text.
    pub code: String,
    /// Its language: `rust`, `python`, `javascript`, `typescript`, `go`,
    /// `java`, `ruby`, `c`, `cpp`, `shell` or `text` (or a common alias or file
    /// extension); guessed from the text when absent.
    #[serde(default)]
    pub language: Option<String>,
    /// Lines longer than this many characters are reported.
    #[serde(default = "default_max_line_length")]
    #[schemars(range(min = 40, max = 1000))]
    pub max_line_length: usize,
    /// Functions longer than this many lines are reported.
    #[serde(default = "default_max_function_lines")]
    #[schemars(range(min = 5, max = 10000))]
    pub max_function_lines: usize,
}

fn default_max_line_length() -> usize {
    120
}

fn default_max_function_lines() -> usize {
    50
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Finding {
    /// The line where it starts, from 1.
    pub line: usize,
    /// The rule that found it (`python.subprocess-shell`,
    /// `secret.aws-access-key`, `debug-print`).
    pub rule: String,
    /// How much it matters.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// Whether `fix_code` repairs it.
    pub fixable: bool,
    /// The column where it starts, from 1, counting characters (syntax
    /// rules only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// Where it ends: the line, and the column just past it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_line: Option<usize>,
    /// See `end_line`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_column: Option<usize>,
    /// The weakness it is an instance of (`CWE-78`), where one applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwe: Option<String>,
    /// The code it matched, on one line, shortened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl Finding {
    /// A bare finding of `rule` over `lines`, to ask whether a
    /// suppression comment silences it.
    pub(crate) fn probe(rule: &str, line: usize, end_line: usize) -> Self {
        Self {
            line,
            rule: rule.to_owned(),
            severity: Severity::Info,
            message: String::new(),
            fixable: false,
            column: None,
            end_line: Some(end_line),
            end_column: None,
            cwe: None,
            code: None,
            suggestion: None,
        }
    }
}

/// A finding a suppression comment (`# nosec`, `// #nosec G204 -- reason`)
/// on its line silenced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Suppressed {
    /// The line, from 1.
    pub line: usize,
    /// The rule it silenced.
    pub rule: String,
    /// The reason the comment gives after `--`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The review.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Review {
    /// The language the code was read as.
    pub language: String,
    /// How many lines were read.
    pub lines: usize,
    /// The findings, by line.
    pub findings: Vec<Finding>,
    /// The findings suppression comments silenced, by line.
    pub suppressed: Vec<Suppressed>,
    /// How many findings of each severity.
    pub counts: SeverityCounts,
    /// How many findings `fix_code` would repair.
    pub fixable: usize,
}

/// Findings per severity.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct SeverityCounts {
    /// Errors.
    pub error: usize,
    /// Warnings.
    pub warning: usize,
    /// Infos.
    pub info: usize,
}

impl Tool for ReviewCode {
    type Input = ReviewInput;
    type Output = Review;

    const NAME: &'static str = "review_code";
    const TITLE: &'static str = "Review code";
    const DESCRIPTION: &'static str = "Reviews source text (`code`, optional `language`). In Python, JavaScript, TypeScript, Go, Java, Ruby and Rust, security rules are matched on the syntax tree (injection of commands, SQL and code, unsafe deserialization, weak cryptography, disabled certificate checks, path traversal, XSS, SSRF, open redirects, and more, named as bandit, gosec and eslint-plugin-security name them); every language also gets hard-coded secrets, TODO/FIXME comments, debug prints, over-long lines and functions and per-language smells. Each finding has a line, a rule, a severity and whether fix_code can repair it; syntax findings add the column span, the matched code, the CWE and a suggestion. A `nosec` comment with a reason silences a finding and is reported.";
    const ANNOTATIONS: Annotations = Annotations::PURE;

    fn run(input: ReviewInput, _context: &ToolContext) -> Result<Review, ToolError> {
        check_size(&input.code)?;
        let language = crate::language_of(input.language.as_deref(), &input.code)?;
        crate::check_rules(language)?;
        let (findings, suppressed) = suppress(
            &input.code,
            language,
            review(
                &input.code,
                language,
                input.max_line_length,
                input.max_function_lines,
            ),
        );
        let mut counts = SeverityCounts::default();
        for finding in &findings {
            match finding.severity {
                Severity::Error => counts.error += 1,
                Severity::Warning => counts.warning += 1,
                Severity::Info => counts.info += 1,
            }
        }
        Ok(Review {
            language: language.name().to_owned(),
            lines: input.code.lines().count(),
            fixable: findings.iter().filter(|f| f.fixable).count(),
            findings,
            suppressed,
            counts,
        })
    }

    fn summary(review: &Review) -> String {
        let suppressed = match review.suppressed.len() {
            0 => String::new(),
            1 => " (1 finding suppressed by a comment)".to_owned(),
            n => format!(" ({n} findings suppressed by comments)"),
        };
        if review.findings.is_empty() {
            return format!(
                "No findings in {} lines of {}{suppressed}.",
                review.lines, review.language
            );
        }
        let mut text = format!(
            "{} findings in {} lines of {}{suppressed} ({} errors, {} warnings, {} infos; {} fixable by fix_code):",
            review.findings.len(),
            review.lines,
            review.language,
            review.counts.error,
            review.counts.warning,
            review.counts.info,
            review.fixable
        );
        for finding in &review.findings {
            text.push_str(&format!(
                "\nline {}: {} [{}] {}",
                finding.line,
                finding.severity.name(),
                finding.rule,
                finding.message
            ));
            if let Some(suggestion) = &finding.suggestion {
                text.push_str(&format!(" ({suggestion})"));
            }
        }
        text
    }
}

impl Severity {
    /// The severity as the summary writes it (`error`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the rule patterns are valid")
}

/// Secrets recognisable by their shape, with the variable a fix reads
/// them from.
pub(crate) static SECRET_SHAPES: LazyLock<Vec<(&'static str, &'static str, Regex)>> =
    LazyLock::new(|| {
        vec![
            (
                "secret.aws-access-key",
                "AWS_ACCESS_KEY_ID",
                regex(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
            ),
            (
                "secret.github-token",
                "GITHUB_TOKEN",
                regex(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
            ),
            (
                "secret.slack-token",
                "SLACK_TOKEN",
                regex(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
            ),
            (
                "secret.stripe-key",
                "STRIPE_SECRET_KEY",
                regex(r"\b[sr]k_live_[A-Za-z0-9]{16,}"),
            ),
            (
                "secret.jwt",
                "JWT",
                regex(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
            ),
        ]
    });

static PRIVATE_KEY: LazyLock<Regex> =
    LazyLock::new(|| regex(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"));

/// `name = "value"` where the name says the value is secret.
pub(crate) static SECRET_ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r#"(?i)\b([a-z0-9_]*?(?:password|passwd|secret|token|api_?key|access_?key|private_?key|auth_?key)[a-z0-9_]*)["']?\s*(?::\s*[\w&<>\[\] ]+?)?\s*(?:=|:|:=)\s*(["'])([^"'\s]{8,})["']"#,
    )
});

/// Values that are obviously not real secrets.
pub(crate) fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    [
        "your",
        "example",
        "changeme",
        "placeholder",
        "xxxx",
        "<",
        "${",
        "{{",
        "dummy",
        "redacted",
    ]
    .iter()
    .any(|marker| lower.contains(marker))
}

static TODO: LazyLock<Regex> = LazyLock::new(|| regex(r"\b(TODO|FIXME|XXX|HACK)\b"));

/// Per-language rules over the code part of a line: rule, severity,
/// pattern, message.
type Smell = (&'static str, Severity, Regex, &'static str);

fn smells(language: Language) -> &'static [Smell] {
    static RUST: LazyLock<Vec<Smell>> = LazyLock::new(|| {
        vec![
            (
                "debug-print",
                Severity::Warning,
                regex(r"\b(?:println|print|eprintln|eprint|dbg)!\s*\("),
                "debug print: use a logger (`tracing`, `log`) or remove it",
            ),
            (
                "rust.unwrap",
                Severity::Warning,
                regex(r"\.unwrap\(\)"),
                "`unwrap()` panics on `None`/`Err`: return the error with `?` or handle it",
            ),
            (
                "rust.todo-macro",
                Severity::Warning,
                regex(r"\b(?:todo|unimplemented)!\s*\("),
                "`todo!`/`unimplemented!` panics when reached: implement it",
            ),
        ]
    });
    static PYTHON: LazyLock<Vec<Smell>> = LazyLock::new(|| {
        vec![
            (
                "debug-print",
                Severity::Warning,
                regex(r"(?:^|[^.\w])print\s*\("),
                "debug print: use the `logging` module or remove it",
            ),
            (
                "python.bare-except",
                Severity::Warning,
                regex(r"^\s*except\s*:"),
                "bare `except:` also catches KeyboardInterrupt and SystemExit: catch the exceptions you expect",
            ),
            (
                "python.eval",
                Severity::Error,
                regex(r"(?:^|[^.\w])(?:eval|exec)\s*\("),
                "`eval`/`exec` runs arbitrary code: parse the input instead",
            ),
        ]
    });
    static JS: LazyLock<Vec<Smell>> = LazyLock::new(|| {
        vec![
            (
                "debug-print",
                Severity::Warning,
                regex(r"\bconsole\.(?:log|debug|trace)\s*\("),
                "debug print: use a logger or remove it",
            ),
            (
                "js.debugger",
                Severity::Warning,
                regex(r"\bdebugger\b"),
                "`debugger` statement left in: remove it",
            ),
            (
                "js.eval",
                Severity::Error,
                regex(r"\beval\s*\("),
                "`eval` runs arbitrary code: parse the input instead",
            ),
            (
                "js.loose-equality",
                Severity::Info,
                regex(r"[^=!<>]==[^=]|!=[^=]"),
                "loose equality converts types: use `===`/`!==`",
            ),
            (
                "js.var",
                Severity::Info,
                regex(r"(?:^|[\s;(])var\s"),
                "`var` is function-scoped: use `let` or `const`",
            ),
        ]
    });
    static GO: LazyLock<Vec<Smell>> = LazyLock::new(|| {
        vec![
            (
                "debug-print",
                Severity::Warning,
                regex(r"\bfmt\.Print(?:ln|f)?\s*\("),
                "debug print: use a logger (`log/slog`) or remove it",
            ),
            (
                "go.panic",
                Severity::Warning,
                regex(r"\bpanic\s*\("),
                "`panic` stops the program: return an error instead",
            ),
            (
                "go.ignored-error",
                Severity::Warning,
                regex(r"^\s*_\s*(?:,\s*_\s*)?=\s*\w[\w.]*\("),
                "the error result is discarded: handle it",
            ),
        ]
    });
    static JAVA: LazyLock<Vec<Smell>> = LazyLock::new(|| {
        vec![
            (
                "debug-print",
                Severity::Warning,
                regex(r"System\.(?:out|err)\.print(?:ln|f)?\s*\(|\.printStackTrace\(\)"),
                "debug print: use a logger or remove it",
            ),
            (
                "java.empty-catch",
                Severity::Warning,
                regex(r"catch\s*\([^)]*\)\s*\{\s*\}"),
                "empty `catch` swallows the error: handle or rethrow it",
            ),
        ]
    });
    static RUBY: LazyLock<Vec<Smell>> = LazyLock::new(|| {
        vec![(
            "ruby.debugger",
            Severity::Warning,
            regex(r"\b(?:binding\.(?:pry|irb)|byebug|debugger)\b"),
            "debugger breakpoint left in: remove it",
        )]
    });
    static C: LazyLock<Vec<Smell>> = LazyLock::new(|| {
        vec![
            (
                "c.gets",
                Severity::Error,
                regex(r"\bgets\s*\("),
                "`gets` cannot bound its input: use `fgets`",
            ),
            (
                "c.unbounded-copy",
                Severity::Warning,
                regex(r"\b(?:strcpy|strcat|sprintf)\s*\("),
                "unbounded copy: use `strncpy`/`strncat`/`snprintf`",
            ),
            (
                "debug-print",
                Severity::Info,
                regex(r"\bfprintf\s*\(\s*stderr|std::cerr\s*<<"),
                "debug print to stderr: use a logger or remove it",
            ),
        ]
    });
    static SHELL: LazyLock<Vec<Smell>> = LazyLock::new(|| {
        vec![
            (
                "shell.eval",
                Severity::Warning,
                regex(r"(?:^|[;&|]\s*)eval\s"),
                "`eval` re-parses its input: avoid it",
            ),
            (
                "debug-print",
                Severity::Info,
                regex(r"^\s*set\s+-x\b"),
                "`set -x` traces every command (and its secrets): remove it",
            ),
        ]
    });
    match language {
        Language::Rust => &RUST,
        Language::Python => &PYTHON,
        Language::JavaScript | Language::TypeScript => &JS,
        Language::Go => &GO,
        Language::Java => &JAVA,
        Language::Ruby => &RUBY,
        Language::C | Language::Cpp => &C,
        Language::Shell => &SHELL,
        Language::Text => &[],
    }
}

/// One rule only some languages have, as the prompt and the rules
/// resource describe it.
pub(crate) struct RuleSummary {
    pub(crate) rule: String,
    pub(crate) severity: Severity,
    pub(crate) message: String,
    /// For syntax rules: the CWE, why it matters, where to read more and
    /// what to do.
    pub(crate) detail: Option<&'static crate::rules::RuleInfo>,
}

/// The rules only `language` has: its text smells, then its syntax rules
/// by id.
pub(crate) fn language_rules(language: Language) -> Vec<RuleSummary> {
    let book = crate::rules::book().ok();
    let parsed = book.is_some_and(|book| book.grammar(language).is_some());
    let mut rules: Vec<RuleSummary> = smells(language)
        .iter()
        .filter(|(rule, ..)| !(parsed && REPLACED_BY_SYNTAX_RULES.contains(rule)))
        .map(|(rule, severity, _, message)| RuleSummary {
            rule: (*rule).to_owned(),
            severity: *severity,
            message: (*message).to_owned(),
            detail: None,
        })
        .collect();
    if let Some(book) = book {
        rules.extend(
            book.rules()
                .into_iter()
                .filter(|info| book.applies(info, language))
                .map(|info| RuleSummary {
                    rule: info.id.clone(),
                    severity: info.severity,
                    message: info.message.clone(),
                    detail: Some(info),
                }),
        );
    }
    rules
}

/// Every finding in `code`, ordered by line.
pub(crate) fn review(
    code: &str,
    language: Language,
    max_line_length: usize,
    max_function_lines: usize,
) -> Vec<Finding> {
    let lines = scan::lines(code, language);
    let mut findings = Vec::new();
    let mut push = |line: usize, rule: &str, severity, message: String, fixable| {
        findings.push(Finding {
            line,
            rule: rule.to_owned(),
            severity,
            message,
            fixable,
            column: None,
            end_line: None,
            end_column: None,
            cwe: None,
            code: None,
            suggestion: None,
        });
    };
    let tree_findings = tree_findings(code, language);
    let parsed = tree_findings.is_some();
    for (index, (raw, line)) in code.lines().zip(&lines).enumerate() {
        let number = index + 1;
        secrets(raw, number, &mut push);
        if let Some(comment) = &line.comment
            && let Some(marker) = TODO.find(comment)
        {
            push(
                number,
                "todo",
                Severity::Info,
                format!(
                    "{} comment: resolve it or track it in the issue tracker",
                    marker.as_str()
                ),
                false,
            );
        }
        smells_on(language, parsed, line, number, &mut push);
        let length = raw.chars().count();
        if length > max_line_length {
            push(
                number,
                "long-line",
                Severity::Info,
                format!("line is {length} characters long (limit {max_line_length}): break it up"),
                false,
            );
        }
        if raw.ends_with(' ') || raw.ends_with('\t') {
            push(
                number,
                "trailing-whitespace",
                Severity::Info,
                "trailing whitespace".to_owned(),
                true,
            );
        }
        if !language.indents_with_tabs()
            && raw.starts_with(|c: char| c.is_whitespace())
            && raw
                .chars()
                .take_while(|c| c.is_whitespace())
                .any(|c| c == '\t')
        {
            push(
                number,
                "tab-indentation",
                Severity::Info,
                "indented with tabs: indent with spaces".to_owned(),
                true,
            );
        }
    }
    if !code.is_empty() && !code.ends_with('\n') {
        push(
            code.lines().count(),
            "final-newline",
            Severity::Info,
            "the file does not end with a newline".to_owned(),
            true,
        );
    }
    for function in scan::functions(code, language, &lines) {
        if function.length() > max_function_lines {
            push(
                function.start,
                "long-function",
                Severity::Warning,
                format!(
                    "function `{}` is {} lines long (limit {max_function_lines}): split it",
                    function.name,
                    function.length()
                ),
                false,
            );
        }
    }
    findings.extend(tree_findings.into_iter().flatten());
    findings.sort_by(|a, b| {
        a.line
            .cmp(&b.line)
            .then(a.severity.cmp(&b.severity))
            .then(a.rule.cmp(&b.rule))
            .then(a.column.cmp(&b.column))
    });
    findings
}

/// The syntax rules' findings, when the language has a grammar (and the
/// rules loaded: the plugin does not load when they do not).
fn tree_findings(code: &str, language: Language) -> Option<Vec<Finding>> {
    let book = crate::rules::book().ok()?;
    let hits = book.scan(code, language)?;
    Some(
        hits.into_iter()
            .filter_map(|hit| {
                let rule = book.rule(&hit.rule)?;
                Some(Finding {
                    line: hit.line,
                    rule: hit.rule,
                    severity: rule.severity,
                    message: hit.message,
                    fixable: hit.rewrite.is_some(),
                    column: Some(hit.column),
                    end_line: Some(hit.end_line),
                    end_column: Some(hit.end_column),
                    cwe: rule.cwe.clone(),
                    code: Some(redact(hit.code)),
                    suggestion: Some(rule.suggestion.clone()),
                })
            })
            .collect(),
    )
}

/// A suppression comment's text (after its `#` or `//`): `nosec`, then the
/// rules it silences (by id, or by their bandit, gosec or
/// eslint-plugin-security id) up to the next `#`, and a reason after `--`.
/// `# type: ignore # nosec B602` counts, as it does for bandit.
static NOSEC: LazyLock<Regex> = LazyLock::new(|| regex(r"(?:^|#|//|/\*)\s*nosec\b:?([^#]*)"));

/// A word in a suppression comment that names a check of another
/// analyzer (`B602`, `G204`): it silences only that check, even when no
/// rule here goes by it.
static FOREIGN_ID: LazyLock<Regex> = LazyLock::new(|| regex(r"^[BG]\d{3}$"));

/// One suppression comment.
struct Nosec {
    line: usize,
    /// The rules it names; none silences every finding on its line.
    names: Vec<String>,
    reason: Option<String>,
}

impl Nosec {
    /// Reads a comment. Words that name no check (`# nosec (on the line)`)
    /// are prose, as bandit takes them: the comment then silences
    /// everything on its line.
    fn read(line: usize, comment: &str, names_a_check: impl Fn(&str) -> bool) -> Option<Self> {
        let rest = NOSEC.captures(comment)?.get(1)?.as_str();
        let rest = rest.trim().trim_end_matches("*/");
        let (names, reason) = match rest.split_once("--") {
            Some((names, reason)) => (names, Some(reason.trim().to_owned())),
            None => (rest, None),
        };
        let names = names
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|name| names_a_check(name))
            .map(str::to_owned)
            .collect();
        Some(Self {
            line,
            names,
            reason: reason.filter(|reason| !reason.is_empty()),
        })
    }
}

/// Moves the findings a suppression comment silences out of the findings.
/// A comment on any line of a finding silences it.
pub(crate) fn suppress(
    code: &str,
    language: Language,
    findings: Vec<Finding>,
) -> (Vec<Finding>, Vec<Suppressed>) {
    if !code.contains("nosec") {
        return (findings, Vec::new());
    }
    let book = crate::rules::book().ok();
    let is_alias = |rule: &str, name: &str| {
        book.and_then(|book| book.rule(rule))
            .is_some_and(|info| info.aliases.iter().any(|alias| alias == name))
    };
    let names_a_check = |name: &str| {
        FOREIGN_ID.is_match(name)
            || book.is_some_and(|book| book.knows(name))
            || findings.iter().any(|finding| finding.rule == name)
    };
    // The tree knows where strings end; the line scanner is for languages
    // without a grammar.
    let comments = book
        .and_then(|book| book.comments(code, language))
        .unwrap_or_else(|| {
            scan::lines(code, language)
                .into_iter()
                .enumerate()
                .filter_map(|(index, line)| Some((index + 1, line.comment?)))
                .collect()
        });
    let comments: Vec<Nosec> = comments
        .iter()
        .filter_map(|(line, text)| Nosec::read(*line, text, names_a_check))
        .collect();
    let mut kept = Vec::new();
    let mut suppressed = Vec::new();
    for finding in findings {
        let lines = finding.line..=finding.end_line.unwrap_or(finding.line);
        let comment = comments.iter().find(|comment| {
            lines.contains(&comment.line)
                && (comment.names.is_empty()
                    || comment
                        .names
                        .iter()
                        .any(|name| *name == finding.rule || is_alias(&finding.rule, name)))
        });
        match comment {
            Some(comment) => suppressed.push(Suppressed {
                line: finding.line,
                rule: finding.rule,
                reason: comment.reason.clone(),
            }),
            None => kept.push(finding),
        }
    }
    (kept, suppressed)
}

/// String literals in quoted code.
static STRING_LITERAL: LazyLock<Regex> =
    LazyLock::new(|| regex(r#""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`"#));

/// Quoted code with its string literals emptied when any of them may hold
/// a secret, so a finding never echoes one.
fn redact(code: String) -> String {
    let mut found = false;
    secrets(&code, 0, &mut |_, _, _, _, _| found = true);
    if !found && !code.to_ascii_lowercase().contains("bearer") {
        return code;
    }
    STRING_LITERAL
        .replace_all(&code, |literal: &regex::Captures<'_>| {
            let quote = &literal[0][..1];
            format!("{quote}…{quote}")
        })
        .into_owned()
}

fn secrets(raw: &str, number: usize, push: &mut impl FnMut(usize, &str, Severity, String, bool)) {
    let mut shaped = false;
    for (rule, variable, pattern) in SECRET_SHAPES.iter() {
        if pattern.is_match(raw) {
            shaped = true;
            let fixable = inside_string_literal(raw, pattern);
            push(
                number,
                rule,
                Severity::Error,
                format!(
                    "hard-coded secret ({}): revoke it, and read it from the environment ({variable}) instead",
                    rule.trim_start_matches("secret.")
                ),
                fixable,
            );
        }
    }
    if PRIVATE_KEY.is_match(raw) {
        push(
            number,
            "secret.private-key",
            Severity::Error,
            "private key in the source: revoke it and load it from a file or secret store at run time".to_owned(),
            false,
        );
    }
    if !shaped
        && let Some(captures) = SECRET_ASSIGNMENT.captures(raw)
        && !is_placeholder(&captures[3])
    {
        push(
            number,
            "secret.assignment",
            Severity::Error,
            format!(
                "hard-coded secret in `{}`: read it from the environment ({}) instead",
                &captures[1],
                env_name(&captures[1])
            ),
            true,
        );
    }
}

/// Whether the match of `pattern` on the line is a whole string literal's
/// content, so that the literal can be replaced by an environment lookup.
pub(crate) fn inside_string_literal(raw: &str, pattern: &Regex) -> bool {
    pattern.find(raw).is_some_and(|found| {
        let before = raw[..found.start()].chars().last();
        let after = raw[found.end()..].chars().next();
        matches!(
            (before, after),
            (Some('"'), Some('"')) | (Some('\''), Some('\''))
        )
    })
}

/// The environment variable a secret named `name` should come from.
pub(crate) fn env_name(name: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(if c == '-' {
            '_'
        } else {
            c.to_ascii_uppercase()
        });
    }
    out
}

/// The text smells a syntax rule of the same id replaces when the code
/// was parsed.
const REPLACED_BY_SYNTAX_RULES: &[&str] = &["python.eval", "js.eval"];

fn smells_on(
    language: Language,
    parsed: bool,
    line: &Line,
    number: usize,
    push: &mut impl FnMut(usize, &str, Severity, String, bool),
) {
    if !line.has_code() {
        return;
    }
    for (rule, severity, pattern, message) in smells(language) {
        if parsed && REPLACED_BY_SYNTAX_RULES.contains(rule) {
            continue;
        }
        if pattern.is_match(&line.code) {
            push(number, rule, *severity, (*message).to_owned(), false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(code: &str, language: Language) -> Vec<(usize, String)> {
        review(code, language, 120, 50)
            .into_iter()
            .map(|finding| (finding.line, finding.rule))
            .collect()
    }

    /// A silenced finding: its line, rule and the comment's reason.
    type Silenced = (usize, String, Option<String>);

    /// The rules left and the findings silenced in `code`.
    fn suppressed(code: &str) -> (Vec<(usize, String)>, Vec<Silenced>) {
        let (kept, silenced) = suppress(
            code,
            Language::Python,
            review(code, Language::Python, 120, 50),
        );
        (
            kept.into_iter().map(|f| (f.line, f.rule)).collect(),
            silenced
                .into_iter()
                .map(|s| (s.line, s.rule, s.reason))
                .collect(),
        )
    }

    #[test]
    fn nosec_silences_its_line_or_the_rules_it_names_and_says_why() {
        let shell = "python.subprocess-shell";
        let code = "import subprocess\n\
            subprocess.Popen(cmd, shell=True)  # nosec -- the command is a constant\n\
            subprocess.Popen(cmd, shell=True)  # nosec B602\n\
            subprocess.Popen(cmd, shell=True)  # nosec B607\n\
            subprocess.Popen(cmd, shell=True)  # nosec python.subprocess-shell, B101\n\
            subprocess.Popen(cmd, shell=True)  # nosec (reviewed)\n\
            subprocess.Popen(cmd,  # type: ignore # nosec\n    shell=True)\n\
            subprocess.Popen(cmd,\n    shell=True)  # nosec\n\
            subprocess.Popen('# nosec', shell=True)\n";
        let (kept, silenced) = suppressed(code);
        assert_eq!(
            kept,
            [(4, shell.to_owned()), (11, shell.to_owned())],
            "{silenced:?}"
        );
        let lines: Vec<usize> = silenced.iter().map(|s| s.0).collect();
        assert_eq!(lines, [2, 3, 5, 6, 7, 9]);
        assert_eq!(silenced[0].2.as_deref(), Some("the command is a constant"));
        assert!(silenced[1..].iter().all(|s| s.1 == shell && s.2.is_none()));
    }

    #[test]
    fn each_language_with_a_grammar_gets_its_security_rules() {
        let cases: &[(Language, &str, &str)] = &[
            (
                Language::JavaScript,
                "const { exec } = require('child_process');\nexec(`ls ${req.query.dir}`);\n",
                "javascript.child-process",
            ),
            (
                Language::TypeScript,
                "const q: string = `SELECT * FROM users WHERE id = ${id}`;\n",
                "javascript.sql-injection",
            ),
            (
                Language::Go,
                "package main\n\nfunc f() {\n\tcfg := &tls.Config{InsecureSkipVerify: true}\n\t_ = cfg\n}\n",
                "go.tls-insecure",
            ),
            (
                Language::Java,
                "class A {\n  void f() throws Exception {\n    MessageDigest.getInstance(\"MD5\");\n  }\n}\n",
                "java.weak-hash",
            ),
            (
                Language::Ruby,
                "def show\n  User.where(\"name = '#{params[:name]}'\")\nend\n",
                "ruby.sql-injection",
            ),
            (
                Language::Rust,
                "fn f() {\n    let c = Client::builder().danger_accept_invalid_certs(true);\n}\n",
                "rust.tls-verify-disabled",
            ),
        ];
        for (language, code, rule) in cases {
            let found = rules(code, *language);
            assert!(
                found.iter().any(|(_, id)| id == rule),
                "{rule} not found in {language:?}: {found:?}"
            );
        }
    }

    #[test]
    fn a_gosec_style_nosec_comment_silences_a_go_finding() {
        let code = "package main\n\nfunc f() {\n\th := md5.New() // #nosec G401 -- a cache key, not a signature\n\t_ = h\n}\n";
        let (kept, silenced) = suppress(code, Language::Go, review(code, Language::Go, 120, 50));
        assert!(kept.iter().all(|f| f.rule != "go.weak-hash"), "{kept:?}");
        assert_eq!(silenced.len(), 1, "{silenced:?}");
        assert_eq!(silenced[0].rule, "go.weak-hash");
        assert_eq!(
            silenced[0].reason.as_deref(),
            Some("a cache key, not a signature")
        );
    }

    #[test]
    fn matched_code_never_quotes_a_secret() {
        let code = "requests.get(url, headers={\"Authorization\": \"Bearer sk_live_4f9a8b7c6d5e4f3a\"})\n\
            requests.post(url, auth=(\"admin\", \"AKIAIOSFODNN7EXAMPLE\"))\n\
            requests.get(\"https://example.com\")\n";
        let quoted: Vec<String> = review(code, Language::Python, 200, 50)
            .into_iter()
            .filter(|f| f.rule == "python.request-without-timeout")
            .filter_map(|f| f.code)
            .collect();
        assert_eq!(
            quoted,
            [
                "requests.get(url, headers={\"…\": \"…\"})",
                "requests.post(url, auth=(\"…\", \"…\"))",
                "requests.get(\"https://example.com\")",
            ]
        );
    }

    #[test]
    fn secrets_are_found_by_shape_and_by_name_and_never_echoed() {
        let code = "aws = \"AKIAIOSFODNN7EXAMPLE\"\ndb_password = \"hunter2hunter2\"\napi_key = \"your-key-here\"\n";
        let findings = review(code, Language::Python, 120, 50);
        let found: Vec<(usize, &str)> =
            findings.iter().map(|f| (f.line, f.rule.as_str())).collect();
        assert_eq!(
            found,
            [(1, "secret.aws-access-key"), (2, "secret.assignment")]
        );
        assert!(
            findings
                .iter()
                .all(|f| !f.message.contains("hunter2") && !f.message.contains("AKIA"))
        );
        assert!(findings[1].message.contains("(DB_PASSWORD)"));
    }

    #[test]
    fn language_smells_apply_to_code_not_to_strings_or_comments() {
        let rust = "fn main() {\n    let x = y.unwrap();\n    println!(\"a .unwrap() in a string\");\n    // x.unwrap() in a comment\n}\n";
        assert_eq!(
            rules(rust, Language::Rust),
            [(2, "rust.unwrap".to_owned()), (3, "debug-print".to_owned())]
        );
        let python = "try:\n    go()\nexcept:\n    print('failed')  # TODO: log\n";
        assert_eq!(
            rules(python, Language::Python),
            [
                (3, "python.bare-except".to_owned()),
                (4, "debug-print".to_owned()),
                (4, "todo".to_owned())
            ]
        );
    }

    #[test]
    fn whitespace_problems_are_fixable_findings() {
        let findings = review("a = 1 \n\tb = 2", Language::Python, 120, 50);
        let fixable: Vec<(usize, &str, bool)> = findings
            .iter()
            .map(|f| (f.line, f.rule.as_str(), f.fixable))
            .collect();
        assert_eq!(
            fixable,
            [
                (1, "trailing-whitespace", true),
                (2, "final-newline", true),
                (2, "tab-indentation", true)
            ]
        );
        assert!(
            review("package main\n\tx := 1\n", Language::Go, 120, 50).is_empty(),
            "Go indents with tabs"
        );
    }

    #[test]
    fn long_lines_and_functions_are_reported_against_the_limits() {
        let body: String = (0..6).map(|i| format!("    let v{i} = {i};\n")).collect();
        let code = format!("fn long() {{\n{body}}}\n// {}\n", "x".repeat(50));
        let found = rules(&code, Language::Rust);
        assert!(review(&code, Language::Rust, 120, 50).is_empty());
        let strict = review(&code, Language::Rust, 40, 5);
        let strict: Vec<&str> = strict.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(strict, ["long-function", "long-line"], "{found:?}");
    }

    #[test]
    fn the_summary_names_severities_without_touching_messages() {
        let review = ReviewCode::run(
            ReviewInput {
                code: "try:\n    go()\nexcept:\n    pass\n".to_owned(),
                language: Some("python".to_owned()),
                max_line_length: 120,
                max_function_lines: 50,
            },
            &ToolContext::new(None),
        )
        .expect("a review");
        let summary = ReviewCode::summary(&review);
        assert!(summary.ends_with("\nline 3: warning [python.bare-except] bare `except:` also catches KeyboardInterrupt and SystemExit: catch the exceptions you expect"), "{summary}");
    }

    #[test]
    fn environment_names_are_upper_snake_case() {
        assert_eq!(env_name("apiKey"), "API_KEY");
        assert_eq!(env_name("db_password"), "DB_PASSWORD");
        assert_eq!(env_name("GITHUB_TOKEN"), "GITHUB_TOKEN");
    }
}
