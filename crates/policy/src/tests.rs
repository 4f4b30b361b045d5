use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cedar_policy::{Authorizer, Decision as CedarDecision, Request};
use core_auth::{Principal, PrincipalKind};

use super::*;

fn repo_policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

/// Decisions on plain values, wrapped in fresh `Arc`s as a caller without
/// a verifier's `Arc` would.
trait Ask {
    fn ask(
        &self,
        principal: &Principal,
        action: Action,
        tool: &Target,
        context: &RequestContext<'_>,
    ) -> Decision;

    fn allows(
        &self,
        principal: &Principal,
        action: Action,
        tool: &Target,
        context: &RequestContext<'_>,
    ) -> bool {
        self.ask(principal, action, tool, context).allowed
    }
}

impl Ask for PolicyEngine {
    fn ask(
        &self,
        principal: &Principal,
        action: Action,
        tool: &Target,
        context: &RequestContext<'_>,
    ) -> Decision {
        self.decide(
            &Arc::new(principal.clone()),
            action,
            &Arc::new(tool.clone()),
            context,
        )
    }
}

fn user(scopes: &[&str]) -> Principal {
    Principal {
        id: "user-1".into(),
        kind: PrincipalKind::User,
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        roles: BTreeSet::new(),
        tenant: None,
        tenants: Default::default(),
        credential: Default::default(),
    }
}

fn now() -> RequestContext<'static> {
    RequestContext::now()
}

fn ping() -> Target {
    Target {
        kind: crate::Kind::Tool,
        name: "ping".into(),
        plugin: "core-tools".into(),
        read_only: true,
        destructive: false,
    }
}

/// A policy directory holding the repository's schema and the given files.
fn fixture(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        repo_policies().join("schema.cedarschema"),
        dir.path().join("schema.cedarschema"),
    )
    .expect("copy schema");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write policy");
    }
    dir
}

fn load_error(files: &[(&str, &str)]) -> String {
    load_dir_error(&fixture(files))
}

fn load_dir_error(dir: &tempfile::TempDir) -> String {
    match PolicyEngine::load_dir(dir.path()) {
        Ok(_) => panic!("policy set loaded but should not have"),
        Err(err) => err.to_string(),
    }
}

/// Edits the fixture's copy of the schema.
fn replace_in_schema(dir: &tempfile::TempDir, from: &str, to: &str) {
    let path = dir.path().join("schema.cedarschema");
    let schema = std::fs::read_to_string(&path).expect("read schema");
    assert!(schema.contains(from), "the schema has no `{from}`");
    std::fs::write(&path, schema.replace(from, to)).expect("write schema");
}

#[test]
fn the_shipped_policies_load() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("shipped policies load");
    assert!(engine.policy_count() >= 1);
    assert!(engine.hash().starts_with("sha256:"));
    let ping_scope = engine
        .scopes()
        .iter()
        .find(|s| s.name == "tools:ping")
        .expect("tools:ping in catalogue");
    assert_eq!(ping_scope.description, "Basic connectivity testing");
    assert_eq!(ping_scope.tools, ["ping"]);
}

#[test]
fn ping_is_allowed_with_its_scope() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    let decision = engine.ask(&user(&["tools:ping"]), Action::Call, &ping(), &now());
    assert!(decision.allowed);
    assert_eq!(decision.policies, ["tools.ping"]);
    assert!(decision.accepted_scopes.is_empty());
}

#[test]
fn ping_is_denied_without_its_scope_and_names_it() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    let decision = engine.ask(&user(&["tools:review"]), Action::Call, &ping(), &now());
    assert!(!decision.allowed);
    assert!(
        decision.policies.is_empty(),
        "default deny has no deciding policy"
    );
    assert_eq!(decision.accepted_scopes, ["tools:ping"]);
}

#[test]
fn an_unknown_tool_is_denied_by_default() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    let tool = Target {
        kind: crate::Kind::Tool,
        name: "format_disk".into(),
        ..ping()
    };
    let decision = engine.ask(&user(&["tools:ping"]), Action::Call, &tool, &now());
    assert!(!decision.allowed);
    assert!(decision.accepted_scopes.is_empty());
}

#[test]
fn anonymous_principals_are_denied() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    let anonymous = Principal {
        kind: PrincipalKind::Anonymous,
        ..user(&[])
    };
    assert!(
        !engine
            .ask(&anonymous, Action::Call, &ping(), &now())
            .allowed
    );
}

#[test]
fn ids_with_quotes_do_not_break_entities() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    let principal = Principal {
        id: "a\"b::c".into(),
        ..user(&["tools:ping"])
    };
    let decision = engine.ask(&principal, Action::Call, &ping(), &now());
    assert!(decision.allowed, "{decision:?}");
}

