// The database screen (admin): the provider in use, its health and record counts, and the
// live switch to another provider (optionally copying every record across).

import { gql, checked } from "./api.js";
import { DATABASE_STATUS, SWITCH_DATABASE } from "./queries.js";
import { h, fill, busy, errorLine, confirmDialog, badge } from "./ui.js";

const PROVIDERS = ["sqlite", "postgresql", "mongodb"];

export async function renderDatabase(main, state) {
  if (state.me.role !== "admin") {
    fill(main, h("h1", {}, "Admins only"), h("p", {}, "This screen needs an admin account."));
    return null;
  }
  const status = h("div.card", { id: "db-status" });
  const load = async () => {
    const data = await busy(null, () => gql(DATABASE_STATUS));
    if (!data) return null;
    const db = data.databaseStatus;
    fill(status,
      h("div.row.spread", {}, h("h2", {}, "In use"), badge(db.healthy ? "healthy" : "unreachable")),
      h("dl.form-grid", {}, [["Provider", db.provider], ["URL (password masked)", db.url]]
        .map(([term, value]) => h("div", {}, h("dt.muted", {}, term), h("dd", {}, value)))),
      db.counts.length
        ? h("div.table-wrap", {}, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Records"), h("th", {}, "Count"))),
            h("tbody", {}, db.counts.map((c) => h("tr", {}, h("td", {}, c.kind), h("td", {}, c.count))))))
        : h("p.muted", {}, "No record counts: the database did not answer."));
    return db;
  };

  const provider = h("select", { id: "db-provider" }, PROVIDERS.map((p) => h("option", { value: p }, p)));
  const migrate = h("input", { id: "db-migrate", type: "checkbox" });
  const problem = errorLine();
  const result = h("p", { role: "status" });
  const submit = h("button.danger", { type: "submit" }, "Switch");
  const form = h("form.card", {},
    h("h2", {}, "Switch the database"),
    h("p.muted", {}, "The server connects the other provider (configured by its URL setting), checks it, and swaps without a restart; writes wait meanwhile."),
    h("label", { for: "db-provider" }, "Provider"), provider,
    h("label.inline", { for: "db-migrate" }, migrate, "Copy every record into it first (it must be empty)"),
    problem, result, h("div.actions", {}, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.textContent = "";
    const copy = migrate.checked ? ", copying every record" : "";
    if (!(await confirmDialog(`Switch the server to ${provider.value}${copy}?`, "Switch"))) return;
    const done = await busy(submit, async () => checked((await gql(SWITCH_DATABASE, { provider: provider.value, migrate: migrate.checked })).switchDatabase), problem);
    if (!done) return;
    const copied = (done.migrated || []).map((c) => `${c.count} ${c.kind}`).join(", ");
    result.textContent = `${done.message || `Now on ${done.provider}.`}${copied ? ` Copied: ${copied}.` : ""}`;
    await load();
  });

  fill(main, h("h1", {}, "Database"), status, form);
  const db = await load();
  if (db) provider.value = PROVIDERS.find((p) => p !== db.provider) || "sqlite";
  return null;
}
