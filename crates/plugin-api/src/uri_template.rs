//! Resource templates: URIs with `{name}` parameters (RFC 6570, level 1,
//! plus `{+name}`), matched against the URIs clients read.
//!
//! `{name}` matches one or more characters other than `/`, `?` and `#`;
//! `{+name}` matches one or more characters of any kind. The host and the
//! plugin match with this one implementation, so a URI the host routes to a
//! plugin is always one the plugin's template accepts.

use std::collections::BTreeMap;

/// A parsed URI template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriTemplate {
    text: String,
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Parameter { name: String, reserved: bool },
}

/// Why a template cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError(String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

impl UriTemplate {
    /// Parses `text`. Parameters must be named with letters, digits and `_`,
    /// and two parameters must not touch (their boundary would be a guess).
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let bad = |why: String| TemplateError(format!("URI template `{text}` {why}"));
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest
                        .find('}')
                        .ok_or_else(|| bad("has a `{` that is never closed".to_owned()))?;
                    let inner = &rest[1..end];
                    let (reserved, name) = match inner.strip_prefix('+') {
                        Some(name) => (true, name),
                        None => (false, inner),
                    };
                    if name.is_empty()
                        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(bad(format!(
                            "has the parameter `{{{inner}}}`; name parameters with letters, digits and `_`, as `{{id}}` or `{{+path}}`"
                        )));
                    }
                    if matches!(parts.last(), Some(Part::Parameter { .. })) {
                        return Err(bad(format!(
                            "has two parameters with nothing between them (before `{{{inner}}}`)"
                        )));
                    }
                    parts.push(Part::Parameter {
                        name: name.to_owned(),
                        reserved,
                    });
                    rest = &rest[end + 1..];
                }
                found => {
                    let end = found.unwrap_or(rest.len());
                    let literal = &rest[..end];
                    if literal.contains('}') {
                        return Err(bad("has a `}` that was never opened".to_owned()));
                    }
                    parts.push(Part::Literal(literal.to_owned()));
                    rest = &rest[end..];
                }
            }
        }
        Ok(Self {
            text: text.to_owned(),
            parts,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The names of its parameters, in order.
    pub fn parameters(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Parameter { name, .. } => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// The parameters' values if `uri` matches, by name.
    pub fn matches(&self, uri: &str) -> Option<BTreeMap<String, String>> {
        let mut values = BTreeMap::new();
        let mut rest = uri;
        let mut parts = self.parts.iter().peekable();
        while let Some(part) = parts.next() {
            match part {
                Part::Literal(literal) => rest = rest.strip_prefix(literal.as_str())?,
                Part::Parameter { name, reserved } => {
                    let stops = |c: char| !reserved && matches!(c, '/' | '?' | '#');
                    // The value runs to the next literal (the first place it
                    // appears after at least one character), or to the end.
                    let end = match parts.peek() {
                        Some(Part::Literal(next)) => {
                            let start = rest.char_indices().nth(1).map_or(rest.len(), |(i, _)| i);
                            start + rest.get(start..)?.find(next.as_str())?
                        }
                        _ => rest.len(),
                    };
                    let value = &rest[..end];
                    if value.is_empty() || value.chars().any(stops) {
                        return None;
                    }
                    values.insert(name.clone(), value.to_owned());
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn parameters_take_the_text_between_literals() {
        let template = UriTemplate::parse("test://template/{id}/data").expect("valid");
        assert_eq!(template.parameters().collect::<Vec<_>>(), ["id"]);
        assert_eq!(
            template.matches("test://template/123/data"),
            values(&[("id", "123")])
        );
        assert_eq!(template.matches("test://template//data"), None);
        assert_eq!(template.matches("test://template/1/2/data"), None);
        assert_eq!(template.matches("test://template/123/data/more"), None);
        assert_eq!(template.matches("other://template/123/data"), None);
    }

    #[test]
    fn a_reserved_parameter_takes_slashes_and_a_trailing_one_takes_the_rest() {
        let template = UriTemplate::parse("file:///{+path}").expect("valid");
        assert_eq!(
            template.matches("file:///a/b/c.rs"),
            values(&[("path", "a/b/c.rs")])
        );
        let template = UriTemplate::parse("orchestrator://decisions/{tool}").expect("valid");
        assert_eq!(
            template.matches("orchestrator://decisions/ping"),
            values(&[("tool", "ping")])
        );
        assert_eq!(template.matches("orchestrator://decisions/a/b"), None);
    }

    #[test]
    fn malformed_templates_say_what_is_wrong() {
        for (text, why) in [
            ("a{b", "never closed"),
            ("a}b", "never opened"),
            ("a{}b", "`{}`"),
            ("a{b c}", "`{b c}`"),
            ("a{b}{c}", "nothing between them"),
        ] {
            let err = UriTemplate::parse(text).expect_err(text).to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
