//! The pages that ask: what-if (a decision for claims, a tool and its
//! arguments, as `policy explain` gives it), diff (a candidate policy file
//! replayed over the recent decisions), and signing out. Each form carries
//! the session's CSRF token, and a form posted from another site is
//! refused before it is read.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use oauth_kit::escape;
use policy::{PolicyEngine, RequestContext};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::html::{csrf_field, page, problem};
use super::{Admin, ConsoleState};
use crate::audit::DecisionRecord;
use crate::audit::replay::{self, Again, Recorded, Redecided};
use crate::policies::untrusted::{MAX_STATEMENT_TOKENS, on_big_stack, overlong_statement};
use crate::web::console_session;

/// The largest candidate policy file the diff page takes.
pub(super) const MAX_CANDIDATE_BYTES: usize = 256 * 1024;

/// Whether a posted form may be acted on: sent by one of the console's
/// own pages (the browser says so in `Sec-Fetch-Site` when it can) with
/// the session's CSRF token.
fn forged(headers: &HeaderMap, csrf: &str, sent: &str) -> Option<Response> {
    let site = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok());
    let same_origin = site.is_none_or(|site| site == "same-origin");
    if same_origin && constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
        return None;
    }
    Some(
        (
            StatusCode::FORBIDDEN,
            "This form was not sent by the console's own page (its CSRF token is missing or stale). Reload the page and send it again.",
        )
            .into_response(),
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The what-if form's fields.
#[derive(Default, Deserialize)]
pub(super) struct WhatIf {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    claims: String,
    #[serde(default)]
    tool: String,
    #[serde(default)]
    arguments: String,
}

/// `GET /admin/what-if`.
pub(super) async fn what_if_form(
    State(state): State<ConsoleState>,
    Extension(admin): Extension<Admin>,
) -> Response {
    let form = WhatIf {
        claims: r#"{"sub": "U2example", "scope": "tools:deploy"}"#.to_owned(),
        tool: "deploy_plan".to_owned(),
        arguments: r#"{"environment": "production"}"#.to_owned(),
        ..WhatIf::default()
    };
    what_if_page(&state, &admin, &form, "")
}

fn what_if_page(state: &ConsoleState, admin: &Admin, form: &WhatIf, answer: &str) -> Response {
    let mut tools: Vec<&str> = state.catalogue.tool_names();
    tools.sort_unstable();
    tools.dedup();
    let options: String = tools
        .iter()
        .map(|tool| {
            let selected = if *tool == form.tool { " selected" } else { "" };
            format!("<option value=\"{0}\"{selected}>{0}</option>", escape(tool))
        })
        .collect();
    let body = format!(
        "<p>The decision the active policies would make now, with its reasons, as \
         <code>orchestrator-mcp policy explain</code> gives it: for a call without an \
         approval, from no particular client address.</p>\
         <form method=\"post\" action=\"/admin/what-if\" id=\"what-if\" class=\"stack\">{csrf}\
         <label>Claims (the token's, as JSON)<textarea name=\"claims\" rows=\"4\" spellcheck=\"false\">{claims}</textarea></label>\
         <label>Tool <select name=\"tool\">{options}</select></label>\
         <label>Arguments (JSON)<textarea name=\"arguments\" rows=\"3\" spellcheck=\"false\">{arguments}</textarea></label>\
         <button type=\"submit\">Decide</button></form>{answer}",
        csrf = csrf_field(&admin.csrf),
        claims = escape(&form.claims),
        arguments = escape(&form.arguments),
    );
    page("/admin/what-if", "What if", admin, &body)
}

/// `POST /admin/what-if`.
pub(super) async fn what_if(
    State(state): State<ConsoleState>,
    Extension(admin): Extension<Admin>,
    headers: HeaderMap,
    Form(form): Form<WhatIf>,
) -> Response {
    if let Some(refusal) = forged(&headers, &admin.csrf, &form.csrf) {
        return refusal;
    }
    let answer = match decide(&state, &form) {
        Ok(answer) => answer,
        Err(message) => problem(&message),
    };
    what_if_page(&state, &admin, &form, &answer)
}

fn decide(state: &ConsoleState, form: &WhatIf) -> Result<String, String> {
    let claims: Map<String, Value> = serde_json::from_str(&form.claims).map_err(|err| {
        format!("The claims are not a JSON object ({err}); write them as {{\"sub\": \"U2x\", \"scope\": \"tools:ping\"}}.")
    })?;
    let principal = core_auth::principal_from_claims(&claims)
        .map_err(|err| format!("These claims make no principal: {err}"))?;
    let arguments: Value = if form.arguments.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        let value: Value = serde_json::from_str(&form.arguments)
            .map_err(|err| format!("The arguments are not JSON ({err})."))?;
        if !value.is_object() {
            return Err("The arguments must be a JSON object, as a tool call's are.".to_owned());
        }
        value
    };
    let target = crate::catalogue::tool_resource(state.catalogue.plugins(), &form.tool)
        .ok_or_else(|| {
            format!(
                "No loaded plugin provides a tool named `{}`; pick one from the list.",
                crate::catalogue::shorten(&form.tool)
            )
        })?;
    let engine = state.catalogue.policies();
    let decision = engine.decide(
        &Arc::new(principal),
        target.action(),
        &Arc::new(target.clone()),
        &RequestContext::now().borrowing_arguments(&arguments),
    );
    let verdict = if decision.allowed {
        "allowed"
    } else if decision.needs_approval() {
        "allowed with approval"
    } else {
        "denied"
    };
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            escape(&items.join(", "))
        }
    };
    let mut answer = format!(
        "<section class=\"answer\" id=\"answer\"><h2>Decision: <span id=\"verdict\" class=\"{class}\">{verdict}</span></h2>\
         <dl><dt>Action</dt><dd>{action} on {kind} <code>{name}</code> ({plugin})</dd>\
         <dt>Deciding policies</dt><dd id=\"deciding\">{policies}</dd>",
        class = verdict.replace(' ', "-"),
        action = target.action().name(),
        kind = target.kind.entity_type(),
        name = escape(&target.name),
        plugin = escape(&target.plugin),
        policies = list(&decision.policies),
    );
    if !decision.allowed {
        answer.push_str(&format!(
            "<dt>Scopes that would allow it</dt><dd id=\"step-up\">{}</dd>",
            list(&decision.accepted_scopes)
        ));
    }
    if decision.needs_approval() {
        answer.push_str(&format!(
            "<dt>Allowed once a person approves, by</dt><dd id=\"approval\">{}</dd>",
            list(&decision.approval_policies)
        ));
    }
    if !decision.errors.is_empty() {
        answer.push_str(&format!(
            "<dt>Errors</dt><dd>{}</dd>",
            list(&decision.errors)
        ));
    }
    answer.push_str("</dl></section>");
    Ok(answer)
}

