//! Entry points for the fuzz targets (`fuzz/` at the workspace root): thin
//! wrappers over what the MCP door does with a request before the MCP
//! service sees it, so the fuzzer meets exactly the code a request meets.
//! Not a stable interface.

use std::collections::BTreeSet;

use serde_json::Value;

use super::guard;
use super::session_settings::SessionSettings;

/// What the `/mcp` guard makes of a request body.
#[derive(Debug)]
pub enum GuardOutcome {
    /// Answered by the guard: the HTTP status and the JSON-RPC error body.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The JSON-RPC error object.
        body: Value,
    },
    /// Passed on to the MCP service.
    Passed {
        /// For a `tools/call`, the tool and the arguments the policies are
        /// asked about before dispatch.
        tool_call: Option<(String, Value)>,
    },
}

/// Runs a `POST /mcp` body through the guard's checks (JSON, then JSON-RPC,
/// then the `tools/call` it names), as the guard does once the body is read.
pub fn mcp_guard(body: &[u8]) -> GuardOutcome {
    match guard::read_message(body) {
        Ok(message) => GuardOutcome::Passed {
            tool_call: guard::tool_call(&message)
                .map(|(_, tool, arguments)| (tool.to_owned(), arguments)),
        },
        Err(refusal) => GuardOutcome::Refused {
            status: refusal.status.as_u16(),
            body: refusal.body(),
        },
    }
}

/// What a session's settings narrow its tools to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrowing {
    /// `readOnly`: only read-only tools.
    pub read_only: bool,
    /// `tools`: only these tools; `None` narrows nothing.
    pub tools: Option<BTreeSet<String>>,
}

/// Reads the session settings from a `/mcp` URL's query as the guard does;
/// `Err` is the message a client gets for malformed settings.
pub fn session_settings(uri: &http::Uri) -> Result<Narrowing, String> {
    SessionSettings::from_uri(uri).map(|settings| Narrowing {
        read_only: settings.read_only,
        tools: settings.tools,
    })
}
