//! `quality_report`: metrics for source text against thresholds.

use std::collections::HashMap;
use std::sync::LazyLock;

use plugin_api::{Annotations, JsonSchema, Tool, ToolContext, ToolError};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::check_size;
use crate::complexity::{self, FunctionMetrics};
use crate::language::Language;
use crate::scan::{self, Line};

/// Measures source text.
pub struct QualityReport;

/// What `quality_report` takes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityInput {
    /// The source text.
    pub code: String,
    /// Its language: `rust`, `python`, `javascript`, `typescript`, `go`,
    /// `java`, `ruby`, `c`, `cpp`, `shell` or `text` (or a common alias or file
    /// extension); guessed from the text when absent.
    #[serde(default)]
    pub language: Option<String>,
    /// The limits to check against; each has a default.
    #[serde(default)]
    pub thresholds: Thresholds,
}

/// The limits a report checks.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// The longest a function may be, in lines.
    pub max_function_lines: usize,
    /// The deepest blocks may nest inside a function.
    pub max_nesting: usize,
    /// The highest cyclomatic complexity a function may have.
    pub max_cyclomatic: usize,
    /// The least share of comment lines among non-blank lines (0 to 1).
    pub min_comment_ratio: f64,
    /// The most share of code lines that repeat an earlier line (0 to 1).
    pub max_duplicate_ratio: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_function_lines: 50,
            max_nesting: 4,
            max_cyclomatic: 10,
            min_comment_ratio: 0.05,
            max_duplicate_ratio: 0.10,
        }
    }
}

/// The measurements.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Metrics {
    /// All lines.
    pub lines: usize,
    /// Lines with code.
    pub code_lines: usize,
    /// Lines with only a comment.
    pub comment_lines: usize,
    /// Empty lines.
    pub blank_lines: usize,
    /// Comment lines over non-blank lines.
    pub comment_ratio: f64,
    /// Functions found.
    pub functions: usize,
    /// The longest function, in lines.
    pub max_function_lines: usize,
    /// The mean function length, in lines.
    pub mean_function_lines: f64,
    /// The deepest nesting inside a function (or the text, without any).
    pub max_nesting: usize,
    /// The highest cyclomatic complexity of a function (or of the text,
    /// without any).
    pub max_cyclomatic: usize,
    /// Code lines (trimmed, of some length) that repeat an earlier line.
    pub duplicated_lines: usize,
    /// Duplicated lines over code lines.
    pub duplicate_ratio: f64,
}

/// One threshold checked.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Check {
    /// The threshold's name, as in `thresholds`.
    pub threshold: String,
    /// The measured value.
    pub value: f64,
    /// The limit.
    pub limit: f64,
    /// Whether the value is within the limit.
    pub passed: bool,
    /// Where the worst value is, when it is one function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst: Option<String>,
}

/// The report.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Report {
    /// The language the code was read as.
    pub language: String,
    /// The measurements.
    pub metrics: Metrics,
    /// Each threshold, checked.
    pub checks: Vec<Check>,
    /// Each function, in source order, with its measurements: read from the
    /// syntax tree and counted as lizard counts them in Python, JavaScript,
    /// TypeScript, Go, Java, Ruby and Rust; estimated from the text in
    /// other languages.
    pub functions: Vec<FunctionMetrics>,
    /// Whether every check passed.
    pub passed: bool,
}

impl Tool for QualityReport {
    type Input = QualityInput;
    type Output = Report;

    const NAME: &'static str = "quality_report";
    const TITLE: &'static str = "Quality report";
    const DESCRIPTION: &'static str = "Measures source text (`code`, optional `language`): lines of code, comment and blank lines, comment ratio, duplicated lines, and each function's length, nesting depth, parameter count and cyclomatic complexity (read from the syntax tree and counted as lizard counts them in Python, JavaScript, TypeScript, Go, Java, Ruby and Rust; estimated from the text elsewhere), listed per function; checks each against a threshold (defaults given, each overridable) with a pass or fail naming the worst function.";
    const ANNOTATIONS: Annotations = Annotations::PURE;