/// The diff form's fields.
#[derive(Default, Deserialize)]
pub(super) struct Candidate {
    #[serde(default)]
    csrf: String,
    /// The file the candidate replaces or adds (`tools.cedar`).
    #[serde(default)]
    file: String,
    /// Its text.
    #[serde(default)]
    policy: String,
}

/// `GET /admin/diff`.
pub(super) async fn diff_form(
    State(state): State<ConsoleState>,
    Extension(admin): Extension<Admin>,
) -> Response {
    let engine = state.catalogue.policies();
    let form = Candidate {
        file: "tools.cedar".to_owned(),
        policy: engine
            .files()
            .iter()
            .find(|(name, _)| name == "tools.cedar")
            .map(|(_, text)| text.clone())
            .unwrap_or_default(),
        ..Candidate::default()
    };
    diff_page(&state, &admin, &form, "")
}

fn diff_page(state: &ConsoleState, admin: &Admin, form: &Candidate, answer: &str) -> Response {
    let engine = state.catalogue.policies();
    let files: String = engine
        .files()
        .iter()
        .map(|(name, _)| format!("<option value=\"{0}\">", escape(name)))
        .collect();
    let body = format!(
        "<p>Paste or upload a candidate for one policy file; it replaces the file of that \
         name in the active set (or joins it), and the recent decisions are decided again \
         under the result. <code>orchestrator-mcp policy diff</code> also proves what the \
         change does for every request.</p>\
         <form method=\"post\" action=\"/admin/diff\" id=\"diff\" class=\"stack\">{csrf}\
         <label>File <input name=\"file\" list=\"policy-files\" value=\"{file}\" required></label>\
         <datalist id=\"policy-files\">{files}</datalist>\
         <label>Upload <input type=\"file\" id=\"upload\" accept=\".cedar,.cedarschema\"></label>\
         <label>Policy text<textarea name=\"policy\" id=\"policy\" rows=\"14\" spellcheck=\"false\">{policy}</textarea></label>\
         <button type=\"submit\">Replay</button></form>{answer}",
        csrf = csrf_field(&admin.csrf),
        file = escape(&form.file),
        policy = escape(&form.policy),
    );
    page("/admin/diff", "Diff", admin, &body)
}