#[test]
fn a_forbid_wins_and_is_named() {
    let dir = fixture(&[(
        "rules.cedar",
        r#"
@id("allow")
@scope("tools:ping")
@description("Basic connectivity testing")
permit (principal, action == Action::"call", resource == Tool::"ping")
when { principal has scopes && principal.scopes.contains("tools:ping") };

@id("no-ping-for-user-1")
forbid (principal == User::"user-1", action, resource);
"#,
    )]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    let decision = engine.ask(&user(&["tools:ping"]), Action::Call, &ping(), &now());
    assert!(!decision.allowed);
    assert_eq!(decision.policies, ["no-ping-for-user-1"]);
    assert!(
        decision.accepted_scopes.is_empty(),
        "no scope overrides a forbid"
    );
}

#[test]
fn a_syntax_error_names_file_and_line() {
    let message = load_error(&[(
        "bad.cedar",
        "@id(\"x\")\npermit (principal, action, resource)\nwhen { principal. };\n",
    )]);
    assert!(message.contains("bad.cedar:3:"), "{message}");
}

#[test]
fn cedar_s_diagnostic_stays_behind_the_error_with_its_labels() {
    let dir = fixture(&[(
        "typed.cedar",
        "@id(\"typo\")\npermit (principal, action == Action::\"call\", resource)\nwhen { resource.read_onyl };\n",
    )]);
    let Err(err) = PolicyEngine::load_dir(dir.path()) else {
        panic!("policy set loaded but should not have");
    };
    let cedar = miette::Diagnostic::diagnostic_source(&err).expect("Cedar's diagnostic");
    assert!(
        cedar
            .labels()
            .is_some_and(|mut labels| labels.next().is_some())
    );
    // Its text is in the message already: an error chain prints it once.
    assert!(std::error::Error::source(&err).is_none());
    assert_eq!(err.to_string().matches("read_onyl").count(), 1, "{err}");
}

#[test]
fn a_type_error_names_file_line_and_policy() {
    let message = load_error(&[(
        "typed.cedar",
        "@id(\"typo\")\npermit (principal, action == Action::\"call\", resource)\nwhen { resource.read_onyl };\n",
    )]);
    assert!(message.contains("typed.cedar:3:"), "{message}");
    assert!(message.contains("policy `typo`"), "{message}");
}

#[test]
fn a_policy_without_an_id_is_refused() {
    let message = load_error(&[(
        "noid.cedar",
        "@id(\"a\")\npermit (principal, action, resource);\npermit (principal, action, resource);\n",
    )]);
    assert!(message.contains("noid.cedar"), "{message}");
    assert!(message.contains("policy number 2"), "{message}");
}

#[test]
fn a_duplicate_id_names_both_files() {
    let message = load_error(&[
        (
            "a.cedar",
            "@id(\"same\")\npermit (principal, action, resource);\n",
        ),
        (
            "b.cedar",
            "@id(\"same\")\nforbid (principal, action, resource);\n",
        ),
    ]);
    assert!(message.contains("b.cedar:1:"), "{message}");
    assert!(message.contains("a.cedar:1;"), "{message}");
    assert!(
        message.contains("duplicate policy @id(\"same\")"),
        "{message}"
    );
}

#[test]
fn contradicting_scope_descriptions_are_refused() {
    let message = load_error(&[(
        "scopes.cedar",
        r#"
@id("one") @scope("tools:ping") @description("Basic connectivity testing")
permit (principal, action, resource == Tool::"ping");
@id("two") @scope("tools:ping") @description("Something else")
permit (principal, action, resource == Tool::"pong");
"#,
    )]);
    assert!(message.contains("scope `tools:ping`"), "{message}");
    assert!(message.contains("scopes.cedar:4:"), "{message}");
}

#[test]
fn an_invalid_schema_names_the_schema_file() {
    let dir = fixture(&[(
        "a.cedar",
        "@id(\"a\")\npermit (principal, action, resource);\n",
    )]);
    std::fs::write(
        dir.path().join("schema.cedarschema"),
        "entity User {\n  scopes: Sett<String>\n};\n",
    )
    .expect("write");
    let message = match PolicyEngine::load_dir(dir.path()) {
        Ok(_) => panic!("loaded"),
        Err(err) => err.to_string(),
    };
    assert!(message.contains("schema.cedarschema"), "{message}");
}

#[test]
fn an_empty_directory_is_refused() {
    let message = load_error(&[]);
    assert!(message.contains("no *.cedar policy files"), "{message}");
}

#[test]
fn the_hash_changes_with_the_policies() {
    let a = fixture(&[(
        "a.cedar",
        "@id(\"a\")\npermit (principal, action, resource);\n",
    )]);
    let b = fixture(&[(
        "a.cedar",
        "@id(\"a\")\nforbid (principal, action, resource);\n",
    )]);
    let hash_a = PolicyEngine::load_dir(a.path())
        .expect("a")
        .hash()
        .to_owned();
    let hash_b = PolicyEngine::load_dir(b.path())
        .expect("b")
        .hash()
        .to_owned();
    assert_ne!(hash_a, hash_b);
}

#[test]
fn the_catalogue_holds_the_guides_twelve_scopes() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    let scopes: Vec<(&str, &str)> = engine
        .scopes()
        .iter()
        .map(|s| (s.name.as_str(), s.description.as_str()))
        .collect();
    assert_eq!(
        scopes,
        [
            ("admin:config", "Configuration management"),
            ("admin:logs", "Access to system logs"),
            ("legendary:architect", "Autonomous architecture generation"),
            ("legendary:cloud", "Last mile cloud deployment"),
            ("legendary:generate", "Complete application generation"),
            ("legendary:prompts", "Evolutionary prompt optimization"),
            ("legendary:quality", "Proactive quality assurance"),
            ("tools:deploy", "Deployment management"),
            ("tools:fix", "Self-healing and fixing"),
            ("tools:orchestrate", "Task orchestration"),
            ("tools:ping", "Basic connectivity testing"),
            ("tools:review", "Code review capabilities"),
        ]
    );
    let config = engine
        .scopes()
        .iter()
        .find(|s| s.name == "admin:config")
        .expect("admin:config");
    assert_eq!(
        config.tools,
        ["reload_policies", "revoke_tokens", "server_config"]
    );
}

#[test]
fn each_scope_grants_its_tools_and_no_others() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    for scope in engine.scopes() {
        let action = if scope.name.starts_with("admin:") {
            Action::Admin
        } else {
            Action::Call
        };
        for tool in &scope.tools {
            let resource = Target {
                kind: crate::Kind::Tool,
                name: tool.clone(),
                ..ping()
            };
            assert!(
                engine.allows(&user(&[&scope.name]), action, &resource, &now()),
                "{} should allow {tool}",
                scope.name
            );
            let others: Vec<&str> = engine
                .scopes()
                .iter()
                .filter(|other| other.name != scope.name)
                .map(|other| other.name.as_str())
                .collect();
            assert!(
                !engine.allows(&user(&others), action, &resource, &now()),
                "{tool} allowed without {}",
                scope.name
            );
        }
    }
}

