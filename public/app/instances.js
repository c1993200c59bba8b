// The instance list (live status badges), and the create/edit form.

import { gql, mutate, subscribe } from "./api.js";
import {
  INSTANCES, INSTANCE_DETAIL, INSTANCE_STATUS, CREATE_INSTANCE, UPDATE_INSTANCE,
  DELETE_INSTANCE, RECONNECT, LOGOUT_INSTANCE,
} from "./queries.js";
import { h, fill, flash, flashAcross, busy, errorLine, confirmDialog, badge, when } from "./ui.js";

/** Delete (after confirmation), reconnect and logout buttons for one instance. */
export function instanceActions(instance, afterDelete) {
  const reconnect = h("button.secondary", { type: "button" }, "Reconnect");
  reconnect.addEventListener("click", () => busy(reconnect, async () => {
    const data = await gql(RECONNECT, { id: instance.id });
    flash(data.reconnectInstance.message || "Reconnecting…", "info");
  }));
  const logout = h("button.secondary", { type: "button" }, "Log out of WhatsApp");
  logout.addEventListener("click", async () => {
    if (!(await confirmDialog(`Log "${instance.name}" out of WhatsApp? It will need a new QR scan.`, "Log out"))) return;
    await busy(logout, async () => {
      const data = await gql(LOGOUT_INSTANCE, { id: instance.id });
      flash(data.logoutInstance.message || "Logged out.", "info");
    });
  });
  const remove = h("button.danger", { type: "button" }, "Delete");
  remove.addEventListener("click", async () => {
    if (!(await confirmDialog(`Delete "${instance.name}"? Its chats, messages and events go with it.`))) return;
    await busy(remove, async () => {
      await gql(DELETE_INSTANCE, { id: instance.id });
      flashAcross(`"${instance.name}" was deleted.`);
      afterDelete();
    });
  });
  const edit = h("a.button.secondary", { href: `#/instances/${instance.id}/edit` }, "Edit");
  return h("div.row", {}, edit, reconnect, logout, remove);
}

export async function renderInstances(main) {
  const data = await busy(null, () => gql(INSTANCES));
  if (!data) { fill(main, h("p.error-text", {}, "The instances could not be loaded.")); return null; }
  const rows = new Map();
  const tbody = h("tbody");
  for (const instance of data.instances) {
    const reason = h("span.muted", {}, instance.statusReason ? ` ${instance.statusReason}` : "");
    const status = h("td", {}, badge(instance.status), reason);
    const phone = h("td.hide-narrow", {}, instance.phone || "—");
    rows.set(instance.id, { status, reason, phone });
    tbody.append(h("tr", { dataset: { instance: instance.id } },
      h("td", {}, h("a", { href: `#/instances/${instance.id}` }, instance.name),
        instance.description ? h("div.muted", {}, instance.description) : null),
      status,
      phone,
      h("td.hide-narrow", {}, instance.engine),
      h("td.hide-narrow", {}, when(instance.lastActivity))));
  }
  const table = data.instances.length
    ? h("div.table-wrap", {}, h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Status"),
          h("th.hide-narrow", {}, "Phone"), h("th.hide-narrow", {}, "Engine"),
          h("th.hide-narrow", {}, "Last activity"))),
        tbody))
    : h("p.muted", {}, "No instances yet: create one to pair a phone.");
  fill(main,
    h("div.row.spread", {}, h("h1", {}, "Instances"),
      h("a.button", { href: "#/instances/new" }, "New instance")),
    h("section.card", { "aria-label": "Instances" }, table));
  return subscribe(INSTANCE_STATUS, {}, ({ instanceStatus }) => {
    const row = rows.get(instanceStatus.instance.id);
    if (!row) return;
    row.status.querySelector(".badge").replaceWith(badge(instanceStatus.status.status));
    row.reason.textContent = instanceStatus.status.reason ? ` ${instanceStatus.status.reason}` : "";
    row.phone.textContent = instanceStatus.instance.phone || "—";
  }, (error) => flash(error.message));
}

function field(id, label, input, hint) {
  input.id = id;
  return h("div", {}, h("label", { for: id }, label), input, hint ? h("small.muted", {}, hint) : null);
}

function check(id, label, checked) {
  const input = h("input", { id, type: "checkbox", checked });
  return [input, h("label.inline", { for: id }, input, label)];
}

function numberOrNull(input) {
  const text = input.value.trim();
  return text === "" ? null : Number(text);
}

