//! Step-up authorization over MCP: a `tools/call`, `resources/read`,
//! `prompts/get` or `completion/complete` the policies deny is answered with
//! HTTP 403 and an `insufficient_scope` challenge naming the scopes that
//! would be accepted, so a client can ask its user for more. A call past
//! its tool's rate limit is answered 429 with `Retry-After` the same way.
//! The body stays the JSON-RPC error the handler answered.
//!
//! The decision is made once, by the handler, on the request rmcp parsed;
//! the handler reports a denial through a slot the `/mcp` guard put on the
//! request, and the guard sets the status and the header on the way out.

use std::sync::{Arc, OnceLock};

use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use rmcp::RoleServer;
use rmcp::service::RequestContext;

use crate::web::{Challenge, bearer_challenge};

/// Where a handler leaves a denial for the guard to answer with a 403.
#[derive(Clone, Default)]
pub(super) struct DenialSlot(Arc<OnceLock<Denial>>);

struct Denial {
    message: String,
    accepted_scopes: Vec<String>,
    /// Whether more scopes could help: an approval nobody can be asked
    /// for is a 403 without an `insufficient_scope` challenge.
    challenge: bool,
    /// A refusal that waiting lifts (a tool's rate limit: 429; its limit
    /// out of reach: 503), with how long to wait, instead of a 403.
    retry: Option<(StatusCode, u64)>,
}

/// Records that the request was denied, with `message`, and the scopes any
/// one of which would have allowed it.
pub(super) fn report(slot: Option<&DenialSlot>, message: &str, accepted_scopes: &[String]) {
    set(
        slot,
        Denial {
            message: message.to_owned(),
            accepted_scopes: accepted_scopes.to_vec(),
            challenge: true,
            retry: None,
        },
    );
}

/// Records a denial that no scope would lift (a call that needs a
/// person's approval the client cannot show): a 403 without a challenge.
pub(super) fn report_unchallenged(slot: Option<&DenialSlot>, message: &str) {
    set(
        slot,
        Denial {
            message: message.to_owned(),
            accepted_scopes: Vec::new(),
            challenge: false,
            retry: None,
        },
    );
}

/// Records a refusal that waiting lifts: answered with `status` (429, or
/// 503) and `Retry-After: retry_after_secs` instead of a 403.
pub(super) fn report_limited(slot: Option<&DenialSlot>, retry_after_secs: u64, status: StatusCode) {
    set(
        slot,
        Denial {
            message: String::new(),
            accepted_scopes: Vec::new(),
            challenge: false,
            retry: Some((status, retry_after_secs)),
        },
    );
}

fn set(slot: Option<&DenialSlot>, denial: Denial) {
    if let Some(slot) = slot {
        // The first denial of a request is the one answered.
        let _ = slot.0.set(denial);
    }
}

/// The slot the guard put on the request rmcp hands a handler.
pub(super) fn slot(context: &RequestContext<RoleServer>) -> Option<&DenialSlot> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<DenialSlot>())
}

impl DenialSlot {
    /// Turns `response` into a 403 with a challenge if the handler denied
    /// the request; `base` gives the server's URL, for the metadata link.
    pub(super) fn apply(&self, response: &mut Response, base: impl FnOnce() -> String) {
        let Some(denial) = self.0.get() else {
            return;
        };
        if let Some((status, retry_after_secs)) = denial.retry {
            *response.status_mut() = status;
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs),
            );
            return;
        }
        *response.status_mut() = StatusCode::FORBIDDEN;
        if !denial.challenge {
            return;
        }
        let challenge = bearer_challenge(&Challenge {
            error: Some("insufficient_scope"),
            description: Some(denial.message.clone()),
            resource_metadata: Some(format!(
                "{}/.well-known/oauth-protected-resource/mcp",
                base()
            )),
            scope: Some(denial.accepted_scopes.join(" ")).filter(|scope| !scope.is_empty()),
        });
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
    }
}
