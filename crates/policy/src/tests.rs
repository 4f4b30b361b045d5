use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use core_auth::{Principal, PrincipalKind};

use super::*;

fn repo_policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn user(scopes: &[&str]) -> Principal {
    Principal {
        id: "user-1".into(),
        kind: PrincipalKind::User,
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        roles: BTreeSet::new(),
        tenant: None,
        tenants: Default::default(),
    }
}

fn ping() -> ToolResource {
    ToolResource {
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
    let dir = fixture(files);
    match PolicyEngine::load_dir(dir.path()) {
        Ok(_) => panic!("policy set loaded but should not have"),
        Err(err) => err.to_string(),
    }
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
    let decision = engine.decide(&user(&["tools:ping"]), Action::Call, &ping());
    assert!(decision.allowed);
    assert_eq!(decision.policies, ["tools.ping"]);
    assert!(decision.accepted_scopes.is_empty());
}

#[test]
fn ping_is_denied_without_its_scope_and_names_it() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    let decision = engine.decide(&user(&["tools:review"]), Action::Call, &ping());
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
    let tool = ToolResource {
        name: "format_disk".into(),
        ..ping()
    };
    let decision = engine.decide(&user(&["tools:ping"]), Action::Call, &tool);
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
    assert!(!engine.decide(&anonymous, Action::Call, &ping()).allowed);
}

#[test]
fn ids_with_quotes_do_not_break_entities() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    let principal = Principal {
        id: "a\"b::c".into(),
        ..user(&["tools:ping"])
    };
    let decision = engine.decide(&principal, Action::Call, &ping());
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
    let decision = engine.decide(&user(&["tools:ping"]), Action::Call, &ping());
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
    assert!(message.contains("b.cedar"), "{message}");
    assert!(message.contains("a.cedar"), "{message}");
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
    assert_eq!(config.tools, ["reload_policies", "server_config"]);
}

#[test]
fn each_scope_grants_its_tools_and_no_others() {
    let engine = PolicyEngine::load_dir(&repo_policies()).expect("load");
    for scope in engine.scopes() {
        for tool in &scope.tools {
            let resource = ToolResource {
                name: tool.clone(),
                ..ping()
            };
            assert!(
                engine.is_allowed(&user(&[&scope.name]), Action::Call, &resource),
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
                !engine.is_allowed(&user(&others), Action::Call, &resource),
                "{tool} allowed without {}",
                scope.name
            );
        }
    }
}
