//! What can keep an analysis from answering.

use std::path::PathBuf;

/// Why a comparison or a property check could not be made.
///
/// A refuted proof is not an error: it is an answer, with a counterexample.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// No solver to run: `CVC5` names nothing, or there is no `cvc5` on
    /// `PATH`.
    #[error(
        "{reason}; install cvc5 1.3.1 (`bash tools/cvc5/install.sh DIR` sets one up from PyPI) and set CVC5 to it, or put cvc5 on PATH"
    )]
    SolverMissing {
        /// What was looked for, and where.
        reason: String,
    },
    /// The solver was found but does not work.
    #[error("the solver {path} does not work: {detail}")]
    SolverBroken {
        /// The solver's path.
        path: PathBuf,
        /// What went wrong, with its own words when it said any.
        detail: String,
    },
    /// A policy set could not be turned into a query for one kind of
    /// request.
    #[error("cannot compile {what} for {request}: {source}")]
    Compile {
        /// Which set (`the active set`, `the candidate`, a property).
        what: String,
        /// The kind of request, as `principal action resource` types.
        request: String,
        /// symcc's reason.
        #[source]
        source: Box<cedar_policy_symcc::err::Error>,
    },
    /// The solver failed while answering a query.
    #[error("the solver failed on {query} for {request}: {source}")]
    Solve {
        /// What was asked.
        query: String,
        /// The kind of request.
        request: String,
        /// symcc's reason.
        #[source]
        source: Box<cedar_policy_symcc::err::Error>,
    },
    /// A policy could not be narrowed to one resource (a policy symcc
    /// accepted that Cedar will not write or read back as JSON).
    #[error("cannot narrow policy {policy} to {resource}: {reason}")]
    Narrow {
        /// The policy's id.
        policy: String,
        /// The resource it was being narrowed to.
        resource: String,
        /// Cedar's reason.
        reason: String,
    },
    /// The solver's counterexample is not one when Cedar evaluates it: a
    /// fault in the solver or in symcc, never to be passed on as an answer.
    #[error(
        "the solver's counterexample for {query} on {request} does not hold when Cedar evaluates it; the solver cannot be trusted"
    )]
    BadCounterexample {
        /// What was asked.
        query: String,
        /// The kind of request.
        request: String,
    },
    /// The properties file cannot be read or says something wrong.
    #[error("{}: {message}", file.display())]
    Properties {
        /// The properties file.
        file: PathBuf,
        /// What is wrong and what to do, naming the property.
        message: String,
    },
}

impl AnalysisError {
    /// Whether the error is that no working solver is there, as opposed to
    /// a fault in what was asked.
    pub fn is_solver_unavailable(&self) -> bool {
        matches!(self, Self::SolverMissing { .. } | Self::SolverBroken { .. })
    }
}
