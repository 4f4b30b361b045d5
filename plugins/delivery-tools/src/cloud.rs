//! `cloud_plan`: one deployment description planned on AWS, Google Cloud
//! and Azure, each with its services, resource names and an estimated
//! monthly cost from the price table shipped with this plugin
//! (`prices.toml`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use plugin_api::{Annotations, JsonSchema, Tool, ToolContext, ToolError};
use serde::{Deserialize, Serialize};

use crate::check_name;

/// Plans one deployment on three clouds.
pub struct CloudPlan;

/// A deployment to plan.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// The service's name: a DNS label such as `orders-api`.
    pub name: String,
    /// Where it runs: `us`, `eu` or `asia`.
    #[serde(default = "default_region")]
    pub region: String,
    /// How many copies run at all times.
    #[serde(default = "default_instances")]
    #[schemars(range(min = 1, max = 1000))]
    pub instances: u32,
    /// vCPUs per copy.
    #[serde(default = "default_vcpu")]
    #[schemars(range(min = 0.25, max = 64.0))]
    pub vcpu: f64,
    /// Memory per copy, in GB.
    #[serde(default = "default_memory_gb")]
    #[schemars(range(min = 0.5, max = 256.0))]
    pub memory_gb: f64,
    /// Whether it needs a managed PostgreSQL database.
    #[serde(default)]
    pub database: bool,
    /// The database's storage, in GB.
    #[serde(default = "default_database_gb")]
    #[schemars(range(min = 10, max = 65536))]
    pub database_gb: u32,
    /// Object storage, in GB.
    #[serde(default)]
    #[schemars(range(max = 1_000_000))]
    pub storage_gb: u32,
    /// Data sent to the internet per month, in GB.
    #[serde(default)]
    #[schemars(range(max = 1_000_000))]
    pub egress_gb: u32,
    /// Whether it is reached from the internet over HTTPS.
    #[serde(default = "default_public")]
    pub public: bool,
}

fn default_region() -> String {
    "us".to_owned()
}
fn default_instances() -> u32 {
    2
}
fn default_vcpu() -> f64 {
    0.5
}
fn default_memory_gb() -> f64 {
    1.0
}
fn default_database_gb() -> u32 {
    20
}
fn default_public() -> bool {
    true
}

/// The shipped price table.
#[derive(Debug, Deserialize)]
struct PriceTable {
    as_of: String,
    hours_per_month: f64,
    regions: BTreeMap<String, Region>,
    aws: Prices,
    gcp: Prices,
    azure: Prices,
}

#[derive(Debug, Deserialize)]
struct Region {
    multiplier: f64,
    aws: String,
    gcp: String,
    azure: String,
}

#[derive(Debug, Deserialize)]
struct Prices {
    provider: String,
    compute_service: String,
    vcpu_hour: f64,
    gb_hour: f64,
    load_balancer_service: String,
    load_balancer_month: f64,
    database_service: String,
    database_hour: f64,
    database_gb_month: f64,
    storage_service: String,
    storage_gb_month: f64,
    egress_gb: f64,
}

static PRICES: LazyLock<Result<PriceTable, String>> = LazyLock::new(|| {
    toml::from_str(include_str!("../prices.toml"))
        .map_err(|err| format!("the shipped price table is unreadable: {err}"))
});

/// One service in a provider's plan.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Line {
    /// What it does: `compute`, `ingress`, `database`, `storage`, `egress`.
    pub role: String,
    /// The provider's service.
    pub service: String,
    /// The name to give the resource, in the provider's conventions.
    pub resource: String,
    /// How the cost is worked out.
    pub basis: String,
    /// Estimated cost per month, US dollars.
    pub monthly_usd: f64,
}

/// One provider's plan.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProviderPlan {
    /// The provider.
    pub provider: String,
    /// The provider's region.
    pub region: String,
    /// The services, with their costs.
    pub lines: Vec<Line>,
    /// Estimated total per month, US dollars.
    pub monthly_usd: f64,
}

/// The three plans.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Plans {
    /// AWS, Google Cloud and Azure, in that order.
    pub plans: Vec<ProviderPlan>,
    /// The provider with the lowest estimate.
    pub cheapest: String,
    /// The date of the price table.
    pub prices_as_of: String,
    /// What the estimates leave out.
    pub note: String,
}

