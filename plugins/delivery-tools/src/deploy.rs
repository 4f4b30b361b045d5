//! `deploy_plan`: one service description in, a Dockerfile, a Kubernetes
//! Deployment and Service, and the rollout steps out, with the description
//! checked for the mistakes that would break or weaken the deployment.

use std::collections::BTreeMap;

use plugin_api::{
    Annotations, Field, Form, FormAnswer, InputKind, InputRequest, InputRequests, JsonSchema, Tool,
    ToolContext, ToolError,
};
use serde::{Deserialize, Serialize};

use crate::check_name;
use crate::yaml::{Yaml, quote};

/// Plans the deployment of one service.
pub struct DeployPlan;

/// How the service's image is built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Runtime {
    /// A Cargo project.
    Rust,
    /// An npm project.
    Node,
    /// A pip project with `requirements.txt`.
    Python,
    /// A Go module.
    Go,
    /// A prebuilt executable named after the service.
    #[default]
    Binary,
}

/// Where a deployment goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// A developer's cluster: nothing is held back.
    #[default]
    Development,
    /// A rehearsal of production.
    Staging,
    /// Where users are: an unpinned image or a single replica fails the
    /// plan instead of warning.
    Production,
}

impl Environment {
    /// Its name, as the argument and the labels spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

/// A service to deploy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The service's name: a DNS label such as `orders-api`.
    pub name: String,
    /// The port the service listens on inside its container. When it is
    /// left out, a client that can show its user a form is asked for it.
    #[serde(default)]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u16>,
    /// Environment variables, by name. Values of variables whose names say
    /// they are secret (`*_PASSWORD`, `*_TOKEN`, `*_KEY`, `*_SECRET`) are
    /// moved to a Kubernetes Secret and never written into the manifests.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The path that answers 200 when the service is healthy.
    #[serde(default = "default_health_path")]
    pub health_path: String,
    /// The image to deploy (`registry/orders-api:1.4.2`); defaults to
    /// `NAME:latest`.
    #[serde(default)]
    pub image: Option<String>,
    /// How the image is built.
    #[serde(default)]
    pub runtime: Runtime,
    /// The command the container runs; each runtime has a default.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// How many copies run.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1, max = 100))]
    pub replicas: u32,
    /// CPU per copy, in Kubernetes units (`250m`, `1`).
    #[serde(default = "default_cpu")]
    pub cpu: String,
    /// Memory per copy, in Kubernetes units (`256Mi`, `1Gi`).
    #[serde(default = "default_memory")]
    pub memory: String,
    /// The Kubernetes namespace.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Where it goes: `development` (the default), `staging` or
    /// `production`, which holds the plan to a release's standards. The
    /// policies may look at it (a production deployment may need an
    /// approval).
    #[serde(default)]
    pub environment: Environment,
}

fn default_health_path() -> String {
    "/health".to_owned()
}
fn default_replicas() -> u32 {
    2
}
fn default_cpu() -> String {
    "250m".to_owned()
}
fn default_memory() -> String {
    "256Mi".to_owned()
}
fn default_namespace() -> String {
    "default".to_owned()
}

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Fine.
    Pass,
    /// Works, but should change.
    Warn,
    /// Would not work as described.
    Fail,
}

/// One check of the description.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Check {
    /// What was checked.
    pub check: String,
    /// How it came out.
    pub level: Level,
    /// What was found and what to do.
    pub message: String,
}

/// The plan.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Plan {
    /// Where it goes: `development`, `staging` or `production`.
    pub environment: String,
    /// The Dockerfile.
    pub dockerfile: String,
    /// The Kubernetes Deployment, as YAML.
    pub deployment: String,
    /// The Kubernetes Service, as YAML.
    pub service: String,
    /// The rollout, one shell step at a time.
    pub rollout: Vec<String>,
    /// The checks of the description.
    pub checks: Vec<Check>,
    /// Whether no check failed.
    pub ready: bool,
}

impl Tool for DeployPlan {
    type Input = Service;
    type Output = Plan;

    const NAME: &'static str = "deploy_plan";
    const TITLE: &'static str = "Plan a deployment";
    const DESCRIPTION: &'static str = "From a service description (name, port, environment variables, health path, runtime, replicas, resources) and where it goes (`environment`: development, staging or production) renders a Dockerfile, a Kubernetes Deployment and Service, and the shell steps to roll it out and roll it back, and checks the description for mistakes: secrets in plain environment variables, a PORT variable that disagrees with the port, privileged ports, unpinned images, a single replica (the last two fail a production plan).";
    const ANNOTATIONS: Annotations = Annotations::PURE;

