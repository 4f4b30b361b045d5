//! Per-function metrics read from the syntax tree: cyclomatic complexity,
//! nesting, length and parameters, counted the way lizard counts them.
//!
//! lizard reads tokens: a function's cyclomatic complexity is 1 plus the
//! condition tokens in its body (`if`, `for`, `&&`, `case`, …, a set per
//! language), and a function nested in another is measured on its own and
//! left out of its parent. Here the tree says where each function starts
//! and ends and which tokens are keywords and operators (never the text
//! of a string or a comment), and the same tokens are counted.

use ast_grep_core::Node;
use ast_grep_core::tree_sitter::{LanguageExt as _, StrDoc};
use ast_grep_language::SupportLang;
use schemars::JsonSchema;
use serde::Serialize;

use crate::language::Language;

/// A node of a parsed file.
type SyntaxNode<'tree> = Node<'tree, StrDoc<SupportLang>>;

/// One function's measurements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FunctionMetrics {
    /// Its name (`(anonymous)` for a function without one).
    pub name: String,
    /// The line it starts on, from 1.
    pub line: usize,
    /// The line it ends on.
    pub end_line: usize,
    /// How many lines it spans.
    pub lines: usize,
    /// Its cyclomatic complexity: 1 plus its decision points.
    pub cyclomatic: usize,
    /// How deeply blocks nest in it (1 for a body with no blocks in it).
    pub nesting: usize,
    /// How many parameters it takes.
    pub parameters: usize,
}

/// What differs between languages in how functions are measured.
struct Shape {
    /// The kinds of node that are functions.
    functions: &'static [&'static str],
    /// The tokens that add a path (lizard's conditions for the language).
    conditions: &'static [&'static str],
    /// The kinds of node that open a nested block.
    blocks: &'static [&'static str],
    /// Whether a parameter's default value is a path (lizard counts one in
    /// JavaScript and TypeScript: it is taken when the argument is absent).
    defaults_are_paths: bool,
    /// Paths a named node adds beyond its condition tokens (or takes away).
    paths: fn(&Node<'_, StrDoc<SupportLang>>) -> isize,
}

/// No paths beyond the condition tokens.
fn tokens_only(_: &Node<'_, StrDoc<SupportLang>>) -> isize {
    0
}

/// Rust's paths as lizard counts them: a `match` adds one per arm after the
/// first (its `=>` tokens are counted, so the first is taken away), a
/// `let … else` adds its `else`, and an empty closure's `||` reads as the
/// operator.
fn rust_paths(node: &Node<'_, StrDoc<SupportLang>>) -> isize {
    match &*node.kind() {
        "match_block" if node.children().any(|arm| arm.kind() == "match_arm") => -1,
        "let_declaration" if node.children().any(|part| part.kind() == "else") => 1,
        "closure_parameters" if node.text() == "||" => 1,
        _ => 0,
    }
}

const PYTHON: Shape = Shape {
    functions: &["function_definition"],
    conditions: &[
        "if", "elif", "for", "while", "except", "finally", "and", "or",
    ],
    blocks: &[
        "if_statement",
        "for_statement",
        "while_statement",
        "try_statement",
        "with_statement",
        "match_statement",
    ],
    defaults_are_paths: false,
    paths: tokens_only,
};

const JAVASCRIPT: Shape = Shape {
    functions: &[
        "function_declaration",
        "function_expression",
        "function",
        "generator_function_declaration",
        "generator_function",
        "arrow_function",
        "method_definition",
        // TypeScript's overload and abstract signatures, which lizard
        // lists as functions of complexity 1.
        "function_signature",
        "method_signature",
        "abstract_method_signature",
    ],
    conditions: &[
        "if", "for", "while", "catch", "case", "&&", "||", "??", "?", "&&=", "||=", "??=",
    ],
    blocks: &[
        "if_statement",
        "for_statement",
        "for_in_statement",
        "while_statement",
        "do_statement",
        "switch_statement",
        "try_statement",
    ],
    defaults_are_paths: true,
    paths: tokens_only,
};

