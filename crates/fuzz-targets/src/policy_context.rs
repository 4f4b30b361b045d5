//! `policy_context`: a tool call's arguments, turned into the Cedar request
//! context and decided, under the repository's `policies/` and under the
//! same set with more argument types declared (`Long`, `Bool`, sets,
//! nested sets) and a policy that reads each of them.
//!
//! The input is a JSON object naming the call:
//!
//! ```json
//! {"tool": "deploy_plan", "plugin": "delivery-tools", "read_only": false,
//!  "destructive": true, "principal": {"sub": "U2dev", "scope": "tools:deploy"},
//!  "client_address": "10.1.2.3", "arguments": {"environment": "production"}}
//! ```
//!
//! Every field may be left out (`principal` is token claims, mapped as a
//! verified token's are); JSON that names none of `tool`, `principal` and
//! `arguments` is taken whole as the arguments of a call to `deploy_plan`.

use std::borrow::Cow;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use core_auth::Principal;
use policy::{PolicyEngine, RequestContext, Target};
use serde_json::{Map, Value};

/// The argument types the second policy set declares besides the
/// repository's.
const TYPED_ARGUMENTS: &str = "language?: String,
  replicas?: Long,
  dry_run?: Bool,
  regions?: Set<String>,
  matrix?: Set<Set<Long>>,";

/// A policy that reads every declared argument and every other part of the
/// context, and a forbid that reads an argument for one tool only (so
/// other tools' decisions need no arguments).
const TYPED_POLICIES: &str = r#"
@id("fuzz.typed")
permit (principal, action == Action::"call", resource == Tool::"deploy_plan")
when {
  context.arguments has replicas && context.arguments.replicas <= 3 &&
  context.arguments has dry_run && context.arguments.dry_run &&
  context.arguments has regions && context.arguments.regions.contains("eu-west-1") &&
  context.arguments has matrix && context.arguments.matrix.contains([1, 2]) &&
  context has client_address && context.client_address.isInRange(ip("10.0.0.0/8")) &&
  context has tenant && context.tenant == "T1" &&
  context.time > datetime("2020-01-01")
};

@id("fuzz.production")
forbid (principal, action == Action::"call", resource == Tool::"deploy_plan")
when {
  context.arguments has environment && context.arguments.environment == "production" &&
  !(principal in Role::"release-manager")
};
"#;

/// The tool a call names when the input does not say.
const DEFAULT_TOOL: &str = "deploy_plan";

fn engines() -> &'static [PolicyEngine; 2] {
    static ENGINES: OnceLock<[PolicyEngine; 2]> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
        let repository = PolicyEngine::load_dir(&policies).expect("the repository's policies load");
        [repository, typed(&policies)]
    })
}

/// The repository's policies with [`TYPED_ARGUMENTS`] and
/// [`TYPED_POLICIES`], loaded from a temporary copy.
fn typed(policies: &Path) -> PolicyEngine {
    let dir = tempfile::tempdir().expect("a directory for the typed policy set");
    for entry in std::fs::read_dir(policies).expect("the repository's policies") {
        let path = entry.expect("a policy file").path();
        if let (true, Some(name)) = (path.is_file(), path.file_name()) {
            std::fs::copy(&path, dir.path().join(name)).expect("a policy file copied");
        }
    }
    let schema = dir.path().join("schema.cedarschema");
    let text = std::fs::read_to_string(&schema).expect("the schema");
    assert!(
        text.contains("language?: String,"),
        "the schema declares `language`, where the typed arguments go"
    );
    std::fs::write(&schema, text.replace("language?: String,", TYPED_ARGUMENTS))
        .expect("the typed schema written");
    std::fs::write(dir.path().join("fuzz.cedar"), TYPED_POLICIES)
        .expect("the typed policies written");
    PolicyEngine::load_dir(dir.path()).expect("the typed policy set loads")
}

