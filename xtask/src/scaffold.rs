//! `cargo xtask new-plugin NAME`: a new plugin crate with one working tool,
//! its policy with scope annotations, a policy test and an end-to-end test.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::{PYTHON_ENV_VAR, TestTotals, cargo, run_counting_tests, status};

/// The files of a new plugin, each `(path from the workspace root, template)`.
const FILES: &[(&str, &str)] = &[
    (
        "plugins/{{name}}/Cargo.toml",
        include_str!("../templates/plugin/Cargo.toml.in"),
    ),
    (
        "plugins/{{name}}/src/lib.rs",
        include_str!("../templates/plugin/lib.rs.in"),
    ),
    (
        "plugins/{{name}}/tests/end_to_end.rs",
        include_str!("../templates/plugin/end_to_end.rs.in"),
    ),
    (
        "policies/{{name}}.cedar",
        include_str!("../templates/plugin/policy.cedar.in"),
    ),
    (
        "policies/tests/{{name}}.toml",
        include_str!("../templates/plugin/policy_test.toml.in"),
    ),
];

/// The names a new plugin's files are filled in with.
struct Names {
    name: String,
    tool: String,
    short_tool: &'static str,
    scope: String,
    type_prefix: String,
}

impl Names {
    fn new(name: &str) -> Self {
        let snake = name.replace('-', "_");
        Self {
            name: name.to_owned(),
            tool: format!("{snake}_text_stats"),
            short_tool: "text_stats",
            scope: format!("{name}:text_stats"),
            type_prefix: name
                .split('-')
                .map(|part| {
                    let mut chars = part.chars();
                    chars.next().map_or_else(String::new, |first| {
                        first.to_ascii_uppercase().to_string() + chars.as_str()
                    })
                })
                .collect(),
        }
    }

    fn fill(&self, template: &str) -> String {
        template
            .replace("{{name}}", &self.name)
            .replace("{{short_tool}}", self.short_tool)
            .replace("{{tool}}", &self.tool)
            .replace("{{scope}}", &self.scope)
            .replace("{{type_prefix}}", &self.type_prefix)
    }
}

/// Refuses names that cannot be a crate, a library file and a scope.
fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = (2..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!(
            "`{name}` cannot name a plugin: use 2 to 40 lowercase letters, digits and single `-`, starting with a letter (for example `weather-tools`)"
        );
    }
    if name == "server" {
        bail!("`server` is the name of the server's own tools; choose another");
    }
    Ok(())
}

/// Writes the new plugin's files under `root` and adds its scope to the demo
/// principal, refusing to overwrite anything.
pub(crate) fn new_plugin(root: &Path, name: &str) -> anyhow::Result<()> {
    check_name(name)?;
    let names = Names::new(name);
    let files: Vec<(std::path::PathBuf, String)> = FILES
        .iter()
        .map(|(path, template)| (root.join(names.fill(path)), names.fill(template)))
        .collect();
    if let Some((existing, _)) = files.iter().find(|(path, _)| path.exists()) {
        bail!(
            "{} already exists; choose another name or remove it first",
            existing.display()
        );
    }
    for (path, contents) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
        println!(
            "created {}",
            path.strip_prefix(root).unwrap_or(path).display()
        );
    }
    let demo_note = match grant_to_demo_principal(&root.join("config/default.toml"), &names.scope)?
    {
        true => format!("the demo token holds {} (config/default.toml)", names.scope),
        false => format!(
            "add {} to [demo] scopes in your configuration to call the tool with the demo token",
            names.scope
        ),
    };
    println!(
        "\nPlugin {name}: tool `{tool}`, scope `{scope}`; {demo_note}.\n\nNext:\n  cargo build --workspace            # the server and the plugin library\n  cargo test -p {name}             # its unit and end-to-end tests\n  cargo xtask policy test             # its policy cases\n  cargo xtask gen                     # its scope in the Descope and deployment files\n  cargo xtask run                     # serve it in demo mode\n\nThe server's tool list grows by one tool: accept the changed snapshots\n(`INSTA_UPDATE=always cargo xtask test`) and add `{tool}` to EVERY_TOOL in\ntests/e2e/tests/util.rs. docs/writing-plugins.md walks through the rest.",
        tool = names.tool,
        scope = names.scope,
    );
    Ok(())
}

/// Adds `scope` to the demo principal's scopes in `config`; false when the
/// list is not where it is expected (the file was rewritten by hand).
fn grant_to_demo_principal(config: &Path, scope: &str) -> anyhow::Result<bool> {
    let Ok(text) = std::fs::read_to_string(config) else {
        return Ok(false);
    };
    let Some(demo) = text.find("\n[demo]\n") else {
        return Ok(false);
    };
    let Some(list) = text[demo..].find("\nscopes = [\n").map(|at| demo + at) else {
        return Ok(false);
    };
    let Some(end) = text[list..].find("\n]\n").map(|at| list + at) else {
        return Ok(false);
    };
    let updated = format!("{}\n  {scope:?},{}", &text[..end], &text[end..]);
    std::fs::write(config, updated).with_context(|| format!("writing {}", config.display()))?;
    Ok(true)
}

/// The plugin the scaffold check creates.
const CHECK_PLUGIN: &str = "scaffold-check-tools";