const GO: Shape = Shape {
    functions: &["function_declaration", "method_declaration", "func_literal"],
    conditions: &["if", "for", "case", "&&", "||"],
    blocks: &[
        "if_statement",
        "for_statement",
        "expression_switch_statement",
        "type_switch_statement",
        "select_statement",
    ],
    defaults_are_paths: false,
    paths: tokens_only,
};

const JAVA: Shape = Shape {
    functions: &[
        "method_declaration",
        "constructor_declaration",
        "compact_constructor_declaration",
    ],
    conditions: &["if", "for", "while", "catch", "case", "&&", "||", "?"],
    blocks: &[
        "if_statement",
        "for_statement",
        "enhanced_for_statement",
        "while_statement",
        "do_statement",
        "switch_expression",
        "try_statement",
        "try_with_resources_statement",
        "synchronized_statement",
    ],
    defaults_are_paths: false,
    paths: tokens_only,
};

const RUBY: Shape = Shape {
    functions: &["method", "singleton_method"],
    conditions: &[
        "if", "elsif", "until", "for", "while", "rescue", "ensure", "when", "and", "or", "||",
        "&&", "?", "||=", "&&=",
    ],
    blocks: &[
        "if", "unless", "while", "until", "for", "case", "begin", "do_block", "block",
    ],
    defaults_are_paths: false,
    paths: tokens_only,
};

const RUST: Shape = Shape {
    functions: &["function_item"],
    // `=>` is a match arm (when it is one: see `rust_paths`); `?`
    // propagates an error, a second way out.
    conditions: &["if", "for", "while", "where", "&&", "||", "?", "=>"],
    blocks: &[
        "if_expression",
        "for_expression",
        "while_expression",
        "loop_expression",
        "match_expression",
    ],
    defaults_are_paths: false,
    paths: rust_paths,
};

fn shape(language: Language) -> Option<&'static Shape> {
    match language {
        Language::Python => Some(&PYTHON),
        Language::JavaScript | Language::TypeScript => Some(&JAVASCRIPT),
        Language::Go => Some(&GO),
        Language::Java => Some(&JAVA),
        Language::Ruby => Some(&RUBY),
        Language::Rust => Some(&RUST),
        Language::C | Language::Cpp | Language::Shell | Language::Text => None,
    }
}

/// Every function in `code` with its measurements, in source order; `None`
/// when `language` has no grammar.
pub(crate) fn functions(code: &str, language: Language) -> Option<Vec<FunctionMetrics>> {
    let shape = shape(language)?;
    let grammar = language.grammar()?;
    let root = grammar.ast_grep(code);
    let mut found = Vec::new();
    // Depth-first without recursion: a deeply nested file must not exhaust
    // the stack.
    // Each node travels with its parent: tree-sitter finds a node's parent
    // by walking down from the root, which is quadratic in deep nesting.
    let mut pending = vec![(root.root(), None)];
    while let Some((node, parent)) = pending.pop() {
        if node.is_named() && shape.functions.contains(&&*node.kind()) {
            found.push(measure(&node, parent.as_ref(), shape));
        }
        pending.extend(node.children().map(|child| (child, Some(node.clone()))));
    }
    found.sort_by_key(|function| (function.line, function.end_line));
    Some(found)
}

fn measure(
    function: &Node<'_, StrDoc<SupportLang>>,
    parent: Option<&Node<'_, StrDoc<SupportLang>>>,
    shape: &Shape,
) -> FunctionMetrics {
    // Signed: a `match` takes its first arm away before its arms are seen.
    let (mut decisions, mut deepest): (isize, usize) = (0, 0);
    // Each node below the function with the blocks around it, skipping
    // functions nested in it: they are measured on their own.
    let parameter_list = function.field("parameters");
    let mut pending: Vec<(SyntaxNode<'_>, usize, SyntaxNode<'_>)> = function
        .children()
        .map(|child| (child, 0, function.clone()))
        .collect();
    if shape.defaults_are_paths {
        decisions += parameter_list.as_ref().map_or(0, defaults).cast_signed();
    }
    while let Some((node, depth, parent)) = pending.pop() {
        let kind = node.kind();
        // Keywords and node kinds share names (Ruby's `if` node starts with
        // an `if` token): functions and blocks are named nodes, conditions
        // are tokens.
        let named = node.is_named();
        if named && shape.functions.contains(&&*kind) {
            continue;
        }
        if !named
            && shape.conditions.contains(&&*kind)
            && !in_a_type(&node, &parent)
            && !in_a_macro(&node, &parent)
        {
            decisions += 1;
        }
        if named {
            decisions += (shape.paths)(&node);
        }
        let depth = if named && shape.blocks.contains(&&*kind) && !continues_a_chain(&node, &parent)
        {
            depth + 1
        } else {
            depth
        };
        deepest = deepest.max(depth);
        pending.extend(node.children().map(|child| (child, depth, node.clone())));
    }
    // Where its name is: a Java method starts at its annotations, which
    // lizard (and a reader) passes over.
    let start = function
        .field("name")
        .unwrap_or_else(|| function.clone())
        .start_pos()
        .line()
        + 1;
    let end = function.end_pos().line() + 1;
    FunctionMetrics {
        name: name(function, parent),
        line: start,
        end_line: end,
        lines: end + 1 - start,
        cyclomatic: 1 + decisions.max(0).unsigned_abs(),
        nesting: 1 + deepest,
        parameters: parameters(function),
    }
}

