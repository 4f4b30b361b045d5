//! `cargo xtask fuzz [SECONDS] [TARGET…]`: runs the cargo-fuzz targets in
//! `fuzz/` on nightly, each for SECONDS, and fails naming the artifact of
//! any crash.
//!
//! Each target starts from a corpus under `fuzz/corpus/` (git-ignored)
//! that its checked-in seeds (`fuzz/seeds/<target>/`) are copied into, so
//! what the fuzzer finds grows there and the seeds stay as written.
//! libFuzzer's output goes to `fuzz/logs/<target>.log`; what is printed is
//! a line a target and, after a crash, the end of its log.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// How long one input may run before libFuzzer reports it as a hang.
const INPUT_TIMEOUT_SECS: u64 = 10;

/// The largest single allocation an input may make before libFuzzer
/// reports it: no input of a few kilobytes needs anything near it.
const MALLOC_LIMIT_MB: u64 = 512;

/// How much of a crashed target's log is printed.
const LOG_TAIL_LINES: usize = 40;

pub(crate) fn run(root: &Path, seconds: u64, only: &[String]) -> anyhow::Result<()> {
    let fuzz = root.join("fuzz");
    let targets = targets(&fuzz, only)?;
    check_nightly()?;
    install_cargo_fuzz()?;
    // One build for every target, so each run below is fuzzing time.
    let mut build = nightly_cargo(root);
    build.args(["fuzz", "build"]);
    crate::status(build).context("building the fuzz targets")?;

    let mut outcomes = Vec::new();
    for target in &targets {
        println!("fuzz: {target} for {seconds} s");
        let outcome = run_target(root, &fuzz, target, seconds)?;
        println!("fuzz: {}", outcome.line());
        if !outcome.passed() {
            print_tail(&outcome.log);
        }
        outcomes.push(outcome);
    }
    println!();
    for outcome in &outcomes {
        println!("  {}", outcome.line());
    }
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|outcome| !outcome.passed())
        .map(|outcome| match &outcome.artifacts[..] {
            [] => format!("{} (see {})", outcome.target, outcome.log.display()),
            artifacts => format!(
                "{} ({})",
                outcome.target,
                artifacts
                    .iter()
                    .map(|artifact| artifact.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
        .collect();
    if !failed.is_empty() {
        bail!(
            "fuzzing found a failure in {}; reproduce one with `cargo +nightly fuzz run TARGET ARTIFACT`",
            failed.join("; ")
        );
    }
    Ok(())
}

/// The targets to run: those named, or every file in `fuzz/fuzz_targets/`.
fn targets(fuzz: &Path, only: &[String]) -> anyhow::Result<Vec<String>> {
    let dir = fuzz.join("fuzz_targets");
    let mut all = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = entry?.file_name();
        if let Some(target) = name.to_str().and_then(|name| name.strip_suffix(".rs")) {
            all.insert(target.to_owned());
        }
    }
    if only.is_empty() {
        return Ok(all.into_iter().collect());
    }
    for target in only {
        if !all.contains(target) {
            bail!(
                "there is no fuzz target `{target}`; the targets are: {}",
                all.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
    }
    Ok(only.to_vec())
}

/// `cargo +nightly`, through rustup's proxy (the `cargo` that runs xtask is
/// the stable toolchain's own binary, which takes no `+toolchain`).
fn nightly_cargo(root: &Path) -> Command {
    let mut command = Command::new("cargo");
    command
        .arg("+nightly")
        .current_dir(root)
        // Set for xtask by the stable cargo that runs it; they would point
        // the nightly build at stable's tools.
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .env_remove("RUSTUP_TOOLCHAIN");
    command
}

fn check_nightly() -> anyhow::Result<()> {
    let found = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        bail!(
            "cargo fuzz needs a nightly toolchain (libFuzzer's instrumentation is unstable); \
             install one with `rustup toolchain install nightly`"
        );
    }
    Ok(())
}

/// Installs cargo-fuzz from crates.io when `cargo fuzz` is not there.
fn install_cargo_fuzz() -> anyhow::Result<()> {
    let found = Command::new("cargo")
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if found {
        return Ok(());
    }
    println!("fuzz: installing cargo-fuzz");
    let mut install = crate::cargo();
    install.args(["install", "cargo-fuzz", "--locked"]);
    crate::status(install).context("installing cargo-fuzz")
}

/// How one target's run went.
struct Outcome {
    target: String,
    /// How long `cargo fuzz run` took, start-up included.
    elapsed: Duration,
    figures: Figures,
    /// What the run wrote to `fuzz/artifacts/<target>/`: crashes, hangs,
    /// inputs that ran out of memory.
    artifacts: Vec<PathBuf>,
    log: PathBuf,
    success: bool,
}

impl Outcome {
    fn passed(&self) -> bool {
        self.success && self.artifacts.is_empty()
    }

    fn line(&self) -> String {
        let figures = &self.figures;
        let mut line = format!(
            "{:<18} ran {:>6.1} s",
            self.target,
            self.elapsed.as_secs_f64()
        );
        if let Some(runs) = figures.runs {
            line.push_str(&format!(", {runs} inputs"));
        }
        if let Some(coverage) = figures.coverage {
            line.push_str(&format!(", coverage {coverage}"));
        }
        if let Some(corpus) = figures.corpus {
            line.push_str(&format!(", corpus {corpus}"));
        }
        line.push_str(match (self.artifacts.is_empty(), self.success) {
            (true, true) => ": no crash",
            (false, _) => ": CRASH",
            (true, false) => ": FAILED",
        });
        for artifact in &self.artifacts {
            line.push_str(&format!(" {}", artifact.display()));
        }
        line
    }
}

fn run_target(root: &Path, fuzz: &Path, target: &str, seconds: u64) -> anyhow::Result<Outcome> {
    let corpus = fuzz.join("corpus").join(target);
    copy_seeds(&fuzz.join("seeds").join(target), &corpus)?;
    let artifacts_dir = fuzz.join("artifacts").join(target);
    let before = files(&artifacts_dir);
    let logs = fuzz.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let log = logs.join(format!("{target}.log"));
    let output =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = nightly_cargo(root);
    command
        .args(["fuzz", "run", target])
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECS}"))
        .arg(format!("-malloc_limit_mb={MALLOC_LIMIT_MB}"))
        .stdout(output.try_clone()?)
        .stderr(output);
    let started = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("could not start cargo fuzz run {target}"))?;
    let elapsed = started.elapsed();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let artifacts = files(&artifacts_dir)
        .into_iter()
        .filter(|file| !before.contains(file))
        .map(|file| file.strip_prefix(root).map_or(file.clone(), Path::to_owned))
        .collect();
    Ok(Outcome {
        target: target.to_owned(),
        elapsed,
        figures: figures(&text),
        artifacts,
        log: log.strip_prefix(root).map_or(log.clone(), Path::to_owned),
        success: status.success(),
    })
}

/// Copies every seed into the corpus, leaving what the fuzzer added there.
fn copy_seeds(seeds: &Path, corpus: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(corpus).with_context(|| format!("creating {}", corpus.display()))?;
    for seed in files(seeds) {
        if let Some(name) = seed.file_name() {
            std::fs::copy(&seed, corpus.join(name))
                .with_context(|| format!("copying {}", seed.display()))?;
        }
    }
    Ok(())
}

/// The files in `dir`, ordered; none when it does not exist.
fn files(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect()
}

fn print_tail(log: &Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    for line in &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..] {
        println!("    {line}");
    }
}

