//! `config/deploy.toml`: the Descope inbound app, the roles and the example
//! access key, with the line of every value a check can refuse.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use policy::ScopeInfo;
use serde::Deserialize;
use toml::Spanned;

/// The deployment settings `gen` reads.
#[derive(Debug)]
pub(crate) struct Deploy {
    pub(crate) inbound_app: InboundApp,
    /// By role name.
    pub(crate) roles: BTreeMap<String, Role>,
    pub(crate) access_key: AccessKey,
    /// The file as shown in messages (`config/deploy.toml`).
    shown: String,
    /// Byte offsets at which each line starts, to turn spans into lines.
    line_starts: Vec<usize>,
}

/// The inbound app MCP clients sign in through.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InboundApp {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) callback_urls: Vec<Spanned<String>>,
}

/// A project role and the scopes it grants.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Role {
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) scopes: Vec<Spanned<String>>,
}

/// The example access key for a machine client.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessKey {
    pub(crate) name: Spanned<String>,
    pub(crate) description: String,
    pub(crate) roles: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    inbound_app: InboundApp,
    #[serde(default)]
    roles: BTreeMap<String, Role>,
    access_key: AccessKey,
}

impl Deploy {
    /// Reads `path`, naming it `shown` in messages.
    pub(crate) fn read(path: &Path, shown: &str) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text, shown)
    }

    pub(crate) fn parse(text: &str, shown: &str) -> anyhow::Result<Self> {
        // toml's message already points at the line and column.
        let file: File = toml::from_str(text).map_err(|err| anyhow::anyhow!("{shown}: {err}"))?;
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Ok(Self {
            inbound_app: file.inbound_app,
            roles: file.roles,
            access_key: file.access_key,
            shown: shown.to_owned(),
            line_starts,
        })
    }

    /// `config/deploy.toml:LINE` for a value.
    fn at<T>(&self, value: &Spanned<T>) -> String {
        let line = self
            .line_starts
            .partition_point(|&start| start <= value.span().start);
        format!("{}:{line}", self.shown)
    }

    /// The scopes role `name` grants, sorted.
    pub(crate) fn role_scopes(&self, name: &str) -> Vec<&str> {
        let mut scopes: Vec<&str> = self
            .roles
            .get(name)
            .map(|role| role.scopes.iter().map(|s| s.get_ref().as_str()).collect())
            .unwrap_or_default();
        scopes.sort_unstable();
        scopes.dedup();
        scopes
    }

    /// What is wrong with the file given the scope catalogue, each with its
    /// line and what to do.
    pub(crate) fn problems(&self, catalogue: &[ScopeInfo]) -> Vec<String> {
        let mut problems = Vec::new();
        for url in &self.inbound_app.callback_urls {
            if let Err(reason) = check_callback_url(url.get_ref()) {
                problems.push(format!(
                    "{}: callback URL `{}` {reason}",
                    self.at(url),
                    url.get_ref()
                ));
            }
        }
        if self.inbound_app.callback_urls.is_empty() {
            problems.push(format!(
                "{}: [inbound_app] has no callback_urls; list where Descope may send a browser \
                 back after sign-in (http://localhost:8080/auth/callback for a local server)",
                self.shown
            ));
        }
        for (name, role) in &self.roles {
            for scope in &role.scopes {
                if !catalogue.iter().any(|known| known.name == *scope.get_ref()) {
                    problems.push(format!(
                        "{}: role `{name}` grants scope `{}`, which no tool needs (no policy has \
                         @scope(\"{}\")); remove it from the role, or add the policy that \
                         grants it",
                        self.at(scope),
                        scope.get_ref(),
                        scope.get_ref()
                    ));
                }
            }
        }
        let key_name = self.access_key.name.get_ref();
        let identifier = key_name
            .chars()
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic())
            && key_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !identifier {
            problems.push(format!(
                "{}: access key name `{key_name}` must start with a letter and hold only \
                 letters, digits, `-` and `_` (it names the Terraform resource); write for \
                 example ci-pipeline",
                self.at(&self.access_key.name)
            ));
        }
        for role in &self.access_key.roles {
            if !self.roles.contains_key(role.get_ref()) {
                problems.push(format!(
                    "{}: the access key holds role `{}`, which [roles] does not define; define \
                     it or name one of: {}",
                    self.at(role),
                    role.get_ref(),
                    self.roles.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        problems
    }
}

/// Why `url` cannot be a callback URL, if it cannot.
fn check_callback_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|err| {
        format!(
            "is not a URL ({err}); write an absolute URL such as \
             https://mcp.example.com/auth/callback"
        )
    })?;
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match parsed.scheme() {
        "https" if parsed.host_str().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(
            "uses plain http for a host other than this machine; OAuth 2.1 allows http only \
             for loopback: use https"
                .to_owned(),
        ),
        _ => Err(format!(
            "is not an http(s) URL (scheme `{}`); write an absolute URL such as \
             https://mcp.example.com/auth/callback",
            parsed.scheme()
        )),
    }
}
