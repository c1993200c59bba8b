// Admin screens (users, system stats, engine workers) and the caller's own account.

import { gql, mutate } from "./api.js";
import { USERS, CREATE_USER, UPDATE_USER, ROTATE_API_KEY, ROTATE_USER_API_KEY, SYSTEM, read } from "./queries.js";
import { h, fill, flash, busy, errorLine, confirmDialog, badge, when, bytes } from "./ui.js";

/** A key shown once, hidden until the user asks, with a copy button. */
function oneTimeKey(key, note) {
  const value = h("span.secret", {}, "••••••••");
  const show = h("button.secondary", { type: "button" }, "Show key");
  show.addEventListener("click", () => { value.textContent = key; show.remove(); });
  const copy = h("button.secondary", { type: "button" }, "Copy");
  copy.addEventListener("click", () => busy(copy, async () => {
    await navigator.clipboard.writeText(key);
    flash("Copied.", "info");
  }));
  return h("div.flash.info", { role: "status" }, h("div", {}, h("p", {}, note), h("div.row", {}, value, show, copy)));
}

function adminOnly(main, state) {
  if (state.me.role === "admin") return false;
  fill(main, h("h1", {}, "Admins only"), h("p", {}, "This screen needs an admin account."));
  return true;
}

export async function renderUsers(main, state) {
  if (adminOnly(main, state)) return null;
  const rows = h("tbody");
  const keyBox = h("div");
  const load = async () => {
    const users = await busy(null, async () => read.users(await gql(USERS)));
    if (!users) return;
    fill(rows, users.map((user) => {
      const toggle = h(user.isActive ? "button.danger" : "button.secondary", { type: "button", disabled: user.id === state.me.id },
        user.isActive ? "Deactivate" : "Activate");
      toggle.addEventListener("click", async () => {
        if (user.isActive && !(await confirmDialog(`Deactivate ${user.email}? Their token and API key stop working.`, "Deactivate"))) return;
        await busy(toggle, async () => {
          await mutate(UPDATE_USER, { id: user.id, input: { isActive: !user.isActive } }, "updateUser");
          await load();
        });
      });
      const rotate = h("button.secondary", { type: "button" }, "Rotate API key");
      rotate.addEventListener("click", async () => {
        if (!(await confirmDialog(`Make a new API key for ${user.email}? Their current one stops working at once.`, "Rotate"))) return;
        const rotated = await busy(rotate, async () => read.rotatedUserApiKey(await gql(ROTATE_USER_API_KEY, { id: user.id })));
        if (rotated) fill(keyBox, oneTimeKey(rotated.apiKey, `${rotated.user.email} has a new API key, shown this once: hand it over now.`));
      });
      return h("tr", {},
        h("td", {}, user.email, h("div.muted", {}, `${user.firstName} ${user.lastName}`.trim())),
        h("td", {}, user.role), h("td", {}, badge(user.isActive ? "active" : "inactive")),
        h("td.hide-narrow", {}, when(user.lastLoginAt)), h("td", {}, h("div.row", {}, rotate, toggle)));
    }));
  };
  const email = h("input", { id: "u-email", type: "email", required: true, autocomplete: "off" });
  const password = h("input", { id: "u-password", type: "password", required: true, minLength: 8, autocomplete: "new-password" });
  const first = h("input", { id: "u-first" });
  const last = h("input", { id: "u-last" });
  const role = h("select", { id: "u-role" }, h("option", { value: "user" }, "user"), h("option", { value: "admin" }, "admin"));
  const problem = errorLine();
  const submit = h("button", { type: "submit" }, "Create user");
  const form = h("form.card", {}, h("h2", {}, "New user"),
    h("div.form-grid", {},
      ...[["u-email", "Email", email], ["u-password", "Password", password], ["u-first", "First name", first],
        ["u-last", "Last name", last], ["u-role", "Role", role]].map(([id, label, input]) => h("div", {}, h("label", { for: id }, label), input))),
    problem, h("div.actions", {}, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = { email: email.value.trim(), password: password.value, firstName: first.value || null, lastName: last.value || null, role: role.value };
    const payload = await busy(submit, () => mutate(CREATE_USER, { input }, "createUser"), problem);
    if (!payload) return;
    form.reset();
    fill(keyBox, oneTimeKey(payload.apiKey, `${payload.user.email} was created. Their API key is shown this once: hand it over now.`));
    await load();
  });
  fill(main, h("h1", {}, "Users"), keyBox,
    h("section.card", { "aria-label": "Users" }, h("div.table-wrap", {}, h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "User"), h("th", {}, "Role"), h("th", {}, "State"),
        h("th.hide-narrow", {}, "Last login"), h("th", {}, ""))), rows))),
    form);
  await load();
  return null;
}

