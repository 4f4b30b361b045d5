//! Proofs about whole policy sets, for every request at once.
//!
//! A policy test checks the requests someone thought of; this crate asks an
//! SMT solver about all of them. [`Prover::compare`] proves, for each kind
//! of request and each resource a policy names, that a candidate set allows
//! no more and no less than the active one, or refutes it with a request the
//! two decide differently. [`Prover::verify`] proves the standing properties
//! of `policies/properties.toml` ("anonymous callers are never allowed
//! anything") the same way.
//!
//! Queries are written by Cedar's symbolic compiler (`cedar-policy-symcc`)
//! and answered by cvc5, run as a separate process ([`SolverCommand`]).
//! Every counterexample the solver gives is decided again by Cedar itself
//! before it is shown, so a wrong answer from the solver is an error, never
//! a finding.
//!
//! This crate reads the sets the `policy` crate loaded and validated; it
//! never decides a request for the server.

mod compare;
mod counterexample;
mod error;
mod narrow;
mod properties;
mod solver;

use std::fmt;

use cedar_policy::RequestEnv;
use cedar_policy_symcc::CedarSymCompiler;
use cedar_policy_symcc::solver::LocalSolver;

pub use compare::{Comparison, KindComparison, ResourceComparison};
pub use counterexample::{Counterexample, EntityView};
pub use error::AnalysisError;
pub use narrow::Resources;
pub use properties::{Expectation, Properties, Property, PropertyResult};
pub use solver::{SOLVER_ENV_VAR, SolverCommand};

/// A running solver and the compiler that writes its queries.
pub struct Prover {
    compiler: CedarSymCompiler<LocalSolver>,
}

impl Prover {
    /// Starts `solver`. Must be called inside a Tokio runtime with I/O
    /// enabled; the solver process ends when the prover is dropped.
    pub fn start(solver: &SolverCommand) -> Result<Self, AnalysisError> {
        let compiler =
            CedarSymCompiler::new(solver.start()?).map_err(|err| AnalysisError::SolverBroken {
                path: solver.path.clone(),
                detail: err.to_string(),
            })?;
        Ok(Self { compiler })
    }
}

/// A kind of request: the principal's type, the action and the resource's
/// type, as the schema pairs them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequestKind {
    /// The principal's entity type (`User`).
    pub principal: String,
    /// The action's id (`call`).
    pub action: String,
    /// The resource's entity type (`Tool`).
    pub resource: String,
}

impl RequestKind {
    fn of(env: &RequestEnv) -> Self {
        Self {
            principal: env.principal().to_string(),
            action: env.action().id().unescaped().to_owned(),
            resource: env.resource().to_string(),
        }
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on {} by {}",
            self.action, self.resource, self.principal
        )
    }
}

/// What the solver answered about one claim.
#[derive(Debug)]
pub enum Verdict {
    /// The claim holds for every request.
    Proven,
    /// It fails for this request (checked with Cedar).
    Refuted(Box<Counterexample>),
    /// The solver could not tell in its time limit.
    Unknown,
}
