// The admin console's one script. The pages work without it; it adds the
// decisions page's live view and the diff page's file upload. It builds
// rows with DOM calls (never innerHTML), so a recorded value cannot
// become markup.
"use strict";

const POLL_MS = 2000;
const SHOWN = 200;

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function row(record) {
  const tr = document.createElement("tr");
  tr.dataset.number = String(record.number);
  tr.className = record.decision + " fresh";
  // The time of day, as the server renders it; the whole time on hover.
  const time = cell(record.time.length >= 19 ? record.time.slice(11, 19) : record.time, "mono");
  time.title = record.time;
  tr.appendChild(time);
  const who = cell(record.principal + " ");
  const kind = document.createElement("small");
  kind.textContent = record.principal_kind;
  who.appendChild(kind);
  tr.appendChild(who);
  tr.appendChild(cell(record.tool, "mono"));
  tr.appendChild(cell(record.action));
  tr.appendChild(cell(record.decision, "decision"));
  tr.appendChild(cell((record.policies || []).join(", "), "mono"));
  tr.appendChild(
    cell(
      record.shadow_decision
        ? record.shadow_decision + " by [" + (record.shadow_policies || []).join(", ") + "]"
        : ""
    )
  );
  return tr;
}

function liveDecisions(table) {
  const form = document.getElementById("filter");
  const live = document.getElementById("live");
  const body = table.tBodies[0];
  let latest = Number(table.dataset.latest || "0");
  async function poll() {
    const query = new URLSearchParams(new FormData(form));
    query.set("after", String(latest));
    try {
      const response = await fetch("/admin/decisions.json?" + query.toString(), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.status === 401 || response.status === 403) {
        live.textContent = "Signed out: reload the page to sign in again.";
        return;
      }
      if (response.ok) {
        const answer = await response.json();
        // Newest first: insert the oldest of the batch first, each at the top.
        for (const record of answer.records.slice().reverse()) {
          body.insertBefore(row(record), body.firstChild);
        }
        latest = Math.max(latest, answer.latest);
        while (body.rows.length > SHOWN) body.deleteRow(body.rows.length - 1);
        table.dataset.latest = String(latest);
        live.textContent = answer.truncated
          ? "More decisions arrived than the page shows: reload to see the newest " + SHOWN + "."
          : "Live: newest first, updated " + new Date().toLocaleTimeString() + ".";
      }
    } catch (_) {
      live.textContent = "The server did not answer; trying again.";
    }
    setTimeout(poll, POLL_MS);
  }
  setTimeout(poll, POLL_MS);
}

function upload(input) {
  const text = document.getElementById("policy");
  const file = document.querySelector("#diff input[name=file]");
  input.addEventListener("change", async () => {
    const chosen = input.files && input.files[0];
    if (!chosen) return;
    text.value = await chosen.text();
    // The browser's name for the file ("tools (1).cedar") may not be one
    // the server takes; then the name typed in the form stays.
    if (/^(?!\.)[A-Za-z0-9._-]+\.cedar$|^schema\.cedarschema$/.test(chosen.name)) {
      file.value = chosen.name;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("decisions");
  if (table) liveDecisions(table);
  const input = document.getElementById("upload");
  if (input) upload(input);
});
