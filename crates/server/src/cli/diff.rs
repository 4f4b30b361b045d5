//! `orchestrator-mcp policy diff --candidate DIR --replay FILE`: what a
//! candidate policy set would have decided about the decisions an audit log
//! recorded, and which of them it would change.
#![expect(clippy::print_stdout, reason = "a command's report is its output")]

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::Path;

use anyhow::Context as _;
use policy::PolicyEngine;

use crate::audit::replay::{self, Recorded, Replay};

/// Which changes make the command fail.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Forbidden {
    /// A call the active set denied that the candidate would allow.
    pub(crate) new_allows: bool,
    /// A call the active set allowed that the candidate would deny.
    pub(crate) new_denials: bool,
}

/// The counts of a replay.
#[derive(Default)]
struct Tally {
    replayed: u64,
    unchanged: u64,
    new_allows: u64,
    new_denials: u64,
    other_changes: u64,
    skipped: BTreeMap<&'static str, u64>,
}

/// Replays the decisions recorded in `log` under the candidate set in
/// `candidate`; prints every decision that would change and the counts.
/// `Ok(false)` when a change is one `forbidden` names.
pub(crate) fn replay(candidate: &Path, log: &Path, forbidden: Forbidden) -> anyhow::Result<bool> {
    let engine = PolicyEngine::load_dir(candidate)
        .with_context(|| format!("loading the candidate policies in {}", candidate.display()))?;
    let file = std::fs::File::open(log)
        .with_context(|| format!("opening the audit log {} (--replay)", log.display()))?;
    println!(
        "policy diff: replaying {} under the candidate {} ({})",
        log.display(),
        candidate.display(),
        engine.hash()
    );
    let mut tally = Tally::default();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", log.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(record) = serde_json::from_str::<Recorded>(&line) else {
            *tally.skipped.entry("not a decision record").or_default() += 1;
            continue;
        };
        let change = match replay::replay(&engine, &record) {
            Replay::NotADecision => continue,
            Replay::Skipped(why) => {
                *tally.skipped.entry(why).or_default() += 1;
                continue;
            }
            Replay::Unchanged => {
                tally.replayed += 1;
                tally.unchanged += 1;
                continue;
            }
            Replay::Changed(change) => change,
        };
        tally.replayed += 1;
        match (change.was_allowed, change.now_allowed) {
            (false, true) => tally.new_allows += 1,
            (true, false) => tally.new_denials += 1,
            _ => tally.other_changes += 1,
        }
        println!(
            "line {}: {} {} ({}) {} `{}` arguments {}: {} → {} (was decided by [{}], now by [{}])",
            index + 1,
            record.time,
            record.principal_id,
            record.principal_kind,
            record.action,
            record.tool,
            change.arguments_digest,
            record.decision,
            change.now,
            record.policies.join(", "),
            change.deciding.join(", ")
        );
    }
    println!(
        "policy diff: {} replayed: {} unchanged, {} newly allowed, {} newly denied, {} otherwise changed",
        tally.replayed, tally.unchanged, tally.new_allows, tally.new_denials, tally.other_changes
    );
    for (why, count) in &tally.skipped {
        println!("policy diff: {count} records skipped: {why}");
    }
    let refused = (forbidden.new_allows && tally.new_allows > 0)
        || (forbidden.new_denials && tally.new_denials > 0);
    if refused {
        println!("policy diff: the candidate changes decisions in a direction forbidden here");
    }
    Ok(!refused)
}