    fn run(mut service: Service, context: &ToolContext) -> Result<Plan, ToolError> {
        if service.port.is_none() {
            service.port = Some(asked_port(context)?);
        }
        validate(&service)?;
        let secret_keys: Vec<&str> = service
            .env
            .keys()
            .map(String::as_str)
            .filter(|key| is_secret_name(key))
            .collect();
        let image = service
            .image
            .clone()
            .unwrap_or_else(|| format!("{}:latest", service.name));
        let checks = checks(&service, &image, &secret_keys);
        Ok(Plan {
            environment: service.environment.name().to_owned(),
            dockerfile: dockerfile(&service),
            deployment: deployment(&service, &image, &secret_keys),
            service: kubernetes_service(&service),
            rollout: rollout(&service, &image, &secret_keys),
            ready: checks.iter().all(|check| check.level != Level::Fail),
            checks,
        })
    }

    fn summary(plan: &Plan) -> String {
        let mut text = format!(
            "Deployment plan for {}: {}.",
            plan.environment,
            if plan.ready {
                "ready to roll out"
            } else {
                "fix the failed checks first"
            }
        );
        for check in plan
            .checks
            .iter()
            .filter(|check| check.level != Level::Pass)
        {
            text.push_str(&format!(
                "\n{:?}: {} — {}",
                check.level, check.check, check.message
            ));
        }
        text.push_str("\n\nRollout:\n");
        for (number, step) in plan.rollout.iter().enumerate() {
            text.push_str(&format!("{}. {step}\n", number + 1));
        }
        text
    }
}

impl Service {
    /// The port, once given or asked for.
    fn port(&self) -> u16 {
        self.port.unwrap_or_default()
    }
}

/// The key the port is asked under.
const PORT_KEY: &str = "port";

/// The port the caller's user gave when asked, or the request to ask them
/// (when their client can show a form), or why there is none.
fn asked_port(context: &ToolContext) -> Result<u16, ToolError> {
    let missing = "`port` is missing: pass `port`, the port the service listens on inside its container (for example 8080)";
    match context.form_answer(PORT_KEY) {
        Some(FormAnswer::Accepted(fields)) => fields
            .get("port")
            .and_then(serde_json::Value::as_u64)
            .and_then(|port| u16::try_from(port).ok())
            .filter(|port| *port > 0)
            .ok_or_else(|| ToolError::new("the port given must be a whole number from 1 to 65535")),
        Some(FormAnswer::Declined | FormAnswer::Cancelled) => Err(ToolError::new(format!(
            "{missing}; none was given when asked"
        ))),
        None if context.can_ask(InputKind::Elicitation) => {
            let form = Form::new(vec![
                Field::integer("port", "Port")
                    .description("The port the service listens on inside its container")
                    .range(1.0, 65535.0)
                    .default(8080)
                    .required(),
            ]);
            Err(ToolError::needs_input(InputRequests::from([(
                PORT_KEY.to_owned(),
                InputRequest::form("Which port does the service listen on?", &form),
            )])))
        }
        None => Err(ToolError::new(missing)),
    }
}

/// Refuses descriptions no manifest could be written for.
fn validate(service: &Service) -> Result<(), ToolError> {
    check_name(&service.name)?;
    if !service.health_path.starts_with('/') || service.health_path.contains(char::is_whitespace) {
        return Err(ToolError::new(format!(
            "`health_path` {:?} must be a URL path starting with `/` (for example `/health`)",
            service.health_path
        )));
    }
    for key in service.env.keys() {
        let valid = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ToolError::new(format!(
                "environment variable name {key:?} is not valid: use letters, digits and `_`, not starting with a digit"
            )));
        }
    }
    let cpu_ok = service.cpu.strip_suffix('m').map_or_else(
        || service.cpu.parse::<f64>().is_ok_and(|v| v > 0.0),
        |milli| milli.parse::<u32>().is_ok_and(|v| v > 0),
    );
    if !cpu_ok {
        return Err(ToolError::new(format!(
            "`cpu` {:?} is not a Kubernetes CPU quantity: use millicores (`250m`) or cores (`1`, `0.5`)",
            service.cpu
        )));
    }
    let memory_ok = ["Mi", "Gi", "M", "G"].iter().any(|unit| {
        service
            .memory
            .strip_suffix(unit)
            .is_some_and(|n| n.parse::<u32>().is_ok_and(|v| v > 0))
    });
    if !memory_ok {
        return Err(ToolError::new(format!(
            "`memory` {:?} is not a Kubernetes memory quantity: use `256Mi` or `1Gi`",
            service.memory
        )));
    }
    check_name(&service.namespace).map_err(|_| {
        ToolError::new(format!(
            "`namespace` {:?} is not a valid namespace name",
            service.namespace
        ))
    })
}

