//! `architect`: components, interfaces and data stores derived from a
//! project description and constraints by explicit rules, each component
//! carrying the rule that added it, with a Mermaid diagram of the whole.

use plugin_api::{Annotations, JsonSchema, Tool, ToolContext, ToolError};
use serde::{Deserialize, Serialize};

/// Derives an architecture.
pub struct Architect;

/// What `architect` takes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Brief {
    /// What the system must do, in plain words (`an online shop with user
    /// accounts, card payments, product search and order emails`).
    #[schemars(length(min = 10, max = 20000))]
    pub description: String,
    /// The limits it must live within.
    #[serde(default)]
    pub constraints: Constraints,
}

/// The limits a design must live within.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Constraints {
    /// Peak users at the same time.
    pub concurrent_users: Option<u64>,
    /// Whether the system must survive the loss of a data centre.
    pub high_availability: bool,
    /// Regimes it must comply with: `pci`, `gdpr`, `hipaa`.
    pub compliance: Vec<String>,
}

/// What a component is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Something people use.
    Client,
    /// A request-serving process.
    Service,
    /// A background process fed by a queue or a schedule.
    Worker,
    /// Somewhere data lives.
    Store,
    /// A system run by someone else.
    External,
}

/// One component.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Component {
    /// Its id, used in `links` and the diagram.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// What it is responsible for.
    pub responsibility: String,
    /// How others talk to it.
    pub interface: String,
    /// The rule that put it in the design.
    pub because: String,
}

/// One connection.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Link {
    /// The component that calls.
    pub from: String,
    /// The component called.
    pub to: String,
    /// How.
    pub via: String,
}

/// The design.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Design {
    /// The components, clients first, stores and external systems last.
    pub components: Vec<Component>,
    /// Who talks to whom.
    pub links: Vec<Link>,
    /// Decisions the constraints forced, with their reason.
    pub decisions: Vec<String>,
    /// The design as a Mermaid flowchart.
    pub mermaid: String,
    /// The client's model's suggestions on this design, when the client
    /// offers sampling and the policies let `architect` use it; labelled,
    /// and never part of the design above.
    pub refinement: Option<crate::refine::Refinement>,
}

/// A rule: the words that trigger it, and what it adds.
struct Rule {
    words: &'static [&'static str],
    name: &'static str,
    add: fn(&mut Builder),
}