/// What the workspace is made of, copied for the scaffold check.
const SOURCES: &[&str] = &[
    ".cargo",
    "Cargo.toml",
    "Cargo.lock",
    "bench",
    "config",
    "crates",
    "plugins",
    "policies",
    "tests",
    "xtask",
];

/// Proves that a scaffolded plugin builds, loads and passes its own tests
/// as generated: scaffolds one in a copy of the workspace, builds the
/// copy, runs the new crate's tests (unit and end to end) and the policy
/// cases. The copy builds into `<target>/scaffold-check`, kept between runs
/// so that later runs only rebuild what changed.
///
/// The copy needs a target directory of its own: cargo names a workspace
/// crate's build by its path inside the workspace, so in a shared one the
/// copy's server (with the scaffolded scope in its embedded configuration)
/// would replace the workspace's own and look up to date to it. It builds
/// without debug info, which nothing here reads, to keep the disk a test
/// run needs small.
pub(crate) fn check(root: &Path, target: &Path) -> anyhow::Result<TestTotals> {
    let copy = target.join("scaffold-check/workspace");
    if copy.exists() {
        std::fs::remove_dir_all(&copy).with_context(|| format!("clearing {}", copy.display()))?;
    }
    for source in SOURCES {
        copy_tree(&root.join(source), &copy.join(source))?;
    }
    new_plugin(&copy, CHECK_PLUGIN)?;
    let target_dir = target.join("scaffold-check/target");
    let in_copy = |args: &[&str]| {
        let mut command = cargo();
        command
            .current_dir(&copy)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("CARGO_PROFILE_DEV_DEBUG", "false")
            .args(args);
        command
    };
    status(in_copy(&[
        "build",
        "--quiet",
        "--workspace",
        "--exclude",
        "xtask",
    ]))
    .context("building a workspace with a freshly scaffolded plugin")?;
    let mut test = in_copy(&["test", "--package", CHECK_PLUGIN]);
    // The copy's end-to-end helpers look for Python only in the main tests.
    test.env_remove(PYTHON_ENV_VAR);
    let mut totals = run_counting_tests(test)?;
    let policies = crate::policy::test(&crate::policy::build_server()?, &copy.join("policies"))?;
    totals.passed += policies.passed;
    totals.failed += policies.failed;
    if totals.passed == 0 {
        bail!("the scaffolded plugin ran no tests");
    }
    println!("scaffold check: a new plugin builds, loads and passes its tests");
    Ok(totals)
}

/// Copies `from` to `to` (a file or a directory tree), skipping build
/// output and caches.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    let skip = |path: &Path| {
        path.file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| ["target", "__pycache__", "node_modules", ".data"].contains(&name))
    };
    if from.is_file() {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, to).with_context(|| format!("copying {}", from.display()))?;
        return Ok(());
    }
    let mut pending: Vec<(PathBuf, PathBuf)> = vec![(from.to_owned(), to.to_owned())];
    while let Some((from, to)) = pending.pop() {
        std::fs::create_dir_all(&to).with_context(|| format!("creating {}", to.display()))?;
        for entry in
            std::fs::read_dir(&from).with_context(|| format!("reading {}", from.display()))?
        {
            let path = entry?.path();
            if skip(&path) {
                continue;
            }
            let dest = to.join(path.file_name().unwrap_or_default());
            if path.is_dir() {
                pending.push((path, dest));
            } else {
                std::fs::copy(&path, &dest)
                    .with_context(|| format!("copying {}", path.display()))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_derived_from_the_plugin_name() {
        let names = Names::new("weather-tools");
        assert_eq!(names.tool, "weather_tools_text_stats");
        assert_eq!(names.scope, "weather-tools:text_stats");
        assert_eq!(names.type_prefix, "WeatherTools");
    }

    #[test]
    fn names_that_cannot_be_crates_are_refused() {
        for bad in [
            "Weather",
            "weather_tools",
            "-x",
            "x-",
            "a--b",
            "server",
            "x",
        ] {
            assert!(check_name(bad).is_err(), "{bad} was accepted");
        }
        assert!(check_name("weather-tools").is_ok());
    }

    #[test]
    fn the_demo_principal_gains_the_scope_and_existing_files_are_kept() {
        let root = tempfile::tempdir().expect("tempdir");
        let config = root.path().join("config/default.toml");
        std::fs::create_dir_all(config.parent().expect("parent")).expect("mkdir");
        std::fs::write(
            &config,
            "[server]\nport = 1\n\n[demo]\nscopes = [\n  \"tools:ping\",\n]\nroles = []\n",
        )
        .expect("write");
        new_plugin(root.path(), "weather-tools").expect("scaffolded");
        let updated = std::fs::read_to_string(&config).expect("read");
        assert!(
            updated.contains("scopes = [\n  \"tools:ping\",\n  \"weather-tools:text_stats\",\n]\n"),
            "{updated}"
        );
        let lib = std::fs::read_to_string(root.path().join("plugins/weather-tools/src/lib.rs"))
            .expect("lib.rs");
        assert!(lib.contains("export_tools!(WeatherToolsPlugin: [TextStats])"));
        assert!(!lib.contains("{{"), "a placeholder was left: {lib}");
        let again = new_plugin(root.path(), "weather-tools").expect_err("refused");
        assert!(again.to_string().contains("already exists"));
    }
}
