//! Reading source text line by line: what is code, what is comment, where
//! functions start and end, how deep blocks nest.
//!
//! This is a lexer's approximation, not a parser: strings and comments are
//! recognised well enough that a brace or a keyword inside one is not taken
//! for code, which is what the rules and metrics need.

use std::sync::LazyLock;

use regex::Regex;

use crate::language::Language;

/// One line of source, split.
#[derive(Debug, Default)]
pub(crate) struct Line {
    /// The code on the line, with string contents blanked out (quotes kept)
    /// and comments removed.
    pub(crate) code: String,
    /// The comment text on the line, if any.
    pub(crate) comment: Option<String>,
    /// Brace depth at the start of the line (0 outside every block).
    pub(crate) depth: usize,
}

impl Line {
    /// Whether the line holds code (not only a comment or blanks).
    pub(crate) fn has_code(&self) -> bool {
        !self.code.trim().is_empty()
    }
}

/// Splits `source` into [`Line`]s.
pub(crate) fn lines(source: &str, language: Language) -> Vec<Line> {
    let mut in_block_comment = false;
    let mut in_docstring: Option<&'static str> = None;
    let mut depth = 0usize;
    let line_comment = language.line_comment();
    source
        .lines()
        .map(|text| {
            let mut line = Line {
                depth,
                ..Line::default()
            };
            let mut comment = String::new();
            let chars: Vec<char> = text.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                let rest: String = chars[i..].iter().take(3).collect();
                if in_block_comment {
                    if rest.starts_with("*/") {
                        in_block_comment = false;
                        i += 2;
                    } else {
                        comment.push(chars[i]);
                        i += 1;
                    }
                    continue;
                }
                if let Some(quote) = in_docstring {
                    if rest.starts_with(quote) {
                        in_docstring = None;
                        i += 3;
                    } else {
                        comment.push(chars[i]);
                        i += 1;
                    }
                    continue;
                }
                if language == Language::Python && (rest == "\"\"\"" || rest == "'''") {
                    in_docstring = Some(if rest == "\"\"\"" { "\"\"\"" } else { "'''" });
                    i += 3;
                    continue;
                }
                if language.block_comments() && rest.starts_with("/*") {
                    in_block_comment = true;
                    i += 2;
                    continue;
                }
                if let Some(marker) = line_comment
                    && rest.starts_with(marker)
                    && !(language == Language::Shell && i > 0 && chars[i - 1] == '$')
                {
                    comment.extend(&chars[i + marker.len()..]);
                    break;
                }
                let c = chars[i];
                let opens_string = c == '"'
                    || c == '`' && matches!(language, Language::JavaScript | Language::TypeScript)
                    || c == '\'' && language.single_quote_strings();
                if opens_string {
                    i = skip_string(&chars, i, &mut line.code);
                    continue;
                }
                if c == '\'' && language == Language::Rust {
                    // A char literal such as '{' is skipped whole; a lifetime
                    // ('a) is kept as code.
                    if let Some(end) = rust_char_end(&chars, i) {
                        line.code.push_str("' '");
                        i = end + 1;
                        continue;
                    }
                }
                if language.uses_braces() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                }
                line.code.push(c);
                i += 1;
            }
            if !comment.trim().is_empty()
                || (line.code.trim().is_empty()
                    && text
                        .trim_start()
                        .starts_with(line_comment.unwrap_or("\u{0}")))
            {
                line.comment = Some(comment.trim().to_owned());
            }
            line
        })
        .collect()
}

/// Copies a string literal starting at `chars[start]` into `code` as its
/// quotes with blanks between, and returns the index after it (or the end
/// of the line for a string that runs on).
fn skip_string(chars: &[char], start: usize, code: &mut String) -> usize {
    let quote = chars[start];
    code.push(quote);
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == quote => {
                code.push(quote);
                return i + 1;
            }
            _ => {
                code.push(' ');
                i += 1;
            }
        }
    }
    chars.len()
}

fn rust_char_end(chars: &[char], start: usize) -> Option<usize> {
    match chars.get(start + 1)? {
        '\\' => (start + 3..chars.len().min(start + 12)).find(|&i| chars[i] == '\''),
        _ if chars.get(start + 2) == Some(&'\'') => Some(start + 2),
        _ => None,
    }
}

