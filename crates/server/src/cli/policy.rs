//! `orchestrator-mcp policy check | test | explain`: the policy tooling,
//! shipped in the binary so operators have it wherever the server runs.

#![expect(clippy::print_stdout, reason = "a command's report is its output")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use core_auth::principal_from_claims;
use plugin_host::PluginHost;
use policy::{Decision, PolicyEngine, RequestContext, Target};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::catalogue;
use crate::settings::Raw;

/// Counts of a policy test run.
pub(crate) struct Outcome {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
}

/// Loads and validates; prints a summary or the diagnostic.
pub(crate) fn check(dir: &Path) -> anyhow::Result<PolicyEngine> {
    let engine = PolicyEngine::load_dir(dir)?;
    println!(
        "policy check: {} policies, {} scopes, {} ({})",
        engine.policy_count(),
        engine.scopes().len(),
        engine.hash(),
        dir.display()
    );
    let shadow = engine.shadow_policies();
    if !shadow.is_empty() {
        println!(
            "shadow policies ({}), evaluated beside the enforced ones and never deciding:",
            shadow.len()
        );
        for id in shadow {
            let place = engine
                .location(id)
                .map(|(file, line)| match line {
                    Some(line) => format!("{}:{line}", file.display()),
                    None => file.display().to_string(),
                })
                .unwrap_or_default();
            println!("  {id} ({place})");
        }
    }
    Ok(engine)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(rename = "case", default)]
    cases: Vec<TestCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestCase {
    name: String,
    claims: Map<String, Value>,
    /// The tool called; or else
    #[serde(default)]
    tool: Option<String>,
    /// the resource read (its URI, or its template as written); or else
    #[serde(default)]
    resource: Option<String>,
    /// the prompt got; or else
    #[serde(default)]
    prompt: Option<String>,
    /// the admin console used (`console = true`).
    #[serde(default)]
    console: bool,
    #[serde(default)]
    plugin: Option<String>,
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    destructive: bool,
    /// The call's arguments, as the policies see them.
    #[serde(default)]
    arguments: Option<Value>,
    /// The tenant the caller acts in (overrides the claims' `dct`).
    #[serde(default)]
    tenant: Option<String>,
    /// Whether the caller's user approved the call (`context.approved`).
    #[serde(default)]
    approved: bool,
    expect: Expected,
    /// The `@id`s of the policies that must decide.
    #[serde(default)]
    policies: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Expected {
    Allow,
    Deny,
    /// Denied as asked, but allowed once a person approves the call.
    Approval,
}

/// Runs every case; prints each failure with the actual decision.
pub(crate) fn test(dir: &Path) -> anyhow::Result<Outcome> {
    let engine = check(dir)?;
    let tests = dir.join("tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&tests)
        .with_context(|| format!("reading {}", tests.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    let mut outcome = Outcome {
        passed: 0,
        failed: 0,
    };
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        let parsed: TestFile = toml::from_str(&text)
            .with_context(|| format!("{}: not a policy test file", file.display()))?;
        for case in parsed.cases {
            match run_case(&engine, &case) {
                Ok(()) => outcome.passed += 1,
                Err(reason) => {
                    outcome.failed += 1;
                    println!("FAIL {}: {}: {reason}", file.display(), case.name);
                }
            }
        }
    }
    println!(
        "policy: {} passed, {} failed",
        outcome.passed, outcome.failed
    );
    Ok(outcome)
}

impl Expected {
    fn word(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Approval => "approval",
        }
    }
}

fn run_case(engine: &PolicyEngine, case: &TestCase) -> Result<(), String> {
    // The tenant stands in for the claims' `dct`, so the caller holds that
    // tenant's permissions and roles, as a token acting in it would.
    let mut claims = case.claims.clone();
    if let Some(tenant) = &case.tenant {
        claims.insert("dct".to_owned(), Value::String(tenant.clone()));
    }
    let principal = principal_from_claims(&claims).map_err(|err| format!("claims: {err}"))?;
    let tool = Arc::new(case_target(case)?);
    let context = RequestContext::now()
        .with_arguments(
            case.arguments
                .clone()
                .unwrap_or_else(|| Value::Object(Map::new())),
        )
        .with_approval(case.approved);
    let decision = engine.decide(&Arc::new(principal), tool.action(), &tool, &context);
    let actual = if decision.allowed {
        Expected::Allow
    } else if decision.needs_approval() {
        Expected::Approval
    } else {
        Expected::Deny
    };
    if actual != case.expect {
        return Err(format!(
            "expected {}, got {}; {}",
            case.expect.word(),
            actual.word(),
            reasons(&decision)
        ));
    }
    if let Some(expected) = &case.policies {
        let mut expected = expected.clone();
        expected.sort();
        let mut actual = decision.policies.clone();
        actual.sort();
        if expected != actual {
            return Err(format!(
                "decided by {actual:?}, expected {expected:?}; {}",
                reasons(&decision)
            ));
        }
    }
    Ok(())
}

/// What a case asks about: exactly one of `tool`, `resource` and `prompt`.
fn case_target(case: &TestCase) -> Result<Target, String> {
    match (&case.tool, &case.resource, &case.prompt) {
        (None, None, None) if case.console => Ok(Target::console()),
        _ if case.console => Err(
            "`console = true` names the admin console: leave out `tool`, `resource` and `prompt`"
                .to_owned(),
        ),
        (Some(tool), None, None) => Ok(Target {
            plugin: case
                .plugin
                .clone()
                .unwrap_or_else(|| Target::by_name(tool).plugin),
            read_only: case.read_only,
            destructive: case.destructive,
            ..Target::by_name(tool)
        }),
        (None, Some(uri), None) => {
            let plugin = case.plugin.clone().unwrap_or_else(|| {
                if catalogue::is_server_resource(uri) {
                    policy::SERVER_PLUGIN.to_owned()
                } else {
                    String::new()
                }
            });
            Ok(Target::item(policy::Kind::Resource, uri, &plugin))
        }
        (None, None, Some(name)) => Ok(Target::item(
            policy::Kind::Prompt,
            name,
            case.plugin.as_deref().unwrap_or_default(),
        )),
        _ => Err(
            "name exactly one of `tool`, `resource` (a URI or template), `prompt` and `console = true`".to_owned(),
        ),
    }
}

fn reasons(decision: &Decision) -> String {
    let policies = if decision.policies.is_empty() {
        "no deciding policy (default deny)".to_owned()
    } else {
        format!("deciding policies {:?}", decision.policies)
    };
    let scopes = if decision.accepted_scopes.is_empty() {
        String::new()
    } else {
        format!(
            "; would be allowed with {}",
            decision.accepted_scopes.join(" or ")
        )
    };
    let approval = if decision.needs_approval() {
        format!(
            "; would be allowed with a person's approval by {:?}",
            decision.approval_policies
        )
    } else {
        String::new()
    };
    let errors = if decision.errors.is_empty() {
        String::new()
    } else {
        format!("; errors: {}", decision.errors.join("; "))
    };
    format!("{policies}{scopes}{approval}{errors}")
}

/// Prints the decision for `claims` calling `tool` with `args`, with its
/// reasons. The tool is seen as the loaded plugins describe it, or else
/// guessed from its name (`plugins` says why they did not load).
pub(crate) fn explain(
    dir: &Path,
    plugins: Result<&PluginHost, &str>,
    claims: &Path,
    tool: &str,
    args: Option<&str>,
) -> anyhow::Result<()> {
    let engine = PolicyEngine::load_dir(dir)?;
    let text =
        std::fs::read_to_string(claims).with_context(|| format!("reading {}", claims.display()))?;
    let claims: Map<String, Value> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSON object of claims", claims.display()))?;
    let arguments = match args {
        Some(args) => {
            let value: Value = serde_json::from_str(args).context("--args is not valid JSON")?;
            anyhow::ensure!(
                value.is_object(),
                "--args must be a JSON object of arguments, like '{{\"environment\":\"staging\"}}'"
            );
            value
        }
        None => Value::Object(Map::new()),
    };
    let principal =
        Arc::new(principal_from_claims(&claims).map_err(|err| anyhow::anyhow!("claims: {err}"))?);
    let (resource, seen_as) = match plugins {
        Ok(plugins) => match catalogue::tool_resource(plugins, tool) {
            Some(resource) => (resource, "as its plugin describes it".to_owned()),
            None => (
                Target::by_name(tool),
                "guessed from its name: no loaded plugin provides it".to_owned(),
            ),
        },
        Err(why) => (
            Target::by_name(tool),
            format!("guessed from its name: the plugins did not load: {why}"),
        ),
    };
    let resource = Arc::new(resource);
    let action = resource.action();
    let context = RequestContext::now().with_arguments(arguments);
    let decision = engine.decide(&principal, action, &resource, &context);
    println!("principal: {} ({})", principal.id, principal.kind.as_str());
    println!(
        "tool: {tool} (plugin {}, read-only: {}, destructive: {}; {seen_as})",
        resource.plugin,
        yes_no(resource.read_only),
        yes_no(resource.destructive)
    );
    println!("action: {}", action.name());
    if decision.needs_approval() {
        println!("decision: allowed with approval");
        println!(
            "approving policies: {} (they allow the call once a person approves it; over MCP the server asks the caller's user)",
            decision.approval_policies.join(", ")
        );
    } else {
        println!(
            "decision: {}",
            if decision.allowed { "allow" } else { "deny" }
        );
        if decision.policies.is_empty() {
            println!("deciding policies: none (default deny)");
        } else {
            println!("deciding policies: {}", decision.policies.join(", "));
        }
    }
    if !decision.allowed && !decision.needs_approval() {
        if decision.accepted_scopes.is_empty() {
            println!("no single scope would allow it");
        } else {
            println!(
                "would be allowed with any of: {}",
                decision.accepted_scopes.join(", ")
            );
        }
    }
    for error in &decision.errors {
        println!("evaluation error: {error}");
    }
    Ok(())
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// The policy directory: `--dir`, or `POLICY_DIR` as configured.
pub(crate) fn policy_dir(dir: Option<PathBuf>, config: Option<&Raw>) -> PathBuf {
    dir.or_else(|| config.map(|config| config.policies.dir.clone()))
        .unwrap_or_else(|| PathBuf::from("policies"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAGING_ONLY: &str = r#"
@id("deploy.staging-only")
forbid (principal, action == Action::"call", resource == Tool::"deploy_plan")
when { context.arguments has environment && context.arguments.environment != "staging" }
unless { principal in Role::"admin" };
"#;

    const CASES: &str = r#"
[[case]]
name = "production deploys need the admin role"
claims = { sub = "U2dev", scope = "tools:deploy", roles = ["developer"] }
tool = "deploy_plan"
arguments = { environment = "production" }
expect = "deny"
policies = ["deploy.staging-only"]

[[case]]
name = "admins deploy anywhere, once a person approves production"
claims = { sub = "U2ops", scope = "tools:deploy", roles = ["admin"] }
tool = "deploy_plan"
arguments = { environment = "production" }
expect = "approval"

[[case]]
name = "an approved production deploy by an admin is allowed"
claims = { sub = "U2ops", scope = "tools:deploy", roles = ["admin"] }
tool = "deploy_plan"
arguments = { environment = "production" }
approved = true
expect = "allow"
policies = ["tools.deploy"]

[[case]]
name = "staging is fine for everyone with the scope"
claims = { sub = "U2dev", scope = "tools:deploy" }
tool = "deploy_plan"
arguments = { environment = "staging" }
expect = "allow"

[[case]]
name = "admin:config reaches reload_policies through the admin action"
claims = { sub = "U2ops", scope = "admin:config" }
tool = "reload_policies"
expect = "allow"
policies = ["admin.config.reload"]

[[case]]
name = "a wrong expectation fails with the actual decision"
claims = { sub = "U2dev", scope = "tools:deploy" }
tool = "deploy_plan"
arguments = { environment = "production" }
expect = "allow"
"#;

    const TENANT_ROLES: &str = r#"
@id("acme.admins.production")
permit (principal in TenantRole::"acme/admin", action == Action::"call", resource == Tool::"deploy_plan");
"#;

    const TENANT_CASES: &str = r#"
[[case]]
name = "a tenant's admin is not the project's admin"
claims = { sub = "U2t", scope = "tools:deploy", dct = "globex", tenants = { globex = { roles = ["admin"] } } }
tool = "deploy_plan"
arguments = { environment = "production" }
expect = "deny"
policies = ["deploy.staging-only"]

[[case]]
name = "acme's admin is TenantRole acme/admin"
claims = { sub = "U2t", dct = "acme", tenants = { acme = { roles = ["admin"] } } }
tool = "deploy_plan"
expect = "allow"
policies = ["acme.admins.production"]

[[case]]
name = "the case's tenant stands in for dct, with that tenant's roles"
claims = { sub = "U2t", dct = "globex", tenants = { acme = { roles = ["admin"] }, globex = {} } }
tenant = "acme"
tool = "deploy_plan"
expect = "allow"

[[case]]
name = "acme's admin acting in another tenant is not acme's admin"
claims = { sub = "U2t", dct = "acme", tenants = { acme = { roles = ["admin"] }, globex = {} } }
tenant = "globex"
tool = "deploy_plan"
expect = "deny"
"#;

    fn engine() -> (tempfile::TempDir, PolicyEngine) {
        engine_with(&[("staging.cedar", STAGING_ONLY)])
    }

    /// The shipped schema, tools and admin policies, and `extra` files.
    fn engine_with(extra: &[(&str, &str)]) -> (tempfile::TempDir, PolicyEngine) {
        let dir = tempfile::tempdir().expect("tempdir");
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
        for file in ["schema.cedarschema", "tools.cedar", "admin.cedar"] {
            std::fs::copy(shipped.join(file), dir.path().join(file)).expect("copy");
        }
        for (name, text) in extra {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        let engine = PolicyEngine::load_dir(dir.path()).expect("load");
        (dir, engine)
    }

    #[test]
    fn tenant_roles_are_their_own_and_follow_the_cases_tenant() {
        let (_dir, engine) = engine_with(&[
            ("staging.cedar", STAGING_ONLY),
            ("tenants.cedar", TENANT_ROLES),
        ]);
        let file: TestFile = toml::from_str(TENANT_CASES).expect("cases parse");
        for case in &file.cases {
            let result = run_case(&engine, case);
            assert!(result.is_ok(), "{}: {result:?}", case.name);
        }
    }

    #[test]
    fn cases_with_arguments_roles_and_admin_tools_decide_as_written() {
        let (_dir, engine) = engine();
        let file: TestFile = toml::from_str(CASES).expect("cases parse");
        let results: Vec<Result<(), String>> = file
            .cases
            .iter()
            .map(|case| run_case(&engine, case))
            .collect();
        let (last, expected) = results.split_at(results.len() - 1);
        for (case, result) in file.cases.iter().zip(last) {
            assert!(result.is_ok(), "{}: {result:?}", case.name);
        }
        let failure = expected[0]
            .as_ref()
            .expect_err("the wrong expectation fails");
        assert!(failure.contains("expected allow, got deny"), "{failure}");
        assert!(failure.contains("deploy.staging-only"), "{failure}");
    }

    #[test]
    fn an_argument_of_the_wrong_type_is_reported_as_an_error() {
        let (_dir, engine) = engine();
        let file: TestFile = toml::from_str(
            r#"
[[case]]
name = "a number where the schema says String"
claims = { sub = "U2dev", scope = "tools:deploy" }
tool = "deploy_plan"
arguments = { environment = 7 }
expect = "allow"
"#,
        )
        .expect("case parses");
        let failure = run_case(&engine, &file.cases[0]).expect_err("denied");
        assert!(failure.contains("argument `environment`"), "{failure}");
    }

    #[test]
    fn a_case_names_exactly_one_tool_resource_or_prompt() {
        let (_dir, engine) = engine();
        let file: TestFile = toml::from_str(
            r#"
[[case]]
name = "both"
claims = { sub = "U2dev", scope = "tools:review" }
tool = "review_code"
prompt = "code_review"
expect = "allow"

[[case]]
name = "neither"
claims = { sub = "U2dev", scope = "tools:review" }
expect = "allow"

[[case]]
name = "a server resource is decided with the admin action"
claims = { sub = "U2dev", scope = "tools:review" }
resource = "orchestrator://policies"
expect = "deny"
"#,
        )
        .expect("cases parse");
        for case in &file.cases[..2] {
            let failure = run_case(&engine, case).expect_err(&case.name);
            assert!(
                failure.contains("exactly one of `tool`, `resource`"),
                "{failure}"
            );
        }
        assert_eq!(run_case(&engine, &file.cases[2]), Ok(()));
    }
}
