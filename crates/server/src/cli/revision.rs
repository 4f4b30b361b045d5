//! A policy directory as a git revision holds it, written out to a
//! temporary directory so it loads like any other.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

/// The files of `dir` at git revision `rev`, in a temporary directory that
/// is removed when dropped.
pub(crate) fn checkout(dir: &Path, rev: &str) -> anyhow::Result<tempfile::TempDir> {
    if rev.starts_with('-') {
        bail!("revision {rev:?} looks like an option; name a commit, branch or tag");
    }
    let top = PathBuf::from(
        git(dir, &["rev-parse", "--show-toplevel"])
            .with_context(|| format!("{} is not in a git repository", dir.display()))?
            .trim_end_matches('\n'),
    );
    let absolute = dir
        .canonicalize()
        .with_context(|| format!("reading the policy directory {}", dir.display()))?;
    let top = top.canonicalize().unwrap_or(top);
    let relative = absolute.strip_prefix(&top).with_context(|| {
        format!(
            "{} is not inside its repository {}",
            dir.display(),
            top.display()
        )
    })?;
    let pathspec = if relative.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        relative.to_string_lossy().into_owned()
    };
    let listed = git(
        &top,
        &["ls-tree", "-r", "-z", "--name-only", rev, "--", &pathspec],
    )
    .with_context(|| format!("reading revision {rev:?} of {pathspec}"))?;
    let files: Vec<&str> = listed.split('\0').filter(|name| !name.is_empty()).collect();
    if files.is_empty() {
        bail!("revision {rev:?} has no files in {pathspec}");
    }
    let out = tempfile::Builder::new()
        .prefix("orchestrator-mcp-policies-")
        .tempdir()
        .context("making a temporary directory for the revision's policies")?;
    for file in files {
        let inside = Path::new(file)
            .strip_prefix(relative)
            .unwrap_or(Path::new(file));
        if inside
            .components()
            .any(|part| !matches!(part, Component::Normal(_)))
        {
            bail!("revision {rev:?} has a file with an unexpected path: {file}");
        }
        let contents = Command::new("git")
            .arg("-C")
            .arg(&top)
            .args(["show", &format!("{rev}:{file}")])
            .output()
            .context("running git")?;
        if !contents.status.success() {
            bail!(
                "git show {rev}:{file} failed: {}",
                String::from_utf8_lossy(&contents.stderr).trim()
            );
        }
        let target = out.path().join(inside);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, contents.stdout)
            .with_context(|| format!("writing {}", target.display()))?;
    }
    Ok(out)
}

/// What `git -C dir args…` printed, or why it failed in its own words.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("running git (is it installed?)")?;
    if !output.status.success() {
        bail!("{}", String::from_utf8_lossy(&output.stderr).trim());
    }
    String::from_utf8(output.stdout).context("git printed something that is not UTF-8")
}
