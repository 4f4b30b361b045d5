//! Measures the code tools against the analyzers people already trust.
//!
//! - `review_code` against bandit on bandit's own example corpus: of the
//!   lines bandit reports at medium or high severity, how many review_code
//!   flags too, in all and per bandit test id.
//! - `quality_report` against lizard on a real code base per language: of
//!   the functions lizard measures, how many have the same cyclomatic
//!   complexity in quality_report's per-function list.
//!
//! - `review_code` on a labelled corpus of security test cases: of the
//!   lines marked vulnerable, how many it flags, and of the lines marked
//!   safe, how many it flags (false alarms), per language.
//!
//! `cargo xtask corpus` prepares the corpora and runs this:
//!
//! ```text
//! corpus bandit <examples directory> <bandit's JSON report>
//! corpus lizard <language> <lizard's CSV report>
//! corpus labelled <directory>
//! ```
//!
//! A labelled corpus marks lines with comments, as semgrep's rule tests and
//! CodeQL's query tests do: a comment line `ruleid: …` (or `todoruleid:`,
//! or `BAD`) marks the next line with code as vulnerable, `ok: …` (or
//! `todook:`, or `GOOD`) as safe; the same comment at the end of a line
//! marks that line, as do CodeQL's `$ Alert` and `$ MISSING: Alert`
//! (vulnerable) and `$ SPURIOUS: Alert` (safe).
//!
//! With `CORPUS_MISSES=1` it also lists each line bandit reports and
//! review_code does not, each line review_code flags that bandit does not,
//! and each function whose complexity differs from lizard's: the worklist
//! for a rule writer.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a report printed for a person"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;

use ast_grep_core::tree_sitter::LanguageExt as _;
use ast_grep_language::SupportLang;
use code_tools::{QualityReport, ReviewCode};
use plugin_api::{Tool, ToolContext};
use serde_json::Value;

/// The share of bandit's lines review_code must flag.
const RECALL_TARGET: f64 = 0.80;

/// The share of lizard's functions whose complexity quality_report must
/// match.
const AGREEMENT_TARGET: f64 = 0.90;

/// The share of lines marked vulnerable review_code must flag.
const FOUND_TARGET: f64 = 0.60;