const RULES: &[Rule] = &[
    Rule {
        words: &[
            "web",
            "website",
            "browser",
            "dashboard",
            "frontend",
            "portal",
            "shop",
            "store front",
        ],
        name: "web client",
        add: |b| {
            b.component(
                "web",
                "Web app",
                Kind::Client,
                "the user interface in the browser",
                "HTTPS to the API",
            )
        },
    },
    Rule {
        words: &["mobile", "ios", "android", "phone app"],
        name: "mobile client",
        add: |b| {
            b.component(
                "mobile",
                "Mobile app",
                Kind::Client,
                "the user interface on phones",
                "HTTPS to the API",
            )
        },
    },
    Rule {
        words: &[
            "account", "login", "log in", "sign in", "signup", "sign up", "user", "profile", "auth",
        ],
        name: "accounts",
        add: |b| {
            b.component(
                "idp",
                "Identity provider",
                Kind::External,
                "sign-in, passwords and tokens (OAuth 2.1 with PKCE)",
                "OIDC discovery, JWKS",
            );
            b.link("api", "idp", "JWKS (token verification)");
        },
    },
    Rule {
        words: &[
            "payment",
            "checkout",
            "billing",
            "subscription",
            "card",
            "invoice",
        ],
        name: "payments",
        add: |b| {
            b.component(
                "payments",
                "Payments service",
                Kind::Service,
                "checkout, refunds and payment state; never sees card numbers",
                "HTTPS (internal), webhooks from the provider",
            );
            b.component(
                "psp",
                "Payment provider",
                Kind::External,
                "card capture and tokenisation",
                "HTTPS API, signed webhooks",
            );
            b.link("api", "payments", "HTTPS");
            b.link("payments", "psp", "HTTPS");
            b.link("payments", "db", "SQL");
        },
    },
    Rule {
        words: &["search", "find", "filter", "catalog", "catalogue"],
        name: "search",
        add: |b| {
            b.component(
                "search",
                "Search index",
                Kind::Store,
                "full-text and faceted search over the catalogue",
                "search queries over HTTPS",
            );
            b.link("api", "search", "queries");
            b.link("worker", "search", "index updates");
            b.need_worker("keeps the search index in step with the database");
        },
    },
    Rule {
        words: &[
            "upload",
            "image",
            "photo",
            "video",
            "file",
            "document",
            "media",
            "attachment",
        ],
        name: "files",
        add: |b| {
            b.component(
                "objects",
                "Object storage",
                Kind::Store,
                "uploaded files, served through signed URLs",
                "S3-compatible API, signed URLs",
            );
            b.link("api", "objects", "signed URLs");
            b.link("worker", "objects", "processing");
            b.need_worker("processes uploads (thumbnails, scanning) off the request path");
        },
    },
    Rule {
        words: &[
            "email",
            "notification",
            "notify",
            "sms",
            "push",
            "newsletter",
            "alert",
        ],
        name: "notifications",
        add: |b| {
            b.component(
                "mailer",
                "Email/SMS provider",
                Kind::External,
                "delivery of messages",
                "HTTPS API",
            );
            b.link("worker", "mailer", "HTTPS");
            b.need_worker(
                "sends notifications from the queue so a slow provider never slows a request",
            );
        },
    },
    Rule {
        words: &[
            "chat",
            "realtime",
            "real-time",
            "live",
            "websocket",
            "collaborat",
            "multiplayer",
        ],
        name: "realtime",
        add: |b| {
            b.component(
                "realtime",
                "Realtime gateway",
                Kind::Service,
                "holds client connections and fans out events",
                "WebSocket",
            );
            b.component(
                "pubsub",
                "Pub/sub",
                Kind::Store,
                "event fan-out between gateway instances",
                "publish/subscribe",
            );
            b.link_clients("realtime", "WebSocket");
            b.link("realtime", "pubsub", "subscribe");
            b.link("api", "pubsub", "publish");
        },
    },
    Rule {
        words: &["analytics", "report", "metrics", "insight", "dashboard"],
        name: "analytics",
        add: |b| {
            b.component(
                "warehouse",
                "Analytics warehouse",
                Kind::Store,
                "events and aggregates for reporting, apart from the transactional data",
                "SQL (read-only for reports)",
            );
            b.link("worker", "warehouse", "batch loads");
            b.need_worker("loads events into the warehouse in batches");
        },
    },
    Rule {
        words: &[
            "schedule",
            "cron",
            "batch",
            "nightly",
            "recurring",
            "reminder",
        ],
        name: "scheduled jobs",
        add: |b| {
            b.need_worker("runs scheduled and recurring jobs");
        },
    },
    Rule {
        words: &[
            "recommend",
            "machine learning",
            "ml model",
            "prediction",
            "classif",
            "personalis",
            "personaliz",
        ],
        name: "inference",
        add: |b| {
            b.component(
                "inference",
                "Inference service",
                Kind::Service,
                "model predictions behind a versioned API",
                "HTTPS (internal)",
            );
            b.link("api", "inference", "HTTPS");
        },
    },
];

#[derive(Default)]
struct Builder {
    components: Vec<Component>,
    links: Vec<Link>,
    decisions: Vec<String>,
    worker_duties: Vec<&'static str>,
    rule: &'static str,
}

impl Builder {
    fn component(
        &mut self,
        id: &str,
        name: &str,
        kind: Kind,
        responsibility: &str,
        interface: &str,
    ) {
        if self.components.iter().any(|c| c.id == id) {
            return;
        }
        self.components.push(Component {
            id: id.to_owned(),
            name: name.to_owned(),
            kind,
            responsibility: responsibility.to_owned(),
            interface: interface.to_owned(),
            because: self.rule.to_owned(),
        });
    }

    fn link(&mut self, from: &str, to: &str, via: &str) {
        if !self.links.iter().any(|l| l.from == from && l.to == to) {
            self.links.push(Link {
                from: from.to_owned(),
                to: to.to_owned(),
                via: via.to_owned(),
            });
        }
    }

    fn link_clients(&mut self, to: &str, via: &str) {
        let clients: Vec<String> = self
            .components
            .iter()
            .filter(|c| c.kind == Kind::Client)
            .map(|c| c.id.clone())
            .collect();
        for client in clients {
            self.link(&client, to, via);
        }
    }

    fn need_worker(&mut self, duty: &'static str) {
        self.worker_duties.push(duty);
    }
}

impl Tool for Architect {
    type Input = Brief;
    type Output = Design;

    const NAME: &'static str = "architect";
    const TITLE: &'static str = "Derive an architecture";
    const DESCRIPTION: &'static str = "From a project description and constraints (concurrent users, high availability, compliance) derives the components, their interfaces and data stores by explicit rules (each component says which rule added it), the links between them, the decisions the constraints force, and a Mermaid flowchart of the design.";
    const ANNOTATIONS: Annotations = Annotations::PURE;