/// `POST /admin/diff`.
pub(super) async fn diff(
    State(state): State<ConsoleState>,
    Extension(admin): Extension<Admin>,
    headers: HeaderMap,
    Form(form): Form<Candidate>,
) -> Response {
    if let Some(refusal) = forged(&headers, &admin.csrf, &form.csrf) {
        return refusal;
    }
    let answer = match replay_candidate(&state, &admin, &form).await {
        Ok(answer) => answer,
        Err(message) => problem(&message),
    };
    diff_page(&state, &admin, &form, &answer)
}

/// Whether `name` may name a file of the policy directory.
fn valid_file_name(name: &str) -> bool {
    let stem_ok = |stem: &str| {
        !stem.is_empty()
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !stem.starts_with('.')
    };
    name == "schema.cedarschema" || name.strip_suffix(".cedar").is_some_and(stem_ok)
}

async fn replay_candidate(
    state: &ConsoleState,
    admin: &Admin,
    form: &Candidate,
) -> Result<String, String> {
    if !valid_file_name(&form.file) {
        return Err(format!(
            "`{}` is not a policy file name: use letters, digits, `-`, `_` and `.`, ending in `.cedar` (or `schema.cedarschema`).",
            crate::catalogue::shorten(&form.file)
        ));
    }
    if form.policy.len() > MAX_CANDIDATE_BYTES {
        return Err(format!(
            "The candidate is {} bytes; the console takes at most {MAX_CANDIDATE_BYTES}. Use `orchestrator-mcp policy diff` for larger sets.",
            form.policy.len()
        ));
    }
    if let Some(line) = overlong_statement(&form.policy) {
        return Err(format!(
            "The statement starting on line {line} of the candidate has more than {MAX_STATEMENT_TOKENS} tokens; the console takes policies of ordinary size. Split it into smaller policies."
        ));
    }
    let Ok(_permit) = Arc::clone(&state.replays).try_acquire_owned() else {
        return Err(
            "Another candidate is being replayed right now; send this one again in a moment."
                .to_owned(),
        );
    };
    let job = Job {
        active: state.catalogue.policies(),
        records: state
            .catalogue
            .audit()
            .since(0)
            .into_iter()
            .map(|(_, record)| record)
            .collect(),
        file: form.file.clone(),
        text: form.policy.clone(),
        show_records: admin.reads_decisions,
    };
    on_big_stack("console-replay", move || job.run())
        .await
        .map_err(|err| format!("The replay did not run: {err}"))?
}

/// A candidate replay, run on its own thread.
struct Job {
    active: Arc<PolicyEngine>,
    records: Vec<DecisionRecord>,
    file: String,
    text: String,
    /// Whether the answer may list the records (else only the counts).
    show_records: bool,
}

