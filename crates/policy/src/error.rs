//! Errors from loading a policy set.

use std::path::PathBuf;

/// Why a policy set could not be loaded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// What could not be read.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The directory holds no policy files.
    #[error("{}: no *.cedar policy files found; every call would be denied", dir.display())]
    NoPolicies {
        /// The policy directory.
        dir: PathBuf,
    },
    /// The schema does not parse.
    #[error("{}{}: invalid schema: {message}", file.display(), location(*line, *column))]
    Schema {
        /// The schema file.
        file: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A policy file does not parse.
    #[error("{}{}: {message}", file.display(), location(*line, *column))]
    Syntax {
        /// The policy file.
        file: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A policy does not type-check against the schema.
    #[error("{}{}: policy `{policy}` does not match the schema: {message}", file.display(), location(*line, *column))]
    Validation {
        /// The policy file.
        file: PathBuf,
        /// The policy's `@id`.
        policy: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A policy has no `@id` annotation, or an empty one.
    #[error("{}: policy number {index} in this file has no @id(\"...\") annotation; every policy needs a unique id", file.display())]
    MissingId {
        /// The policy file.
        file: PathBuf,
        /// 1-based position of the policy in the file.
        index: usize,
    },
    /// Two policies share an `@id`.
    #[error("{}: duplicate policy @id(\"{id}\"), already used in {}", file.display(), first_file.display())]
    DuplicateId {
        /// The file with the second use.
        file: PathBuf,
        /// The id.
        id: String,
        /// The file with the first use.
        first_file: PathBuf,
    },
    /// Policy templates are not supported.
    #[error("{}: policy templates (?principal / ?resource) are not supported; write a policy per case", file.display())]
    Template {
        /// The file holding the template.
        file: PathBuf,
    },
    /// Two policies describe the same scope differently.
    #[error("{}: scope `{scope}` is described as \"{description}\" here, but as \"{other}\" by policy `{other_policy}`; give one description", file.display())]
    ConflictingScope {
        /// The file with the second description.
        file: PathBuf,
        /// The scope.
        scope: String,
        /// The second description.
        description: String,
        /// The first description.
        other: String,
        /// The policy that gave the first description.
        other_policy: String,
    },
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(":{line}:{column}"),
        (Some(line), None) => format!(":{line}"),
        _ => String::new(),
    }
}