    fn run(brief: Brief, context: &ToolContext) -> Result<Design, ToolError> {
        let text = brief.description.to_lowercase();
        let constraints = &brief.constraints;
        for regime in &constraints.compliance {
            if !["pci", "gdpr", "hipaa"].contains(&regime.to_lowercase().as_str()) {
                return Err(ToolError::new(format!(
                    "unknown compliance regime `{regime}`; the rules know: pci, gdpr, hipaa"
                )));
            }
        }
        let mut b = Builder::default();
        let matched: Vec<&Rule> = RULES
            .iter()
            .filter(|rule| rule.words.iter().any(|word| text.contains(word)))
            .collect();
        // Clients first, so rules that link every client see them all.
        for rule in matched.iter().filter(|rule| rule.name.ends_with("client")) {
            b.rule = rule.name;
            (rule.add)(&mut b);
        }
        if !b.components.iter().any(|c| c.kind == Kind::Client) {
            b.rule = "default: something must call the API";
            b.component(
                "client",
                "API client",
                Kind::Client,
                "whatever calls the system",
                "HTTPS to the API",
            );
        }
        b.rule = "core: every system serves requests and keeps its state";
        b.component(
            "api",
            "API service",
            Kind::Service,
            "the system's operations, authorisation and validation",
            "HTTPS + JSON",
        );
        b.component(
            "db",
            "PostgreSQL",
            Kind::Store,
            "the system's records, the source of truth",
            "SQL",
        );
        b.link_clients("api", "HTTPS");
        b.link("api", "db", "SQL");
        for rule in matched.iter().filter(|rule| !rule.name.ends_with("client")) {
            b.rule = rule.name;
            (rule.add)(&mut b);
        }
        apply_constraints(&mut b, &text, constraints);
        if !b.worker_duties.is_empty() {
            let duties = b.worker_duties.join("; ");
            b.rule = "a rule needed work off the request path";
            b.component(
                "queue",
                "Job queue",
                Kind::Store,
                "durable jobs for the worker",
                "enqueue/dequeue",
            );
            b.component(
                "worker",
                "Background worker",
                Kind::Worker,
                &duties,
                "jobs from the queue",
            );
            b.link("api", "queue", "enqueue");
            b.link("queue", "worker", "dequeue");
            b.link("worker", "db", "SQL");
        } else {
            b.links
                .retain(|link| link.from != "worker" && link.to != "worker");
        }
        order(&mut b.components);
        let mermaid = mermaid(&b.components, &b.links);
        let mut design = Design {
            components: b.components,
            links: b.links,
            decisions: b.decisions,
            mermaid,
            refinement: None,
        };
        design.refinement = crate::refine::refinement(
            context,
            "You review software architectures. Answer with at most five concrete improvements, one per line, each naming the component it changes.",
            || {
                format!(
                    "A system must do this: {}\n\nRules derived this design:\n{}\n\nWhat would you change, and why?",
                    brief.description,
                    Self::summary(&design)
                )
            },
            600,
        )?;
        Ok(design)
    }

    fn summary(design: &Design) -> String {
        let mut text = format!(
            "{} components, {} links.",
            design.components.len(),
            design.links.len()
        );
        for component in &design.components {
            text.push_str(&format!(
                "\n- {} ({:?}): {}",
                component.name, component.kind, component.responsibility
            ));
        }
        for decision in &design.decisions {
            text.push_str(&format!("\nDecision: {decision}"));
        }
        text.push_str(&format!("\n\n```mermaid\n{}```", design.mermaid));
        text.push_str(&crate::refine::paragraph(design.refinement.as_ref()));
        text
    }
}

