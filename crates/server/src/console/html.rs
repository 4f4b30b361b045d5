//! The console's pages as HTML: one layout, every value escaped, and Cedar
//! highlighted on the server so the page needs no script to show it.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use core_auth::Principal;
use oauth_kit::escape;

/// The pages, in the order the navigation lists them: path and title.
const PAGES: [(&str, &str); 5] = [
    ("/admin", "Overview"),
    ("/admin/policies", "Policies"),
    ("/admin/decisions", "Decisions"),
    ("/admin/what-if", "What if"),
    ("/admin/diff", "Diff"),
];

/// A console page: the navigation, who is signed in (with the sign-out
/// form), and `body`.
pub(super) fn page(current: &str, title: &str, admin: &super::Admin, body: &str) -> Response {
    let nav: String = PAGES
        .iter()
        .map(|(path, name)| {
            let here = if *path == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<a href=\"{path}\"{here}>{name}</a>")
        })
        .collect();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · orchestrator-mcp console</title>\
         <link rel=\"stylesheet\" href=\"/admin/console.css?v={version}\">\
         <script src=\"/admin/console.js?v={version}\" defer></script></head><body>\
         <header><span class=\"brand\">orchestrator-mcp</span><nav>{nav}</nav>\
         <form method=\"post\" action=\"/admin/sign-out\" class=\"who\">\
         <span id=\"principal\">{who}</span>{csrf}<button type=\"submit\">Sign out</button></form>\
         </header><main><h1>{title}</h1>{body}</main></body></html>",
        title = escape(title),
        who = escape(&format!(
            "{} ({})",
            admin.principal.id,
            admin.principal.kind.as_str()
        )),
        csrf = csrf_field(&admin.csrf),
        version = env!("CARGO_PKG_VERSION"),
    ))
    .into_response()
}

/// The hidden field every console form carries.
pub(super) fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(csrf)
    )
}

/// A page outside the console's layout (no one is let in yet).
fn bare(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · orchestrator-mcp console</title>\
             <link rel=\"stylesheet\" href=\"/admin/console.css?v={version}\"></head><body>\
             <main class=\"narrow\"><h1>{title}</h1>{body}</main></body></html>",
            title = escape(title),
            version = env!("CARGO_PKG_VERSION"),
        )),
    )
        .into_response()
}

/// What a browser without a session sees.
pub(super) fn sign_in_page() -> Response {
    bare(
        StatusCode::UNAUTHORIZED,
        "Sign in",
        "<p>The console shows the server's policies and decisions to its administrators.</p>\
         <p><a class=\"button\" id=\"sign-in\" href=\"/auth/login?for=console\">Sign in</a></p>",
    )
}

/// What a signed-in principal the policies refuse sees.
pub(super) fn forbidden_page(
    principal: &Principal,
    csrf: &str,
    scopes: &[String],
    json: bool,
) -> Response {
    let needs = if scopes.is_empty() {
        "a policy that permits the `admin` action on `Console::\"admin\"`".to_owned()
    } else {
        format!("one of these scopes: {}", scopes.join(", "))
    };
    if json {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({
                "error": "forbidden",
                "error_description": format!("The policies do not allow this account the console; it needs {needs}."),
            })),
        )
            .into_response();
    }
    bare(
        StatusCode::FORBIDDEN,
        "Not allowed",
        &format!(
            "<p id=\"forbidden\">The policies do not allow {} the admin console. It needs {}.</p>\
             <form method=\"post\" action=\"/admin/sign-out\">{}\
             <button type=\"submit\" id=\"sign-out\">Sign out</button></form>\
             <p><a href=\"/auth/login?for=console\">Sign in as someone else</a></p>",
            escape(&principal.id),
            escape(&needs),
            csrf_field(csrf),
        ),
    )
}

/// A message in a page: an error the person can act on.
pub(super) fn problem(message: &str) -> String {
    format!(
        "<p class=\"problem\" role=\"alert\">{}</p>",
        escape(message)
    )
}

/// Cedar source as HTML, with keywords, strings, comments, annotations and
/// entity types in spans the stylesheet colours.
pub(super) fn highlight_cedar(source: &str) -> String {
    const KEYWORDS: [&str; 16] = [
        "permit",
        "forbid",
        "when",
        "unless",
        "principal",
        "action",
        "resource",
        "context",
        "in",
        "has",
        "like",
        "is",
        "if",
        "then",
        "else",
        "true",
    ];
    const SCHEMA_WORDS: [&str; 8] = [
        "entity",
        "type",
        "appliesTo",
        "false",
        "namespace",
        "Set",
        "String",
        "Bool",
    ];
    let mut out = String::with_capacity(source.len() * 2);
    let chars: Vec<char> = source.chars().collect();
    let mut at = 0;
    let take = |from: usize, to: usize| -> String { chars[from..to].iter().collect() };
    while at < chars.len() {
        let c = chars[at];
        if c == '/' && chars.get(at + 1) == Some(&'/') {
            let end = chars[at..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(chars.len(), |n| at + n);
            out.push_str(&format!(
                "<span class=\"c\">{}</span>",
                escape(&take(at, end))
            ));
            at = end;
        } else if c == '"' {
            let mut end = at + 1;
            while end < chars.len() && chars[end] != '"' {
                if chars[end] == '\\' {
                    end += 1;
                }
                end += 1;
            }
            let end = (end + 1).min(chars.len());
            out.push_str(&format!(
                "<span class=\"s\">{}</span>",
                escape(&take(at, end))
            ));
            at = end;
        } else if c == '@' {
            let end = chars[at + 1..]
                .iter()
                .position(|c| !(c.is_alphanumeric() || *c == '_'))
                .map_or(chars.len(), |n| at + 1 + n);
            out.push_str(&format!(
                "<span class=\"a\">{}</span>",
                escape(&take(at, end))
            ));
            at = end;
        } else if c.is_alphabetic() || c == '_' {
            let end = chars[at..]
                .iter()
                .position(|c| !(c.is_alphanumeric() || *c == '_'))
                .map_or(chars.len(), |n| at + n);
            let word = take(at, end);
            let class =
                if KEYWORDS.contains(&word.as_str()) || SCHEMA_WORDS.contains(&word.as_str()) {
                    Some("k")
                } else if word.starts_with(char::is_uppercase) {
                    Some("t")
                } else {
                    None
                };
            match class {
                Some(class) => {
                    out.push_str(&format!("<span class=\"{class}\">{}</span>", escape(&word)))
                }
                None => out.push_str(&escape(&word)),
            }
            at = end;
        } else {
            out.push_str(&escape(&c.to_string()));
            at += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cedar_is_highlighted_and_escaped() {
        let html = highlight_cedar(
            "// a <b>\n@id(\"x\")\npermit (principal, action, resource == Tool::\"p\\\"<q>\");",
        );
        assert!(
            html.contains("<span class=\"c\">// a &lt;b&gt;</span>"),
            "{html}"
        );
        assert!(html.contains("<span class=\"a\">@id</span>"), "{html}");
        assert!(html.contains("<span class=\"k\">permit</span>"), "{html}");
        assert!(html.contains("<span class=\"t\">Tool</span>"), "{html}");
        assert!(
            html.contains("<span class=\"s\">&quot;p\\&quot;&lt;q&gt;&quot;</span>"),
            "{html}"
        );
        assert!(!html.contains("<q>"), "{html}");
    }
}
