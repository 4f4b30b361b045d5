//! `.env.example`, from `config/default.toml`: every setting that has an
//! environment variable, with its default and the first sentence of its
//! comment.
//!
//! `config/default.toml` names a setting's variable at the start of the
//! comment above it: `# HOST, PORT: where the server listens.` names the
//! variables of the next two keys, in order. The server's own tests hold its
//! list of variables to the same names.

use anyhow::{Context, bail};

use super::Inputs;

/// One setting the environment can set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Setting {
    /// The variable (`MAX_REQUEST_SIZE_MB`).
    pub(crate) name: String,
    /// The setting's place in the file (`server.max_request_size_mb`).
    pub(crate) key: String,
    /// The default, written as the variable takes it.
    pub(crate) default: String,
    /// The first sentence of the setting's comment.
    pub(crate) comment: String,
}

/// The settings of `text` (the contents of `shown`, parsed as `values`)
/// that have a variable.
pub(crate) fn settings(
    text: &str,
    values: &toml::Table,
    shown: &str,
) -> anyhow::Result<Vec<Setting>> {
    let mut settings = Vec::new();
    let mut table = String::new();
    let mut comment: Vec<&str> = Vec::new();
    // Variables named by the last comment and not yet given to a key.
    let mut pending: Vec<String> = Vec::new();
    let mut pending_text = String::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(text) = line.strip_prefix('#') {
            comment.push(text.trim());
            continue;
        }
        if line.starts_with('[') {
            table = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned();
            comment.clear();
            pending.clear();
            continue;
        }
        let Some((key, _)) = line.split_once('=') else {
            comment.clear();
            continue;
        };
        let key = key.trim();
        if !comment.is_empty() {
            (pending, pending_text) = named_variables(&comment.join(" "));
            comment.clear();
        }
        if pending.is_empty() {
            continue;
        }
        let name = pending.remove(0);
        let path = format!("{table}.{key}");
        let value = table_value(values, &path).with_context(|| {
            format!(
                "{shown}:{}: `{path}` has no value the generator can read",
                index + 1
            )
        })?;
        let default = env_text(value);
        if default.contains('\'') {
            bail!(
                "{shown}:{}: the default of `{path}` holds a single quote, which .env.example \
                 cannot write as a .env value; choose a default without one",
                index + 1
            );
        }
        settings.push(Setting {
            name,
            key: path,
            default,
            comment: first_sentence(&pending_text),
        });
    }
    if settings.is_empty() {
        bail!("{shown}: no setting names its environment variable (`# NAME: what it does`)");
    }
    Ok(settings)
}

/// The port the server listens on by default (`server.port`).
pub(crate) fn port(values: &toml::Table, shown: &str) -> anyhow::Result<u16> {
    table_value(values, "server.port")
        .and_then(toml::Value::as_integer)
        .and_then(|port| u16::try_from(port).ok())
        .with_context(|| format!("{shown}: server.port is not a port number"))
}

/// `NAME, NAME: text` to the names and the text; no names when the comment
/// does not start that way.
fn named_variables(comment: &str) -> (Vec<String>, String) {
    let Some((names, text)) = comment.split_once(':') else {
        return (Vec::new(), String::new());
    };
    let names: Vec<String> = names
        .split(',')
        .map(|name| name.trim().to_owned())
        .collect();
    let is_variable = |name: &String| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    };
    if names.iter().all(is_variable) {
        (names, text.trim().to_owned())
    } else {
        (Vec::new(), String::new())
    }
}

fn table_value<'a>(table: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut parts = path.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.get(part)?;
    }
    Some(value)
}

