//! Errors from loading a policy set.

use std::path::PathBuf;
use std::sync::Arc;

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
        /// Cedar's own diagnostic, with its labels and help, when Cedar
        /// found the problem. The message already holds its text, so it is
        /// the miette diagnostic source, not the std error source (which
        /// would print it twice in an error chain).
        cause: Option<CedarDiagnostic>,
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
        /// Cedar's own diagnostic, when Cedar found the problem.
        cause: Option<CedarDiagnostic>,
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
        /// Cedar's own diagnostic.
        cause: Option<CedarDiagnostic>,
    },
    /// A policy's condition is false for every request the schema allows.
    #[error("{}{}: policy `{policy}` can never apply: its condition is false for every request the schema allows (an attribute tested with `has` that its entity type does not declare, say)", file.display(), location(*line, *column))]
    NeverApplies {
        /// The policy file.
        file: PathBuf,
        /// The policy's `@id`.
        policy: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
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
    #[error("{}{}: duplicate policy @id(\"{id}\"), already used at {}{}; give each policy its own id", file.display(), location(*line, None), first_file.display(), location(*first_line, None))]
    DuplicateId {
        /// The file with the second use.
        file: PathBuf,
        /// 1-based line of the second use, when found.
        line: Option<usize>,
        /// The id.
        id: String,
        /// The file with the first use.
        first_file: PathBuf,
        /// 1-based line of the first use, when found.
        first_line: Option<usize>,
    },
    /// Policy templates are not supported.
    #[error("{}: policy templates (?principal / ?resource) are not supported; write a policy per case", file.display())]
    Template {
        /// The file holding the template.
        file: PathBuf,
    },
    /// Two policies describe the same scope differently.
    #[error("{}{}: scope `{}` is described as \"{}\" here, but as \"{}\" by policy `{}`; give one description", .0.file.display(), location(.0.line, None), .0.scope, .0.description, .0.other, .0.other_policy)]
    ConflictingScope(Box<ScopeConflict>),
}

impl PolicyError {
    /// A schema the server cannot work with, found by the server rather
    /// than by Cedar: no position, no Cedar diagnostic.
    pub(crate) fn schema(file: &std::path::Path, message: String) -> Self {
        Self::Schema {
            file: file.to_owned(),
            line: None,
            column: None,
            message,
            cause: None,
        }
    }

    fn cause(&self) -> Option<&CedarDiagnostic> {
        match self {
            Self::Schema { cause, .. }
            | Self::Syntax { cause, .. }
            | Self::Validation { cause, .. } => cause.as_ref(),
            _ => None,
        }
    }
}

/// The message names the file and line; a report that renders diagnostics
/// (miette's) also gets Cedar's own, with its labels and help.
impl miette::Diagnostic for PolicyError {
    fn diagnostic_source(&self) -> Option<&dyn miette::Diagnostic> {
        self.cause()
            .map(|cause| &*cause.0 as &dyn miette::Diagnostic)
    }
}

/// A diagnostic from Cedar, kept whole: the error behind a [`PolicyError`].
#[derive(Clone)]
pub struct CedarDiagnostic(Arc<dyn miette::Diagnostic + Send + Sync + 'static>);

impl CedarDiagnostic {
    pub(crate) fn new(diagnostic: impl miette::Diagnostic + Send + Sync + 'static) -> Self {
        Self(Arc::new(diagnostic))
    }
}

impl std::fmt::Debug for CedarDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for CedarDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&*self.0, f)
    }
}

impl std::error::Error for CedarDiagnostic {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl miette::Diagnostic for CedarDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.code()
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.help()
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.0.labels()
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        self.0.related()
    }
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(":{line}:{column}"),
        (Some(line), None) => format!(":{line}"),
        _ => String::new(),
    }
}

/// Where and how two policies describe one scope differently.
#[derive(Debug)]
pub struct ScopeConflict {
    /// The file with the second description.
    pub file: PathBuf,
    /// 1-based line of the policy with the second description.
    pub line: Option<usize>,
    /// The scope.
    pub scope: String,
    /// The second description.
    pub description: String,
    /// The first description.
    pub other: String,
    /// The policy that gave the first description.
    pub other_policy: String,
}
