//! `smithery.yaml`: how Smithery builds and runs the server.

use serde_json::{Value, json};

use super::Inputs;

/// The session settings a Smithery user may set, as JSON Schema. Smithery
/// passes each as a query parameter of the same name on `/mcp`, which the
/// server reads (its `session.rs`). They only narrow what the policies allow
/// the caller, so none is a secret and none needs authorising.
fn config_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "readOnly": {
                "type": "boolean",
                "title": "Read-only tools",
                "description": "Only list and call tools that change nothing (readOnlyHint).",
                "default": false,
            },
            "tools": {
                "type": "string",
                "title": "Tools",
                "description": "Only these tools, by name, separated by commas (ping,review_code). Empty: every tool the policies allow you.",
                "default": "",
            },
        },
        "additionalProperties": false,
    })
}

pub(crate) fn smithery_yaml(inputs: &Inputs) -> String {
    let document = json!({
        "runtime": "container",
        "build": {
            "dockerfile": "Dockerfile",
            "dockerBuildPath": ".",
        },
        "startCommand": {
            "type": "http",
            "configSchema": config_schema(),
            "exampleConfig": { "readOnly": true, "tools": "ping,review_code" },
        },
    });
    let mut out = format!(
        "# {banner}\n#\n# Smithery builds the Dockerfile and runs the container, which serves MCP over\n# \
         Streamable HTTP at /mcp on $PORT ({port} unless Smithery sets PORT) and binds\n# every \
         interface. Its health check is the Dockerfile's HEALTHCHECK\n# (`orchestrator-mcp \
         healthcheck`, which asks GET /health). Callers sign in with\n# OAuth: they send \
         `Authorization: Bearer <token>` and find the authorization\n# server at \
         /.well-known/oauth-protected-resource. The server's settings\n# (DESCOPE_PROJECT_ID, \
         PUBLIC_URL and the rest of .env.example) and its secrets\n# \
         (DESCOPE_CLIENT_SECRET) belong in the deployment's environment, never here.\n# \
         A session may narrow its tools with the settings below, which Smithery\n# passes \
         as query parameters on /mcp; they never widen what the policies allow.\n",
        banner = super::banner(),
        port = inputs.port,
    );
    write_yaml(&mut out, &document, 0);
    out
}

/// Writes `value` as block-style YAML. Strings are written as JSON strings,
/// which YAML reads as double-quoted scalars.
fn write_yaml(out: &mut String, value: &Value, indent: usize) {
    let Value::Object(object) = value else {
        return;
    };
    // Keys in a fixed, readable order: the schema's own words first.
    let mut keys: Vec<&String> = object.keys().collect();
    keys.sort_by_key(|key| (key_rank(key), key.as_str()));
    for key in keys {
        let child = &object[key.as_str()];
        let pad = " ".repeat(indent);
        match child {
            Value::Object(inner) if !inner.is_empty() => {
                out.push_str(&format!("{pad}{key}:\n"));
                write_yaml(out, child, indent + 2);
            }
            _ => out.push_str(&format!("{pad}{key}: {}\n", inline(child))),
        }
    }
}

fn key_rank(key: &str) -> u8 {
    match key {
        "runtime" | "type" => 0,
        "build" | "dockerfile" => 1,
        "startCommand" | "configSchema" => 2,
        _ => 3,
    }
}

/// A value on one line: scalars, and arrays and empty maps in flow style.
fn inline(value: &Value) -> String {
    match value {
        Value::Object(object) if object.is_empty() => "{}".to_owned(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}
