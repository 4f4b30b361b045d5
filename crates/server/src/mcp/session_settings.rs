//! Session settings: what an MCP client may narrow for its own session,
//! read from the `/mcp` URL's query.
//!
//! Smithery passes a session's configuration (`configSchema` in
//! `smithery.yaml`) as query parameters named after its properties
//! (`/mcp?readOnly=true&tools=ping,orchestrate`), and in its older form as
//! one `config` parameter holding the settings as base64 JSON. Both are
//! read. The settings can only take tools away from what the policies
//! allow the caller, never add any, so they need no authorisation of
//! their own.

use std::collections::BTreeSet;

use axum::extract::Query;
use base64::Engine as _;
use serde_json::Value;

pub(crate) use crate::catalogue::SessionSettings;

/// The query parameter names, as `smithery.yaml`'s `configSchema` names
/// the properties.
pub(crate) const READ_ONLY: &str = "readOnly";
pub(crate) const TOOLS: &str = "tools";
const CONFIG: &str = "config";

impl SessionSettings {
    /// Reads the settings from a request URL's query; `Err` says which
    /// setting is malformed and how to write it. Other parameters are
    /// ignored.
    pub(crate) fn from_uri(uri: &axum::http::Uri) -> Result<Self, String> {
        if uri.query().is_none() {
            return Ok(Self::default());
        }
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|err| format!("the URL's query is not readable: {err}"))?;
        let mut settings = Self::default();
        for (key, value) in pairs {
            match key.as_str() {
                READ_ONLY => settings.read_only = parse_bool(&value)?,
                TOOLS => settings.tools = parse_tools(&value),
                CONFIG => settings.merge_config(&value)?,
                _ => {}
            }
        }
        Ok(settings)
    }

    /// `config=<base64 JSON object>`.
    fn merge_config(&mut self, encoded: &str) -> Result<(), String> {
        let bad = |why: &str| {
            format!(
                "session setting `config` {why}; send a base64-encoded JSON object such as \
                 {{\"readOnly\": true}}"
            )
        };
        // A query turns an unencoded `+` into a space; base64 never has one.
        let encoded = encoded.trim().replace(' ', "+");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&encoded)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&encoded))
            .map_err(|_| bad("is not base64"))?;
        let Ok(Value::Object(config)) = serde_json::from_slice::<Value>(&bytes) else {
            return Err(bad("is not a JSON object"));
        };
        match config.get(READ_ONLY) {
            None | Some(Value::Null) => {}
            Some(Value::Bool(read_only)) => self.read_only = *read_only,
            Some(other) => {
                return Err(format!(
                    "session setting `readOnly` is {other}; use true or false"
                ));
            }
        }
        match config.get(TOOLS) {
            None | Some(Value::Null) => {}
            Some(Value::String(tools)) => self.tools = parse_tools(tools),
            Some(Value::Array(items)) => {
                let names: BTreeSet<String> = items
                    .iter()
                    .map(|item| {
                        item.as_str().map(str::to_owned).ok_or_else(|| {
                            format!(
                                "session setting `tools` holds {item}; list tool names as strings"
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?;
                self.tools = Some(names).filter(|names| !names.is_empty());
            }
            Some(other) => {
                return Err(format!(
                    "session setting `tools` is {other}; use tool names separated by commas"
                ));
            }
        }
        Ok(())
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        other => Err(format!(
            "session setting `readOnly` is `{other}`; use true or false"
        )),
    }
}

/// Comma-separated names; none (an empty value) narrows nothing.
fn parse_tools(value: &str) -> Option<BTreeSet<String>> {
    let names: BTreeSet<String> = value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    Some(names).filter(|names| !names.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(uri: &str) -> Result<SessionSettings, String> {
        SessionSettings::from_uri(&uri.parse().expect("uri"))
    }

    fn tools(names: &[&str]) -> Option<BTreeSet<String>> {
        Some(names.iter().map(|name| (*name).to_owned()).collect())
    }

    #[test]
    fn query_parameters_narrow_the_session() {
        assert_eq!(settings("/mcp"), Ok(SessionSettings::default()));
        let narrowed =
            settings("/mcp?readOnly=true&tools=ping,%20orchestrate&other=x").expect("valid");
        assert!(narrowed.read_only);
        assert_eq!(narrowed.tools, tools(&["orchestrate", "ping"]));
        assert!(narrowed.admits("ping", true));
        assert!(!narrowed.admits("orchestrate", false));
        assert!(!narrowed.admits("review_code", true));
        // Smithery sends a setting's default, and an empty list is no list.
        assert_eq!(
            settings("/mcp?readOnly=false&tools="),
            Ok(SessionSettings::default())
        );
    }

    #[test]
    fn a_base64_config_parameter_is_read_too() {
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(r#"{"readOnly": true, "tools": ["ping"], "unrelated": 1}"#);
        let narrowed = settings(&format!("/mcp?config={encoded}")).expect("valid");
        assert!(narrowed.read_only);
        assert_eq!(narrowed.tools, tools(&["ping"]));
        // `+` in standard base64, sent without percent-encoding.
        let encoded = base64::engine::general_purpose::STANDARD.encode(r#"{"tools": "ping~~~"}"#);
        assert!(encoded.contains('+'), "{encoded}");
        let narrowed = settings(&format!("/mcp?config={encoded}")).expect("valid");
        assert_eq!(narrowed.tools, tools(&["ping~~~"]));
    }

    #[test]
    fn malformed_settings_say_what_to_send() {
        let err = settings("/mcp?readOnly=maybe").expect_err("not a boolean");
        assert_eq!(
            err,
            "session setting `readOnly` is `maybe`; use true or false"
        );
        let err = settings("/mcp?config=%%%").expect_err("not base64");
        assert!(
            err.starts_with("session setting `config` is not base64"),
            "{err}"
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(r#"{"tools": 7}"#);
        let err = settings(&format!("/mcp?config={encoded}")).expect_err("not names");
        assert!(err.contains("`tools` is 7"), "{err}");
    }

    #[test]
    fn refusals_name_the_setting_that_excludes_the_tool() {
        let read_only = settings("/mcp?readOnly=true").expect("valid");
        let refusal = read_only.refusal("fix_code", false).expect("refused");
        assert!(refusal.contains("readOnly=true"), "{refusal}");
        assert_eq!(read_only.refusal("ping", true), None);
        let listed = settings("/mcp?tools=ping").expect("valid");
        let refusal = listed.refusal("orchestrate", true).expect("refused");
        assert!(refusal.contains("(ping)"), "{refusal}");
    }
}
