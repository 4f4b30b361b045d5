//! Which `iss` values a token may carry.
//!
//! Descope signs tokens for one project under several issuer forms; a
//! verifier that accepts only one of them refuses valid tokens, and one that
//! accepts any refuses nothing. Accept exactly the forms scoped to the
//! configured project, plus issuers configured explicitly.

/// The accepted issuers for one project.
#[derive(Clone, Debug)]
pub(crate) struct Issuers {
    exact: Vec<String>,
}

impl Issuers {
    /// `base` is Descope's API base URL (`https://api.descope.com`).
    /// The agentic form (`{base}/v1/apps/agentic/{project}/{server}`) names
    /// one of the project's MCP servers, so it is accepted only for
    /// `mcp_server`, this server's own id: another server's tokens are not
    /// for this one.
    pub(crate) fn new(
        base: &str,
        project: &str,
        mcp_server: Option<&str>,
        extra: &[String],
    ) -> Self {
        let base = base.trim_end_matches('/');
        let mut exact = vec![
            project.to_owned(),
            format!("{base}/{project}"),
            format!("{base}/v1/apps/{project}"),
        ];
        exact.extend(mcp_server.map(|server| format!("{base}/v1/apps/agentic/{project}/{server}")));
        exact.extend(extra.iter().cloned());
        Self { exact }
    }

    pub(crate) fn accepts(&self, iss: &str) -> bool {
        self.exact.iter().any(|accepted| accepted == iss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuers() -> Issuers {
        Issuers::new(
            "https://api.descope.com/",
            "P2abc",
            Some("MCP123"),
            &["http://127.0.0.1:8080".to_owned()],
        )
    }

    #[test]
    fn every_descope_form_for_the_project_is_accepted() {
        let issuers = issuers();
        for iss in [
            "P2abc",
            "https://api.descope.com/P2abc",
            "https://api.descope.com/v1/apps/P2abc",
            "https://api.descope.com/v1/apps/agentic/P2abc/MCP123",
            "http://127.0.0.1:8080",
        ] {
            assert!(issuers.accepts(iss), "{iss} refused");
        }
    }

    #[test]
    fn other_projects_and_lookalikes_are_refused() {
        let issuers = issuers();
        for iss in [
            "P2other",
            "https://api.descope.com/P2other",
            "https://api.descope.com/P2abc/",
            "https://api.descope.com/v1/apps/P2abcd",
            "https://api.descope.com/v1/apps/agentic/P2abc/",
            "https://api.descope.com/v1/apps/agentic/P2abc/MCP999",
            "https://api.descope.com/v1/apps/agentic/P2abc/a/b",
            "https://api.descope.com/v1/apps/agentic/P2other/MCP123",
            "https://evil.example/P2abc",
            "",
        ] {
            assert!(!issuers.accepts(iss), "{iss} accepted");
        }
    }

    #[test]
    fn the_agentic_form_is_refused_without_a_configured_server_id() {
        let issuers = Issuers::new("https://api.descope.com", "P2abc", None, &[]);
        assert!(!issuers.accepts("https://api.descope.com/v1/apps/agentic/P2abc/MCP123"));
        assert!(issuers.accepts("https://api.descope.com/v1/apps/P2abc"));
    }
}
