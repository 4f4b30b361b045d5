//! `cargo xtask policy check | test | verify | explain`: the policy tooling of the
//! shipped binary (`orchestrator-mcp policy …`), run on this workspace.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Subcommand;

/// What `cargo xtask policy` can do.
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyTask {
    /// Parse and validate the policies against the schema.
    Check {
        /// The policy directory.
        #[arg(long, default_value = "policies")]
        dir: PathBuf,
    },
    /// Run the cases in <dir>/tests/*.toml.
    Test {
        /// The policy directory.
        #[arg(long, default_value = "policies")]
        dir: PathBuf,
    },
    /// Prove the standing properties in <dir>/properties.toml (installs
    /// the cvc5 solver under target/ when missing).
    Verify {
        /// The policy directory.
        #[arg(long, default_value = "policies")]
        dir: PathBuf,
    },
    /// Show the decision for a principal's claims and a tool, with reasons.
    Explain {
        /// A JSON file with the token's claims (`sub`, `scope`, `roles`, …).
        #[arg(long)]
        claims: PathBuf,
        /// The tool being called.
        #[arg(long)]
        tool: String,
        /// The call's arguments, as JSON.
        #[arg(long)]
        args: Option<String>,
        /// The policy directory.
        #[arg(long, default_value = "policies")]
        dir: PathBuf,
    },
}

/// Counts of a policy test run.
pub(crate) struct Outcome {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
}

pub(crate) fn run(task: PolicyTask, root: &Path) -> anyhow::Result<()> {
    let binary = if matches!(task, PolicyTask::Explain { .. }) {
        // `explain` sees the tools as the plugins describe them: build them
        // too, as `cargo xtask test` does.
        let mut build = crate::cargo();
        build.args(["build", "--quiet", "--workspace", "--exclude", "xtask"]);
        crate::status(build)?;
        server_dir().join(format!("orchestrator-mcp{}", std::env::consts::EXE_SUFFIX))
    } else {
        build_server()?
    };
    let mut command = Command::new(&binary);
    command.current_dir(root).arg("policy");
    match task {
        PolicyTask::Check { dir } => {
            command.arg("check").arg("--dir").arg(root.join(dir));
        }
        PolicyTask::Test { dir } => {
            command.arg("test").arg("--dir").arg(root.join(dir));
        }
        PolicyTask::Verify { dir } => {
            command
                .arg("verify")
                .arg("--dir")
                .arg(root.join(dir))
                .env("CVC5", crate::cvc5()?);
        }
        PolicyTask::Explain {
            claims,
            tool,
            args,
            dir,
        } => {
            // The binary runs in the workspace root; the claims file is
            // named from where the command was typed.
            let claims = std::path::absolute(&claims)
                .with_context(|| format!("finding {}", claims.display()))?;
            command
                .arg("explain")
                .arg("--claims")
                .arg(claims)
                .arg("--tool")
                .arg(tool)
                .arg("--dir")
                .arg(root.join(dir));
            if let Some(args) = args {
                command.arg("--args").arg(args);
            }
            // The tools as the workspace's debug build of the plugins
            // describes them.
            command.env("PLUGIN_DIR", server_dir());
        }
    }
    crate::status(command)
}

/// Builds the server and returns the path of its binary.
pub(crate) fn build_server() -> anyhow::Result<PathBuf> {
    let mut build = crate::cargo();
    build.args([
        "build",
        "--quiet",
        "--package",
        "server",
        "--bin",
        "orchestrator-mcp",
    ]);
    crate::status(build)?;
    Ok(server_dir().join(format!("orchestrator-mcp{}", std::env::consts::EXE_SUFFIX)))
}

fn server_dir() -> PathBuf {
    crate::target_dir().join("debug")
}

/// Runs `orchestrator-mcp policy test` on `dir` with `binary`, echoing its
/// report, and returns its counts.
pub(crate) fn test(binary: &Path, dir: &Path) -> anyhow::Result<Outcome> {
    let mut command = Command::new(binary);
    command.args(["policy", "test", "--dir"]).arg(dir);
    summarised(command, "test", dir, counts)
}

/// Runs `orchestrator-mcp policy verify` on `dir` with `binary` and the
/// solver `cvc5`, echoing its report; each property is a test.
pub(crate) fn verify(binary: &Path, dir: &Path, cvc5: &Path) -> anyhow::Result<Outcome> {
    let mut command = Command::new(binary);
    command
        .args(["policy", "verify", "--dir"])
        .arg(dir)
        .env("CVC5", cvc5);
    summarised(command, "verify", dir, verified)
}

/// Runs a `policy` command, echoing its report, and reads its counts from
/// the last line `summary` understands.
fn summarised(
    mut command: Command,
    name: &str,
    dir: &Path,
    summary: fn(&str) -> Option<Outcome>,
) -> anyhow::Result<Outcome> {
    let output = command
        .output()
        .with_context(|| format!("could not start {:?}", command.get_program()))?;
    let report = String::from_utf8_lossy(&output.stdout);
    print!("{report}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    match report.lines().rev().find_map(summary) {
        Some(outcome) => Ok(outcome),
        None => bail!(
            "`orchestrator-mcp policy {name}` on {} ended with {} and no summary",
            dir.display(),
            output.status
        ),
    }
}

/// `policy verify: 5 hold, 0 fail` to its counts.
fn verified(line: &str) -> Option<Outcome> {
    let rest = line.strip_prefix("policy verify: ")?;
    let (held, failed) = rest.split_once(", ")?;
    Some(Outcome {
        passed: held.strip_suffix(" hold")?.parse().ok()?,
        failed: failed.strip_suffix(" fail")?.parse().ok()?,
    })
}

/// `policy: 33 passed, 0 failed` to its counts.
fn counts(line: &str) -> Option<Outcome> {
    let rest = line.strip_prefix("policy: ")?;
    let (passed, failed) = rest.split_once(", ")?;
    Some(Outcome {
        passed: passed.strip_suffix(" passed")?.parse().ok()?,
        failed: failed.strip_suffix(" failed")?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_gives_the_counts() {
        let outcome = counts("policy: 33 passed, 2 failed").expect("counts");
        assert_eq!((outcome.passed, outcome.failed), (33, 2));
        assert!(counts("policy check: 13 policies").is_none());
    }

    #[test]
    fn the_verify_summary_gives_the_counts() {
        let outcome = verified("policy verify: 4 hold, 1 fail").expect("counts");
        assert_eq!((outcome.passed, outcome.failed), (4, 1));
        assert!(verified("policy verify: 5 properties of x").is_none());
    }
}
