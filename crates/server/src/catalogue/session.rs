//! What a client narrowed its session to (`readOnly`, `tools`), applied to
//! every call made for it, the calls its tools make included.

use std::collections::BTreeSet;

/// A session's settings; the default narrows nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SessionSettings {
    /// `readOnly`: only tools annotated `readOnlyHint: true`.
    pub(crate) read_only: bool,
    /// `tools`: only these tools, by name.
    pub(crate) tools: Option<BTreeSet<String>>,
}

impl SessionSettings {
    /// Whether the session may see and call tool `name`, read-only or not.
    pub(crate) fn admits(&self, name: &str, read_only: bool) -> bool {
        (!self.read_only || read_only)
            && self.tools.as_ref().is_none_or(|tools| tools.contains(name))
    }

    /// Why the session does not admit tool `name`, for the refusal.
    pub(crate) fn refusal(&self, name: &str, read_only: bool) -> Option<String> {
        if self.read_only && !read_only {
            return Some(format!(
                "tool `{name}` is not read-only, and this session is (readOnly=true); start a \
                 session without readOnly to call it"
            ));
        }
        match &self.tools {
            Some(tools) if !tools.contains(name) => Some(format!(
                "tool `{name}` is not among this session's tools ({}); add it to the session's \
                 `tools` setting to call it",
                tools.iter().cloned().collect::<Vec<_>>().join(", ")
            )),
            _ => None,
        }
    }
}
