//! The HTTP ceiling: axum answering every `POST /mcp` with a fixed JSON-RPC
//! body, the size of a `ping` answer, doing nothing else.

use axum::http::header::CONTENT_TYPE;
use axum::routing::post;

/// A `tools/call` answer of the size orchestrator-mcp's `ping` gives.
const ANSWER: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"pong"}],"structuredContent":{"pong":true,"server_time":"2026-01-01T00:00:00.000Z","principal_id":"K2demomachine"},"isError":false}}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/mcp",
        post(|| async { ([(CONTENT_TYPE, "application/json")], ANSWER) }),
    );
    ceilings::serve(app).await
}