export async function renderInstanceForm(main, state, id) {
  let instance = null;
  if (id) {
    const data = await busy(null, () => gql(INSTANCE_DETAIL, { id }));
    if (!data) { fill(main, h("p.error-text", {}, "The instance could not be loaded.")); return null; }
    instance = data.instance;
  }
  const s = instance ? instance.webhookSettings : { notifyReceived: true, notifySent: true, notifyDelivery: true, notifyRead: true, maxRetries: 3, retryInterval: 5000 };
  const limits = instance ? instance.limits : {};
  const name = h("input", { required: true, maxLength: 100, value: instance ? instance.name : "" });
  const description = h("input", { value: (instance && instance.description) || "" });
  const engine = h("select", {}, h("option", { value: "neonize" }, "neonize (real WhatsApp)"),
    h("option", { value: "sandbox" }, "sandbox (simulated, for testing)"));
  const [autoReceipts, autoReceiptsLabel] = check("f-auto-receipts", "Simulate delivered and read receipts", true);
  const sandboxOptions = h("div", { hidden: true }, autoReceiptsLabel);
  engine.addEventListener("change", () => { sandboxOptions.hidden = engine.value !== "sandbox"; });
  const url = h("input", { type: "url", placeholder: "https://example.com/webhook", value: (instance && instance.webhookUrl) || "" });
  const [enabled, enabledLabel] = check("f-enabled", "Send webhooks", instance ? instance.webhookEnabled : false);
  const [received, receivedLabel] = check("f-received", "Messages received", s.notifyReceived);
  const [sent, sentLabel] = check("f-sent", "Messages sent", s.notifySent);
  const [delivered, deliveredLabel] = check("f-delivered", "Delivered", s.notifyDelivery);
  const [read, readLabel] = check("f-read", "Read", s.notifyRead);
  const retries = h("input", { type: "number", min: 0, max: 10, value: String(s.maxRetries) });
  const interval = h("input", { type: "number", min: 0, step: 100, value: String(s.retryInterval) });
  const secret = h("input", { type: "password", autocomplete: "new-password", placeholder: instance ? "unchanged" : "" });
  const maxSent = h("input", { type: "number", min: 1, value: limits.maxMessagesSent ?? "" });
  const maxMedia = h("input", { type: "number", min: 1, value: limits.maxMediaSent ?? "" });
  const maxCalls = h("input", { type: "number", min: 1, value: limits.maxApiCalls ?? "" });
  const problem = errorLine();
  const submit = h("button", { type: "submit" }, instance ? "Save changes" : "Create instance");
  const form = h("form.card", {},
    h("div.form-grid", {},
      field("f-name", "Name", name),
      field("f-description", "Description", description),
      instance ? null : h("div", {}, field("f-engine", "Engine", engine), sandboxOptions)),
    h("fieldset", {}, h("legend", {}, "Webhook"),
      field("f-url", "URL", url), enabledLabel,
      h("div", { role: "group", "aria-label": "Events to send" }, receivedLabel, sentLabel, deliveredLabel, readLabel),
      h("div.form-grid", {},
        field("f-retries", "Retries", retries, "0 to 10 after the first attempt"),
        field("f-interval", "Retry interval (ms)", interval),
        field("f-secret", "Signing secret", secret, instance ? "Leave empty to keep the current one" : "Signs X-Webhook-Signature"))),
    h("fieldset", {}, h("legend", {}, "Daily limits (empty: no limit)"),
      h("div.form-grid", {},
        field("f-max-sent", "Messages sent per day", maxSent),
        field("f-max-media", "Media sent per day", maxMedia),
        field("f-max-calls", "API calls per day", maxCalls))),
    problem,
    h("div.actions", {}, submit,
      h("a.button.secondary", { href: instance ? `#/instances/${instance.id}` : "#/instances" }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const webhookSettings = {
      notifyReceived: received.checked, notifySent: sent.checked, notifyDelivery: delivered.checked,
      notifyRead: read.checked, maxRetries: Number(retries.value), retryInterval: Number(interval.value),
    };
    if (secret.value) webhookSettings.secret = secret.value;
    const input = {
      name: name.value.trim(), description: description.value.trim() || null,
      webhookUrl: url.value.trim() || null, webhookEnabled: enabled.checked, webhookSettings,
      limits: { maxMessagesSent: numberOrNull(maxSent), maxMediaSent: numberOrNull(maxMedia), maxApiCalls: numberOrNull(maxCalls) },
    };
    const payload = await busy(submit, () => {
      if (instance) return mutate(UPDATE_INSTANCE, { id: instance.id, input }, "updateInstance");
      input.engine = engine.value;
      if (engine.value === "sandbox") input.sandbox = { autoReceipts: autoReceipts.checked };
      return mutate(CREATE_INSTANCE, { input }, "createInstance");
    }, problem);
    if (!payload) return;
    flashAcross(instance ? "Saved." : `"${payload.instance.name}" was created.`);
    location.hash = `#/instances/${payload.instance.id}`;
  });
  fill(main, h("h1", {}, instance ? `Edit ${instance.name}` : "New instance"), form);
  name.focus();
  return null;
}
