//! The pages that show: the overview, the policies and the decisions (with
//! the JSON the live view polls).

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Json, Response};
use oauth_kit::escape;
use serde::Deserialize;
use serde_json::json;

use super::html::{highlight_cedar, page};
use super::{Admin, ConsoleState};
use crate::audit::DecisionRecord;

/// `GET /admin`: health, plugins, tools, and the policy set.
pub(super) async fn overview(
    State(state): State<ConsoleState>,
    Extension(admin): Extension<Admin>,
) -> Response {
    let engine = state.catalogue.policies();
    let reload = state.catalogue.policy_store().last_reload();
    let status = if reload.as_ref().is_some_and(|reload| reload.error.is_some()) {
        "degraded: the last policy reload was rejected; the previous policies serve"
    } else {
        "ok"
    };
    let reload_text = match &reload {
        None => "none since start-up".to_owned(),
        Some(reload) => format!(
            "{} ({:?}, {}){}",
            reload.time,
            reload.trigger,
            reload.outcome,
            reload
                .error
                .as_ref()
                .map(|error| format!(": {error}"))
                .unwrap_or_default()
        ),
    };
    let plugins: String = state
        .catalogue
        .plugins()
        .plugins()
        .iter()
        .map(|plugin| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&plugin.name),
                escape(&plugin.version),
                escape(&plugin.tools.join(", "))
            )
        })
        .collect();
    let tools = state.catalogue.tool_names();
    let body = format!(
        "<section class=\"cards\">\
         <div class=\"card\"><h2>Status</h2><p id=\"status\">{status}</p>\
         <p>version {version}</p></div>\
         <div class=\"card\"><h2>Policies</h2><p id=\"policy-hash\" class=\"mono\">{hash}</p>\
         <p>{count} enforced, {shadow} shadow, {scopes} scopes</p>\
         <p>Last reload: <span id=\"last-reload\">{reload}</span></p></div></section>\
         <h2>Plugins</h2><div class=\"scroll\"><table id=\"plugins\"><thead><tr><th>Plugin</th>\
         <th>Version</th><th>Tools</th></tr></thead><tbody>{plugins}</tbody></table></div>\
         <h2>Tools ({tool_count})</h2><p id=\"tools\" class=\"mono\">{tools}</p>",
        status = escape(status),
        version = env!("CARGO_PKG_VERSION"),
        hash = escape(engine.hash()),
        count = engine.policy_count(),
        shadow = engine.shadow_policies().len(),
        scopes = engine.scopes().len(),
        reload = escape(&reload_text),
        tool_count = tools.len(),
        tools = escape(&tools.join(", ")),
    );
    page("/admin", "Overview", &admin, &body)
}

/// `GET /admin/policies`: every file, highlighted; the scope catalogue;
/// the shadow policies.
pub(super) async fn policies(
    State(state): State<ConsoleState>,
    Extension(admin): Extension<Admin>,
) -> Response {
    let engine = state.catalogue.policies();
    let files: String = engine
        .files()
        .iter()
        .map(|(name, text)| {
            format!(
                "<details class=\"file\" open><summary class=\"mono\">{}</summary>\
                 <pre class=\"cedar\"><code>{}</code></pre></details>",
                escape(name),
                highlight_cedar(text)
            )
        })
        .collect();
    let scopes: String = engine
        .scopes()
        .iter()
        .map(|scope| {
            let grants: Vec<&str> = scope
                .tools
                .iter()
                .chain(&scope.resources)
                .chain(&scope.prompts)
                .map(String::as_str)
                .collect();
            format!(
                "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
                escape(&scope.name),
                escape(&scope.description),
                escape(&grants.join(", ")),
                escape(&scope.policies.join(", "))
            )
        })
        .collect();
    let shadow = engine.shadow_policies();
    let shadow = if shadow.is_empty() {
        "<p id=\"shadow\">None: every policy decides.</p>".to_owned()
    } else {
        let items: String = shadow
            .iter()
            .map(|id| {
                let place = engine
                    .location(id)
                    .map(|(file, line)| {
                        let name = file
                            .file_name()
                            .map(|name| name.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        line.map_or(name.clone(), |line| format!("{name}:{line}"))
                    })
                    .unwrap_or_default();
                format!(
                    "<li><span class=\"mono\">{}</span> ({})</li>",
                    escape(id),
                    escape(&place)
                )
            })
            .collect();
        format!("<ul id=\"shadow\">{items}</ul>")
    };
    let body = format!(
        "<p class=\"mono\">{hash}</p>\
         <h2>Shadow policies</h2><p>Evaluated beside the enforced ones; they never decide.</p>{shadow}\
         <h2>Scopes</h2><div class=\"scroll\"><table id=\"scopes\"><thead><tr><th>Scope</th>\
         <th>Grants</th><th>On</th><th>Policies</th></tr></thead><tbody>{scopes}</tbody></table></div>\
         <h2>Files</h2>{files}",
        hash = escape(engine.hash()),
    );
    page("/admin/policies", "Policies", &admin, &body)
}

/// The filters of the decisions page and its JSON.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Filter {
    #[serde(default)]
    principal: String,
    #[serde(default)]
    tool: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    shadow: Option<String>,
    /// Only records numbered above this (the live view's last one).
    #[serde(default)]
    after: u64,
}

