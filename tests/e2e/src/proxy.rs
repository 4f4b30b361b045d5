//! A local HTTP proxy that adds a bearer token to every request it
//! forwards, for clients that cannot send headers of their own (the
//! official MCP conformance suite): their requests still go through the
//! server's real authentication. Everything else (the `Host` and `Origin`
//! the client sent, the body, streamed answers) passes through unchanged.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Headers that belong to one connection, not to the request: never
/// forwarded.
const HOP_BY_HOP: [HeaderName; 5] = [
    header::CONNECTION,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::AUTHORIZATION,
];

/// The most a forwarded request body may hold.
const MAX_BODY: usize = 16 * 1024 * 1024;

#[derive(Clone)]
struct Upstream {
    client: reqwest::Client,
    /// The server's base URL (`http://127.0.0.1:PORT`).
    base: String,
    token: String,
}

/// A running proxy, stopped when dropped.
pub struct TokenProxy {
    address: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TokenProxy {
    /// Starts a proxy on a free loopback port forwarding to `base` with
    /// `Authorization: Bearer <token>`.
    pub fn start(base: &str, token: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let upstream = Upstream {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("proxy client"),
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let app = Router::new().fallback(forward).with_state(upstream);
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            address,
            runtime: Some(runtime),
        }
    }

    /// The proxy's URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

impl Drop for TokenProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn forward(State(upstream): State<Upstream>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "proxy: body too large").into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let mut outgoing = upstream
        .client
        .request(parts.method, format!("{}{path}", upstream.base))
        .bearer_auth(&upstream.token)
        .body(body);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(name) {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(err) => {
            return (StatusCode::BAD_GATEWAY, format!("proxy: {err}")).into_response();
        }
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !HOP_BY_HOP.contains(name) {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap_or_else(|err| (StatusCode::BAD_GATEWAY, format!("proxy: {err}")).into_response())
}