/// What libFuzzer reports about a run.
#[derive(Debug, Default, PartialEq, Eq)]
struct Figures {
    /// Inputs run (`Done N runs in S second(s)`).
    runs: Option<u64>,
    /// Code edges covered, as last reported (`cov: N`).
    coverage: Option<u64>,
    /// Inputs in the corpus, as last reported (`corp: N/…`).
    corpus: Option<u64>,
}

/// The figures in a libFuzzer log.
fn figures(log: &str) -> Figures {
    let number_after = |line: &str, label: &str| -> Option<u64> {
        let rest = &line[line.find(label)? + label.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let mut figures = Figures::default();
    for line in log.lines() {
        if let Some(runs) = line.strip_prefix("Done ").and_then(|rest| {
            rest.split_whitespace()
                .next()
                .and_then(|runs| runs.parse().ok())
        }) {
            figures.runs = Some(runs);
        }
        if line.starts_with('#') {
            figures.coverage = number_after(line, "cov: ").or(figures.coverage);
            figures.corpus = number_after(line, "corp: ").or(figures.corpus);
        }
    }
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figures_are_read_from_libfuzzers_log() {
        let log = "\
INFO: Seed: 1234
#2\tINITED cov: 310 ft: 311 corp: 1/1b exec/s: 0 rss: 30Mb
#1024\tNEW    cov: 2231 ft: 5120 corp: 87/3312b lim: 4096 exec/s: 512 rss: 80Mb L: 40/300 MS: 2 ChangeBit-CMP-
#65536\tpulse  cov: 2240 ft: 5300 corp: 90/3400b lim: 4096 exec/s: 1092 rss: 95Mb
Done 65630 runs in 61 second(s)
";
        assert_eq!(
            figures(log),
            Figures {
                runs: Some(65630),
                coverage: Some(2240),
                corpus: Some(90),
            }
        );
        assert_eq!(figures("error: could not compile"), Figures::default());
    }

    #[test]
    fn every_target_in_fuzz_targets_is_run_unless_some_are_named() {
        let fuzz = crate::root().join("fuzz");
        let all = targets(&fuzz, &[]).expect("the targets");
        assert!(all.contains(&"mcp_guard".to_owned()), "{all:?}");
        let one = vec!["mcp_guard".to_owned()];
        assert_eq!(targets(&fuzz, &one).expect("named"), one);
        let err = targets(&fuzz, &["nope".to_owned()]).expect_err("unknown");
        assert!(err.to_string().contains("mcp_guard"), "{err}");
    }
}
