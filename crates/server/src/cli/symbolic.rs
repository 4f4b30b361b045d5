//! `orchestrator-mcp policy diff` (its symbolic comparison) and `policy
//! verify`: proofs about every request, made by the cvc5 solver.
#![expect(clippy::print_stdout, reason = "a command's report is its output")]

use std::path::Path;

use anyhow::Context as _;
use policy::PolicyEngine;
use policy_analysis::{
    AnalysisError, Comparison, Counterexample, Properties, Prover, SolverCommand, Verdict,
};

use super::Answer;
use super::diff::Forbidden;

/// The solver, or `None` after saying why there is none.
fn solver(command: &str) -> Option<SolverCommand> {
    match SolverCommand::find() {
        Ok(solver) => Some(solver),
        Err(err) => {
            #[expect(clippy::print_stderr, reason = "the reason is the command's answer")]
            {
                eprintln!("{command}: no solver, so nothing was proven: {err}");
            }
            None
        }
    }
}

/// Runs `work` with a started prover on a runtime of its own.
fn prove<T>(
    solver: &SolverCommand,
    work: impl AsyncFnOnce(&mut Prover) -> Result<T, AnalysisError>,
) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a runtime for the solver")?;
    runtime
        .block_on(async {
            let mut prover = Prover::start(solver)?;
            work(&mut prover).await
        })
        .map_err(anyhow::Error::from)
}

/// Proves or refutes, per kind of request and resource, that `candidate`
/// allows no more and no less than `active`; prints every difference with a
/// counterexample.
pub(crate) fn compare(
    active_dir: &Path,
    candidate_dir: &Path,
    forbidden: Forbidden,
) -> anyhow::Result<Answer> {
    let active = PolicyEngine::load_dir(active_dir)
        .with_context(|| format!("loading the active policies in {}", active_dir.display()))?;
    let candidate = PolicyEngine::load_dir(candidate_dir).with_context(|| {
        format!(
            "loading the candidate policies in {}",
            candidate_dir.display()
        )
    })?;
    let Some(solver) = solver("policy diff") else {
        return Ok(Answer::NoSolver);
    };
    println!(
        "policy diff: symbolic comparison of the candidate {} ({}) with the active set {} ({}), by {}",
        candidate_dir.display(),
        candidate.hash(),
        active_dir.display(),
        active.hash(),
        solver.version
    );
    let comparison = prove(&solver, async |prover| {
        prover
            .compare(
                active.cedar_policies(),
                candidate.cedar_policies(),
                candidate.cedar_schema(),
            )
            .await
    })?;
    print_comparison(&comparison);
    let refused = (forbidden.new_allows
        && (comparison.has_new_allows() || comparison.has_unknowns()))
        || (forbidden.new_denials && (comparison.has_new_denials() || comparison.has_unknowns()));
    if refused {
        println!("policy diff: the candidate may change decisions in a direction forbidden here");
        return Ok(Answer::No);
    }
    Ok(Answer::Yes)
}

fn print_comparison(comparison: &Comparison) {
    let mut same = 0;
    let (mut allows, mut denials, mut unknown) = (0, 0, 0);
    for kind in &comparison.kinds {
        if kind.resources.iter().all(|proof| proof.equivalent()) {
            same += 1;
            println!("  {}: the same (proven)", kind.kind);
            continue;
        }
        println!("  {}: differs", kind.kind);
        let mut proven_same = 0;
        for proof in &kind.resources {
            if proof.equivalent() {
                proven_same += 1;
                continue;
            }
            println!(
                "    {}: {}; {}",
                proof.resources,
                claim(&proof.allows_no_more, "allows no more", "allows more"),
                claim(&proof.allows_no_less, "allows no less", "allows less"),
            );
            for (verdict, what, tally) in [
                (
                    &proof.allows_no_more,
                    "newly allowed: the candidate allows it, the active set denies it",
                    &mut allows,
                ),
                (
                    &proof.allows_no_less,
                    "newly denied: the active set allows it, the candidate denies it",
                    &mut denials,
                ),
            ] {
                match verdict {
                    Verdict::Refuted(counterexample) => {
                        *tally += 1;
                        println!("      {what}, for example:");
                        print_counterexample(counterexample, 8);
                    }
                    Verdict::Unknown => unknown += 1,
                    Verdict::Proven => {}
                }
            }
        }
        if proven_same > 0 {
            println!("    (and {proven_same} more proven the same)");
        }
    }
    println!(
        "policy diff: symbolic: {} kinds of request, {same} proven the same; {allows} with requests newly allowed, {denials} with requests newly denied, {unknown} unknown",
        comparison.kinds.len()
    );
    if comparison.is_equivalent() {
        println!("policy diff: the candidate decides every request as the active set does");
    }
}

fn claim(verdict: &Verdict, proven: &str, refuted: &str) -> String {
    match verdict {
        Verdict::Proven => format!("{proven} (proven)"),
        Verdict::Refuted(_) => refuted.to_owned(),
        Verdict::Unknown => format!("{proven}: unknown (the solver ran out of time)"),
    }
}

fn print_counterexample(counterexample: &Counterexample, indent: usize) {
    for line in counterexample.to_string().lines() {
        println!("{:indent$}{line}", "");
    }
}

/// Proves each standing property in `properties` (default
/// `<dir>/properties.toml`) for the policies in `dir`.
pub(crate) fn verify(dir: &Path, properties: Option<&Path>) -> anyhow::Result<Answer> {
    let engine = PolicyEngine::load_dir(dir)?;
    let file = properties.map_or_else(|| dir.join("properties.toml"), Path::to_path_buf);
    let properties = Properties::load(&file, engine.cedar_schema())?;
    let Some(solver) = solver("policy verify") else {
        return Ok(Answer::NoSolver);
    };
    println!(
        "policy verify: {} properties of {} over {} ({}), by {}",
        properties.properties.len(),
        file.display(),
        dir.display(),
        engine.hash(),
        solver.version
    );
    let results = prove(&solver, async |prover| {
        prover
            .verify(engine.cedar_policies(), engine.cedar_schema(), &properties)
            .await
    })?;
    let mut failed = 0;
    for result in &results {
        if result.holds() {
            println!(
                "  holds  {}: {} ({} proofs)",
                result.id,
                result.description,
                result.proofs.len()
            );
            continue;
        }
        failed += 1;
        println!("  FAILS  {}: {}", result.id, result.description);
        for (kind, resources, verdict) in &result.proofs {
            match verdict {
                Verdict::Proven => {}
                Verdict::Unknown => {
                    println!("         {kind}, {resources}: unknown (the solver ran out of time)")
                }
                Verdict::Refuted(counterexample) => {
                    println!("         {kind}, {resources}: refuted, for example:");
                    print_counterexample(counterexample, 11);
                }
            }
        }
    }
    println!(
        "policy verify: {} hold, {failed} fail",
        results.len() - failed
    );
    Ok(if failed == 0 { Answer::Yes } else { Answer::No })
}