/// The `policy_context` target.
pub fn policy_context(data: &[u8]) {
    let Ok(input) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let call = Call::read(input);
    for engine in engines() {
        decide_consistently(engine, &call);
    }
}

/// One call, as the input describes it.
struct Call {
    principal: Arc<Principal>,
    tool: Arc<Target>,
    client_address: Option<IpAddr>,
    arguments: Value,
}

impl Call {
    fn read(input: Value) -> Self {
        let is_call = ["tool", "principal", "arguments"]
            .iter()
            .any(|field| input.get(field).is_some());
        let (mut fields, arguments) = match input {
            Value::Object(mut fields) if is_call => {
                let arguments = fields.remove("arguments").unwrap_or(Value::Null);
                (fields, arguments)
            }
            arguments => (Map::new(), arguments),
        };
        let text = |fields: &Map<String, Value>, name: &str| {
            fields.get(name).and_then(Value::as_str).map(str::to_owned)
        };
        let flag = |name: &str| fields.get(name).and_then(Value::as_bool);
        let name = text(&fields, "tool").unwrap_or_else(|| DEFAULT_TOOL.to_owned());
        let mut tool = Target::by_name(&name);
        if let Some(plugin) = text(&fields, "plugin") {
            tool.plugin = plugin;
        }
        tool.read_only = flag("read_only").unwrap_or(tool.read_only);
        tool.destructive = flag("destructive").unwrap_or(tool.destructive);
        let client_address = text(&fields, "client_address").and_then(|text| text.parse().ok());
        // A principal as a verified token's claims make it; claims that
        // would be refused fall back to a caller holding nothing.
        let principal = match fields.remove("principal") {
            Some(Value::Object(claims)) => core_auth::principal_from_claims(&claims).ok(),
            _ => None,
        }
        .unwrap_or_else(|| Principal {
            id: "U2fuzz".to_owned(),
            kind: core_auth::PrincipalKind::User,
            scopes: Default::default(),
            roles: Default::default(),
            tenant: None,
            tenants: Default::default(),
            credential: Default::default(),
        });
        Self {
            principal: Arc::new(principal),
            tool: Arc::new(tool),
            client_address,
            arguments,
        }
    }
}

/// Decides `call` and holds the decision to what the server relies on:
/// the cheap form agrees, a second asking (from the caches) and a fresh
/// principal and tool (past them) get the same answer, an allow carries no
/// scopes to ask for, and a tool whose policies read no arguments is
/// decided the same without them.
fn decide_consistently(engine: &PolicyEngine, call: &Call) {
    let action = call.tool.action();
    let context = RequestContext::now()
        .with_client_address(call.client_address)
        .borrowing_arguments(&call.arguments);
    let decision = engine.decide(&call.principal, action, &call.tool, &context);
    let shown = || format!("{} for {:?}", call.arguments, call.principal);
    assert_eq!(
        engine.is_allowed(&call.principal, action, &call.tool, &context),
        decision.allowed,
        "is_allowed and decide disagree on {}",
        shown()
    );
    assert!(
        !decision.allowed || decision.accepted_scopes.is_empty(),
        "an allow names scopes to ask for: {decision:?}"
    );
    let again = engine.decide(&call.principal, action, &call.tool, &context);
    assert_eq!(again, decision, "asked twice about {}", shown());
    let fresh = engine.decide(
        &Arc::new(Principal::clone(&call.principal)),
        action,
        &Arc::new(Target::clone(&call.tool)),
        &context,
    );
    assert_eq!(fresh, decision, "asked past the caches about {}", shown());
    if decision.errors.is_empty() && !engine.reads_arguments(action, &call.tool) {
        let bare = RequestContext {
            arguments: Cow::Owned(Value::Object(Map::new())),
            ..context.clone()
        };
        assert_eq!(
            engine.is_allowed(&call.principal, action, &call.tool, &bare),
            decision.allowed,
            "the policies for `{}` read no arguments, but {} changed the decision",
            call.tool.name,
            call.arguments
        );
    }
}
