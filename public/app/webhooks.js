// Webhook settings (the secret hidden until asked for), "send test event", recent deliveries.

import { gql } from "./api.js";
import { WEBHOOK_DETAIL, WEBHOOK_SECRET, TEST_WEBHOOK, RETRY_DELIVERY, read } from "./queries.js";
import { h, fill, flash, busy, badge, when, secretField } from "./ui.js";

function settingsCard(instance, w, onTested) {
  const s = w.webhookSettings;
  const result = h("p", { role: "status" });
  const test = h("button", { type: "button", disabled: !w.webhookUrl }, "Send test event");
  test.addEventListener("click", () => busy(test, async () => {
    const t = read.webhookTest(await gql(TEST_WEBHOOK, { id: instance.id }));
    result.className = t.success ? "" : "error-text";
    result.textContent = t.success
      ? `Delivered: HTTP ${t.statusCode} in ${t.durationMs} ms.`
      : t.outcome === "http_status"
        ? `Not delivered: the receiver answered HTTP ${t.statusCode}.`
        : `Not delivered (${t.outcome.replace(/_/g, " ")})${t.error ? `: ${t.error}` : "."}`;
    await onTested();
  }, result));
  const on = (flag) => (flag ? "yes" : "no");
  return h("div.card", {},
    h("div.row.spread", {}, h("h2", {}, "Webhook"), h("a.button.secondary", { href: `#/instances/${instance.id}/edit` }, "Edit settings")),
    h("dl.form-grid", {}, [
      ["URL", w.webhookUrl || "— (none set)"], ["Enabled", on(w.webhookEnabled)],
      ["Messages received", on(s.notifyReceived)], ["Messages sent", on(s.notifySent)],
      ["Delivered", on(s.notifyDelivery)], ["Read", on(s.notifyRead)],
      ["Retries", `${s.maxRetries}, every ${s.retryInterval} ms`],
      ["Events", (s.events || ["the document's eight"]).join(", ")],
    ].map(([term, value]) => h("div", {}, h("dt.muted", {}, term), h("dd", {}, value)))),
    h("p", {}, h("strong", {}, "Signing secret: "),
      secretField("secret", async () => (await gql(WEBHOOK_SECRET, { id: instance.id })).instance.webhookSettings.secret)),
    h("div.row", {}, test), result);
}

export async function renderWebhook(body, instance) {
  const deliveries = h("tbody");
  let timer = null;
  let left = false;

  const load = async () => {
    clearTimeout(timer);
    if (left) return null;
    const data = await busy(null, () => gql(WEBHOOK_DETAIL, { id: instance.id }));
    if (!data || left) return null;
    const rows = data.instance.webhookDeliveries.nodes;
    fill(deliveries, rows.length ? rows.map((d) => {
      const retry = h("button.secondary", { type: "button", "aria-label": `Retry delivery ${d.id}` }, "Retry");
      retry.addEventListener("click", () => busy(retry, async () => {
        await gql(RETRY_DELIVERY, { id: instance.id, delivery: d.id });
        flash("The delivery was queued again.", "info");
        await load();
      }));
      return h("tr", {},
        h("td", {}, d.event, h("div.muted", {}, when(d.createdAt))),
        h("td", {}, badge(d.status), d.lastError ? h("div.muted", {}, d.lastError) : null),
        h("td", {}, `${d.attempts}/${d.maxAttempts}`),
        h("td.hide-narrow", {}, d.lastStatusCode ?? "—"),
        h("td", {}, d.status === "succeeded" ? "" : retry));
    }) : h("tr", {}, h("td", { colSpan: 5 }, h("span.muted", {}, "No deliveries yet."))));
    // While a delivery is under way (a retry, a backoff), look again until it settles.
    if (rows.some((d) => d.status === "pending")) timer = setTimeout(load, 1500);
    return data.instance;
  };

  const table = h("div.card", {}, h("h2", {}, "Recent deliveries"),
    h("div.table-wrap", {}, h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "Event"), h("th", {}, "Status"), h("th", {}, "Attempts"),
        h("th.hide-narrow", {}, "Response"), h("th", {}, ""))), deliveries)));
  const w = await load();
  fill(body, w ? settingsCard(instance, w, load) : h("p.error-text", {}, "The webhook settings could not be loaded."), table);
  return () => { left = true; clearTimeout(timer); };
}