/// A default as the server reads it from its variable: text as written,
/// everything else as TOML.
fn env_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The first sentence of `text`, capitalised: a comment of its own.
fn first_sentence(text: &str) -> String {
    let end = text.find(". ").map_or(text.len(), |at| at + 1);
    let sentence = text[..end].trim();
    let mut chars = sentence.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The seed guide's groups, in its order; a variable it does not list goes
/// under its table's group.
const GROUPS: [(&str, &[&str]); 4] = [
    (
        "Descope authentication",
        &[
            "DESCOPE_PROJECT_ID",
            "DESCOPE_CLIENT_ID",
            "DESCOPE_CLIENT_SECRET",
            "DESCOPE_DEMO_MODE",
            "DESCOPE_BASE_URL",
            "DESCOPE_JWKS_URL",
            "JWKS_REFETCH_INTERVAL_SECS",
            "JWKS_REFRESH_SECS",
        ],
    ),
    (
        "JWT configuration",
        &[
            "JWT_ALGORITHM",
            "JWT_VERIFY_EXPIRATION",
            "JWT_REQUIRE_CLAIMS",
            "JWT_LEEWAY_SECS",
            "JWT_EXTRA_ISSUERS",
        ],
    ),
    (
        "Security settings",
        &[
            "TOKEN_CACHE_TTL",
            "TOKEN_CACHE_SIZE",
            "MAX_TOKEN_AGE_HOURS",
            "ENABLE_TOKEN_REFRESH",
        ],
    ),
    (
        "Rate limiting and security",
        &[
            "RATE_LIMIT_PER_MINUTE",
            "MAX_REQUEST_SIZE_MB",
            "CORS_ORIGINS",
            "ALLOWED_HOSTS",
        ],
    ),
];

/// The group title for a table the seed's groups do not cover.
fn table_group(key: &str) -> &'static str {
    match key.split('.').next().unwrap_or_default() {
        "server" => "Server",
        "demo_auth" | "demo" => "Demo mode (local development only)",
        "plugins" => "Plugins",
        "policies" => "Policies",
        "audit" => "Audit",
        "log" => "Logging",
        _ => "Other settings",
    }
}

/// Quotes a value for a `.env` file when it needs it: single quotes keep
/// brackets, spaces and double quotes as written. (A default never holds a
/// single quote: `settings` refuses one.)
fn quoted(value: &str) -> String {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-.:/@,".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("'{value}'")
    }
}

pub(crate) fn env_example(inputs: &Inputs) -> String {
    let mut groups: Vec<(&str, Vec<&super::Setting>)> = Vec::new();
    let mut add = |title: &'static str, setting| match groups.iter_mut().find(|(t, _)| *t == title)
    {
        Some((_, list)) => list.push(setting),
        None => groups.push((title, vec![setting])),
    };
    for (title, names) in GROUPS {
        for name in names {
            if let Some(setting) = inputs.settings.iter().find(|s| s.name == *name) {
                add(title, setting);
            }
        }
    }
    for setting in &inputs.settings {
        let grouped = GROUPS
            .iter()
            .any(|(_, names)| names.contains(&setting.name.as_str()));
        if !grouped {
            add(table_group(&setting.key), setting);
        }
    }
    let mut out = format!(
        "# {}\n#\n# Every environment variable orchestrator-mcp reads, set to its default.\n# Copy to \
         `.env` (read from the working directory) and change what you need;\n# variables set in \
         the environment win over `.env`. Production needs at least\n# DESCOPE_PROJECT_ID, \
         DESCOPE_DEMO_MODE=false, PUBLIC_URL and ALLOWED_HOSTS;\n# `orchestrator-mcp doctor` \
         checks them and the rest of the configuration guide's list.\n#\n# DESCOPE_MANAGEMENT_KEY is read by Terraform's descope provider \
         (config/descope/main.tf),\n# never by the server: keep it out of the server's \
         environment.\n",
        super::banner()
    );
    for (title, settings) in groups {
        out.push_str(&format!("\n# === {} ===\n", title.to_uppercase()));
        for setting in settings {
            let secret = if setting.name.ends_with("_SECRET") {
                " A secret: keep it out of version control."
            } else {
                ""
            };
            out.push_str(&format!(
                "# {}{secret}\n{}={}\n",
                setting.comment,
                setting.name,
                quoted(&setting.default)
            ));
        }
    }
    out
}