/// Whether `node` is a `?` that belongs to a type (Java's `List<?>`, an
/// optional member in TypeScript) rather than to a conditional.
fn in_a_type(node: &Node<'_, StrDoc<SupportLang>>, parent: &Node<'_, StrDoc<SupportLang>>) -> bool {
    node.kind() == "?"
        && matches!(
            &*parent.kind(),
            "wildcard"
                | "optional_parameter"
                | "property_signature"
                | "public_field_definition"
                | "method_signature"
                | "optional_type"
        )
}

/// Whether `node` is a Rust `=>` that is not a match arm's (a macro's
/// argument, say).
fn in_a_macro(
    node: &Node<'_, StrDoc<SupportLang>>,
    parent: &Node<'_, StrDoc<SupportLang>>,
) -> bool {
    node.kind() == "=>" && parent.kind() != "match_arm"
}

/// Whether `node` is the `if` of an `else if`, which continues its chain
/// rather than nesting inside it (an `if` that is the body of another is
/// nested).
fn continues_a_chain(
    node: &Node<'_, StrDoc<SupportLang>>,
    parent: &Node<'_, StrDoc<SupportLang>>,
) -> bool {
    node.kind().starts_with("if")
        && match &*parent.kind() {
            "else_clause" | "else" => true,
            "if_statement" | "if_expression" => parent
                .field("alternative")
                .is_some_and(|alternative| alternative.range() == node.range()),
            _ => false,
        }
}

/// How many parameters in `list` have a default value.
fn defaults(list: &Node<'_, StrDoc<SupportLang>>) -> usize {
    list.children()
        .filter(|parameter| {
            parameter.kind() == "assignment_pattern" || parameter.field("value").is_some()
        })
        .count()
}

/// The function's name, or the name it is bound to, or `(anonymous)`.
fn name(
    function: &Node<'_, StrDoc<SupportLang>>,
    parent: Option<&Node<'_, StrDoc<SupportLang>>>,
) -> String {
    if let Some(name) = function.field("name") {
        return name.text().into_owned();
    }
    // `const f = () => …`, `{ f: function () … }`, `f = function () …`
    parent
        .and_then(|parent| match &*parent.kind() {
            "variable_declarator" => parent.field("name"),
            "pair" => parent.field("key"),
            "assignment_expression" => parent.field("left"),
            _ => None,
        })
        .map_or_else(|| "(anonymous)".to_owned(), |name| name.text().into_owned())
}

