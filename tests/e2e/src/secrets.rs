//! What must never appear in a server's logs: the test credentials, token
//! and secret values in form or JSON fields, and anything shaped like a
//! JWT. Every [`crate::Server`] checks its logs for these when dropped.

use crate::DEMO_TOKEN;

/// Credentials the tests hand the server, by what they are.
const KNOWN: &[(&str, &str)] = &[
    ("the demo token", DEMO_TOKEN),
    ("a demo access key", "demo_access_key_12345"),
    ("a Descope access key", crate::descope::ACCESS_KEY),
    ("a load-test access key", "load-secret-"),
];

/// Field names whose values are secrets, as forms and JSON carry them.
const SECRET_FIELDS: &[&str] = &[
    "client_secret",
    "refresh_token",
    "access_token",
    "code_verifier",
    "id_token",
];

/// Each secret `logs` holds, described with the line it is on (the secret
/// itself cut short, so the report does not repeat it whole).
pub fn leaked_secrets(logs: &str) -> Vec<String> {
    let mut leaks = Vec::new();
    for (number, line) in logs.lines().enumerate() {
        let mut found = |what: &str| leaks.push(format!("line {}: {what}", number + 1));
        for (what, secret) in KNOWN {
            if line.contains(secret) {
                found(what);
            }
        }
        for field in SECRET_FIELDS {
            let valued = [
                format!("{field}="),
                format!("\"{field}\":\""),
                format!("{field}: "),
            ];
            if valued.iter().any(|form| line.contains(form.as_str())) {
                found(&format!("a `{field}` value"));
            }
        }
        if let Some(jwt) = jwt_in(line) {
            found(&format!("a JWT starting {}…", &jwt[..jwt.len().min(12)]));
        }
    }
    leaks
}

/// The first run of three dot-separated base64url segments starting with
/// a JSON object (`eyJ`), as a JWT is written.
fn jwt_in(line: &str) -> Option<&str> {
    let is_segment_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut rest = line;
    while let Some(start) = rest.find("eyJ") {
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| !is_segment_char(c) && c != '.')
            .unwrap_or(candidate.len());
        let token = &candidate[..end];
        let segments: Vec<&str> = token.split('.').collect();
        if segments.len() >= 3 && segments[..3].iter().all(|s| s.len() >= 8) {
            return Some(token);
        }
        rest = &candidate[3..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_fields_and_jwts_are_found() {
        let logs = "ok line\n\
            {\"fields\":{\"message\":\"auth\",\"token\":\"demo_token_12345\"}}\n\
            body grant_type=refresh_token&refresh_token=abcdef\n\
            header eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl trailing\n";
        let leaks = leaked_secrets(logs);
        assert_eq!(leaks.len(), 3, "{leaks:?}");
        assert!(leaks[0].starts_with("line 2: the demo token"));
        assert!(leaks[1].contains("`refresh_token` value"));
        assert!(leaks[2].contains("a JWT starting eyJhbGciOiJS"));
    }

    #[test]
    fn ordinary_lines_are_clean() {
        let logs = "{\"fields\":{\"message\":\"authenticated\",\"principal\":\"demo-user\"}}\n\
            grant_type=refresh_token requested\n\
            request id 6f1c2a9e-1d2b-4c3d-9e8f-0a1b2c3d4e5f\n";
        assert_eq!(leaked_secrets(logs), Vec::<String>::new());
    }
}
