//! This server as the demo authorization server sees it: where a request
//! reached it (asked only when `PUBLIC_URL` is not set: the demo settings
//! carry it, and it is then the only issuer), and the scopes its active
//! policies know.

use axum::http::HeaderMap;
use demo_oauth::{Resource, Scope};

use crate::catalogue::Catalogue;
use crate::web::PublicBase;

/// The server the demo authorization server issues tokens for.
pub(super) struct ServedResource {
    pub(super) catalogue: Catalogue,
    pub(super) base: PublicBase,
}

impl Resource for ServedResource {
    fn request_base_url(&self, headers: &HeaderMap) -> String {
        self.base.for_request(headers)
    }

    fn scopes(&self) -> Vec<Scope> {
        self.catalogue
            .policies()
            .scopes()
            .iter()
            .map(|scope| Scope {
                name: scope.name.clone(),
                description: scope.description.clone(),
            })
            .collect()
    }
}
