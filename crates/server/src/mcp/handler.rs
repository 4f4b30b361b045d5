//! The MCP handler: `initialize`, `tools/list` and `tools/call`, through
//! the catalogue.

use std::borrow::Cow;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ErrorCode, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Value, json};

use super::session::SessionSettings;
use crate::catalogue::{CallRefusal, Caller, Catalogue};

/// JSON-RPC error code for a call the policies deny. MCP defines none; this
/// sits in the range JSON-RPC leaves to servers.
pub(crate) const FORBIDDEN: ErrorCode = ErrorCode(-32003);

/// The protocol versions this server speaks, newest first.
const SUPPORTED_VERSIONS: &[ProtocolVersion] = &[
    ProtocolVersion::V_2026_07_28,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_03_26,
];

/// The MCP handler.
#[derive(Clone)]
pub(crate) struct McpServer {
    pub(super) catalogue: Catalogue,
}

/// The authenticated caller that the HTTP layers put on the request, as the
/// MCP transport hands it to the handler, narrowed to the session's settings
/// (which the `/mcp` guard read from the URL) for this call and every call
/// its tool makes.
fn caller(context: &RequestContext<RoleServer>) -> Result<Caller, McpError> {
    let parts = context.extensions.get::<http::request::Parts>();
    let session = parts
        .and_then(|parts| parts.extensions.get::<SessionSettings>())
        .cloned()
        .unwrap_or_default();
    parts
        .and_then(|parts| parts.extensions.get::<Caller>())
        .cloned()
        .map(|caller| Caller {
            session: std::sync::Arc::new(session),
            ..caller
        })
        // The authentication layer guards /mcp, so this means a wiring bug;
        // refuse rather than serve an anonymous caller.
        .ok_or_else(|| {
            McpError::internal_error(
                "request reached the MCP handler without an authenticated principal",
                None,
            )
        })
}

fn to_tool(descriptor: &Value) -> Option<Tool> {
    serde_json::from_value(descriptor.clone()).ok()
}

/// Refuses a plugin whose tool descriptor is not a valid MCP tool: it would
/// otherwise be callable over REST yet missing from `tools/list`.
pub(crate) fn check_tool_descriptors(plugins: &plugin_host::PluginHost) -> anyhow::Result<()> {
    for plugin in plugins.plugins() {
        for name in &plugin.tools {
            let Some(tool) = plugins.tool(name) else {
                continue;
            };
            if let Err(err) = serde_json::from_value::<Tool>(tool.descriptor().clone()) {
                anyhow::bail!(
                    "plugin {}: tool `{name}` is not a valid MCP tool: {err}",
                    plugin.file.display()
                );
            }
        }
    }
    Ok(())
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_protocol_version(ProtocolVersion::V_2025_11_25)
            .with_server_info(Implementation::new(
                "orchestrator-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Policy-governed tools. tools/list shows the tools your token may call.",
            )
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(SUPPORTED_VERSIONS)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.catalogue.descriptor(name).as_ref().and_then(to_tool)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let caller = caller(&context)?;
        let tools = self
            .catalogue
            .visible_tools(&caller)
            .iter()
            .filter_map(to_tool)
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let caller = caller(&context)?;
        let arguments = request.arguments.map_or(Value::Null, Value::Object);
        let result = self
            .catalogue
            .call(&caller, &request.name, arguments)
            .await
            .map_err(refusal_to_error)?;
        let value = serde_json::to_value(&result)
            .map_err(|err| McpError::internal_error(format!("tool result: {err}"), None))?;
        let result: CallToolResult = serde_json::from_value(value)
            .map_err(|err| McpError::internal_error(format!("tool result: {err}"), None))?;
        Ok(result.into())
    }
}

fn refusal_to_error(refusal: CallRefusal) -> McpError {
    let message = refusal.to_string();
    match refusal {
        // MCP asks for "Invalid params" when the tool does not exist.
        CallRefusal::UnknownTool(tool) => {
            McpError::invalid_params(message, Some(json!({ "tool": tool })))
        }
        CallRefusal::Denied {
            tool,
            accepted_scopes,
        } => McpError::new(
            FORBIDDEN,
            message,
            Some(json!({ "tool": tool, "required_scopes": accepted_scopes })),
        ),
        CallRefusal::OutsideSession { tool, .. } => {
            McpError::invalid_params(message, Some(json!({ "tool": tool })))
        }
        CallRefusal::BudgetSpent { tool, limit } => McpError::invalid_request(
            message,
            Some(json!({ "tool": tool, "max_tool_calls_per_request": limit })),
        ),
    }
}