/// Whether a variable's name says its value is a secret.
fn is_secret_name(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "ACCESS_KEY",
        "CREDENTIALS",
    ]
    .iter()
    .any(|marker| upper.contains(marker))
}

fn checks(service: &Service, image: &str, secret_keys: &[&str]) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut check = |check: &str, level, message: String| {
        checks.push(Check {
            check: check.to_owned(),
            level,
            message,
        });
    };
    match service.env.get("PORT") {
        Some(port) if port.trim() != service.port().to_string() => check(
            "port",
            Level::Fail,
            format!(
                "PORT is {port} but the service is said to listen on {}: traffic and probes would go to a port nothing listens on; make them agree",
                service.port()
            ),
        ),
        _ if service.port() < 1024 => check(
            "port",
            Level::Warn,
            format!(
                "port {} is privileged, and the container runs as a non-root user: listen on a port of 1024 or above (the Service still answers on 80)",
                service.port()
            ),
        ),
        _ => check(
            "port",
            Level::Pass,
            format!(
                "the container listens on {}; the Service answers on 80",
                service.port()
            ),
        ),
    }
    if secret_keys.is_empty() {
        check(
            "secrets",
            Level::Pass,
            "no secret-named environment variables".to_owned(),
        );
    } else {
        check(
            "secrets",
            Level::Warn,
            format!(
                "{} look secret: they are read from the Secret `{}-secrets`, created in the rollout from your shell's environment, and their values are left out of the manifests",
                secret_keys.join(", "),
                service.name
            ),
        );
    }
    let tag = image
        .rsplit_once(':')
        .map(|(_, tag)| tag)
        .filter(|tag| !tag.contains('/'));
    // What only warns elsewhere stops a production plan.
    let production = service.environment == Environment::Production;
    let serious = if production { Level::Fail } else { Level::Warn };
    match tag {
        None | Some("latest") => check(
            "image",
            serious,
            format!(
                "image `{image}` is not pinned to a version: tag it (`{}:1.0.0`) so rollouts are reproducible and `rollout undo` returns to a known build{}",
                image.split(':').next().unwrap_or(image),
                if production {
                    "; production takes only pinned images"
                } else {
                    ""
                }
            ),
        ),
        Some(tag) => check("image", Level::Pass, format!("image pinned to `{tag}`")),
    }
    if service.replicas == 1 {
        check(
            "replicas",
            serious,
            format!(
                "one replica: the service is down whenever its pod restarts or moves; run at least 2{}",
                if production { " in production" } else { "" }
            ),
        );
    } else {
        check(
            "replicas",
            Level::Pass,
            format!(
                "{} replicas, rolled one at a time with none unavailable",
                service.replicas
            ),
        );
    }
    check(
        "health",
        Level::Pass,
        format!(
            "readiness and liveness probes call GET {} on port {}",
            service.health_path,
            service.port()
        ),
    );
    checks
}

fn default_command(service: &Service) -> Vec<String> {
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
    match service.runtime {
        Runtime::Node => strings(&["node", "index.js"]),
        Runtime::Python => strings(&["python", "app.py"]),
        Runtime::Rust | Runtime::Go | Runtime::Binary => {
            vec![format!("/usr/local/bin/{}", service.name)]
        }
    }
}

