//! Every rule's snippets, and the loader's refusals.

use super::*;

#[test]
fn every_rule_flags_its_invalid_snippets_and_not_its_valid_ones() {
    let book = book().unwrap_or_else(|err| panic!("the rules do not load: {err}"));
    assert!(!book.snippets.is_empty(), "no rules were loaded");
    let mut failures = Vec::new();
    for (id, language, snippets) in &book.snippets {
        let flags = |code: &str| {
            book.scan(code, *language)
                .unwrap_or_default()
                .iter()
                .any(|hit| &hit.rule == id)
        };
        for code in &snippets.invalid {
            if !flags(code) {
                failures.push(format!("{id} does not flag:\n{code}"));
            }
            // A JavaScript rule holds for TypeScript too.
            let in_typescript = book
                .scan(code, Language::TypeScript)
                .unwrap_or_default()
                .iter()
                .any(|hit| &hit.rule == id);
            if *language == Language::JavaScript && !in_typescript {
                failures.push(format!("{id} does not flag as TypeScript:\n{code}"));
            }
        }
        for code in &snippets.valid {
            if flags(code) {
                failures.push(format!("{id} flags valid code:\n{code}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

const GOOD: &str = "id: python.example
language: python
severity: warning
message: an example
note: why it matters
url: https://example.com
metadata:
  cwe: CWE-1
  suggestion: do something else
rule:
  pattern: example($$$)
---
invalid:
  - example(1)
valid:
  - other(1)
";

fn load_one(file: &'static str, text: &str) -> Result<Book, String> {
    Book::load(&[(file, leak(text))])
}

/// A rule file's text for the life of the test process, as the plugin's
/// own are.
fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

#[test]
fn a_rule_runs_only_on_code_with_a_word_it_needs() {
    let book = load_one(
        "python/example.yml",
        &GOOD.replace("  cwe: CWE-1", "  cwe: CWE-1\n  needs: [example]"),
    )
    .expect("loads");
    let hits = |code: &str| book.scan(code, Language::Python).map(|hits| hits.len());
    assert_eq!(hits("example(2)\n"), Some(1));
    assert_eq!(hits("other(2)\n"), Some(0));
}

#[test]
fn a_good_file_loads() {
    let book = load_one("python/example.yml", GOOD).expect("loads");
    assert_eq!(
        book.scan("example(2)\n", Language::Python)
            .expect("python has a grammar")
            .len(),
        1
    );
}

#[test]
fn a_broken_rule_file_is_refused_with_its_file_and_line() {
    let cases: &[(&str, String, &str)] = &[
        (
            "python/example.yml",
            GOOD.replace("id: python.example", "id: python.other"),
            "rules/python/example.yml:1: the id is `python.other`",
        ),
        (
            "python/example.yml",
            GOOD.replace(
                "  pattern: example($$$)",
                "  pattern: example($$$\n  nonsense: [1",
            ),
            "rules/python/example.yml:12:",
        ),
        (
            "python/example.yml",
            GOOD.replace("url: https://example.com\n", ""),
            "`url` is required",
        ),
        (
            "python/example.yml",
            GOOD.replace("  cwe: CWE-1", "  cwe: CWE-1\n  needs: ['example', ' ']"),
            "rules/python/example.yml:7: `needs` holds ` `",
        ),
        (
            "python/example.yml",
            GOOD.replace("  cwe: CWE-1", "  cwe: 78"),
            "rules/python/example.yml:7: `cwe: 78` is not a CWE id",
        ),
        (
            "python/example.yml",
            GOOD.replace("invalid:\n  - example(1)\n", "invalid: []\n"),
            "rules/python/example.yml:13: a rule has at least one `invalid` snippet",
        ),
        (
            "python/example.yml",
            GOOD.replace("---\n", ""),
            "two YAML documents",
        ),
        (
            "kotlin/example.yml",
            GOOD.to_owned(),
            "`kotlin` is not a language with a grammar",
        ),
        (
            "python/example.yml",
            GOOD.replace("  pattern: example($$$)", "  kind: no_such_kind"),
            "rules/python/example.yml:10:",
        ),
        (
            "python/example.yml",
            GOOD.replace(
                "  pattern: example($$$)",
                "  pattern: example($$$)\n  has: { nth: 1, kind: integer }",
            ),
            "rules/python/example.yml:12: `nth` is not a rule key",
        ),
        (
            "python/example.yml",
            GOOD.replace("  suggestion: do something else\n", "  suggest: typo\n"),
            "rules/python/example.yml:",
        ),
    ];
    for (file, text, expected) in cases {
        let refused = load_one(file, text)
            .err()
            .unwrap_or_else(|| panic!("{text} loads"));
        assert!(
            refused.contains(expected),
            "{refused}\n  does not contain {expected}"
        );
    }
}

#[test]
fn a_matcher_that_does_not_compile_fails_its_languages_first_review_naming_the_file() {
    let broken = GOOD.replace("  pattern: example($$$)", "  kind: no_such_kind");
    let files = &[("python/example.yml", leak(&broken))];
    // Read at the plugin's start: the YAML and metadata are fine.
    let book = Book::index(files).expect("the file reads");
    assert_eq!(book.compile_error(Language::Go), None);
    let error = book
        .compile_error(Language::Python)
        .expect("the Python rules do not compile");
    assert!(error.contains("rules/python/example.yml:10:"), "{error}");
    assert_eq!(book.scan("example(1)\n", Language::Python), None);
}

#[test]
fn a_language_is_compiled_only_when_its_code_is_first_reviewed() {
    let book = book().unwrap_or_else(|err| panic!("the rules do not load: {err}"));
    let fresh = Book::index(RULE_FILES).expect("the rules read");
    assert!(
        fresh.grammars.iter().all(|g| g.compiled.get().is_none()),
        "reading the rules compiled some"
    );
    assert!(
        fresh
            .scan("import os\nos.system(cmd)\n", Language::Python)
            .is_some()
    );
    let compiled: Vec<Language> = fresh
        .grammars
        .iter()
        .filter(|g| g.compiled.get().is_some())
        .map(|g| g.language)
        .collect();
    assert_eq!(compiled, vec![Language::Python]);
    assert!(!book.info.is_empty());
}

#[test]
fn a_languages_rules_are_read_from_its_own_files_and_javascripts_for_typescript() {
    let python = Language::Python.grammar().expect("a grammar");
    let tsx = Language::TypeScript.grammar().expect("a grammar");
    assert!(holds_for("python/eval.yml", python));
    assert!(!holds_for("go/exec.yml", python));
    assert!(holds_for("javascript/eval.yml", tsx));
    assert!(holds_for("typescript/any.yml", tsx));
    assert!(!holds_for("javascript/eval.yml", python));
    assert!(
        holds_for("kotlin/any.yml", python),
        "left for the loader to refuse"
    );
}
