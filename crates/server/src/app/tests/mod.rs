//! The application's routers, called in process through
//! `tower::ServiceExt::oneshot`: no socket, no binary, no plugin. The
//! server's own tools (`audit_log`, `server_config`, `reload_policies`) are
//! the tool backend, decided by the shipped policies.
//!
//! One module per door and per layer; the end-to-end tests run the same
//! surfaces through the real binary.

mod auth;
mod console;
mod direct;
mod mcp;
mod oauth;
mod rest;

use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt as _;

use super::App;
use crate::settings::tests_support;

/// The static demo token of the embedded defaults.
const DEMO_TOKEN: &str = "demo_token_12345";

/// An application on its own sandbox: the shipped policies, an empty plugin
/// directory, its own data directory.
struct TestApp {
    router: Router,
    _app: App,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// The embedded defaults with `extra` TOML over them.
    async fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("sandbox");
        let policies = dir.path().join("policies");
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies"),
            &policies,
        );
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins).expect("plugin dir");
        let sandboxed = format!(
            "[policies]\ndir = {policies:?}\nwatch = false\n\
             [plugins]\ndir = {plugins:?}\n\
             [demo_auth]\ndata_dir = {data:?}\n",
            data = dir.path().join("data"),
        );
        let settings = tests_support::settings(&format!("{sandboxed}{extra}"));
        let app = App::build(&settings, 8080)
            .await
            .expect("the application builds");
        Self {
            router: app.router(),
            _app: app,
            _dir: dir,
        }
    }

    /// Sends `request` and reads the whole answer.
    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("routers answer every request");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
            .await
            .expect("the body reads");
        Answer {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}

/// What a request got back.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|err| panic!("{err}: {}", self.text))
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }
}

/// A request to `uri` as a client on this machine sends it.
fn request(method: &str, uri: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "localhost:8080")
}

/// `POST uri` with a JSON body and the demo token.
fn post_json(uri: &str, body: &str) -> Request<Body> {
    request("POST", uri)
        .header(header::AUTHORIZATION, format!("Bearer {DEMO_TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

/// A demo principal holding only `scopes`, as configuration TOML.
fn demo_scopes(scopes: &[&str]) -> String {
    let scopes: Vec<String> = scopes.iter().map(|scope| format!("{scope:?}")).collect();
    format!("[demo]\nscopes = [{}]\n", scopes.join(", "))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}