fn dockerfile(service: &Service) -> String {
    let name = &service.name;
    let port = service.port();
    let command = service
        .command
        .clone()
        .unwrap_or_else(|| default_command(service));
    let command = format!(
        "[{}]",
        command
            .iter()
            .map(|part| quote(part))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let health = format!("http://127.0.0.1:{port}{}", service.health_path);
    let body = match service.runtime {
        Runtime::Rust => format!(
            "FROM rust:1-slim AS build\nWORKDIR /src\nCOPY . .\nRUN cargo build --release --locked\n\nFROM debian:bookworm-slim\nRUN useradd --system --uid 10001 app\nCOPY --from=build /src/target/release/{name} /usr/local/bin/{name}\n"
        ),
        Runtime::Go => format!(
            "FROM golang:1.23 AS build\nWORKDIR /src\nCOPY . .\nRUN CGO_ENABLED=0 go build -o /out/{name} .\n\nFROM gcr.io/distroless/static-debian12:nonroot\nCOPY --from=build /out/{name} /usr/local/bin/{name}\n"
        ),
        Runtime::Node => "FROM node:20-slim\nWORKDIR /app\nCOPY package*.json ./\nRUN npm ci --omit=dev\nCOPY . .\n".to_owned(),
        Runtime::Python => "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nRUN useradd --system --uid 10001 app\n".to_owned(),
        Runtime::Binary => format!(
            "FROM debian:bookworm-slim\nRUN useradd --system --uid 10001 app\nCOPY {name} /usr/local/bin/{name}\n"
        ),
    };
    let user = match service.runtime {
        Runtime::Node => "USER node\n",
        Runtime::Go => "USER nonroot\n",
        _ => "USER 10001\n",
    };
    let healthcheck = match service.runtime {
        Runtime::Node => format!(
            "HEALTHCHECK --interval=30s --timeout=3s CMD [\"node\", \"-e\", \"fetch('{health}').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))\"]\n"
        ),
        Runtime::Python => format!(
            "HEALTHCHECK --interval=30s --timeout=3s CMD [\"python\", \"-c\", \"import urllib.request; urllib.request.urlopen('{health}', timeout=3)\"]\n"
        ),
        _ => {
            "# The image has no HTTP client for a HEALTHCHECK; Kubernetes probes the health path.\n"
                .to_owned()
        }
    };
    format!(
        "# syntax=docker/dockerfile:1\n{body}{user}ENV PORT={port}\nEXPOSE {port}\n{healthcheck}ENTRYPOINT {command}\n"
    )
}

fn labels(yaml: &mut Yaml, indent: usize, name: &str) {
    yaml.open(indent, "labels")
        .string(indent + 1, "app.kubernetes.io/name", name);
}

/// The labels of the Deployment and the Service: the name, and where they
/// run.
fn environment_labels(yaml: &mut Yaml, indent: usize, service: &Service) {
    yaml.open(indent, "labels")
        .string(indent + 1, "app.kubernetes.io/name", &service.name)
        .string(indent + 1, "environment", service.environment.name());
}

fn deployment(service: &Service, image: &str, secret_keys: &[&str]) -> String {
    let name = &service.name;
    let mut yaml = Yaml::default();
    yaml.string(0, "apiVersion", "apps/v1")
        .string(0, "kind", "Deployment")
        .open(0, "metadata")
        .string(1, "name", name)
        .string(1, "namespace", &service.namespace);
    environment_labels(&mut yaml, 1, service);
    yaml.open(0, "spec")
        .plain(1, "replicas", service.replicas)
        .open(1, "selector")
        .open(2, "matchLabels")
        .string(3, "app.kubernetes.io/name", name);
    yaml.open(1, "strategy")
        .string(2, "type", "RollingUpdate")
        .open(2, "rollingUpdate")
        .plain(3, "maxUnavailable", 0)
        .plain(3, "maxSurge", 1);
    yaml.open(1, "template").open(2, "metadata");
    labels(&mut yaml, 3, name);
    yaml.open(2, "spec")
        .open(3, "securityContext")
        .plain(4, "runAsNonRoot", true)
        .open(3, "containers")
        .item(3, "name", name)
        .string(4, "image", image)
        .open(4, "ports")
        .item_plain(4, "containerPort", service.port());
    if !service.env.is_empty() {
        yaml.open(4, "env");
        for (key, value) in &service.env {
            yaml.item(4, "name", key);
            if secret_keys.contains(&key.as_str()) {
                yaml.open(5, "valueFrom")
                    .open(6, "secretKeyRef")
                    .string(7, "name", &format!("{name}-secrets"))
                    .string(7, "key", key);
            } else {
                yaml.string(5, "value", value);
            }
        }
    }
    yaml.open(4, "resources")
        .open(5, "requests")
        .string(6, "cpu", &service.cpu)
        .string(6, "memory", &service.memory)
        .open(5, "limits")
        .string(6, "memory", &service.memory);
    for (probe, delay) in [("readinessProbe", 5), ("livenessProbe", 15)] {
        yaml.open(4, probe)
            .open(5, "httpGet")
            .string(6, "path", &service.health_path)
            .plain(6, "port", service.port())
            .plain(5, "initialDelaySeconds", delay)
            .plain(5, "periodSeconds", 10);
    }
    yaml.open(4, "securityContext")
        .plain(5, "allowPrivilegeEscalation", false)
        .plain(5, "readOnlyRootFilesystem", true);
    yaml.finish()
}

fn kubernetes_service(service: &Service) -> String {
    let name = &service.name;
    let mut yaml = Yaml::default();
    yaml.string(0, "apiVersion", "v1")
        .string(0, "kind", "Service")
        .open(0, "metadata")
        .string(1, "name", name)
        .string(1, "namespace", &service.namespace);
    environment_labels(&mut yaml, 1, service);
    yaml.open(0, "spec")
        .string(1, "type", "ClusterIP")
        .open(1, "selector")
        .string(2, "app.kubernetes.io/name", name)
        .open(1, "ports")
        .item(1, "name", "http")
        .plain(2, "port", 80)
        .plain(2, "targetPort", service.port());
    yaml.finish()
}

fn rollout(service: &Service, image: &str, secret_keys: &[&str]) -> Vec<String> {
    let (name, namespace) = (&service.name, &service.namespace);
    let mut steps = vec![format!("docker build -t {image} . && docker push {image}")];
    if !secret_keys.is_empty() {
        let literals: Vec<String> = secret_keys
            .iter()
            .map(|key| format!("--from-literal={key}=\"${key}\""))
            .collect();
        steps.push(format!(
            "export {} (from your secret store), then: kubectl -n {namespace} create secret generic {name}-secrets {} --dry-run=client -o yaml | kubectl apply -f -",
            secret_keys.join(" "),
            literals.join(" ")
        ));
    }
    steps.push(format!(
        "kubectl -n {namespace} apply -f deployment.yaml -f service.yaml"
    ));
    steps.push(format!(
        "kubectl -n {namespace} rollout status deployment/{name} --timeout=180s"
    ));
    steps.push(format!(
        "kubectl -n {namespace} port-forward service/{name} 8080:80 & sleep 2 && curl -fsS http://127.0.0.1:8080{}",
        service.health_path
    ));
    steps.push(format!(
        "if the health check fails: kubectl -n {namespace} rollout undo deployment/{name}"
    ));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(service: serde_json::Value) -> Result<Plan, ToolError> {
        let service: Service = serde_json::from_value(service).expect("a service");
        DeployPlan::run(service, &ToolContext::new(None))
    }

    /// A context whose client can be asked for `can_ask`, with `inputs`
    /// answered.
    fn asking(can_ask: Vec<InputKind>, inputs: serde_json::Value) -> ToolContext {
        ToolContext::answering(can_ask, inputs.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn a_missing_port_is_asked_for_where_the_client_can_show_a_form() {
        let service = || -> Service {
            serde_json::from_value(json!({"name": "orders-api"})).expect("a service")
        };
        let refused = DeployPlan::run(service(), &ToolContext::new(None)).expect_err("no port");
        assert!(refused.message().contains("`port` is missing"), "{refused}");

        let form = asking(vec![InputKind::Elicitation], json!({}));
        let asked = DeployPlan::run(service(), &form).expect_err("asks");
        let result = plugin_api::ToolResult::from(asked);
        let requests = result.input_requests.expect("a request");
        assert_eq!(requests["port"].kind(), Some(InputKind::Elicitation));
        assert_eq!(
            requests["port"].params["requestedSchema"]["properties"]["port"]["default"],
            8080
        );

        let answered = asking(
            vec![InputKind::Elicitation],
            json!({"port": {"action": "accept", "content": {"port": 3000}}}),
        );
        let plan = DeployPlan::run(service(), &answered).expect("a plan");
        assert!(
            plan.service.contains("targetPort: 3000"),
            "{}",
            plan.service
        );

        let declined = asking(
            vec![InputKind::Elicitation],
            json!({"port": {"action": "decline"}}),
        );
        let refused = DeployPlan::run(service(), &declined).expect_err("declined");
        assert!(
            refused.message().contains("none was given when asked"),
            "{refused}"
        );
    }

    #[test]
    fn production_fails_what_elsewhere_only_warns_and_the_plan_says_where_it_goes() {
        let service = json!({"name": "orders-api", "port": 8080, "replicas": 1});
        let development = plan(service.clone()).expect("a plan");
        assert_eq!(development.environment, "development");
        assert!(development.ready, "unpinned and single replica only warn");
        assert!(
            development
                .deployment
                .contains("environment: \"development\"")
        );

        let mut production = service;
        production["environment"] = json!("production");
        let production = plan(production).expect("a plan");
        assert_eq!(production.environment, "production");
        assert!(!production.ready);
        let failed: Vec<&str> = production
            .checks
            .iter()
            .filter(|check| check.level == Level::Fail)
            .map(|check| check.check.as_str())
            .collect();
        assert_eq!(failed, ["image", "replicas"]);
        assert!(
            DeployPlan::summary(&production).starts_with("Deployment plan for production: fix")
        );

        let unknown: Result<Service, _> =
            serde_json::from_value(json!({"name": "x", "port": 80, "environment": "prod"}));
        let err = unknown.expect_err("an unknown environment").to_string();
        assert!(
            err.contains("development, staging, production") || err.contains("`development`"),
            "{err}"
        );
    }

    #[test]
    fn secrets_go_to_a_secret_and_never_into_the_manifests() {
        let plan = plan(json!({
            "name": "orders-api", "port": 8080, "runtime": "python",
            "env": {"DB_PASSWORD": "hunter2", "LOG_LEVEL": "info"},
            "image": "ghcr.io/acme/orders-api:1.4.2"
        }))
        .expect("a plan");
        assert!(!plan.deployment.contains("hunter2"));
        assert!(plan.deployment.contains("secretKeyRef"));
        assert!(plan.deployment.contains("value: \"info\""));
        assert!(plan.rollout.iter().all(|step| !step.contains("hunter2")));
        assert!(plan.rollout[1].contains("--from-literal=DB_PASSWORD=\"$DB_PASSWORD\""));
        assert!(plan.ready);
        let levels: Vec<(&str, Level)> = plan
            .checks
            .iter()
            .map(|c| (c.check.as_str(), c.level))
            .collect();
        assert_eq!(
            levels,
            [
                ("port", Level::Pass),
                ("secrets", Level::Warn),
                ("image", Level::Pass),
                ("replicas", Level::Pass),
                ("health", Level::Pass)
            ]
        );
    }

    #[test]
    fn a_port_variable_that_disagrees_fails_the_plan() {
        let plan =
            plan(json!({"name": "web", "port": 8080, "env": {"PORT": "3000"}, "replicas": 1}))
                .expect("a plan");
        assert!(!plan.ready);
        assert_eq!(plan.checks[0].level, Level::Fail);
        assert!(plan.checks[0].message.starts_with("PORT is 3000 but"));
        let warned: Vec<&str> = plan
            .checks
            .iter()
            .filter(|c| c.level == Level::Warn)
            .map(|c| c.check.as_str())
            .collect();
        assert_eq!(warned, ["image", "replicas"]);
    }

    #[test]
    fn descriptions_no_manifest_could_hold_are_refused() {
        assert!(
            plan(json!({"name": "Orders_API", "port": 80}))
                .expect_err("bad name")
                .0
                .contains("not a valid service name")
        );
        assert!(
            plan(json!({"name": "a", "port": 80, "health_path": "health"}))
                .expect_err("bad path")
                .0
                .contains("starting with `/`")
        );
        assert!(
            plan(json!({"name": "a", "port": 80, "env": {"1X": "y"}}))
                .expect_err("bad env")
                .0
                .contains("\"1X\"")
        );
        assert!(
            plan(json!({"name": "a", "port": 80, "memory": "lots"}))
                .expect_err("bad memory")
                .0
                .contains("`memory`")
        );
    }

    #[test]
    fn every_string_in_the_manifests_is_quoted() {
        let plan = plan(json!({"name": "web", "port": 8080, "env": {"GREETING": "a: b\n- c"}}))
            .expect("a plan");
        assert!(
            plan.deployment.contains("value: \"a: b\\n- c\""),
            "{}",
            plan.deployment
        );
    }
}
