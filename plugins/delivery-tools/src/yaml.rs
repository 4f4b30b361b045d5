//! Just enough YAML writing for Kubernetes manifests: every string is
//! written double-quoted with JSON's escapes, which YAML reads the same way,
//! so no value can change the document's structure.

use std::fmt::Write;

/// A YAML document under construction.
#[derive(Default)]
pub(crate) struct Yaml {
    text: String,
}

impl Yaml {
    /// `key: "value"` at `indent` levels.
    pub(crate) fn string(&mut self, indent: usize, key: &str, value: &str) -> &mut Self {
        let _ = writeln!(self.text, "{}{key}: {}", pad(indent), quote(value));
        self
    }

    /// `key: value` for a number or boolean.
    pub(crate) fn plain(
        &mut self,
        indent: usize,
        key: &str,
        value: impl std::fmt::Display,
    ) -> &mut Self {
        let _ = writeln!(self.text, "{}{key}: {value}", pad(indent));
        self
    }

    /// `key:` opening a nested map or list.
    pub(crate) fn open(&mut self, indent: usize, key: &str) -> &mut Self {
        let _ = writeln!(self.text, "{}{key}:", pad(indent));
        self
    }

    /// `- key: "value"`, the first entry of a list item.
    pub(crate) fn item(&mut self, indent: usize, key: &str, value: &str) -> &mut Self {
        let _ = writeln!(self.text, "{}- {key}: {}", pad(indent), quote(value));
        self
    }

    /// `- key: value` for a number or boolean.
    pub(crate) fn item_plain(
        &mut self,
        indent: usize,
        key: &str,
        value: impl std::fmt::Display,
    ) -> &mut Self {
        let _ = writeln!(self.text, "{}- {key}: {value}", pad(indent));
        self
    }

    /// The document.
    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.text)
    }
}

fn pad(indent: usize) -> String {
    "  ".repeat(indent)
}

/// `value` as a double-quoted scalar.
pub(crate) fn quote(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_owned())
}
