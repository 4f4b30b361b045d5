//! `session_settings`: the query of a `/mcp` URL, read for the settings a
//! client narrows its session with (`readOnly`, `tools`, or both as the
//! base64 JSON `config`).
//!
//! The input is the query, with the bytes a URL cannot hold
//! percent-encoded (`%` itself is kept, so the fuzzer also writes broken
//! escapes).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use server::fuzzing::{self, Narrowing};

/// The `session_settings` target.
pub fn session_settings(data: &[u8]) {
    let uri = mcp_uri(&query(data));
    match fuzzing::session_settings(&uri) {
        Ok(narrowing) => {
            assert_ne!(
                narrowing.tools.as_ref().map(|tools| tools.len()),
                Some(0),
                "an empty tool list narrows nothing, so it is no list: {uri}"
            );
            sent_as_config_reads_the_same(&narrowing);
        }
        Err(message) => assert!(!message.is_empty(), "a refusal says why: {uri}"),
    }
}

/// Settings that were accepted in any form are accepted in the `config`
/// form too, and read back the same: a client can always say what it got.
fn sent_as_config_reads_the_same(narrowing: &Narrowing) {
    let config = serde_json::json!({
        "readOnly": narrowing.read_only,
        "tools": narrowing.tools,
    });
    let uri = mcp_uri(&format!("config={}", STANDARD.encode(config.to_string())));
    assert_eq!(
        fuzzing::session_settings(&uri).as_ref(),
        Ok(narrowing),
        "{config} sent as {uri}"
    );
}

fn mcp_uri(query: &str) -> http::Uri {
    format!("/mcp?{query}")
        .parse()
        .expect("a query of URL characters makes a valid URI")
}

/// `data` with every byte a URL's query cannot hold percent-encoded.
fn query(data: &[u8]) -> String {
    let mut query = String::with_capacity(data.len());
    for &byte in data {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&byte) {
            query.push(char::from(byte));
        } else {
            query.push_str(&format!("%{byte:02X}"));
        }
    }
    query
}
