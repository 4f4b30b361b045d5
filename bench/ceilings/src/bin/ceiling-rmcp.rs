//! The protocol ceiling: rmcp's streamable HTTP service, stateless with JSON
//! answers (as orchestrator-mcp serves calls without a session), with one
//! tool, `ping`, answering what orchestrator-mcp's `ping` answers. No
//! authentication, no policy, no plugin.

use std::sync::Arc;

use rmcp::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Map, Value, json};

#[derive(Clone)]
struct Ping;

fn ping_tool() -> Tool {
    let schema: Map<String, Value> = match json!({
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "additionalProperties": false,
    }) {
        Value::Object(schema) => schema,
        _ => Map::new(),
    };
    Tool::new("ping", "Checks connectivity.", Arc::new(schema))
}

impl ServerHandler for Ping {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, rmcp::ErrorData> {
        Ok(ListToolsResult::with_all_items(vec![ping_tool()]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, rmcp::ErrorData> {
        if request.name != "ping" {
            return Err(rmcp::ErrorData::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            ));
        }
        let message = request
            .arguments
            .as_ref()
            .and_then(|arguments| arguments.get("message"))
            .cloned();
        let mut pong = json!({"pong": true, "server_time": now(), "principal_id": null});
        if let Some(message) = message {
            pong["message"] = message;
        }
        Ok(CallToolResult::structured(pong).into())
    }
}

/// Seconds since the epoch, as the answer's clock.
fn now() -> String {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:03}", elapsed.as_secs(), elapsed.subsec_millis())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_legacy_session_mode(false)
        .with_json_response(true);
    let service = StreamableHttpService::new(
        || Ok(Ping),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let app = axum::Router::new().route_service("/mcp", service);
    ceilings::serve(app).await
}
