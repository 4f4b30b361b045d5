//! Finding the cvc5 solver symcc drives, as symcc itself would: `CVC5`,
//! else `cvc5` on `PATH`. Found and asked its version before any query, so
//! that a missing or broken solver is reported as such, not as a failed
//! proof.

use std::path::{Path, PathBuf};
use std::process::Command;

use cedar_policy_symcc::solver::LocalSolver;

use crate::AnalysisError;

/// The environment variable naming the solver's executable.
pub const SOLVER_ENV_VAR: &str = "CVC5";

/// How long one query may take before the solver answers `unknown`, in
/// milliseconds. symcc's own default; the queries a policy set makes take
/// milliseconds.
const QUERY_TIME_LIMIT_MS: u32 = 60_000;

/// A solver that answered when asked its version.
#[derive(Clone, Debug)]
pub struct SolverCommand {
    /// Its executable.
    pub path: PathBuf,
    /// The first line it printed for `--version`.
    pub version: String,
}

impl SolverCommand {
    /// The solver `CVC5` names, or `cvc5` on `PATH`, once it has said its
    /// version.
    pub fn find() -> Result<Self, AnalysisError> {
        let path = match std::env::var_os(SOLVER_ENV_VAR).filter(|value| !value.is_empty()) {
            Some(path) => {
                let path = PathBuf::from(path);
                if !path.is_file() {
                    return Err(AnalysisError::SolverMissing {
                        reason: format!(
                            "{SOLVER_ENV_VAR} names {}, which is not a file",
                            path.display()
                        ),
                    });
                }
                path
            }
            None => on_path("cvc5").ok_or_else(|| AnalysisError::SolverMissing {
                reason: format!("{SOLVER_ENV_VAR} is not set and there is no cvc5 on PATH"),
            })?,
        };
        let output = Command::new(&path)
            .arg("--version")
            .output()
            .map_err(|err| AnalysisError::SolverBroken {
                path: path.clone(),
                detail: format!("it cannot be run ({err})"),
            })?;
        let said = String::from_utf8_lossy(&output.stdout);
        let version = said
            .lines()
            .find(|line| line.contains("version"))
            .map(str::trim)
            .map(str::to_owned);
        match version {
            Some(version) if output.status.success() => Ok(Self { path, version }),
            _ => Err(AnalysisError::SolverBroken {
                path,
                detail: format!(
                    "`--version` exited with {} and said: {}",
                    output.status,
                    first_words(&String::from_utf8_lossy(&output.stderr), &said)
                ),
            }),
        }
    }

    /// A running solver process, ready for queries. Must be called inside a
    /// Tokio runtime.
    pub(crate) fn start(&self) -> Result<LocalSolver, AnalysisError> {
        let mut command = tokio::process::Command::new(&self.path);
        command
            .args(["--lang", "smt"])
            .arg(format!("--tlimit-per={QUERY_TIME_LIMIT_MS}"))
            .kill_on_drop(true);
        LocalSolver::from_command(&mut command).map_err(|err| AnalysisError::SolverBroken {
            path: self.path.clone(),
            detail: err.to_string(),
        })
    }
}

/// `name` in a directory of `PATH`, if it is there.
fn on_path(name: &str) -> Option<PathBuf> {
    let dirs = std::env::var_os("PATH")?;
    std::env::split_paths(&dirs)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        path.metadata()
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// The start of what a failing solver said, for an error message.
fn first_words(stderr: &str, stdout: &str) -> String {
    let said = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let said = said.trim();
    if said.is_empty() {
        return "nothing".to_owned();
    }
    said.chars().take(300).collect()
}