impl Job {
    /// Loads the active files with the candidate in place of (or beside)
    /// its namesake, decides every recent record under both sets, and
    /// lists those the two decide differently.
    fn run(self) -> Result<String, String> {
        let dir = tempfile::Builder::new()
            .prefix("orchestrator-mcp-candidate-")
            .tempdir()
            .map_err(|_| {
                "Could not make room for the candidate (the temporary directory is not writable)."
                    .to_owned()
            })?;
        for (name, text) in self.active.files() {
            std::fs::write(dir.path().join(name), text).map_err(|_| {
                "Could not copy the active policies to a temporary directory.".to_owned()
            })?;
        }
        std::fs::write(dir.path().join(&self.file), &self.text)
            .map_err(|_| "Could not write the candidate to a temporary directory.".to_owned())?;
        let candidate = PolicyEngine::load_dir(dir.path()).map_err(|err| {
            // Name the file as the person knows it, not where it was written.
            let prefix = format!("{}/", dir.path().display());
            format!(
                "The candidate does not load: {}",
                err.to_string().replace(&prefix, "")
            )
        })?;
        let mut counts = Counts::default();
        let mut rows = String::new();
        for record in &self.records {
            let Ok(recorded) =
                serde_json::to_value(record).and_then(serde_json::from_value::<Recorded>)
            else {
                counts.skipped += 1;
                continue;
            };
            let (was, now) = match (
                replay::decide_again(&self.active, &recorded),
                replay::decide_again(&candidate, &recorded),
            ) {
                (Redecided::Decided(was), Redecided::Decided(now)) => (was, now),
                (Redecided::NotADecision, _) | (_, Redecided::NotADecision) => continue,
                _ => {
                    counts.skipped += 1;
                    continue;
                }
            };
            if was.outcome == now.outcome {
                counts.unchanged += 1;
                continue;
            }
            match (was.allowed, now.allowed) {
                (false, true) => counts.allows += 1,
                (true, false) => counts.denials += 1,
                _ => counts.other += 1,
            }
            if self.show_records {
                rows.push_str(&change_row(&recorded, &was, &now));
            }
        }
        let table = if !self.show_records {
            "<p id=\"no-records\">Which decisions would change is shown to those the policies \
             allow to read the decision records (<code>orchestrator://decisions</code>).</p>"
                .to_owned()
        } else if rows.is_empty() {
            "<p id=\"no-changes\">No recent decision would change.</p>".to_owned()
        } else {
            format!(
                "<div class=\"scroll\"><table id=\"changes\"><thead><tr><th>Time</th><th>Principal</th>\
                 <th>Target</th><th>Arguments</th><th>Change</th><th>Now decided by</th>\
                 <th>Then decided by</th></tr></thead><tbody>{rows}</tbody></table></div>"
            )
        };
        let Counts {
            unchanged,
            allows,
            denials,
            other,
            skipped,
        } = counts;
        let replayed = unchanged + allows + denials + other;
        Ok(format!(
            "<section class=\"answer\" id=\"answer\"><h2>Replay</h2>\
             <p id=\"counts\">{replayed} replayed: {unchanged} unchanged, {allows} newly allowed, \
             {denials} newly denied, {other} otherwise changed; {skipped} not replayable</p>\
             <p class=\"hint\">Each recent decision is decided again by the active policies \
             and by the candidate set, and compared.</p>\
             <p class=\"mono\">active {}<br>candidate {}</p>{table}</section>",
            escape(self.active.hash()),
            escape(candidate.hash())
        ))
    }
}

/// What a replay counted.
#[derive(Default)]
struct Counts {
    unchanged: usize,
    allows: usize,
    denials: usize,
    other: usize,
    skipped: usize,
}

/// One decision the candidate changes, as a table row.
fn change_row(recorded: &Recorded, was: &Again, now: &Again) -> String {
    let deciding = |again: &Again| {
        if again.deciding.is_empty() {
            "none (no policy permits)".to_owned()
        } else {
            escape(&again.deciding.join(", "))
        }
    };
    format!(
        "<tr><td class=\"mono\">{}</td><td>{} <small>{}</small></td><td class=\"mono\">{}</td>\
         <td>{}</td><td class=\"change\">{} → {}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
        escape(&recorded.time),
        escape(&recorded.principal_id),
        escape(&recorded.principal_kind),
        escape(&recorded.tool),
        escape(&now.arguments_digest),
        was.outcome,
        now.outcome,
        deciding(was),
        deciding(now),
    )
}

/// The sign-out form's field.
#[derive(Deserialize)]
pub(super) struct SignOut {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/sign-out`: ends the session and forgets the cookie. Open
/// to every session, let in or not, with its CSRF token.
pub(super) async fn sign_out(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    form: Result<Form<SignOut>, FormRejection>,
) -> Response {
    let secure = state.base.for_request(&headers).starts_with("https://");
    let Some(session) = state.sessions.find(&headers, secure) else {
        return super::html::sign_in_page();
    };
    let sent = form.map(|Form(form)| form.csrf).unwrap_or_default();
    if let Some(refusal) = forged(&headers, &session.csrf, &sent) {
        return refusal;
    }
    state.sessions.close(&headers, secure);
    (
        StatusCode::SEE_OTHER,
        [
            (LOCATION, HeaderValue::from_static("/admin")),
            (SET_COOKIE, console_session::expired_cookie(secure)),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_policy_file_names_are_taken() {
        for good in [
            "tools.cedar",
            "my-team_2.cedar",
            "a.b.cedar",
            "schema.cedarschema",
        ] {
            assert!(valid_file_name(good), "{good}");
        }
        for bad in [
            "../tools.cedar",
            "/etc/passwd",
            ".cedar",
            ".hidden.cedar",
            "tools.txt",
            "dir/tools.cedar",
            "other.cedarschema",
            "",
        ] {
            assert!(!valid_file_name(bad), "{bad}");
        }
    }
}