fn apply_constraints(b: &mut Builder, text: &str, constraints: &Constraints) {
    let users = constraints.concurrent_users.unwrap_or(0);
    if users >= 10_000 || text.contains("high traffic") {
        b.rule = "constraint: 10,000 or more concurrent users";
        b.component(
            "cache",
            "Cache (Redis)",
            Kind::Store,
            "hot reads and sessions, so the database serves writes",
            "key/value",
        );
        b.component(
            "cdn",
            "CDN",
            Kind::External,
            "static assets and cacheable pages at the edge",
            "HTTPS",
        );
        b.link("api", "cache", "get/set");
        b.link_clients("cdn", "HTTPS (assets)");
        b.decisions.push(format!(
            "{users} concurrent users: run the API as at least 3 stateless instances behind a load balancer, add a cache and a CDN, and read from a database replica"
        ));
    }
    if constraints.high_availability {
        b.decisions.push("high availability: spread every service over at least 2 zones, run the database with a synchronous standby, and make the queue durable across zones".to_owned());
    }
    let regimes: Vec<String> = constraints
        .compliance
        .iter()
        .map(|r| r.to_lowercase())
        .collect();
    if regimes.iter().any(|r| r == "pci") {
        if b.components.iter().any(|c| c.id == "psp") {
            b.decisions.push("PCI: card data goes straight from the client to the payment provider's hosted fields; only tokens reach the Payments service, which keeps the system out of most PCI scope".to_owned());
        } else {
            b.decisions.push("PCI: the description mentions no payments; if cards are ever taken, use a payment provider's hosted fields so card data never reaches these services".to_owned());
        }
    }
    if regimes.iter().any(|r| r == "gdpr") {
        b.decisions.push("GDPR: keep personal data only in PostgreSQL (not in logs or the warehouse without pseudonymisation), and give the API export and erase operations for a person's data".to_owned());
        b.need_worker("erases personal data on request and past its retention");
    }
    if regimes.iter().any(|r| r == "hipaa") {
        b.rule = "constraint: HIPAA";
        b.component(
            "audit",
            "Audit log",
            Kind::Store,
            "an append-only record of every access to health data",
            "append-only writes",
        );
        b.link("api", "audit", "append");
        b.decisions.push("HIPAA: encrypt health data at rest and in transit, and record every read and write of it in an append-only audit log".to_owned());
    }
}

/// Clients, then services and workers, then stores, then external systems;
/// the rule order within each.
fn order(components: &mut [Component]) {
    let rank = |kind: Kind| match kind {
        Kind::Client => 0,
        Kind::Service => 1,
        Kind::Worker => 2,
        Kind::Store => 3,
        Kind::External => 4,
    };
    components.sort_by_key(|component| rank(component.kind));
}

/// The design as a Mermaid flowchart, one shape per kind.
fn mermaid(components: &[Component], links: &[Link]) -> String {
    let mut text = String::from("flowchart LR\n");
    for component in components {
        let label = component.name.replace('"', "'");
        let shape = match component.kind {
            Kind::Client => format!("([\"{label}\"])"),
            Kind::Service => format!("[\"{label}\"]"),
            Kind::Worker => format!("[[\"{label}\"]]"),
            Kind::Store => format!("[(\"{label}\")]"),
            Kind::External => format!("{{{{\"{label}\"}}}}"),
        };
        text.push_str(&format!("    {}{shape}\n", component.id));
    }
    for link in links {
        text.push_str(&format!(
            "    {} -->|{}| {}\n",
            link.from,
            link.via.replace('|', "/"),
            link.to
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn design(description: &str, constraints: Constraints) -> Design {
        Architect::run(
            Brief {
                description: description.to_owned(),
                constraints,
            },
            &ToolContext::new(None),
        )
        .expect("a design")
    }

    fn ids(design: &Design) -> Vec<&str> {
        design.components.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn each_feature_in_the_description_adds_its_components() {
        let shop = design(
            "An online shop with user accounts, card payments, product search and order emails",
            Constraints::default(),
        );
        assert_eq!(
            ids(&shop),
            [
                "web", "api", "payments", "worker", "db", "search", "queue", "idp", "psp", "mailer"
            ]
        );
        let search = shop
            .components
            .iter()
            .find(|c| c.id == "search")
            .expect("search");
        assert_eq!(search.because, "search");
        assert!(
            shop.mermaid
                .starts_with("flowchart LR\n    web([\"Web app\"])\n")
        );
        assert!(shop.mermaid.contains("    api -->|SQL| db\n"));
    }

    #[test]
    fn without_features_the_core_remains() {
        let plain = design(
            "A service that converts units of measure",
            Constraints::default(),
        );
        assert_eq!(ids(&plain), ["client", "api", "db"]);
        assert!(
            plain
                .links
                .iter()
                .all(|l| l.from != "worker" && l.to != "worker")
        );
    }

    #[test]
    fn constraints_force_decisions_and_components() {
        let clinic = design(
            "A web portal where patients upload documents and book appointments with reminders",
            Constraints {
                concurrent_users: Some(20_000),
                high_availability: true,
                compliance: vec!["HIPAA".into(), "gdpr".into()],
            },
        );
        for id in ["cache", "cdn", "audit", "objects", "worker"] {
            assert!(
                ids(&clinic).contains(&id),
                "{id} missing from {:?}",
                ids(&clinic)
            );
        }
        assert_eq!(clinic.decisions.len(), 4);
        let error = Architect::run(
            Brief {
                description: "A web shop for shoes".into(),
                constraints: Constraints {
                    compliance: vec!["sox".into()],
                    ..Constraints::default()
                },
            },
            &ToolContext::new(None),
        )
        .expect_err("unknown regime");
        assert!(error.0.starts_with("unknown compliance regime `sox`"));
    }
}
