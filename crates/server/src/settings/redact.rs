//! Secrets in the effective settings are shown only as set or not set.

/// The settings that hold credentials: shown only as set or not set.
/// `[]` stands for every element of a list.
const SECRET_KEYS: &[&str] = &[
    "descope.client_secret",
    "demo.token",
    "approvals.key",
    "redis.url",
    "metrics.token",
    "demo_auth.access_keys[].client_secret",
];

/// What a secret setting shows instead of its value.
pub(super) const REDACTED: &str = "<redacted>";

/// Replaces every secret in the merged settings with [`REDACTED`] (an empty
/// one stays empty, so "not set" is still visible).
pub(super) fn redact(settings: &mut serde_json::Value) {
    fn walk(value: &mut serde_json::Value, path: &[&str]) {
        let Some((first, rest)) = path.split_first() else {
            if value.as_str().is_some_and(|text| !text.is_empty()) {
                *value = serde_json::Value::String(REDACTED.to_owned());
            }
            return;
        };
        let (key, every) = match first.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (*first, false),
        };
        let Some(child) = value.get_mut(key) else {
            return;
        };
        match (every, child) {
            (true, serde_json::Value::Array(items)) => {
                for item in items {
                    walk(item, rest);
                }
            }
            (false, child) => walk(child, rest),
            (true, _) => {}
        }
    }
    for key in SECRET_KEYS {
        let path: Vec<&str> = key.split('.').collect();
        walk(settings, &path);
    }
}