fn deploy() -> Target {
    Target {
        kind: crate::Kind::Tool,
        name: "deploy_plan".into(),
        plugin: "delivery-tools".into(),
        read_only: false,
        destructive: false,
    }
}

fn with_args(arguments: serde_json::Value) -> RequestContext<'static> {
    RequestContext::now().with_arguments(arguments)
}

const DEPLOY_STAGING_UNLESS_ADMIN: &str = r#"
@id("deploy")
@scope("tools:deploy")
@description("Deployment management")
permit (principal, action == Action::"call", resource == Tool::"deploy_plan")
when { principal has scopes && principal.scopes.contains("tools:deploy") };

@id("deploy.staging-only")
forbid (principal, action == Action::"call", resource == Tool::"deploy_plan")
when { context.arguments has environment && context.arguments.environment != "staging" }
unless { principal in Role::"admin" };
"#;

#[test]
fn an_argument_condition_limits_a_tool_unless_a_role_lifts_it() {
    let dir = fixture(&[("deploy.cedar", DEPLOY_STAGING_UNLESS_ADMIN)]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    let deployer = user(&["tools:deploy"]);
    let staging = with_args(serde_json::json!({"environment": "staging", "name": "api"}));
    let production = with_args(serde_json::json!({"environment": "production"}));

    assert!(engine.reads_arguments(Action::Call, &deploy()));
    assert!(!engine.reads_arguments(Action::Call, &ping()));
    assert!(engine.allows(&deployer, Action::Call, &deploy(), &staging));
    let denied = engine.ask(&deployer, Action::Call, &deploy(), &production);
    assert!(!denied.allowed);
    assert_eq!(denied.policies, ["deploy.staging-only"]);

    let admin = Principal {
        roles: ["admin".to_owned()].into(),
        ..deployer
    };
    assert!(engine.allows(&admin, Action::Call, &deploy(), &production));
}

/// A principal from a token's claims, as the verifier builds it.
fn from_claims(claims: serde_json::Value) -> Principal {
    let serde_json::Value::Object(claims) = claims else {
        panic!("claims must be an object");
    };
    core_auth::principal_from_claims(&claims).expect("valid claims")
}

#[test]
fn a_tenant_admin_is_not_in_the_project_admin_role() {
    let dir = fixture(&[("deploy.cedar", DEPLOY_STAGING_UNLESS_ADMIN)]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    let production = with_args(serde_json::json!({"environment": "production"}));
    let tenant_admin = from_claims(serde_json::json!({
        "sub": "U2tenantadmin",
        "scope": "tools:deploy",
        "dct": "acme",
        "tenants": {"acme": {"roles": ["admin"]}}
    }));
    let denied = engine.ask(&tenant_admin, Action::Call, &deploy(), &production);
    assert!(!denied.allowed, "{denied:?}");
    assert_eq!(denied.policies, ["deploy.staging-only"]);

    let project_admin = from_claims(serde_json::json!({
        "sub": "U2projectadmin",
        "scope": "tools:deploy",
        "roles": ["admin"]
    }));
    assert!(engine.allows(&project_admin, Action::Call, &deploy(), &production));
}

const ACME_ADMINS_DEPLOY: &str = r#"
@id("acme.admins.deploy")
permit (principal in TenantRole::"acme/admin", action == Action::"call", resource == Tool::"deploy_plan");

@id("acme.roles.ping")
permit (principal, action == Action::"call", resource == Tool::"ping")
when { principal in Tenant::"acme" && context has tenant && context.tenant == "acme" };
"#;

#[test]
fn a_tenant_role_policy_applies_to_that_tenants_role_only() {
    let dir = fixture(&[("acme.cedar", ACME_ADMINS_DEPLOY)]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    let now = now();
    let admin_of = |tenant: &str, acting_in: &str| {
        let mut tenants = serde_json::json!({acting_in: {}});
        tenants[tenant] = serde_json::json!({"roles": ["admin"]});
        from_claims(serde_json::json!({"sub": "U2someone", "dct": acting_in, "tenants": tenants}))
    };
    let decision = engine.ask(&admin_of("acme", "acme"), Action::Call, &deploy(), &now);
    assert!(decision.allowed, "{decision:?}");
    assert_eq!(decision.policies, ["acme.admins.deploy"]);
    // Another tenant's admin, acme's admin acting in another tenant, and the
    // project's admin are not acme's admin.
    assert!(!engine.allows(&admin_of("globex", "globex"), Action::Call, &deploy(), &now));
    assert!(!engine.allows(&admin_of("acme", "globex"), Action::Call, &deploy(), &now));
    let project_admin = from_claims(serde_json::json!({"sub": "U2p", "roles": ["admin"]}));
    assert!(!engine.allows(&project_admin, Action::Call, &deploy(), &now));
}

#[test]
fn a_tenant_id_with_a_slash_is_a_denial_that_says_why() {
    let dir = fixture(&[("acme.cedar", ACME_ADMINS_DEPLOY)]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    // `acme/admin` + `x` would otherwise meet `acme` + `admin/x`.
    let principal = from_claims(serde_json::json!({
        "sub": "U2someone",
        "dct": "acme/admin",
        "tenants": {"acme/admin": {"roles": ["x"]}}
    }));
    let decision = engine.ask(&principal, Action::Call, &deploy(), &now());
    assert!(!decision.allowed);
    assert!(
        decision.errors.iter().any(|e| e.contains("acme/admin")),
        "{decision:?}"
    );
}

#[test]
fn a_schema_without_tenant_roles_is_refused() {
    let dir = fixture(&[(
        "a.cedar",
        "@id(\"a\")\npermit (principal, action, resource);\n",
    )]);
    replace_in_schema(&dir, "entity TenantRole in [Tenant];", "");
    replace_in_schema(&dir, "[Role, TenantRole, Tenant]", "[Role, Tenant]");
    let message = load_dir_error(&dir);
    assert!(message.contains("schema.cedarschema"), "{message}");
    assert!(
        message.contains("entity TenantRole in [Tenant];"),
        "{message}"
    );
    assert!(
        message.contains("`TenantRole` which is not declared in the schema"),
        "{message}"
    );
}

#[test]
fn an_argument_of_the_wrong_type_is_a_denial_that_says_why() {
    let dir = fixture(&[("deploy.cedar", DEPLOY_STAGING_UNLESS_ADMIN)]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    let decision = engine.ask(
        &user(&["tools:deploy"]),
        Action::Call,
        &deploy(),
        &with_args(serde_json::json!({"environment": 7})),
    );
    assert!(!decision.allowed);
    assert!(
        decision.errors.iter().any(|e| e.contains("environment")),
        "{decision:?}"
    );
}

#[test]
fn undeclared_arguments_never_reach_the_policies() {
    let dir = fixture(&[("deploy.cedar", DEPLOY_STAGING_UNLESS_ADMIN)]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    // `replicas` is not declared in `Arguments`: ignored, whatever its type.
    let context = with_args(serde_json::json!({"replicas": {"nested": [1.5]}}));
    assert!(engine.allows(&user(&["tools:deploy"]), Action::Call, &deploy(), &context));
}

#[test]
fn per_tenant_rules_see_the_tenant_as_parent_and_in_the_context() {
    let dir = fixture(&[(
        "tenants.cedar",
        r#"
@id("acme.deploy")
permit (principal in Tenant::"acme", action == Action::"call", resource == Tool::"deploy_plan")
when { context has tenant && context.tenant == "acme" };
"#,
    )]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    let mut member = user(&[]);
    member
        .tenants
        .insert("acme".into(), core_auth::TenantGrant::default());
    member
        .tenants
        .insert("globex".into(), core_auth::TenantGrant::default());
    let acting_in = |tenant: &str| Principal {
        tenant: Some(tenant.to_owned()),
        ..member.clone()
    };
    let now = now();
    assert!(engine.allows(&acting_in("acme"), Action::Call, &deploy(), &now));
    assert!(!engine.allows(&acting_in("globex"), Action::Call, &deploy(), &now));
    assert!(!engine.allows(&member, Action::Call, &deploy(), &now));
}

#[test]
fn a_role_grants_a_plugins_group_of_tools() {
    let dir = fixture(&[(
        "roles.cedar",
        r#"
@id("reviewers.code-tools")
permit (principal in Role::"reviewer", action == Action::"call", resource in Plugin::"code-tools");
"#,
    )]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    let reviewer = Principal {
        roles: ["reviewer".to_owned()].into(),
        ..user(&[])
    };
    let review = Target {
        kind: crate::Kind::Tool,
        name: "review_code".into(),
        plugin: "code-tools".into(),
        read_only: true,
        destructive: false,
    };
    let now = now();
    assert!(engine.allows(&reviewer, Action::Call, &review, &now));
    assert!(!engine.allows(&reviewer, Action::Call, &deploy(), &now));
    assert!(!engine.allows(&user(&[]), Action::Call, &review, &now));
}

#[test]
fn the_client_address_and_time_are_in_the_context() {
    let dir = fixture(&[(
        "network.cedar",
        r#"
@id("office-hours-from-the-office")
permit (principal, action == Action::"call", resource == Tool::"ping")
when {
  context has client_address && context.client_address.isInRange(ip("10.0.0.0/8")) &&
  context.time.toTime() >= duration("8h") && context.time.toTime() < duration("18h")
};
"#,
    )]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    let at = |hour: u32, address: [u8; 4]| RequestContext {
        time: chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 27, hour, 30, 0)
            .single()
            .expect("valid time"),
        client_address: Some(std::net::IpAddr::from(address)),
        ..RequestContext::now()
    };
    let caller = user(&[]);
    assert!(engine.allows(&caller, Action::Call, &ping(), &at(9, [10, 1, 2, 3])));
    assert!(!engine.allows(&caller, Action::Call, &ping(), &at(20, [10, 1, 2, 3])));
    assert!(!engine.allows(&caller, Action::Call, &ping(), &at(9, [192, 168, 1, 1])));
    let unknown_address = RequestContext {
        client_address: None,
        ..at(9, [10, 1, 2, 3])
    };
    assert!(!engine.allows(&caller, Action::Call, &ping(), &unknown_address));
}

#[test]
fn a_blanket_call_permit_does_not_grant_admin_tools() {
    let dir = fixture(&[(
        "everything.cedar",
        r#"
@id("trusted.all-tools")
permit (principal in Role::"trusted", action == Action::"call", resource);
"#,
    )]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    let trusted = Principal {
        roles: ["trusted".to_owned()].into(),
        ..user(&[])
    };
    let reload = Target {
        kind: crate::Kind::Tool,
        name: "reload_policies".into(),
        plugin: "server".into(),
        read_only: false,
        destructive: false,
    };
    let now = now();
    assert!(engine.allows(&trusted, Action::Call, &deploy(), &now));
    assert!(!engine.allows(&trusted, Action::Admin, &reload, &now));
}

#[test]
fn a_blanket_read_permit_does_not_grant_the_servers_own_resources() {
    let dir = fixture(&[(
        "everything.cedar",
        r#"
@id("trusted.all-resources")
permit (principal in Role::"trusted", action == Action::"read", resource);
"#,
    )]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    let trusted = Principal {
        roles: ["trusted".to_owned()].into(),
        ..user(&[])
    };
    let languages = Target::item(
        crate::Kind::Resource,
        "code-tools://languages/{language}",
        "code-tools",
    );
    let policies = Target::item(crate::Kind::Resource, "orchestrator://policies", "server");
    assert_eq!(languages.action(), Action::Read);
    assert_eq!(policies.action(), Action::Admin);
    let now = now();
    assert!(engine.allows(&trusted, languages.action(), &languages, &now));
    assert!(!engine.allows(&trusted, policies.action(), &policies, &now));
    assert!(!engine.allows(&user(&[]), languages.action(), &languages, &now));
}

#[test]
fn a_prompt_is_decided_with_the_get_action_and_its_arguments() {
    let dir = fixture(&[(
        "prompts.cedar",
        r#"
@id("review.rust-only")
permit (principal, action == Action::"get", resource == Prompt::"review_code")
  when { context.arguments has language && context.arguments.language == "rust" };
"#,
    )]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    let review = Target::item(crate::Kind::Prompt, "review_code", "code-tools");
    assert_eq!(review.action(), Action::Get);
    let rust = serde_json::json!({"language": "rust"});
    let python = serde_json::json!({"language": "python"});
    let ask = |arguments: &serde_json::Value| {
        engine.allows(
            &user(&[]),
            Action::Get,
            &review,
            &RequestContext::now().borrowing_arguments(arguments),
        )
    };
    assert!(ask(&rust));
    assert!(!ask(&python));
    // A tool of the same name is another entity.
    let tool = Target {
        kind: crate::Kind::Tool,
        ..Target::by_name("review_code")
    };
    assert!(!engine.allows(
        &user(&[]),
        Action::Call,
        &tool,
        &RequestContext::now().borrowing_arguments(&rust)
    ));
}

#[test]
fn a_schema_without_resources_or_prompts_is_refused_saying_what_to_declare() {
    let dir = fixture(&[(
        "tools.cedar",
        "@id(\"x\") permit (principal, action == Action::\"call\", resource);",
    )]);
    let schema = std::fs::read_to_string(dir.path().join("schema.cedarschema")).expect("schema");
    let start = schema.find("entity Resource").expect("declared");
    let end = start + schema[start..].find("};").expect("closed") + 2;
    let without = format!("{}{}", &schema[..start], &schema[end..])
        .replace(
            "resource: [Tool, Resource, Console]",
            "resource: [Tool, Console]",
        )
        .replace("resource: [Resource]", "resource: [Prompt]");
    std::fs::write(dir.path().join("schema.cedarschema"), without).expect("write");
    let err = PolicyEngine::load_dir(dir.path())
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains(
            "declare `entity Resource in [Plugin] { read_only: Bool, destructive: Bool };`"
        ),
        "{err}"
    );
}

#[test]
fn a_schema_without_the_console_is_refused_saying_what_to_declare() {
    let dir = fixture(&[(
        "tools.cedar",
        "@id(\"x\") permit (principal, action == Action::\"call\", resource);",
    )]);
    let schema = std::fs::read_to_string(dir.path().join("schema.cedarschema")).expect("schema");
    let start = schema.find("entity Console").expect("declared");
    let end = start + schema[start..].find("};").expect("closed") + 2;
    let without = format!("{}{}", &schema[..start], &schema[end..]).replace(
        "resource: [Tool, Resource, Console]",
        "resource: [Tool, Resource]",
    );
    std::fs::write(dir.path().join("schema.cedarschema"), without).expect("write");
    let err = PolicyEngine::load_dir(dir.path())
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains(
            "declare `entity Console in [Plugin] { read_only: Bool, destructive: Bool };`"
        ),
        "{err}"
    );
}

#[test]
fn only_admin_scopes_open_the_console() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    let console = Target::console();
    let now = now();
    assert!(engine.allows(&user(&["admin:config"]), Action::Admin, &console, &now));
    for scopes in [&[][..], &["tools:ping", "tools:deploy", "tools:review"][..]] {
        let denied = engine.ask(&user(scopes), Action::Admin, &console, &now);
        assert!(!denied.allowed, "{scopes:?}");
        assert_eq!(denied.accepted_scopes, ["admin:config"]);
    }
    // The console is not a tool: no scope calls it.
    assert!(!engine.allows(&user(&["admin:config"]), Action::Call, &console, &now));
}

#[test]
fn the_shipped_admin_policies_use_the_admin_action() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    let reload = Target {
        kind: crate::Kind::Tool,
        name: "reload_policies".into(),
        plugin: "server".into(),
        read_only: false,
        destructive: false,
    };
    let admin = user(&["admin:config"]);
    let now = now();
    assert!(engine.allows(&admin, Action::Admin, &reload, &now));
    assert!(!engine.allows(&admin, Action::Call, &reload, &now));
    let denied = engine.ask(&user(&[]), Action::Admin, &reload, &now);
    assert_eq!(denied.accepted_scopes, ["admin:config"]);
}

#[test]
fn a_schema_without_the_servers_context_is_refused() {
    let dir = fixture(&[(
        "a.cedar",
        "@id(\"a\")\npermit (principal, action, resource);\n",
    )]);
    replace_in_schema(&dir, "action \"admin\"", "action \"administer\"");
    let message = load_dir_error(&dir);
    assert!(message.contains("schema.cedarschema"), "{message}");
    assert!(message.contains("admin"), "{message}");
}

#[test]
fn a_principal_changes_decisions_only_through_its_own_claims() {
    // The entity cache is keyed by the whole principal: a second token for
    // the same subject with fewer scopes must not reuse the first's entities.
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    let now = now();
    assert!(engine.allows(&user(&["tools:ping"]), Action::Call, &ping(), &now));
    assert!(!engine.allows(&user(&[]), Action::Call, &ping(), &now));
    assert!(engine.allows(&user(&["tools:ping"]), Action::Call, &ping(), &now));
}

/// Slicing must never change a decision: compare every combination of
/// principals, tools and actions against Cedar over the whole set.
#[test]
fn sliced_decisions_match_cedar_over_the_whole_set() {
    let rules = r#"
@id("any") permit (principal in Role::"root", action, resource);
@id("plugin") permit (principal, action == Action::"call", resource in Plugin::"code-tools")
  when { principal has scopes && principal.scopes.contains("code") };
@id("is-tool") forbid (principal, action in [Action::"admin"], resource is Tool)
  unless { principal in Role::"ops" };
@id("is-in") permit (principal, action == Action::"admin", resource is Tool in Plugin::"server")
  when { principal in Role::"ops" };
@id("eq") permit (principal, action == Action::"call", resource == Tool::"ping");
@id("eq-forbid") forbid (principal in Tenant::"banned", action, resource == Tool::"ping");
@id("read-only") permit (principal, action, resource)
  when { resource.read_only && context has tenant };
@id("acme-no-code") forbid (principal, action, resource in Plugin::"code-tools")
  when { context has tenant && context.tenant == "acme" };
@id("overflow") permit (principal in Role::"ops", action, resource)
  when { 9223372036854775807 + 1 > 0 };
@id("tenant-ops") permit (principal in TenantRole::"acme/ops", action == Action::"call", resource)
  unless { principal in Role::"ops" };
"#;
    let dir = fixture(&[("mix.cedar", rules)]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    let schema_text =
        std::fs::read_to_string(dir.path().join("schema.cedarschema")).expect("schema");
    let (schema, _) = cedar_policy::Schema::from_cedarschema_str(&schema_text).expect("schema");
    // The loaded set: the same policies, renamed to their @ids.
    let whole = &engine.loaded.policies;
    assert_eq!(whole.policies().count(), 10);

    let tools = [
        ping(),
        deploy(),
        Target {
            kind: crate::Kind::Tool,
            name: "review_code".into(),
            plugin: "code-tools".into(),
            read_only: true,
            destructive: false,
        },
        Target {
            kind: crate::Kind::Tool,
            name: "reload_policies".into(),
            plugin: "server".into(),
            read_only: false,
            destructive: false,
        },
        Target::item(
            crate::Kind::Resource,
            "code-tools://languages/{language}",
            "code-tools",
        ),
        Target::item(crate::Kind::Resource, "orchestrator://policies", "server"),
        Target::item(crate::Kind::Prompt, "review", "code-tools"),
    ];
    let mut principals = Vec::new();
    for roles in [&[][..], &["root"], &["ops"]] {
        for scopes in [&[][..], &["code"]] {
            for tenant in [None, Some("banned"), Some("acme")] {
                for tenant_roles in [&[][..], &["ops"]] {
                    let mut principal = user(scopes);
                    principal.roles = roles.iter().map(|r| (*r).to_owned()).collect();
                    principal.tenant = tenant.map(str::to_owned);
                    if let Some(tenant) = tenant {
                        principal.tenants.insert(
                            tenant.to_owned(),
                            core_auth::TenantGrant {
                                roles: tenant_roles.iter().map(|r| (*r).to_owned()).collect(),
                                permissions: BTreeSet::new(),
                            },
                        );
                    }
                    principals.push(principal);
                }
            }
        }
    }
    let context = now();
    let mut compared = 0;
    let mut errored = false;
    for principal in &principals {
        for tool in &tools {
            let applicable = Action::ALL
                .into_iter()
                .filter(|action| action.kinds().contains(&tool.kind));
            for action in applicable {
                let sliced = engine.ask(principal, action, tool, &context);
                let subject = entities::Subject::build(principal, &schema).expect("subject");
                let tool_entities = entities::ToolEntities::build(tool, &schema).expect("tool");
                let all = entities::join(&subject, &tool_entities).expect("entities");
                let action_uid = entities::uid("Action", action.name()).expect("action");
                let cedar_context = context::ContextCache::default()
                    .build(
                        &context,
                        principal.tenant.as_deref(),
                        &context::DeclaredArguments::default(),
                    )
                    .expect("context");
                let request = Request::new(
                    subject.uid.clone(),
                    action_uid,
                    tool_entities.uid.clone(),
                    cedar_context,
                    Some(&schema),
                )
                .expect("request");
                let response = Authorizer::new().is_authorized(&request, whole, &all);
                let mut expected: Vec<String> = response
                    .diagnostics()
                    .reason()
                    .map(|id| id.to_string())
                    .collect();
                expected.sort();
                let mut errors: Vec<String> = response
                    .diagnostics()
                    .errors()
                    .map(|err| err.to_string())
                    .collect();
                errors.sort();
                assert_eq!(
                    (sliced.allowed, &sliced.policies, &sliced.errors),
                    (
                        response.decision() == CedarDecision::Allow,
                        &expected,
                        &errors
                    ),
                    "{principal:?} {action:?} {tool:?}"
                );
                errored |= !errors.is_empty();
                compared += 1;
            }
        }
    }
    let pairs: usize = tools
        .iter()
        .map(|tool| {
            Action::ALL
                .iter()
                .filter(|action| action.kinds().contains(&tool.kind))
                .count()
        })
        .sum();
    assert_eq!(
        pairs, 17,
        "tools with call, admin and sample, resources with read and admin, prompts with get"
    );
    assert_eq!(compared, principals.len() * pairs);
    assert!(errored, "some decision should meet an evaluation error");
    // And the slices are cuts, not copies.
    let call = entities::uid("Action", "call").expect("action");
    let cut = engine.index.cut(&call, &ping());
    assert!(!cut.reads_arguments);
    let mut ids: Vec<String> = cut.policies.keys().map(ToString::to_string).collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "any",
            "eq",
            "eq-forbid",
            "overflow",
            "read-only",
            "tenant-ops"
        ]
    );
}

/// Every `cedar` example in the policy guide validates against the shipped
/// schema, so the guide cannot drift from what the server accepts.
#[test]
fn the_policy_guide_examples_validate() {
    let guide = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/policies.md"),
    )
    .expect("docs/policies.md");
    let mut examples = 0;
    for block in guide.split("```cedar\n").skip(1) {
        let example = block.split("```").next().unwrap_or_default();
        let dir = fixture(&[("example.cedar", example)]);
        if let Err(err) = PolicyEngine::load_dir(dir.path()) {
            panic!("example does not validate: {err}\n{example}");
        }
        examples += 1;
    }
    assert!(examples >= 6, "found {examples} examples");
}

#[test]
fn the_guides_staging_rule_decides_as_the_guide_says() {
    let guide = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/policies.md"),
    )
    .expect("docs/policies.md");
    let rule = guide
        .split("```cedar\n")
        .map(|block| block.split("```").next().unwrap_or_default())
        .find(|block| block.contains("deploy.staging-only"))
        .expect("the staging example");
    let dir = fixture(&[
        ("staging.cedar", rule),
        (
            "tools.cedar",
            &std::fs::read_to_string(repo_policies().join("tools.cedar")).expect("tools"),
        ),
    ]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    let developer = user(&["tools:deploy"]);
    let admin = Principal {
        roles: ["admin".to_owned()].into(),
        ..developer.clone()
    };
    let production = with_args(serde_json::json!({"environment": "production"}));
    let staging = with_args(serde_json::json!({"environment": "staging"}));
    let denied = engine.ask(&developer, Action::Call, &deploy(), &production);
    assert_eq!(denied.policies, ["deploy.staging-only"]);
    assert!(!denied.allowed);
    // The shipped policy asks a person to approve any production plan:
    // an admin passes the guide's rule, and still needs that approval.
    let waiting = engine.ask(&admin, Action::Call, &deploy(), &production);
    assert!(waiting.needs_approval(), "{waiting:?}");
    assert_eq!(waiting.approval_policies, ["tools.deploy"]);
    let approved = production.clone().with_approval(true);
    assert!(engine.allows(&admin, Action::Call, &deploy(), &approved));
    assert!(!denied.needs_approval(), "approval does not lift a forbid");
    assert!(engine.allows(&developer, Action::Call, &deploy(), &staging));
    assert!(engine.allows(&developer, Action::Call, &deploy(), &now()));
}

#[test]
fn an_argument_type_cedar_cannot_take_from_json_is_refused() {
    let dir = fixture(&[(
        "a.cedar",
        "@id(\"a\")\npermit (principal, action, resource);\n",
    )]);
    replace_in_schema(
        &dir,
        "language?: String,",
        "language?: String,\n  owner?: User,",
    );
    let message = load_dir_error(&dir);
    assert!(message.contains("schema.cedarschema"), "{message}");
    assert!(message.contains("`owner`"), "{message}");
}

#[test]
fn declared_sets_longs_and_bools_reach_the_policies() {
    let dir = fixture(&[(
        "typed.cedar",
        r#"
@id("small-deploys")
permit (principal, action == Action::"call", resource == Tool::"deploy_plan")
when {
  context.arguments has replicas && context.arguments.replicas <= 3 &&
  context.arguments has dry_run && context.arguments.dry_run &&
  context.arguments has regions && context.arguments.regions.contains("eu-west-1")
};
"#,
    )]);
    replace_in_schema(
        &dir,
        "language?: String,",
        "language?: String,\n  replicas?: Long,\n  dry_run?: Bool,\n  regions?: Set<String>,",
    );
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    let caller = user(&[]);
    let args = |replicas: i64| {
        with_args(
            serde_json::json!({"replicas": replicas, "dry_run": true, "regions": ["eu-west-1", "us-east-1"]}),
        )
    };
    assert!(engine.allows(&caller, Action::Call, &deploy(), &args(2)));
    assert!(!engine.allows(&caller, Action::Call, &deploy(), &args(5)));
    let wrong = engine.ask(
        &caller,
        Action::Call,
        &deploy(),
        &with_args(serde_json::json!({"regions": ["eu-west-1", 7]})),
    );
    assert!(!wrong.allowed);
    assert!(
        wrong.errors.iter().any(|e| e.contains("`regions`")),
        "{wrong:?}"
    );
}

#[test]
fn a_policy_that_can_never_apply_is_refused() {
    // `scope` is not an attribute of User (`scopes` is): strict validation
    // types the condition as always false rather than failing it.
    let message = load_error(&[(
        "typo.cedar",
        "@id(\"typo\")\npermit (principal, action == Action::\"call\", resource == Tool::\"ping\")\nwhen { principal has scope && principal.scope.contains(\"tools:ping\") };\n",
    )]);
    assert!(message.contains("typo.cedar:"), "{message}");
    assert!(
        message.contains("policy `typo` can never apply"),
        "{message}"
    );
}

/// Prepared work is keyed by the `Arc`s a caller passes. A principal in a
/// new `Arc`, likely at the address a dropped one had, must never be served
/// the dropped one's work.
#[test]
fn a_new_principal_never_inherits_a_dropped_ones_decisions() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    let tool = Arc::new(ping());
    let now = now();
    for round in 0..200 {
        let may_ping = round % 2 == 0;
        let scopes: &[&str] = if may_ping { &["tools:ping"] } else { &[] };
        let principal = Arc::new(user(scopes));
        for _ in 0..2 {
            assert_eq!(
                engine.is_allowed(&principal, Action::Call, &tool, &now),
                may_ping,
                "round {round}"
            );
        }
    }
}

#[test]
fn references_name_tested_scopes_and_roles_with_their_lines() {
    let dir = fixture(&[(
        "team.cedar",
        r#"// Two policies.

@id("team.deploy")
permit (principal in Role::"operator", action == Action::"call", resource == Tool::"deploy_plan")
when { principal.scopes.containsAny(["tools:deploy", "tools:fix"]) };

@id("team.ping")
@scope("tools:ping")
@description("Basic connectivity testing")
permit (principal, action == Action::"call", resource == Tool::"ping")
when { principal has scopes && principal.scopes.contains("tools:ping") && principal in Role::"viewer" };
"#,
    )]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("loads");
    let references = engine.references();
    let named = |list: &[Reference]| -> Vec<(String, String, Option<usize>)> {
        list.iter()
            .map(|r| (r.name.clone(), r.policy.clone(), r.line))
            .collect()
    };
    assert_eq!(
        named(&references.scopes),
        [
            ("tools:deploy".into(), "team.deploy".into(), Some(3)),
            ("tools:fix".into(), "team.deploy".into(), Some(3)),
            ("tools:ping".into(), "team.ping".into(), Some(7)),
        ]
    );
    assert_eq!(
        named(&references.roles),
        [
            ("operator".into(), "team.deploy".into(), Some(3)),
            ("viewer".into(), "team.ping".into(), Some(7)),
        ]
    );
    assert!(references.scopes[0].file.ends_with("team.cedar"));
}

#[test]
fn the_default_policies_test_only_the_scopes_they_describe() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("loads");
    let described: BTreeSet<&str> = engine.scopes().iter().map(|s| s.name.as_str()).collect();
    let tested: BTreeSet<&str> = engine
        .references()
        .scopes
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(described, tested);
    assert_eq!(described.len(), 12);
}

#[test]
fn a_denial_an_approval_would_lift_names_the_approving_policies() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    let deployer = user(&["tools:deploy"]);
    let production = with_args(serde_json::json!({"environment": "production"}));
    let waiting = engine.ask(&deployer, Action::Call, &deploy(), &production);
    assert!(!waiting.allowed);
    assert!(waiting.needs_approval());
    assert_eq!(waiting.approval_policies, ["tools.deploy"]);
    let approved = engine.ask(
        &deployer,
        Action::Call,
        &deploy(),
        &production.clone().with_approval(true),
    );
    assert!(approved.allowed);
    assert!(!approved.needs_approval());
    // Without the scope no approval helps, and none is offered.
    let stranger = engine.ask(&user(&["tools:ping"]), Action::Call, &deploy(), &production);
    assert!(!stranger.allowed);
    assert!(!stranger.needs_approval());
    // Development needs none.
    let development = engine.ask(&deployer, Action::Call, &deploy(), &now());
    assert!(development.allowed);
}

#[test]
fn a_schema_without_approved_in_its_context_is_refused() {
    let dir = fixture(&[(
        "a.cedar",
        "@id(\"a\")\npermit (principal, action, resource);\n",
    )]);
    replace_in_schema(&dir, "  approved: Bool,\n", "");
    let message = load_dir_error(&dir);
    assert!(message.contains("approved"), "{message}");
}

#[test]
fn a_shadow_policy_never_decides_but_says_what_it_would_have_decided() {
    let dir = fixture(&[(
        "a.cedar",
        "@id(\"ping\")\npermit (principal, action == Action::\"call\", resource == Tool::\"ping\");\n\
         @id(\"no-ping-at-night\")\n@mode(\"shadow\")\nforbid (principal, action == Action::\"call\", resource == Tool::\"ping\");\n",
    )]);
    let engine = PolicyEngine::load_dir(dir.path()).expect("load");
    assert_eq!(engine.shadow_policies(), ["no-ping-at-night"]);
    assert_eq!(engine.policy_count(), 1, "shadow policies are not enforced");
    let ping = Arc::new(Target::by_name("ping"));
    let principal = Arc::new(user(&[]));
    let enforced = engine.decide(&principal, Action::Call, &ping, &now());
    assert!(enforced.allowed);
    assert_eq!(enforced.policies, ["ping"]);
    let shadow = engine
        .shadow_decide(&principal, Action::Call, &ping, &now())
        .expect("a shadow set");
    assert!(!shadow.allowed);
    assert_eq!(shadow.policies, ["no-ping-at-night"]);

    let plain = fixture(&[(
        "a.cedar",
        "@id(\"ping\")\npermit (principal, action == Action::\"call\", resource == Tool::\"ping\");\n",
    )]);
    let engine = PolicyEngine::load_dir(plain.path()).expect("load");
    assert!(engine.shadow_policies().is_empty());
    assert!(
        engine
            .shadow_decide(&principal, Action::Call, &ping, &now())
            .is_none()
    );
}

#[test]
fn a_mode_other_than_shadow_is_refused_naming_the_policy() {
    let dir = fixture(&[(
        "a.cedar",
        "@id(\"ping\")\n@mode(\"dry-run\")\npermit (principal, action == Action::\"call\", resource == Tool::\"ping\");\n",
    )]);
    let message = load_dir_error(&dir);
    assert!(
        message.contains("policy `ping` has @mode(\"dry-run\")"),
        "{message}"
    );
    assert!(message.contains("a.cedar"), "{message}");
}