    fn run(input: QualityInput, _context: &ToolContext) -> Result<Report, ToolError> {
        check_size(&input.code)?;
        let limits = &input.thresholds;
        for (name, ratio) in [
            ("min_comment_ratio", limits.min_comment_ratio),
            ("max_duplicate_ratio", limits.max_duplicate_ratio),
        ] {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(ToolError::new(format!(
                    "thresholds.{name} is {ratio}; a ratio must be between 0 and 1"
                )));
            }
        }
        let language = crate::language_of(input.language.as_deref(), &input.code)?;
        let code = &input.code;
        let lines = scan::lines(code, language);
        let functions = complexity::functions(code, language)
            .unwrap_or_else(|| estimated(code, language, &lines));
        let (metrics, worst) = measure(code, language, &lines, &functions);
        let check =
            |threshold: &str, value: f64, limit: f64, at_most: bool, worst: Option<&String>| {
                Check {
                    threshold: threshold.to_owned(),
                    value: round(value),
                    limit,
                    passed: if at_most {
                        value <= limit
                    } else {
                        value >= limit
                    },
                    worst: worst.cloned(),
                }
            };
        let checks = vec![
            check(
                "max_function_lines",
                metrics.max_function_lines as f64,
                limits.max_function_lines as f64,
                true,
                worst.get("length"),
            ),
            check(
                "max_nesting",
                metrics.max_nesting as f64,
                limits.max_nesting as f64,
                true,
                worst.get("nesting"),
            ),
            check(
                "max_cyclomatic",
                metrics.max_cyclomatic as f64,
                limits.max_cyclomatic as f64,
                true,
                worst.get("cyclomatic"),
            ),
            check(
                "min_comment_ratio",
                metrics.comment_ratio,
                limits.min_comment_ratio,
                false,
                None,
            ),
            check(
                "max_duplicate_ratio",
                metrics.duplicate_ratio,
                limits.max_duplicate_ratio,
                true,
                None,
            ),
        ];
        Ok(Report {
            language: language.name().to_owned(),
            passed: checks.iter().all(|check| check.passed),
            metrics,
            checks,
            functions,
        })
    }

    fn summary(report: &Report) -> String {
        let m = &report.metrics;
        let mut text = format!(
            "{}: {} lines ({} code, {} comment, {} blank), {} functions; {}",
            report.language,
            m.lines,
            m.code_lines,
            m.comment_lines,
            m.blank_lines,
            m.functions,
            if report.passed {
                "every check passed"
            } else {
                "some checks failed"
            }
        );
        for check in &report.checks {
            text.push_str(&format!(
                "\n{} {}: {} (limit {}){}",
                if check.passed { "PASS" } else { "FAIL" },
                check.threshold,
                check.value,
                check.limit,
                check
                    .worst
                    .as_ref()
                    .map(|w| format!(", worst in {w}"))
                    .unwrap_or_default()
            ));
        }
        text
    }
}

fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Decision points a cyclomatic estimate counts, on code with strings and
/// comments removed.
static DECISIONS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:if|elif|for|while|case|catch|except|when)\b|&&|\|\||\?[^?.:]|=>\s*[^{]")
        .expect("valid regex")
});

fn cyclomatic(lines: &[Line], language: Language, from: usize, to: usize) -> usize {
    1 + lines[from..to]
        .iter()
        .map(|line| {
            let code = line.code.as_str();
            let mut count = DECISIONS.find_iter(code).count();
            // Rust's `=>` is a match arm, a decision; elsewhere it is a lambda.
            if language != Language::Rust {
                count -= code.matches("=>").count().min(count);
            }
            if language == Language::Python {
                count += code.matches(" and ").count() + code.matches(" or ").count();
            }
            count
        })
        .sum::<usize>()
}

/// The functions of a language without a grammar, found by their headers
/// and measured on the text.
fn estimated(code: &str, language: Language, lines: &[Line]) -> Vec<FunctionMetrics> {
    let raw: Vec<&str> = code.lines().collect();
    scan::functions(code, language, lines)
        .iter()
        .map(|function| FunctionMetrics {
            name: function.name.clone(),
            line: function.start,
            end_line: function.end,
            lines: function.length(),
            cyclomatic: cyclomatic(lines, language, function.start - 1, function.end),
            nesting: scan::nesting(code, language, lines, Some(function)),
            parameters: raw
                .get(function.start - 1)
                .map_or(0, |header| header_parameters(header)),
        })
        .collect()
}

/// The parameters between the first parentheses of a function's header.
fn header_parameters(header: &str) -> usize {
    let Some((_, rest)) = header.split_once('(') else {
        return 0;
    };
    let list = rest.split(')').next().unwrap_or_default();
    list.split(',')
        .filter(|part| !part.trim().is_empty())
        .count()
}