/// A function found in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Function {
    /// Its name.
    pub(crate) name: String,
    /// Its first line, from 1.
    pub(crate) start: usize,
    /// Its last line, from 1.
    pub(crate) end: usize,
}

impl Function {
    /// How many lines it spans, header and closing line included.
    pub(crate) fn length(&self) -> usize {
        self.end + 1 - self.start
    }
}

static RUST_FN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+\S+\s+)?fn\s+(\w+)")
        .expect("valid regex")
});
static GO_FUNC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*func\s+(?:\([^)]*\)\s*)?(\w+)").expect("valid regex"));
static PY_DEF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\s*)(?:async\s+)?def\s+(\w+)").expect("valid regex"));
static JS_FUNCTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*(\w+)|^\s*(?:export\s+)?(?:const|let|var)\s+(\w+)\s*=\s*(?:async\s+)?(?:\([^)]*\)|\w+)\s*=>|^\s*(?:(?:public|private|protected|static|async|get|set)\s+)*(\w+)\s*\([^)]*\)\s*(?::\s*[\w<>\[\]|, ]+)?\s*\{")
        .expect("valid regex")
});
static C_LIKE_FN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:[\w:<>,\[\]*&]+\s+)+[*&]?(\w+)\s*\([^;{}]*\)\s*(?:const\s*)?(?:throws\s+[\w., ]+)?\s*\{?\s*$")
        .expect("valid regex")
});
static RUBY_DEF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*def\s+(?:self\.)?([A-Za-z_]\w*[?!=]?)").expect("valid regex")
});
static SHELL_FN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:function\s+)?(\w+)\s*\(\)\s*\{?").expect("valid regex"));

/// Words that look like a call in a header but start a block instead.
const NOT_FUNCTIONS: &[&str] = &[
    "if", "for", "while", "switch", "catch", "return", "else", "do", "sizeof", "new", "throw",
];

/// The functions in the source, found by each language's header shape and
/// ended by the matching brace (or, in Python, by the indentation).
pub(crate) fn functions(source: &str, language: Language, lines: &[Line]) -> Vec<Function> {
    let raw: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if !line.has_code() {
            continue;
        }
        let code = line.code.as_str();
        let name = match language {
            Language::Rust => capture(&RUST_FN, code, &[1]),
            Language::Go => capture(&GO_FUNC, code, &[1]),
            Language::Python => capture(&PY_DEF, code, &[2]),
            Language::Ruby => capture(&RUBY_DEF, code, &[1]),
            Language::JavaScript | Language::TypeScript => capture(&JS_FUNCTION, code, &[1, 2, 3]),
            Language::Java | Language::C | Language::Cpp => capture(&C_LIKE_FN, code, &[1]),
            Language::Shell => capture(&SHELL_FN, code, &[1]),
            Language::Text => None,
        };
        let Some(name) = name.filter(|name| !NOT_FUNCTIONS.contains(&name.as_str())) else {
            continue;
        };
        let end = if !language.uses_braces() {
            python_end(&raw, lines, index)
        } else {
            brace_end(lines, index)
        };
        if let Some(end) = end {
            found.push(Function {
                name,
                start: index + 1,
                end: end + 1,
            });
        }
    }
    found
}

fn capture(regex: &Regex, code: &str, groups: &[usize]) -> Option<String> {
    let captures = regex.captures(code)?;
    groups
        .iter()
        .find_map(|&group| captures.get(group))
        .map(|name| name.as_str().to_owned())
}

/// The line where the block opened at or after `start` closes; `None` for a
/// declaration without a body.
fn brace_end(lines: &[Line], start: usize) -> Option<usize> {
    let base = lines[start].depth;
    let mut opened = false;
    // An arrow function without braces ends on its own line.
    let header = &lines[start].code;
    if header.contains("=>") && !header.contains('{') {
        return Some(start);
    }
    for (index, line) in lines.iter().enumerate().skip(start) {
        // A header that ends in `;` before any brace declares, not defines.
        if !opened && line.code.trim_end().ends_with(';') && !line.code.contains('{') {
            return None;
        }
        let mut depth = line.depth;
        for c in line.code.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => {
                    depth = depth.saturating_sub(1);
                    if opened && depth == base {
                        return Some(index);
                    }
                }
                _ => {}
            }
        }
        if !opened && index > start + 3 {
            return None;
        }
    }
    opened.then_some(lines.len() - 1)
}

