//! Delivery tools: `deploy_plan` (a Dockerfile, Kubernetes manifests and
//! rollout steps for one service, behind `tools:deploy`) and `cloud_plan`
//! (the same deployment planned on AWS, Google Cloud and Azure with costs
//! from a shipped price table, behind `legendary:cloud`).

mod cloud;
mod deploy;
mod yaml;

pub use cloud::CloudPlan;
pub use deploy::DeployPlan;

plugin_api::export_tools!(DeliveryTools: [CloudPlan, DeployPlan]);

/// Whether `name` is a DNS-1123 label (lowercase letters, digits and `-`,
/// starting with a letter, ending with a letter or digit, at most 63
/// characters): what Kubernetes and the clouds accept as a service name.
pub(crate) fn check_name(name: &str) -> Result<(), plugin_api::ToolError> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(plugin_api::ToolError::new(format!(
            "`name` {name:?} is not a valid service name: use 1 to 63 lowercase letters, digits and `-`, starting with a letter and ending with a letter or digit (for example `orders-api`)"
        )))
    }
}
