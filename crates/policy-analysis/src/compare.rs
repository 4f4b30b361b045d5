//! Whether a candidate policy set allows more, or less, than the active one:
//! proven for every request, or refuted with one it decides differently.

use cedar_policy::{Decision, PolicySet, RequestEnv, Schema};
use cedar_policy_symcc::CompiledPolicySet;

use crate::counterexample::Counterexample;
use crate::narrow::{self, Resources};
use crate::{AnalysisError, Prover, RequestKind, Verdict};

/// The answer for every kind of request the schema allows.
#[derive(Debug)]
pub struct Comparison {
    /// One entry per kind of request, ordered by action, resource type and
    /// principal type.
    pub kinds: Vec<KindComparison>,
}

/// The answer for one kind of request (a `User` calling a `Tool`).
#[derive(Debug)]
pub struct KindComparison {
    /// The kind of request.
    pub kind: RequestKind,
    /// Empty when the two sets were proven to decide every such request
    /// alike; otherwise one entry for each resource a policy names, and one
    /// for all the others.
    pub resources: Vec<ResourceComparison>,
}

/// The two proofs about one resource (or the resources no policy names).
#[derive(Debug)]
pub struct ResourceComparison {
    /// Which resources.
    pub resources: Resources,
    /// That every request the candidate allows, the active set allows: a
    /// counterexample is a new allow.
    pub allows_no_more: Verdict,
    /// That every request the active set allows, the candidate allows: a
    /// counterexample is a new denial.
    pub allows_no_less: Verdict,
}

impl ResourceComparison {
    /// Whether both were proven.
    pub fn equivalent(&self) -> bool {
        matches!(
            (&self.allows_no_more, &self.allows_no_less),
            (Verdict::Proven, Verdict::Proven)
        )
    }
}

impl Comparison {
    /// Every proof of the comparison: (kind, resources, allows no more,
    /// allows no less).
    fn proofs(&self) -> impl Iterator<Item = &ResourceComparison> {
        self.kinds.iter().flat_map(|kind| &kind.resources)
    }

    /// Whether the candidate allows a request the active set denies.
    pub fn has_new_allows(&self) -> bool {
        self.proofs()
            .any(|proof| matches!(proof.allows_no_more, Verdict::Refuted(_)))
    }

    /// Whether the candidate denies a request the active set allows.
    pub fn has_new_denials(&self) -> bool {
        self.proofs()
            .any(|proof| matches!(proof.allows_no_less, Verdict::Refuted(_)))
    }

    /// Whether a proof was left without an answer (the solver said
    /// `unknown` or ran out of time).
    pub fn has_unknowns(&self) -> bool {
        self.proofs().any(|proof| {
            matches!(proof.allows_no_more, Verdict::Unknown)
                || matches!(proof.allows_no_less, Verdict::Unknown)
        })
    }

    /// Whether the two sets were proven to decide every request alike.
    pub fn is_equivalent(&self) -> bool {
        self.proofs().all(ResourceComparison::equivalent)
    }
}

impl Prover {
    /// Compares `candidate` with `active` for every kind of request
    /// `schema` allows. Both sets are read under `schema` (the candidate's,
    /// since a change may extend it).
    pub async fn compare(
        &mut self,
        active: &PolicySet,
        candidate: &PolicySet,
        schema: &Schema,
    ) -> Result<Comparison, AnalysisError> {
        let mut envs: Vec<RequestEnv> = schema.request_envs().collect();
        envs.sort_by_key(|env| {
            (
                env.action().to_string(),
                env.resource().to_string(),
                env.principal().to_string(),
            )
        });
        let mut kinds = Vec::with_capacity(envs.len());
        for env in envs {
            kinds.push(self.compare_kind(active, candidate, schema, &env).await?);
        }
        Ok(Comparison { kinds })
    }