/// How many parameters the function declares.
fn parameters(function: &Node<'_, StrDoc<SupportLang>>) -> usize {
    if function.field("parameter").is_some() {
        // An arrow function's one bare parameter: `x => …`.
        return 1;
    }
    let Some(list) = function.field("parameters") else {
        return 0;
    };
    list.children()
        .filter(|child| child.is_named() && !child.kind().ends_with("comment"))
        .map(|child| {
            // Go declares several names with one type: `a, b int`.
            let names = child
                .children()
                .filter(|part| part.kind() == "identifier")
                .count();
            if child.kind() == "parameter_declaration" {
                names.max(1)
            } else {
                1
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(code: &str, language: Language) -> Vec<(String, usize, usize, usize)> {
        functions(code, language)
            .expect("a grammar")
            .into_iter()
            .map(|f| (f.name, f.cyclomatic, f.nesting, f.parameters))
            .collect()
    }

    #[test]
    fn python_counts_lizards_conditions_and_measures_nested_functions_apart() {
        let code = "def outer(a):\n    if a and b:\n        return 1\n    def inner(x):\n        return [y for y in x if y]\n    try:\n        pass\n    except E:\n        pass\n    finally:\n        pass\n    return lambda q: q if q else 0\n";
        assert_eq!(
            measured(code, Language::Python),
            [("outer".to_owned(), 6, 2, 1), ("inner".to_owned(), 3, 1, 1)]
        );
    }

    #[test]
    fn javascript_arrow_functions_and_methods_are_functions() {
        let code = "function outer(a, b) {\n  if (a && b) { return 1; }\n  const f = (x) => { if (x) { return 2; } return 3; };\n  return a ? b : c;\n}\nclass K { m(a) { for (;;) { if (a ?? b) {} } } }\n";
        assert_eq!(
            measured(code, Language::JavaScript),
            [
                ("outer".to_owned(), 4, 2, 2),
                ("f".to_owned(), 2, 2, 1),
                ("m".to_owned(), 4, 3, 1)
            ]
        );
    }

    #[test]
    fn go_counts_cases_and_names_declared_together() {
        let code = "package main\n\nfunc outer(a, b int) int {\n\tif a > 0 && b > 0 {\n\t\treturn 1\n\t} else if a < 0 {\n\t\treturn 2\n\t}\n\tswitch a {\n\tcase 1:\n\tcase 2, 3:\n\tdefault:\n\t}\n\treturn 0\n}\n";
        assert_eq!(
            measured(code, Language::Go),
            [("outer".to_owned(), 6, 2, 2)]
        );
    }

    #[test]
    fn ruby_blocks_belong_to_their_method_and_unless_is_not_counted() {
        let code = "def outer(a)\n  if a && b\n    1\n  elsif c\n    2\n  end\n  x = a ? 1 : 2\n  items.each do |i|\n    puts i if i\n  end\n  return 3 unless z\nend\n";
        assert_eq!(
            measured(code, Language::Ruby),
            [("outer".to_owned(), 6, 2, 1)]
        );
    }

    #[test]
    fn rust_paths_are_counted_as_lizard_counts_them() {
        // 1 + `?` + `let … else` + the empty closure's `||` + one arm after
        // the first (the `=>` in the macro is no arm).
        let code = "fn parse(text: &str, base: u32) -> Result<u32, E> {\n    let n = text.parse::<u32>()?;\n    let Some(d) = digits(n) else { return Err(E) };\n    let f = || base;\n    let m = json!({ \"a\" => 1 });\n    match n {\n        0 => Ok(0),\n        _ => Ok(d),\n    }\n}\n";
        assert_eq!(
            measured(code, Language::Rust),
            [("parse".to_owned(), 5, 2, 2)]
        );
    }

    #[test]
    fn an_if_in_an_if_nests_and_an_else_if_does_not() {
        let code = "function f(a, b) {\n  if (a) if (b) { g(); }\n  if (a) { g(); } else if (b) { g(); }\n}\n";
        assert_eq!(
            measured(code, Language::JavaScript),
            [("f".to_owned(), 5, 3, 2)]
        );
        let code = "function g(x) {\n  x ||= 1;\n}\n";
        assert_eq!(measured(code, Language::JavaScript)[0].1, 2);
    }

    #[test]
    fn deeply_nested_functions_are_measured_in_linear_time() {
        let depth = 5_000;
        let code = format!("{}1{};\n", "() => (".repeat(depth), ")".repeat(depth));
        let found = functions(&code, Language::JavaScript).expect("a grammar");
        assert_eq!(found.len(), depth);
    }

    #[test]
    fn strings_and_comments_hold_no_decisions() {
        let code = "def f():\n    # if and or while\n    return \"if a and b or c\"\n";
        assert_eq!(
            measured(code, Language::Python),
            [("f".to_owned(), 1, 1, 0)]
        );
    }
}
