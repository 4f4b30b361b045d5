//! What the two ceiling servers share: where they listen and how they say so.
//!
//! `cargo xtask bench e2e` starts each on a port of its choosing, waits for
//! the line [`serve`] prints, and measures it with the same load as
//! orchestrator-mcp.

#![expect(
    clippy::print_stdout,
    reason = "the bench reads the address from stdout"
)]

use std::net::SocketAddr;

/// Binds `127.0.0.1:PORT` (`PORT` from the environment, else any free
/// port), prints `listening on ADDRESS`, and serves `app` until killed.
///
/// # Errors
/// When `PORT` is not a port number, or the address cannot be bound.
pub async fn serve(app: axum::Router) -> std::io::Result<()> {
    let port = match std::env::var("PORT") {
        Ok(port) => port.parse::<u16>().map_err(|err| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("PORT must be a port number, not {port:?}: {err}"),
            )
        })?,
        Err(_) => 0,
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