impl Filter {
    fn admits(&self, record: &DecisionRecord) -> bool {
        (self.principal.is_empty() || record.principal_id.contains(self.principal.trim()))
            && (self.tool.is_empty() || record.tool.contains(self.tool.trim()))
            && (self.decision.is_empty() || record.decision == self.decision)
            && (self.shadow.is_none() || record.shadow_decision.is_some())
    }
}

/// How many records a page or a poll shows at most, newest first.
const SHOWN: usize = 200;

/// The records after `filter.after` that it admits, newest first, at most
/// [`SHOWN`]; the number of the newest record there is (admitted or not),
/// from the same look at the log; and whether some admitted ones were left
/// out.
fn matching(state: &ConsoleState, filter: &Filter) -> (Vec<(u64, DecisionRecord)>, u64, bool) {
    let all = state.catalogue.audit().since(filter.after);
    let latest = all.last().map_or(filter.after, |(number, _)| *number);
    let mut records: Vec<(u64, DecisionRecord)> = all
        .into_iter()
        .filter(|(_, record)| filter.admits(record))
        .collect();
    records.reverse();
    let truncated = records.len() > SHOWN;
    records.truncate(SHOWN);
    (records, latest, truncated)
}

/// The page for someone let into the console but not to the records.
fn records_refused(admin: &Admin, json: bool) -> Response {
    let message = "Reading the decision records needs a policy that allows `admin` on \
                   `Resource::\"orchestrator://decisions\"` (with the shipped policies, the \
                   admin:logs scope).";
    if json {
        return (
            axum::http::StatusCode::FORBIDDEN,
            Json(json!({"error": "forbidden", "error_description": message})),
        )
            .into_response();
    }
    let mut response = page(
        "/admin/decisions",
        "Decisions",
        admin,
        &format!("<p id=\"forbidden\">{}</p>", escape(message)),
    );
    *response.status_mut() = axum::http::StatusCode::FORBIDDEN;
    response
}

/// What a row shows of a record: never its arguments.
fn row_json(number: u64, record: &DecisionRecord) -> serde_json::Value {
    json!({
        "number": number,
        "time": record.time,
        "principal": record.principal_id,
        "principal_kind": record.principal_kind,
        "kind": record.kind,
        "tool": record.tool,
        "action": record.action,
        "decision": record.decision,
        "policies": record.policies,
        "shadow_decision": record.shadow_decision,
        "shadow_policies": record.shadow_policies,
    })
}

/// The time of day of an RFC 3339 time (`06:25:21`), which is what a
/// person scanning recent decisions reads; the whole time is the cell's
/// title.
fn clock(time: &str) -> &str {
    time.get(11..19).unwrap_or(time)
}