export async function renderSystem(main, state) {
  if (adminOnly(main, state)) return null;
  const data = await busy(null, () => gql(SYSTEM));
  if (!data) { fill(main, h("h1", {}, "System"), h("p.error-text", {}, "The system stats could not be loaded.")); return null; }
  const { instances, users, usage } = data.systemStats;
  const figure = (label, value) => h("div.card", {}, h("div.muted", {}, label), h("div", { style: "font-size:1.5rem;font-weight:700" }, value));
  const workers = data.engineWorkers;
  fill(main, h("h1", {}, "System"),
    h("div.grid", {},
      figure("Instances (connected / total)", `${instances.active} / ${instances.total}`),
      figure("Users (active / total)", `${users.active} / ${users.total}`),
      figure("Messages sent", usage.messagesSent), figure("Messages received", usage.messagesReceived),
      figure("Media (sent + received)", `${usage.mediaSent + usage.mediaReceived} · ${bytes(usage.totalMediaSize)}`),
      figure("API calls", usage.apiCalls), figure("Webhooks sent", usage.webhookSent)),
    h("section.card", {}, h("h2", {}, "Engine workers"),
      workers.length ? h("div.table-wrap", {}, h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Worker"), h("th", {}, "Status"), h("th", {}, "Instances"),
          h("th.hide-narrow", {}, "Memory"), h("th.hide-narrow", {}, "Restarts"), h("th.hide-narrow", {}, "Since"))),
        h("tbody", {}, workers.map((w) => h("tr", {},
          h("td", {}, w.id, w.pid ? h("div.muted", {}, `pid ${w.pid}`) : null),
          h("td", {}, badge(w.status)), h("td", {}, w.instances.length),
          h("td.hide-narrow", {}, bytes(w.rssBytes)), h("td.hide-narrow", {}, w.restarts),
          h("td.hide-narrow", {}, when(w.startedAt)))))))
        : h("p.muted", {}, "No engine workers run: no neonize instance is active (sandbox instances run in the server).")));
  return null;
}

export async function renderAccount(main, state) {
  const me = state.me;
  const keyBox = h("div");
  const rotate = h("button.secondary", { type: "button" }, "Rotate my API key");
  rotate.addEventListener("click", async () => {
    if (!(await confirmDialog("Make a new API key? The current one stops working at once.", "Rotate"))) return;
    const key = await busy(rotate, async () => read.rotatedApiKey(await gql(ROTATE_API_KEY)));
    if (key) fill(keyBox, oneTimeKey(key, "Your new API key, shown this once (send it as x-api-key):"));
  });
  fill(main, h("h1", {}, "Account"),
    h("div.card", {}, h("dl.form-grid", {}, [["Email", me.email], ["Name", `${me.firstName} ${me.lastName}`.trim() || "—"],
      ["Role", me.role], ["Last login", when(me.lastLoginAt)]].map(([t, v]) => h("div", {}, h("dt.muted", {}, t), h("dd", {}, v)))),
    h("h2", {}, "API key"),
    h("p.muted", {}, "Keys are stored hashed, so the current one cannot be shown again; rotating makes a new one."),
    rotate, keyBox));
  return null;
}