fn measure(
    code: &str,
    language: Language,
    lines: &[Line],
    functions: &[FunctionMetrics],
) -> (Metrics, HashMap<&'static str, String>) {
    let raw: Vec<&str> = code.lines().collect();
    let blank_lines = raw.iter().filter(|line| line.trim().is_empty()).count();
    let code_lines = lines.iter().filter(|line| line.has_code()).count();
    let comment_lines = lines
        .iter()
        .zip(&raw)
        .filter(|(line, text)| !line.has_code() && !text.trim().is_empty())
        .count();
    let non_blank = raw.len() - blank_lines;
    let mut worst = HashMap::new();
    let mut record =
        |key: &'static str, best: &mut usize, value: usize, function: &FunctionMetrics| {
            if value > *best {
                *best = value;
                worst.insert(key, format!("`{}` (line {})", function.name, function.line));
            }
        };
    let (mut longest, mut deepest, mut most_complex) = (0, 0, 0);
    for function in functions {
        record("length", &mut longest, function.lines, function);
        record("nesting", &mut deepest, function.nesting, function);
        record(
            "cyclomatic",
            &mut most_complex,
            function.cyclomatic,
            function,
        );
    }
    if functions.is_empty() {
        deepest = scan::nesting(code, language, lines, None);
        most_complex = cyclomatic(lines, language, 0, lines.len());
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let duplicated_lines = lines
        .iter()
        .filter(|line| line.has_code())
        .map(|line| line.code.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| line.len() >= 12)
        .filter(|line| {
            let count = seen.entry(line.clone()).or_insert(0);
            *count += 1;
            *count > 1
        })
        .count();
    let ratio = |part: usize, whole: usize| {
        if whole == 0 {
            0.0
        } else {
            round(part as f64 / whole as f64)
        }
    };
    let metrics = Metrics {
        lines: raw.len(),
        code_lines,
        comment_lines,
        blank_lines,
        comment_ratio: ratio(comment_lines, non_blank),
        functions: functions.len(),
        max_function_lines: longest,
        mean_function_lines: if functions.is_empty() {
            0.0
        } else {
            round(
                functions
                    .iter()
                    .map(|function| function.lines)
                    .sum::<usize>() as f64
                    / functions.len() as f64,
            )
        },
        max_nesting: deepest,
        max_cyclomatic: most_complex,
        duplicated_lines,
        duplicate_ratio: ratio(duplicated_lines, code_lines),
    };
    (metrics, worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(code: &str, language: &str, thresholds: Thresholds) -> Report {
        QualityReport::run(
            QualityInput {
                code: code.to_owned(),
                language: Some(language.to_owned()),
                thresholds,
            },
            &ToolContext::new(None),
        )
        .expect("a report")
    }

    const PYTHON: &str = "# Grades a score.\ndef grade(score):\n    if score > 90 and score <= 100:\n        return 'A'\n    elif score > 80:\n        return 'B'\n    for _ in range(3):\n        while False:\n            pass\n    return 'C'\n\n\ndef other():\n    return 1\n";

    #[test]
    fn metrics_count_lines_functions_nesting_and_decisions() {
        let report = report(PYTHON, "python", Thresholds::default());
        let m = &report.metrics;
        assert_eq!(
            (m.lines, m.code_lines, m.comment_lines, m.blank_lines),
            (14, 11, 1, 2)
        );
        assert_eq!(m.functions, 2);
        assert_eq!(m.max_function_lines, 9);
        assert_eq!(m.max_nesting, 3);
        // 1 + if + and + elif + for + while
        assert_eq!(m.max_cyclomatic, 6);
        assert!(report.passed, "{report:?}");
    }

    #[test]
    fn each_threshold_passes_or_fails_and_names_the_worst_function() {
        let strict = Thresholds {
            max_function_lines: 5,
            max_nesting: 2,
            ..Thresholds::default()
        };
        let report = report(PYTHON, "python", strict);
        assert!(!report.passed);
        let failed: Vec<(&str, Option<&str>)> = report
            .checks
            .iter()
            .filter(|check| !check.passed)
            .map(|check| (check.threshold.as_str(), check.worst.as_deref()))
            .collect();
        assert_eq!(
            failed,
            [
                ("max_function_lines", Some("`grade` (line 2)")),
                ("max_nesting", Some("`grade` (line 2)"))
            ]
        );
    }

    #[test]
    fn repeated_lines_count_as_duplicates() {
        let code = "let total = a + b;\nlet total = a + b;\nlet total = a + b;\nx\n";
        let report = report(code, "rust", Thresholds::default());
        assert_eq!(report.metrics.duplicated_lines, 2);
        assert_eq!(report.metrics.duplicate_ratio, 0.5);
    }
}
