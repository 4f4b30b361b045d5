//! The languages the code tools know, and what differs between them.

use ast_grep_language::SupportLang;
use plugin_api::ToolError;

/// A source language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Language {
    Rust,
    Python,
    JavaScript,
    TypeScript,
    Go,
    Java,
    Ruby,
    C,
    Cpp,
    Shell,
    /// Unknown: only the rules that hold for any text apply.
    Text,
}

/// Names (and common aliases and file extensions) accepted for `language`.
const NAMES: &[(&str, Language)] = &[
    ("rust", Language::Rust),
    ("rs", Language::Rust),
    ("python", Language::Python),
    ("py", Language::Python),
    ("javascript", Language::JavaScript),
    ("js", Language::JavaScript),
    ("jsx", Language::JavaScript),
    ("mjs", Language::JavaScript),
    ("typescript", Language::TypeScript),
    ("ts", Language::TypeScript),
    ("tsx", Language::TypeScript),
    ("go", Language::Go),
    ("golang", Language::Go),
    ("java", Language::Java),
    ("ruby", Language::Ruby),
    ("rb", Language::Ruby),
    ("c", Language::C),
    ("h", Language::C),
    ("cpp", Language::Cpp),
    ("c++", Language::Cpp),
    ("cc", Language::Cpp),
    ("hpp", Language::Cpp),
    ("shell", Language::Shell),
    ("sh", Language::Shell),
    ("bash", Language::Shell),
    ("text", Language::Text),
    ("txt", Language::Text),
];

/// Every name the tools accept, with the language it names.
pub(crate) fn accepted_names() -> impl Iterator<Item = (&'static str, Language)> {
    NAMES.iter().copied()
}

impl Language {
    /// The language named `name` (case-insensitive), or an error listing
    /// the names the tools know.
    pub(crate) fn named(name: &str) -> Result<Self, ToolError> {
        let wanted = name.trim().to_ascii_lowercase();
        NAMES
            .iter()
            .find(|(known, _)| *known == wanted)
            .map(|(_, language)| *language)
            .ok_or_else(|| {
                ToolError::new(format!(
                    "unknown language `{name}`; use one of: rust, python, javascript, typescript, go, java, ruby, c, cpp, shell, text (or leave it out to have it guessed)"
                ))
            })
    }

    /// The language given, or one guessed from the code when none is.
    pub(crate) fn resolve(given: Option<&str>, code: &str) -> Result<Self, ToolError> {
        match given {
            Some(name) if !name.trim().is_empty() => Self::named(name),
            _ => Ok(Self::guess(code)),
        }
    }

    /// A guess from telltale lines; [`Language::Text`] when nothing fits.
    pub(crate) fn guess(code: &str) -> Self {
        let first = code.lines().next().unwrap_or_default();
        if first.starts_with("#!") {
            if first.contains("python") {
                return Self::Python;
            }
            if first.contains("node") {
                return Self::JavaScript;
            }
            if first.contains("ruby") {
                return Self::Ruby;
            }
            if first.contains("sh") {
                return Self::Shell;
            }
        }
        let has = |needle: &str| {
            code.lines()
                .any(|line| line.trim_start().starts_with(needle))
        };
        if has("fn ") || has("pub fn ") || has("use std::") || code.contains("let mut ") {
            Self::Rust
        } else if has("package ") && code.contains("func ") {
            Self::Go
        } else if (has("def ") || has("class ") || has("require "))
            && code.lines().any(|line| line.trim() == "end")
        {
            Self::Ruby
        } else if has("def ") || has("import ") && code.contains(":\n") {
            Self::Python
        } else if has("#include") {
            if code.contains("std::") || has("class ") {
                Self::Cpp
            } else {
                Self::C
            }
        } else if has("public class ") || has("package ") && code.contains(';') {
            Self::Java
        } else if code.contains(": string") || code.contains("interface ") && code.contains(": ") {
            Self::TypeScript
        } else if has("function ") || has("const ") || code.contains("=>") {
            Self::JavaScript
        } else {
            Self::Text
        }
    }

