//! Developer tasks for orchestrator-mcp, run as `cargo xtask <task>`.
//!
//! Each task is a thin, readable sequence of cargo invocations, so what CI
//! runs is exactly what a developer runs.

// A command-line tool: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Developer tasks for orchestrator-mcp")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Build the server and every plugin in release mode, then run the server
    /// on its embedded default configuration (demo mode, 127.0.0.1:8080).
    Run {
        /// Arguments passed to `orchestrator-mcp` (for example `--config FILE`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build what the tests need, then run every test in the workspace.
    Test,
    /// Check formatting and run clippy with warnings denied.
    Lint,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.task {
        Task::Run { args } => run(&args),
        Task::Test => test(),
        Task::Lint => lint(),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: xtask lives one level below it.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

/// Runs `command`, failing with its command line if it fails.
fn status(mut command: Command) -> anyhow::Result<()> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

fn run(args: &[String]) -> anyhow::Result<()> {
    let mut build = cargo();
    // The test crate and xtask are not part of what is served.
    build.args([
        "build",
        "--release",
        "--workspace",
        "--exclude",
        "e2e",
        "--exclude",
        "xtask",
    ]);
    status(build)?;
    let binary = target_dir()
        .join("release")
        .join(format!("orchestrator-mcp{}", std::env::consts::EXE_SUFFIX));
    let mut server = Command::new(&binary);
    server.args(args).current_dir(root());
    status(server)
}

fn test() -> anyhow::Result<()> {
    // The end-to-end tests start the real binary with the real plugin
    // libraries, which `cargo test` alone does not build.
    let mut build = cargo();
    build.args(["build", "--workspace"]);
    status(build)?;
    let mut test = cargo();
    test.args(["test", "--workspace", "--no-fail-fast"]);
    let totals = run_counting_tests(test)?;
    // One closing line for the whole run; cargo's own last line is only the
    // last crate's doc-tests.
    println!(
        "tests: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    if totals.failed > 0 || !totals.success {
        bail!("tests failed");
    }
    if totals.passed == 0 {
        bail!("no test ran");
    }
    Ok(())
}

#[derive(Debug, Default)]
struct TestTotals {
    passed: u64,
    failed: u64,
    ignored: u64,
    success: bool,
}

/// Runs `cargo test`, echoing its output, and adds up its `test result:` lines.
fn run_counting_tests(mut command: Command) -> anyhow::Result<TestTotals> {
    use std::io::{BufRead, BufReader};

    let shown = format!("{command:?}");
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start {shown}"))?;
    let mut totals = TestTotals::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.context("reading test output")?;
            println!("{line}");
            if let Some(counts) = parse_test_result(&line) {
                totals.passed += counts.0;
                totals.failed += counts.1;
                totals.ignored += counts.2;
            }
        }
    }
    totals.success = child.wait().context("waiting for cargo test")?.success();
    Ok(totals)
}

/// `test result: ok. 4 passed; 0 failed; 1 ignored; …` to (4, 0, 1).
fn parse_test_result(line: &str) -> Option<(u64, u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let count = |label: &str| -> Option<u64> {
        rest.split([';', '.'])
            .map(str::trim)
            .find_map(|part| part.strip_suffix(label))
            .and_then(|n| n.trim().parse().ok())
    };
    Some((count(" passed")?, count(" failed")?, count(" ignored")?))
}

fn lint() -> anyhow::Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    status(fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    status(clippy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_result_lines_are_counted() {
        assert_eq!(
            parse_test_result(
                "test result: ok. 47 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 11.17s"
            ),
            Some((47, 0, 2))
        );
        assert_eq!(
            parse_test_result("test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured"),
            Some((3, 1, 0))
        );
        assert_eq!(parse_test_result("test foo ... ok"), None);
    }
}