/// The largest share of lines marked safe review_code may flag.
const FALSE_ALARM_LIMIT: f64 = 0.10;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.as_slice() {
        [kind, examples, report] if kind == "bandit" => {
            bandit(Path::new(examples), Path::new(report))
        }
        [kind, language, report] if kind == "lizard" => lizard(language, Path::new(report)),
        [kind, directory] if kind == "labelled" => labelled(Path::new(directory)),
        _ => Err("usage: corpus bandit <examples directory> <bandit's JSON report>\n       corpus lizard <language> <lizard's CSV report>\n       corpus labelled <directory>".to_owned()),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("corpus: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Whether a finding is one bandit could have made: a syntax rule's (it
/// names a weakness) or a hard-coded secret, not a style note.
fn counts(finding: &Value) -> bool {
    finding.get("cwe").is_some()
        || finding["rule"]
            .as_str()
            .is_some_and(|rule| rule.starts_with("secret."))
}

fn bandit(examples: &Path, report: &Path) -> Result<bool, String> {
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(report).map_err(|err| format!("{}: {err}", report.display()))?,
    )
    .map_err(|err| format!("{}: {err}", report.display()))?;
    // (file, line) -> bandit's test ids there.
    let mut expected: BTreeMap<(String, u64), BTreeSet<String>> = BTreeMap::new();
    for result in report["results"].as_array().into_iter().flatten() {
        let file = result["filename"].as_str().unwrap_or_default();
        let name = Path::new(file)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let line = result["line_number"].as_u64().unwrap_or_default();
        let test = result["test_id"].as_str().unwrap_or_default().to_owned();
        expected.entry((name, line)).or_default().insert(test);
    }
    let mut files: Vec<_> = std::fs::read_dir(examples)
        .map_err(|err| format!("{}: {err}", examples.display()))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "py"))
        .collect();
    files.sort();
    let mut flagged: BTreeMap<(String, u64), BTreeSet<String>> = BTreeMap::new();
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    let mut findings = 0usize;
    let mut elapsed = std::time::Duration::ZERO;
    for path in &files {
        let code = std::fs::read_to_string(path).unwrap_or_default();
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let input = serde_json::from_value(serde_json::json!({
            "code": code,
            "language": "python",
        }))
        .map_err(|err| err.to_string())?;
        let started = std::time::Instant::now();
        let review = ReviewCode::run(input, &ToolContext::new(None)).map_err(|err| err.0)?;
        elapsed += started.elapsed();
        sources.insert(name.clone(), code);
        let review = serde_json::to_value(&review).map_err(|err| err.to_string())?;
        for finding in review["findings"].as_array().into_iter().flatten() {
            if counts(finding) {
                findings += 1;
                flagged
                    .entry((name.clone(), finding["line"].as_u64().unwrap_or_default()))
                    .or_default()
                    .insert(finding["rule"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    let mut per_test: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (place, tests) in &expected {
        let found = flagged.contains_key(place);
        for test in tests {
            let entry = per_test.entry(test.clone()).or_default();
            entry.0 += 1;
            entry.1 += usize::from(found);
        }
    }
    let total = expected.len();
    let found = expected
        .keys()
        .filter(|place| flagged.contains_key(*place))
        .count();
    let beyond = flagged
        .keys()
        .filter(|place| !expected.contains_key(*place))
        .count();
    if std::env::var_os("CORPUS_MISSES").is_some() {
        let line_of = |(file, line): &(String, u64)| {
            sources
                .get(file)
                .and_then(|code| code.lines().nth((*line as usize).saturating_sub(1)))
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        for (place, tests) in expected
            .iter()
            .filter(|(place, _)| !flagged.contains_key(*place))
        {
            let tests: Vec<_> = tests.iter().map(String::as_str).collect();
            println!(
                "missed {}:{} [{}] {}",
                place.0,
                place.1,
                tests.join(","),
                line_of(place)
            );
        }
        for (place, rules) in flagged
            .iter()
            .filter(|(place, _)| !expected.contains_key(*place))
        {
            let rules: Vec<_> = rules.iter().map(String::as_str).collect();
            println!(
                "beyond {}:{} [{}] {}",
                place.0,
                place.1,
                rules.join(","),
                line_of(place)
            );
        }
    }
    println!(
        "bandit's example corpus: {} files, {total} lines bandit reports at medium or high severity",
        files.len()
    );
    println!(
        "{:<8} {:>6} {:>6} {:>7}",
        "test", "lines", "found", "recall"
    );
    for (test, (lines, hit)) in &per_test {
        println!(
            "{test:<8} {lines:>6} {hit:>6} {:>6.0}%",
            100.0 * *hit as f64 / (*lines).max(1) as f64
        );
    }
    let recall = found as f64 / total.max(1) as f64;
    println!(
        "recall: {found} of {total} lines ({:.1}%; target {:.0}%): {}",
        100.0 * recall,
        100.0 * RECALL_TARGET,
        if recall >= RECALL_TARGET {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "review_code's security findings: {findings} on {} lines, {beyond} of them lines bandit does not report at medium or high severity; {:.1} ms for all {} files",
        flagged.len(),
        elapsed.as_secs_f64() * 1000.0,
        files.len()
    );
    Ok(recall >= RECALL_TARGET)
}

/// The fields of one line of lizard's CSV: numbers, and quoted text that
/// may hold commas.
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn lizard(language: &str, report: &Path) -> Result<bool, String> {
    let text =
        std::fs::read_to_string(report).map_err(|err| format!("{}: {err}", report.display()))?;
    // file -> lizard's functions there: (start line, end line, complexity).
    let mut expected: BTreeMap<String, Vec<(u64, u64, u64)>> = BTreeMap::new();
    for line in text.lines() {
        // NLOC, CCN, tokens, parameters, length, location, file, name,
        // long name, start, end.
        let fields = csv_fields(line);
        let number = |index: usize| fields.get(index).and_then(|f| f.parse::<u64>().ok());
        let (Some(ccn), Some(file), Some(start), Some(end)) =
            (number(1), fields.get(6), number(9), number(10))
        else {
            continue;
        };
        expected
            .entry(file.clone())
            .or_default()
            .push((start, end, ccn));
    }
    let (mut total, mut equal, mut ours_total, mut types) = (0usize, 0usize, 0usize, 0usize);
    let misses = std::env::var_os("CORPUS_MISSES").is_some();
    let mut elapsed = std::time::Duration::ZERO;
    for (file, theirs) in &expected {
        let code = std::fs::read_to_string(file).map_err(|err| format!("{file}: {err}"))?;
        let input = serde_json::from_value(serde_json::json!({
            "code": code,
            "language": language,
        }))
        .map_err(|err| err.to_string())?;
        let started = std::time::Instant::now();
        let report = QualityReport::run(input, &ToolContext::new(None)).map_err(|err| err.0)?;
        elapsed += started.elapsed();
        let report = serde_json::to_value(&report).map_err(|err| err.to_string())?;
        // (start line, end line, complexity, matched yet)
        let mut ours: Vec<(u64, u64, u64, bool)> = report["functions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|function| {
                let number = |key: &str| function[key].as_u64().unwrap_or_default();
                (
                    number("line"),
                    number("end_line"),
                    number("cyclomatic"),
                    false,
                )
            })
            .collect();
        ours_total += ours.len();
        // A function is the same if it starts or ends on the same line:
        // where one starts is less certain (annotations, type parameters
        // on lines of their own), and one-line functions share their end.
        let function_types = function_types(&code, language);
        for &(start, end, ccn) in theirs {
            // lizard reads a function type, `(value: T) => R` in a
            // parameter's annotation, as a function; it is none.
            let typed = function_types.contains(&start);
            let ours_there = ours
                .iter()
                .any(|(line, end_line, ..)| *line == start || *end_line == end);
            if typed && !ours_there {
                types += 1;
                continue;
            }
            total += 1;
            let same = ours.iter_mut().find(|(line, end_line, cyclomatic, used)| {
                !*used && *cyclomatic == ccn && (*line == start || *end_line == end)
            });
            if let Some(function) = same {
                function.3 = true;
                equal += 1;
            } else if misses {
                let near: Vec<u64> = ours
                    .iter()
                    .filter(|(line, end_line, ..)| *line == start || *end_line == end)
                    .map(|function| function.2)
                    .collect();
                println!("differs {file}:{start}-{end} lizard {ccn}, quality_report {near:?}");
            }
        }
    }
    let agreement = equal as f64 / total.max(1) as f64;
    let types = if types > 0 {
        format!(" ({types} more that lizard lists are function types, left out)")
    } else {
        String::new()
    };
    println!(
        "{language:<10} {:>4} files {total:>5} functions{types} (quality_report lists {ours_total}): {equal} with lizard's cyclomatic complexity ({:.1}%; target {:.0}%): {}; {:.1} ms",
        expected.len(),
        100.0 * agreement,
        100.0 * AGREEMENT_TARGET,
        if agreement >= AGREEMENT_TARGET {
            "met"
        } else {
            "NOT met"
        },
        elapsed.as_secs_f64() * 1000.0,
    );
    Ok(agreement >= AGREEMENT_TARGET)
}

/// The lines function types in `code` start on, in the languages that have
/// them.
fn function_types(code: &str, language: &str) -> BTreeSet<u64> {
    if !matches!(language, "typescript" | "javascript") {
        return BTreeSet::new();
    }
    let root = SupportLang::Tsx.ast_grep(code);
    let mut lines = BTreeSet::new();
    let mut pending = vec![root.root()];
    while let Some(node) = pending.pop() {
        if node.kind() == "function_type" {
            lines.insert(node.start_pos().line() as u64 + 1);
        }
        pending.extend(node.children());
    }
    lines
}

/// The language review_code reads a file as, by its extension.
fn language_of(path: &Path) -> Option<&'static str> {
    let extension = path.extension()?.to_str()?;
    Some(match extension {
        "py" => "python",
        "js" | "jsx" | "mjs" | "cjs" => "javascript",
        "ts" | "tsx" => "typescript",
        "go" => "go",
        "java" => "java",
        "rb" => "ruby",
        "rs" => "rust",
        _ => return None,
    })
}

/// What a comment's text marks: `Some(true)` vulnerable, `Some(false)` safe.
fn mark(comment: &str) -> Option<bool> {
    let text = comment.trim();
    let word = |prefix: &str| {
        text.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', ' ', '-', '(']))
    };
    let starts = |prefixes: &[&str]| prefixes.iter().any(|prefix| text.starts_with(prefix));
    if starts(&["ruleid:", "todoruleid:", "$ Alert", "$ MISSING: Alert"]) || word("BAD") {
        Some(true)
    } else if starts(&["ok:", "todook:", "$ SPURIOUS: Alert"]) || word("GOOD") {
        Some(false)
    } else {
        None
    }
}

/// Where a line's comment starts, after `opener` at the line's start or
/// after a space (so `"http://…"` and `"#{x}"` are not comments).
fn comment_start(line: &str, opener: &str) -> Option<usize> {
    line.match_indices(opener)
        .map(|(at, _)| at)
        .find(|&at| at == 0 || line[..at].ends_with([' ', '\t']))
}

/// Each marked line of `code` (from 1) and whether it is marked vulnerable.
fn marks(code: &str, language: &str) -> Vec<(u64, bool)> {
    let opener = if matches!(language, "python" | "ruby") {
        "#"
    } else {
        "//"
    };
    let mut marked = Vec::new();
    let mut pending: Option<bool> = None;
    for (index, line) in code.lines().enumerate() {
        let number = index as u64 + 1;
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        let comment = comment_start(line, opener).map(|at| &line[at + opener.len()..]);
        let own_line = trimmed.starts_with(opener)
            || (opener == "//" && (trimmed.starts_with("/*") || trimmed.starts_with('*')));
        if own_line {
            if let Some(vulnerable) = comment.and_then(mark) {
                pending = Some(vulnerable);
            }
            continue;
        }
        if let Some(vulnerable) = comment.and_then(mark).or(pending.take()) {
            marked.push((number, vulnerable));
        }
        pending = None;
    }
    marked
}

fn labelled(directory: &Path) -> Result<bool, String> {
    let mut files = Vec::new();
    let mut pending = vec![directory.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if language_of(&path).is_some() {
                files.push(path);
            }
        }
    }
    files.sort();
    // language -> (marked vulnerable, found, marked safe, flagged)
    let mut tally: BTreeMap<&str, (usize, usize, usize, usize)> = BTreeMap::new();
    let misses = std::env::var_os("CORPUS_MISSES").is_some();
    for path in &files {
        let Some(language) = language_of(path) else {
            continue;
        };
        let code =
            std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
        let marked = marks(&code, language);
        if marked.is_empty() {
            continue;
        }
        let input = serde_json::from_value(serde_json::json!({
            "code": code,
            "language": language,
        }))
        .map_err(|err| err.to_string())?;
        let review = ReviewCode::run(input, &ToolContext::new(None)).map_err(|err| err.0)?;
        let review = serde_json::to_value(&review).map_err(|err| err.to_string())?;
        let spans: Vec<(u64, u64)> = review["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|finding| counts(finding))
            .map(|finding| {
                let line = finding["line"].as_u64().unwrap_or_default();
                (line, finding["end_line"].as_u64().unwrap_or(line))
            })
            .collect();
        let entry = tally.entry(language).or_default();
        for (line, vulnerable) in marked {
            let flagged = spans.iter().any(|(from, to)| *from <= line && line <= *to);
            if vulnerable {
                entry.0 += 1;
                entry.1 += usize::from(flagged);
            } else {
                entry.2 += 1;
                entry.3 += usize::from(flagged);
            }
            if misses && flagged != vulnerable {
                let text = code
                    .lines()
                    .nth(line as usize - 1)
                    .unwrap_or_default()
                    .trim();
                let what = if vulnerable { "missed" } else { "false alarm" };
                println!("{what} {}:{line} {text}", path.display());
            }
        }
    }
    if tally.is_empty() {
        return Err(format!(
            "{}: no file there has lines marked ruleid:/ok: (or BAD/GOOD)",
            directory.display()
        ));
    }
    println!(
        "labelled corpus {}: {} files",
        directory.display(),
        files.len()
    );
    let mut met = true;
    for (language, (vulnerable, found, safe, flagged)) in &tally {
        let recall = *found as f64 / (*vulnerable).max(1) as f64;
        let alarms = *flagged as f64 / (*safe).max(1) as f64;
        let ok = recall >= FOUND_TARGET && alarms <= FALSE_ALARM_LIMIT;
        met &= ok;
        println!(
            "{language:<10} found {found} of {vulnerable} marked lines ({:.1}%; target {:.0}%), flagged {flagged} of {safe} safe lines ({:.1}%; limit {:.0}%): {}",
            100.0 * recall,
            100.0 * FOUND_TARGET,
            100.0 * alarms,
            100.0 * FALSE_ALARM_LIMIT,
            if ok { "met" } else { "NOT met" }
        );
    }
    Ok(met)
}
