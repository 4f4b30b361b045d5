//! The Descope side: the scope manifest and the Terraform that creates the
//! inbound app, the permissions, the roles and an example access key.

use serde::Serialize;

use super::Inputs;

/// `config/descope/scopes.json`.
#[derive(Serialize)]
struct Manifest<'a> {
    #[serde(rename = "$comment")]
    comment: String,
    scopes: Vec<ManifestScope<'a>>,
    roles: Vec<ManifestRole<'a>>,
}

#[derive(Serialize)]
struct ManifestScope<'a> {
    name: &'a str,
    description: &'a str,
    /// The tools a policy carrying this scope names.
    tools: &'a [String],
    /// The resources (URIs or templates) a policy carrying it names.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    resources: &'a [String],
    /// The prompts a policy carrying it names.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    prompts: &'a [String],
    /// The roles in `config/deploy.toml` that grant it.
    roles: Vec<&'a str>,
    /// The `@id`s of the policies that carry it.
    policies: &'a [String],
}

#[derive(Serialize)]
struct ManifestRole<'a> {
    name: &'a str,
    description: &'a str,
    scopes: Vec<&'a str>,
}

pub(crate) fn scopes_json(inputs: &Inputs) -> anyhow::Result<String> {
    let deploy = &inputs.deploy;
    let manifest = Manifest {
        comment: super::banner(),
        scopes: inputs
            .scopes
            .iter()
            .map(|scope| ManifestScope {
                name: &scope.name,
                description: &scope.description,
                tools: &scope.tools,
                resources: &scope.resources,
                prompts: &scope.prompts,
                roles: deploy
                    .roles
                    .keys()
                    .filter(|role| deploy.role_scopes(role).contains(&scope.name.as_str()))
                    .map(String::as_str)
                    .collect(),
                policies: &scope.policies,
            })
            .collect(),
        roles: deploy
            .roles
            .iter()
            .map(|(name, role)| ManifestRole {
                name,
                description: &role.description,
                scopes: deploy.role_scopes(name),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&manifest)?;
    text.push('\n');
    Ok(text)
}

/// A string as an HCL string literal. `${` and `%{` would start a
/// template, so they are doubled; control characters go as `\uNNNN`, which
/// HCL reads for every one of them (it has no `\b` or `\f`).
fn hcl_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn hcl_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(hcl_string).collect();
    format!("[{}]", items.join(", "))
}

/// A Terraform resource name from a config name (`ci-pipeline` to
/// `ci_pipeline`).
fn resource_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `config/descope/main.tf`.
pub(crate) fn terraform(inputs: &Inputs) -> String {
    let deploy = &inputs.deploy;
    let app = &deploy.inbound_app;
    let key_output = format!(
        "{}_access_key",
        resource_name(deploy.access_key.name.get_ref())
    );
    let mut out = format!(
        r#"# {banner}
#
# Creates in an existing Descope project what the policies need:
# - a permission per scope (tokens carry a role's permissions in `permissions`,
#   which the server reads as scopes), and the roles of config/deploy.toml;
# - the inbound app MCP clients sign in through, with PKCE forced, a
#   permission scope per policy scope, and the server's URL as the tokens'
#   audience, the only one the server accepts by default;
# - an example access key for a machine client, with the least privilege.
#
# The provider reads the management key from DESCOPE_MANAGEMENT_KEY. This file
# holds no secret; the inbound app's client secret and the access key's
# cleartext live only in Terraform's state (`terraform output -raw
# {key_output}`). Keep the state private.
#
#   terraform init
#   terraform apply -var project_id=P2abc... -var project_name=my-project \
#     -var public_url=https://mcp.example.com

terraform {{
  required_version = ">= 1.6"
  required_providers {{
    descope = {{
      source  = "descope/descope"
      version = "~> 0.3"
    }}
  }}
}}

provider "descope" {{}}

variable "project_id" {{
  type        = string
  description = "The Descope project id (DESCOPE_PROJECT_ID)."
}}

variable "public_url" {{
  type        = string
  description = "The URL clients reach the server at, https and without a trailing slash (PUBLIC_URL)."
  validation {{
    condition     = can(regex("^https://[^/]+$", var.public_url))
    error_message = "public_url must be an https URL with no path and no trailing slash, such as https://mcp.example.com."
  }}
}}

variable "project_name" {{
  type        = string
  description = "The Descope project's name as the console shows it; Terraform would rename the project to any other."
}}

# Adopts the existing project, so that its permissions and roles are managed
# here. Terraform then manages the whole project configuration: read
# `terraform plan` before the first apply.
import {{
  to = descope_project.this
  id = var.project_id
}}

resource "descope_project" "this" {{
  name = var.project_name

  authorization = {{
    permissions = [
"#,
        banner = super::banner(),
    );
    for scope in &inputs.scopes {
        out.push_str(&format!(
            "      {{ name = {}, description = {} }},\n",
            hcl_string(&scope.name),
            hcl_string(&scope.description)
        ));
    }
    out.push_str("    ]\n\n    roles = [\n");
    for (name, role) in &deploy.roles {
        out.push_str(&format!(
            "      {{\n        key         = {}\n        name        = {}\n        description = {}\n        permissions = {}\n      }},\n",
            hcl_string(name),
            hcl_string(name),
            hcl_string(&role.description),
            hcl_list(deploy.role_scopes(name))
        ));
    }
    out.push_str("    ]\n  }\n}\n\n");
    out.push_str(&format!(
        r#"resource "descope_inbound_app" "server" {{
  project_id  = var.project_id
  name        = {name}
  description = {description}
  force_pkce  = true

  # config/deploy.toml's callbacks, and the server's own login helper.
  approved_callback_urls = concat({callbacks}, ["${{var.public_url}}/auth/callback"])

  # The server accepts only tokens issued for itself (RFC 8707): its MCP
  # endpoint and its public URL. Tokens name the endpoint unless the client
  # asks for another of these as its resource.
  default_audience   = "${{var.public_url}}/mcp"
  audience_whitelist = ["${{var.public_url}}/mcp", var.public_url]

  permissions_scopes = [
"#,
        name = hcl_string(&app.name),
        description = hcl_string(&app.description),
        callbacks = hcl_list(app.callback_urls.iter().map(|url| url.get_ref().as_str())),
    ));
    for scope in &inputs.scopes {
        out.push_str(&format!(
            "    {{\n      name        = {}\n      description = {}\n      values      = {}\n      optional    = true\n    }},\n",
            hcl_string(&scope.name),
            hcl_string(&scope.description),
            hcl_list([scope.name.as_str()])
        ));
    }
    out.push_str("  ]\n\n  depends_on = [descope_project.this]\n}\n\n");
    let key = &deploy.access_key;
    let key_resource = resource_name(key.name.get_ref());
    out.push_str(&format!(
        r#"resource "descope_access_key" "{key_resource}" {{
  project_id  = var.project_id
  name        = {name}
  description = {description}
  roles       = {roles}

  depends_on = [descope_project.this]
}}

output "inbound_app_client_id" {{
  description = "DESCOPE_CLIENT_ID for the server's browser login helper."
  value       = descope_inbound_app.server.client_id
}}

output "inbound_app_client_secret" {{
  description = "DESCOPE_CLIENT_SECRET for the login helper, when the app is confidential."
  value       = descope_inbound_app.server.client_secret
  sensitive   = true
}}

output "{key_resource}_access_key" {{
  description = "The access key's secret: the machine client sends it as client_secret to /auth/token."
  value       = descope_access_key.{key_resource}.cleartext
  sensitive   = true
}}
"#,
        name = hcl_string(key.name.get_ref()),
        description = hcl_string(&key.description),
        roles = hcl_list(key.roles.iter().map(|role| role.get_ref().as_str())),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_strings_read_back_as_written() {
        for text in [
            "plain",
            "a \"quoted\" word and a back\\slash",
            "not a template: ${var.secret} %{ if x }",
            "lines\nand\ttabs\r",
            "control \u{8} \u{c} \u{0} \u{7f}",
            "non-ASCII: é 漢字 🦀",
            "$ and % alone, {braces}",
        ] {
            let source = format!("x = {}\n", hcl_string(text));
            let read: serde_json::Value =
                hcl::from_str(&source).unwrap_or_else(|err| panic!("{source}: {err}"));
            assert_eq!(read["x"], text, "{source}");
        }
    }
}