fn indentation(text: &str) -> usize {
    text.chars()
        .take_while(|c| c.is_whitespace())
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

fn python_end(raw: &[&str], lines: &[Line], start: usize) -> Option<usize> {
    let header = indentation(raw[start]);
    let mut last = start;
    for (index, text) in raw.iter().enumerate().skip(start + 1) {
        if text.trim().is_empty() {
            continue;
        }
        if indentation(text) <= header && lines[index].has_code() {
            break;
        }
        last = index;
    }
    Some(last)
}

/// How deeply blocks nest inside the deepest function (1 for a body with no
/// blocks in it), or across the whole text when there are no functions.
pub(crate) fn nesting(
    source: &str,
    language: Language,
    lines: &[Line],
    function: Option<&Function>,
) -> usize {
    let (from, to) = function.map_or((0, lines.len()), |f| (f.start - 1, f.end));
    if language.uses_braces() {
        let base = function.map_or(0, |f| lines[f.start - 1].depth);
        lines[from..to]
            .iter()
            .map(|line| {
                let mut depth = line.depth;
                let mut deepest = depth;
                for c in line.code.chars() {
                    match c {
                        '{' => {
                            depth += 1;
                            deepest = deepest.max(depth);
                        }
                        '}' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                }
                deepest.saturating_sub(base)
            })
            .max()
            .unwrap_or(0)
    } else {
        let raw: Vec<&str> = source.lines().collect();
        let base = function.map_or(0, |f| indentation(raw[f.start - 1]));
        let unit = raw
            .iter()
            .map(|text| indentation(text))
            .filter(|&width| width > 0)
            .min()
            .unwrap_or(4);
        (from..to)
            .filter(|&index| lines[index].has_code())
            .map(|index| indentation(raw[index]).saturating_sub(base) / unit)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(source: &str, language: Language) -> Vec<Line> {
        lines(source, language)
    }

    #[test]
    fn strings_and_comments_are_separated_from_code() {
        let lines = split(
            "let s = \"{ // not a comment\"; // a comment\n/* block\n still */ x\n",
            Language::Rust,
        );
        assert_eq!(lines[0].code.trim_end(), "let s = \"                  \";");
        assert_eq!(lines[0].comment.as_deref(), Some("a comment"));
        assert_eq!(lines[1].comment.as_deref(), Some("block"));
        assert_eq!(lines[2].code.trim(), "x");
        assert_eq!(lines[2].depth, 0, "the brace in the string did not count");
    }

    #[test]
    fn functions_are_found_with_their_extent() {
        let rust = "pub fn outer() {\n    if x {\n        y();\n    }\n}\n\nfn decl();\nasync fn two() { a() }\n";
        let lines = split(rust, Language::Rust);
        let found = functions(rust, Language::Rust, &lines);
        assert_eq!(
            found,
            vec![
                Function {
                    name: "outer".into(),
                    start: 1,
                    end: 5
                },
                Function {
                    name: "two".into(),
                    start: 8,
                    end: 8
                },
            ]
        );
        assert_eq!(nesting(rust, Language::Rust, &lines, Some(&found[0])), 2);

        let python = "def f(a):\n    if a:\n        return 1\n\n    return 2\n\nx = f(1)\n";
        let lines = split(python, Language::Python);
        let found = functions(python, Language::Python, &lines);
        assert_eq!(
            found,
            vec![Function {
                name: "f".into(),
                start: 1,
                end: 5
            }]
        );
        assert_eq!(
            nesting(python, Language::Python, &lines, Some(&found[0])),
            2
        );
    }

    #[test]
    fn javascript_forms_are_all_functions() {
        let js = "function a() {\n}\nconst b = (x) => x * 2;\nclass C {\n  method(y) {\n    return y;\n  }\n}\nif (x) {\n}\n";
        let lines = split(js, Language::JavaScript);
        let names: Vec<String> = functions(js, Language::JavaScript, &lines)
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, ["a", "b", "method"]);
    }
}