    /// The name reported back.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Rust => "rust",
            Self::Python => "python",
            Self::JavaScript => "javascript",
            Self::TypeScript => "typescript",
            Self::Go => "go",
            Self::Java => "java",
            Self::Ruby => "ruby",
            Self::C => "c",
            Self::Cpp => "cpp",
            Self::Shell => "shell",
            Self::Text => "text",
        }
    }

    /// The tree-sitter grammar its syntax trees are read with, if it has
    /// one. TypeScript is read with the TSX grammar, so components in
    /// `.tsx` files parse; the one thing it reads differently is the old
    /// `<Type>value` cast, which TSX spells `value as Type`.
    pub(crate) fn grammar(self) -> Option<SupportLang> {
        match self {
            Self::Go => Some(SupportLang::Go),
            Self::Java => Some(SupportLang::Java),
            Self::JavaScript => Some(SupportLang::JavaScript),
            Self::Python => Some(SupportLang::Python),
            Self::Ruby => Some(SupportLang::Ruby),
            Self::Rust => Some(SupportLang::Rust),
            Self::TypeScript => Some(SupportLang::Tsx),
            Self::C | Self::Cpp | Self::Shell | Self::Text => None,
        }
    }

    /// What starts a comment that runs to the end of the line.
    pub(crate) fn line_comment(self) -> Option<&'static str> {
        match self {
            Self::Python | Self::Ruby | Self::Shell => Some("#"),
            Self::Text => None,
            _ => Some("//"),
        }
    }

    /// Whether `/* … */` comments exist.
    pub(crate) fn block_comments(self) -> bool {
        !matches!(self, Self::Python | Self::Ruby | Self::Shell | Self::Text)
    }

    /// Whether blocks are delimited by braces (otherwise, as far as the
    /// text checks go, by indentation: Ruby's `end` sits at its block's
    /// indentation).
    pub(crate) fn uses_braces(self) -> bool {
        !matches!(self, Self::Python | Self::Ruby | Self::Text)
    }

    /// Whether `'` opens a string (in Rust it is a char or a lifetime).
    pub(crate) fn single_quote_strings(self) -> bool {
        !matches!(self, Self::Rust | Self::Text)
    }

    /// Whether indenting with tabs is the language's convention.
    pub(crate) fn indents_with_tabs(self) -> bool {
        matches!(self, Self::Go)
    }

    /// How the language reads environment variable `name`.
    pub(crate) fn env_lookup(self, name: &str) -> String {
        match self {
            Self::Rust => format!("std::env::var(\"{name}\").unwrap_or_default()"),
            Self::Python => format!("os.environ[\"{name}\"]"),
            Self::JavaScript | Self::TypeScript => format!("process.env.{name}"),
            Self::Go => format!("os.Getenv(\"{name}\")"),
            Self::Java => format!("System.getenv(\"{name}\")"),
            Self::Ruby => format!("ENV.fetch(\"{name}\")"),
            Self::C | Self::Cpp => format!("getenv(\"{name}\")"),
            Self::Shell => format!("\"${{{name}}}\""),
            Self::Text => format!("${{{name}}}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_resolve_and_unknown_names_list_the_known() {
        assert_eq!(Language::named("PY").ok(), Some(Language::Python));
        assert_eq!(Language::named("c++").ok(), Some(Language::Cpp));
        let error = Language::named("cobol").expect_err("unknown");
        assert!(
            error
                .0
                .contains("unknown language `cobol`; use one of: rust")
        );
    }

    #[test]
    fn the_language_is_guessed_from_telltale_lines() {
        assert_eq!(Language::guess("fn main() {}\n"), Language::Rust);
        assert_eq!(
            Language::guess("#!/usr/bin/env python3\nx = 1\n"),
            Language::Python
        );
        assert_eq!(Language::guess("def f():\n    pass\n"), Language::Python);
        assert_eq!(
            Language::guess("package main\n\nfunc main() {}\n"),
            Language::Go
        );
        assert_eq!(
            Language::guess("const x = () => 1;\n"),
            Language::JavaScript
        );
        assert_eq!(
            Language::guess("require 'json'\n\ndef parse(text)\n  JSON.parse(text)\nend\n"),
            Language::Ruby
        );
        assert_eq!(Language::guess("hello world\n"), Language::Text);
    }
}