impl Tool for CloudPlan {
    type Input = Deployment;
    type Output = Plans;

    const NAME: &'static str = "cloud_plan";
    const TITLE: &'static str = "Plan on three clouds";
    const DESCRIPTION: &'static str = "Turns one deployment description (instances, vCPU, memory, database, storage, egress, region) into equivalent plans for AWS, Google Cloud and Azure: the managed services to use, resource names in each provider's conventions, and an estimated monthly cost per service from the price table shipped with the plugin.";
    const ANNOTATIONS: Annotations = Annotations::PURE;

    fn run(deployment: Deployment, _context: &ToolContext) -> Result<Plans, ToolError> {
        check_name(&deployment.name)?;
        let table = PRICES.as_ref().map_err(|err| ToolError::new(err.clone()))?;
        let region = table.regions.get(&deployment.region).ok_or_else(|| {
            ToolError::new(format!(
                "unknown region `{}`; use one of: {}",
                deployment.region,
                table.regions.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        let plans = vec![
            plan(
                &deployment,
                table,
                &table.aws,
                &region.aws,
                region.multiplier,
                aws_names,
            ),
            plan(
                &deployment,
                table,
                &table.gcp,
                &region.gcp,
                region.multiplier,
                gcp_names,
            ),
            plan(
                &deployment,
                table,
                &table.azure,
                &region.azure,
                region.multiplier,
                azure_names,
            ),
        ];
        let cheapest = plans
            .iter()
            .min_by(|a, b| a.monthly_usd.total_cmp(&b.monthly_usd))
            .map(|plan| plan.provider.clone())
            .unwrap_or_default();
        Ok(Plans {
            plans,
            cheapest,
            prices_as_of: table.as_of.clone(),
            note: "List prices, on demand, before free tiers, discounts and taxes; regions outside the US use the table's regional multiplier. Check each provider's calculator before committing to a budget.".to_owned(),
        })
    }

    fn summary(plans: &Plans) -> String {
        let mut text = format!(
            "Estimated monthly cost (prices as of {}):",
            plans.prices_as_of
        );
        for plan in &plans.plans {
            text.push_str(&format!(
                "\n- {} ({}): ${:.2}",
                plan.provider, plan.region, plan.monthly_usd
            ));
            for line in &plan.lines {
                text.push_str(&format!(
                    "\n    {} `{}` on {}: ${:.2}",
                    line.role, line.resource, line.service, line.monthly_usd
                ));
            }
        }
        text.push_str(&format!("\nCheapest: {}.", plans.cheapest));
        text
    }
}

/// Resource names for compute, ingress, database and storage.
type Names = fn(&str, &str) -> [String; 4];

fn aws_names(name: &str, region: &str) -> [String; 4] {
    [
        format!("{name}-svc (cluster {name}-cluster)"),
        format!("{name}-alb"),
        format!("{name}-db"),
        format!("{name}-assets-{region}"),
    ]
}

fn gcp_names(name: &str, _region: &str) -> [String; 4] {
    [
        name.to_owned(),
        format!("{name}.run.app endpoint"),
        format!("{name}-db"),
        format!("{name}-assets"),
    ]
}

fn azure_names(name: &str, _region: &str) -> [String; 4] {
    // Storage account names are 3 to 24 lowercase letters and digits.
    let mut account: String = format!("st{}", name.replace('-', ""));
    account.truncate(24);
    [
        format!("ca-{name} (resource group rg-{name})"),
        format!("ca-{name} ingress"),
        format!("psql-{name}"),
        account,
    ]
}

fn money(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn plan(
    deployment: &Deployment,
    table: &PriceTable,
    prices: &Prices,
    region: &str,
    multiplier: f64,
    names: Names,
) -> ProviderPlan {
    let hours = table.hours_per_month;
    let [compute, ingress, database, storage] = names(&deployment.name, region);
    let mut lines = Vec::new();
    let mut line = |role: &str, service: &str, resource: String, basis: String, cost: f64| {
        let basis = if multiplier == 1.0 {
            basis
        } else {
            format!("({basis}) × {multiplier} for region {}", deployment.region)
        };
        lines.push(Line {
            role: role.to_owned(),
            service: service.to_owned(),
            resource,
            basis,
            monthly_usd: money(cost * multiplier),
        });
    };
    let instances = f64::from(deployment.instances);
    line(
        "compute",
        &prices.compute_service,
        compute,
        format!(
            "{} × ({} vCPU × ${}/h + {} GB × ${}/h) × {hours} h",
            deployment.instances,
            deployment.vcpu,
            prices.vcpu_hour,
            deployment.memory_gb,
            prices.gb_hour
        ),
        instances
            * (deployment.vcpu * prices.vcpu_hour + deployment.memory_gb * prices.gb_hour)
            * hours,
    );
    if deployment.public {
        line(
            "ingress",
            &prices.load_balancer_service,
            ingress,
            format!("${}/month", prices.load_balancer_month),
            prices.load_balancer_month,
        );
    }
    if deployment.database {
        line(
            "database",
            &prices.database_service,
            database,
            format!(
                "${}/h × {hours} h + {} GB × ${}/GB-month",
                prices.database_hour, deployment.database_gb, prices.database_gb_month
            ),
            prices.database_hour * hours
                + f64::from(deployment.database_gb) * prices.database_gb_month,
        );
    }
    if deployment.storage_gb > 0 {
        line(
            "storage",
            &prices.storage_service,
            storage,
            format!(
                "{} GB × ${}/GB-month",
                deployment.storage_gb, prices.storage_gb_month
            ),
            f64::from(deployment.storage_gb) * prices.storage_gb_month,
        );
    }
    if deployment.egress_gb > 0 {
        line(
            "egress",
            "internet egress",
            "-".to_owned(),
            format!("{} GB × ${}/GB", deployment.egress_gb, prices.egress_gb),
            f64::from(deployment.egress_gb) * prices.egress_gb,
        );
    }
    let monthly_usd = money(lines.iter().map(|line| line.monthly_usd).sum());
    ProviderPlan {
        provider: prices.provider.clone(),
        region: region.to_owned(),
        lines,
        monthly_usd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plans(deployment: serde_json::Value) -> Result<Plans, ToolError> {
        let deployment: Deployment = serde_json::from_value(deployment).expect("a deployment");
        CloudPlan::run(deployment, &ToolContext::new(None))
    }

    #[test]
    fn the_shipped_price_table_parses() {
        assert!(PRICES.is_ok(), "{:?}", PRICES.as_ref().err());
    }

    #[test]
    fn costs_follow_the_price_table() {
        let result =
            plans(json!({"name": "orders-api", "instances": 2, "vcpu": 1.0, "memory_gb": 2.0}))
                .expect("plans");
        let aws = &result.plans[0];
        assert_eq!(aws.provider, "AWS");
        assert_eq!(aws.region, "us-east-1");
        // 2 × (1 × 0.04048 + 2 × 0.004445) × 730 = 72.0808; plus the ALB.
        assert_eq!(aws.lines[0].monthly_usd, 72.08);
        assert_eq!(aws.lines[1].monthly_usd, 16.43);
        assert_eq!(aws.monthly_usd, 88.51);
        assert_eq!(result.cheapest, "AWS");
    }

    #[test]
    fn regions_apply_their_multiplier_and_names_follow_each_provider() {
        let result = plans(
            json!({"name": "orders-api", "region": "eu", "database": true, "storage_gb": 100}),
        )
        .expect("plans");
        let azure = &result.plans[2];
        assert_eq!(azure.region, "westeurope");
        let resources: Vec<&str> = azure
            .lines
            .iter()
            .map(|line| line.resource.as_str())
            .collect();
        assert_eq!(
            resources,
            [
                "ca-orders-api (resource group rg-orders-api)",
                "ca-orders-api ingress",
                "psql-orders-api",
                "stordersapi"
            ]
        );
        let us = plans(json!({"name": "orders-api", "database": true, "storage_gb": 100}))
            .expect("plans");
        let ratio = azure.monthly_usd / us.plans[2].monthly_usd;
        assert!((ratio - 1.08).abs() < 0.001, "{ratio}");
    }

    #[test]
    fn unknown_regions_and_bad_names_are_refused() {
        let error = plans(json!({"name": "x", "region": "mars"})).expect_err("refused");
        assert_eq!(error.0, "unknown region `mars`; use one of: asia, eu, us");
        assert!(plans(json!({"name": "X Y"})).is_err());
    }
}
