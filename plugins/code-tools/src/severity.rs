//! How much a finding matters, shared by the text checks and the syntax
//! rules.

use plugin_api::JsonSchema;
use serde::Serialize;

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Must be fixed: a secret, a dangerous call.
    Error,
    /// Should be fixed.
    Warning,
    /// Worth a look.
    Info,
}
