//! `GET /health`.

use e2e::{Sandbox, Server};
use insta::assert_json_snapshot;

use crate::util::{canonical, get};

#[test]
fn health_reports_version_mode_plugins_tools_and_policy_hash() {
    let server = Server::start(&Sandbox::new());
    let reply = get(&server, "/health");
    assert_eq!(reply.status, 200);
    let hash = reply.body["policy"]["hash"].as_str().expect("hash");
    assert!(
        hash.starts_with("sha256:") && hash.len() == 7 + 64,
        "{hash}"
    );
    assert_json_snapshot!("health", canonical(&reply.body), {
        ".policy.hash" => "[hash]",
        ".jwks.fetched_at" => "[time]",
        ".version" => "[version]",
    });
}

#[test]
fn the_policy_hash_follows_the_policy_files() {
    let first = Sandbox::new();
    let second = Sandbox::new();
    second.write(
        "policies/extra.cedar",
        "@id(\"extra\")\nforbid (principal, action, resource == Tool::\"nothing\");\n",
    );
    let a = Server::start(&first);
    let b = Server::start(&second);
    let hash_a = get(&a, "/health").body["policy"]["hash"].clone();
    let hash_b = get(&b, "/health").body["policy"]["hash"].clone();
    assert_ne!(hash_a, hash_b);
}
