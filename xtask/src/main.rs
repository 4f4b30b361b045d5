//! Developer tasks for orchestrator-mcp, run as `cargo xtask <task>`.
//!
//! Each task is a thin, readable sequence of cargo invocations, so what CI
//! runs is exactly what a developer runs.

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
            #[allow(clippy::print_stderr)]
            {
                eprintln!("xtask: {err:#}");
            }
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
    status(test)
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