fn row_html(number: u64, record: &DecisionRecord) -> String {
    let shadow = record.shadow_decision.map_or(String::new(), |shadow| {
        format!(
            "{shadow} by [{}]",
            escape(&record.shadow_policies.join(", "))
        )
    });
    format!(
        "<tr data-number=\"{number}\" class=\"{decision}\"><td class=\"mono\" title=\"{time}\">{clock}</td>\
         <td>{principal} <small>{kind}</small></td><td class=\"mono\">{tool}</td><td>{action}</td>\
         <td class=\"decision\">{decision}</td><td class=\"mono\">{policies}</td><td>{shadow}</td></tr>",
        time = escape(&record.time),
        clock = escape(clock(&record.time)),
        principal = escape(&record.principal_id),
        kind = record.principal_kind,
        tool = escape(&record.tool),
        action = record.action,
        decision = record.decision,
        policies = escape(&record.policies.join(", ")),
    )
}

/// `GET /admin/decisions`: the recent decision records, filtered, and
/// kept up to date by the page's script.
pub(super) async fn decisions(
    State(state): State<ConsoleState>,
    Extension(admin): Extension<Admin>,
    Query(filter): Query<Filter>,
) -> Response {
    if !admin.reads_decisions {
        return records_refused(&admin, false);
    }
    let filter = Filter { after: 0, ..filter };
    let (records, latest, _) = matching(&state, &filter);
    let rows: String = records
        .iter()
        .map(|(number, record)| row_html(*number, record))
        .collect();
    let options: String = [
        ("", "any"),
        ("allow", "allow"),
        ("deny", "deny"),
        ("approval_required", "approval required"),
        ("approval_requested", "approval requested"),
        ("approval_accepted", "approval accepted"),
        ("approval_declined", "approval declined"),
        ("approval_cancelled", "approval cancelled"),
        ("cancelled", "cancelled"),
    ]
    .iter()
    .map(|(value, label)| {
        let selected = if filter.decision == *value {
            " selected"
        } else {
            ""
        };
        format!("<option value=\"{value}\"{selected}>{label}</option>")
    })
    .collect();
    let body = format!(
        "<form method=\"get\" action=\"/admin/decisions\" id=\"filter\" class=\"filters\">\
         <label>Principal <input name=\"principal\" value=\"{principal}\"></label>\
         <label>Target <input name=\"tool\" value=\"{tool}\"></label>\
         <label>Decision <select name=\"decision\">{options}</select></label>\
         <label class=\"check\"><input type=\"checkbox\" name=\"shadow\" value=\"on\"{shadow}> \
         shadow disagreements only</label><button type=\"submit\">Filter</button></form>\
         <p class=\"hint\" id=\"live\">Newest first; new decisions appear as they are made.</p>\
         <div class=\"scroll\"><table id=\"decisions\" data-latest=\"{latest}\">\
         <thead><tr><th>Time</th><th>Principal</th><th>Target</th><th>Action</th>\
         <th>Decision</th><th>Policies</th><th>Shadow</th></tr></thead>\
         <tbody>{rows}</tbody></table></div>",
        principal = escape(&filter.principal),
        tool = escape(&filter.tool),
        shadow = if filter.shadow.is_some() {
            " checked"
        } else {
            ""
        },
    );
    page("/admin/decisions", "Decisions", &admin, &body)
}

/// `GET /admin/decisions.json?after=N&…`: the records numbered above `N`
/// that the filters admit, newest first (at most 200: `truncated` says
/// when more were left out), and the newest number to ask after next.
pub(super) async fn decisions_json(
    State(state): State<ConsoleState>,
    Extension(admin): Extension<Admin>,
    Query(filter): Query<Filter>,
) -> Response {
    if !admin.reads_decisions {
        return records_refused(&admin, true);
    }
    let (records, latest, truncated) = matching(&state, &filter);
    Json(json!({
        "latest": latest,
        "truncated": truncated,
        "records": records
            .iter()
            .map(|(number, record)| row_json(*number, record))
            .collect::<Vec<_>>(),
    }))
    .into_response()
}
