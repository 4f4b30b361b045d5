//! What a request's `_meta` says of its client, read once per call.
//!
//! rmcp's accessors on `_meta` look their key up and decode its value each
//! time they are asked, and a call asks for the revision and the client's
//! capabilities at several steps; these are read once, where the call
//! starts.

use rmcp::model::{ClientCapabilities, ProtocolVersion, RequestMetaObject};

/// Whether a request's `_meta` says it comes from a client speaking
/// 2026-07-28 or later, which declares its version in every request.
pub(super) fn is_stateless_revision(meta: &RequestMetaObject) -> bool {
    meta.protocol_version()
        .is_some_and(|version| version.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

/// Where a request's client declared what it can do.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one for each call, kept in its context: boxing it would add an allocation to every call"
)]
pub(super) enum Declared {
    /// In the request: a 2026-07-28 (or later) request carries its client's
    /// capabilities in `_meta` (`None` if they do not read as such).
    InRequest(Option<ClientCapabilities>),
    /// When its session opened: an earlier revision's request.
    AtInitialize,
}

impl Declared {
    /// What `meta` declares.
    pub(super) fn of(meta: &RequestMetaObject) -> Self {
        if is_stateless_revision(meta) {
            Self::InRequest(meta.client_capabilities())
        } else {
            Self::AtInitialize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(json: serde_json::Value) -> RequestMetaObject {
        serde_json::from_value(json).expect("any JSON object is a `_meta`")
    }

    #[test]
    fn a_request_of_the_stateless_revision_declares_its_capabilities_itself() {
        let declared = Declared::of(&meta(serde_json::json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
        })));
        let Declared::InRequest(Some(capabilities)) = declared else {
            panic!("read as {declared:?}");
        };
        assert!(capabilities.elicitation.is_some());
        assert!(capabilities.sampling.is_none());
        // Capabilities that do not read as such are none.
        let declared = Declared::of(&meta(serde_json::json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": "all of them",
        })));
        assert!(
            matches!(declared, Declared::InRequest(None)),
            "{declared:?}"
        );
    }

    #[test]
    fn an_earlier_or_missing_revision_declared_at_initialize() {
        for meta in [
            meta(serde_json::json!({
                "io.modelcontextprotocol/protocolVersion": "2025-11-25",
                "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
            })),
            meta(serde_json::json!({})),
        ] {
            assert!(matches!(Declared::of(&meta), Declared::AtInitialize));
        }
    }
}