    async fn compare_kind(
        &mut self,
        active: &PolicySet,
        candidate: &PolicySet,
        schema: &Schema,
        env: &RequestEnv,
    ) -> Result<KindComparison, AnalysisError> {
        let kind = RequestKind::of(env);
        let active_compiled = compile(active, "the active set", env, schema)?;
        let candidate_compiled = compile(candidate, "the candidate", env, schema)?;
        let equivalent = self
            .compiler
            .check_equivalent_opt(&active_compiled, &candidate_compiled)
            .await;
        match equivalent {
            Ok(true) => {
                return Ok(KindComparison {
                    kind,
                    resources: Vec::new(),
                });
            }
            // Told apart, or not known: prove resource by resource.
            Ok(false) | Err(cedar_policy_symcc::err::Error::SolverUnknown) => {}
            Err(source) => {
                return Err(AnalysisError::Solve {
                    query: "equivalence".to_owned(),
                    request: kind.to_string(),
                    source: Box::new(source),
                });
            }
        }
        let resource_type = env.resource().to_string();
        let named = narrow::named(&[active, candidate], &resource_type);
        let mut targets: Vec<Resources> = named
            .iter()
            .map(|id| Resources::Named {
                kind: resource_type.clone(),
                id: id.clone(),
            })
            .collect();
        targets.push(Resources::Others {
            kind: resource_type,
            named: named.into_iter().collect(),
        });
        let mut resources = Vec::with_capacity(targets.len());
        for target in targets {
            let narrowed_active = narrow::narrow(active, &target)?;
            let narrowed_candidate = narrow::narrow(candidate, &target)?;
            let active_compiled = compile(&narrowed_active, "the active set", env, schema)?;
            let candidate_compiled = compile(&narrowed_candidate, "the candidate", env, schema)?;
            let allows_no_more = self
                .implies(
                    &candidate_compiled,
                    &active_compiled,
                    (candidate, active),
                    &kind,
                    "that the candidate allows no more",
                )
                .await?;
            let allows_no_less = self
                .implies(
                    &active_compiled,
                    &candidate_compiled,
                    (active, candidate),
                    &kind,
                    "that the candidate allows no less",
                )
                .await?;
            resources.push(ResourceComparison {
                resources: target,
                allows_no_more,
                allows_no_less,
            });
        }
        Ok(KindComparison { kind, resources })
    }

    /// Proves that every request `first` allows, `second` allows; a
    /// counterexample is checked with Cedar against `whole` (the sets as
    /// loaded: the first must allow it and the second deny it).
    pub(crate) async fn implies(
        &mut self,
        first: &CompiledPolicySet,
        second: &CompiledPolicySet,
        whole: (&PolicySet, &PolicySet),
        kind: &RequestKind,
        query: &str,
    ) -> Result<Verdict, AnalysisError> {
        let found = self
            .compiler
            .check_implies_with_counterexample_opt(first, second)
            .await;
        match found {
            Ok(None) => Ok(Verdict::Proven),
            Ok(Some(env)) => {
                let counterexample = Counterexample::new(env);
                if counterexample.decide(whole.0) != Decision::Allow
                    || counterexample.decide(whole.1) != Decision::Deny
                {
                    return Err(AnalysisError::BadCounterexample {
                        query: query.to_owned(),
                        request: kind.to_string(),
                    });
                }
                Ok(Verdict::Refuted(Box::new(counterexample)))
            }
            Err(cedar_policy_symcc::err::Error::SolverUnknown) => Ok(Verdict::Unknown),
            Err(source) => Err(AnalysisError::Solve {
                query: query.to_owned(),
                request: kind.to_string(),
                source: Box::new(source),
            }),
        }
    }
}

/// `set` as a query for requests of kind `env`.
pub(crate) fn compile(
    set: &PolicySet,
    what: &str,
    env: &RequestEnv,
    schema: &Schema,
) -> Result<CompiledPolicySet, AnalysisError> {
    CompiledPolicySet::compile(set, env, schema).map_err(|source| AnalysisError::Compile {
        what: what.to_owned(),
        request: RequestKind::of(env).to_string(),
        source: Box::new(source),
    })
}
